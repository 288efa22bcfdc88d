"""Builders for test data: say only what matters to the test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.domain.orders import OrderRequest, validate_order


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
