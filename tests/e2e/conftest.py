"""End-to-end fixtures: the app in-process for HTTP checks, real processes for live flows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from litestar.testing import TestClient

from app.settings import Settings
from app.web.app import create_app
from tests.builders import settings_for
from tests.support.access import bearer, signed
from tests.support.infra import Infra, fresh_database
from tests.support.processes import start_web, start_worker


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with signed(TestClient(create_app(settings))) as test_client:
        yield test_client


@dataclass(frozen=True)
class Live:
    """A running web process and worker process, as `make run` starts them."""

    address: str
    settings: Settings

    @property
    def http(self) -> str:
        return f"http://{self.address}"

    @property
    def ws(self) -> str:
        return f"ws://{self.address}"


@pytest.fixture(scope="session")
def live(infra: Infra) -> Iterator[Live]:
    with fresh_database(infra, "oee_test_live") as database_url:
        settings = settings_for(
            infra,
            database_url=database_url,
            # Enough simulated latency that a watcher sees steps arrive one by one.
            mock_latency_scale=0.1,
            mock_seed=7,
            reconcile_interval_seconds=30.0,
            queue_name="e2e-live",
        )
        worker = start_worker(settings)
        web, address = start_web(settings)
        try:
            yield Live(address, settings)
        finally:
            web.stop()
            worker.stop()


@pytest.fixture
def api(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.http, timeout=10, headers=bearer()) as http:
        yield http
