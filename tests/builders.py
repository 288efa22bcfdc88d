"""Builders for test data: say only what matters to the test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.domain.requests import OrderRequest, validate_order
from app.settings import Settings
from tests.support.access import ADMIN_KEY
from tests.support.infra import Infra


def order_request(**overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "type": "market",
        "token_in": "SOL",
        "token_out": "USDC",
        "amount": Decimal("1.5"),
        "slippage_bps": 100,
    }
    fields.update(overrides)
    return validate_order(**fields)


def order_body(**overrides: Any) -> dict[str, Any]:
    """A JSON body for POST /api/orders/execute."""
    body: dict[str, Any] = {
        "type": "market",
        "tokenIn": "SOL",
        "tokenOut": "USDC",
        "amount": "1.5",
        "slippageBps": 100,
    }
    body.update(overrides)
    return body


def settings_for(infra: Infra, **overrides: Any) -> Settings:
    """Fast, deterministic settings on this run's servers: no delays, no random faults."""
    fields: dict[str, Any] = {
        "database_url": infra.database_url,
        "redis_url": infra.redis_url,
        "mock_latency_scale": 0.0,
        "mock_failure_rate": 0.0,
        "mock_seed": 20261121,
        "mock_launch_every": 0.0,
        "job_heartbeat_seconds": 2,
        "reconcile_interval_seconds": 1.0,
        "order_rate_limit": 0,
        # Litestar's test client calls itself testserver.local; real processes 127.0.0.1.
        "allowed_hosts": ("testserver.local", "127.0.0.1", "localhost"),
        "admin_api_key": ADMIN_KEY,
    }
    fields.update(overrides)
    return Settings(**fields)
