"""Fixtures shared by every test: this run's private PostgreSQL database and Redis db."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.runtime import Runtime, open_runtime
from app.settings import Settings
from tests.builders import settings_for
from tests.support.infra import Infra, private_infra

_queues = itertools.count(1)


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with private_infra(tmp_path_factory.mktemp("infra")) as ready:
        yield ready


@pytest.fixture
def settings(infra: Infra) -> Settings:
    """Fast, deterministic settings; each test gets its own queue (and so its own workers)."""
    return settings_for(infra, queue_name=f"test-{next(_queues)}")


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    opened = await open_runtime(settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def empty_db(runtime: Runtime) -> None:
    """No orders from other tests (for tests that list or count)."""
    async with runtime.db.pool.acquire() as conn:
        await conn.execute("TRUNCATE orders, order_events")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = Path(str(item.fspath)).parent.name
        if kind in ("integration", "e2e"):
            item.add_marker(pytest.mark.usefixtures("infra"))
