"""A web process whose database goes silent (paused, partitioned) says so: 503 with
Retry-After on HTTP and on WebSocket handshakes — never a 403 that reads as "your key
is wrong" — and serves again once the database answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.settings import Settings
from tests.support.access import bearer
from tests.support.pgproxy import SilentProxy
from tests.support.processes import Process, start_web


@pytest.fixture
async def silent_web(settings: Settings) -> AsyncIterator[tuple[SilentProxy, str]]:
    proxy = SilentProxy(settings.database_url)
    url = await proxy.start()
    web: Process | None = None
    try:
        web, address = await asyncio.to_thread(
            start_web, settings.replace(database_url=url, db_timeout_seconds=1.0)
        )
        yield proxy, address
    finally:
        await proxy.release()
        if web is not None:
            await asyncio.to_thread(web.stop)
        await proxy.stop()


async def test_while_the_database_is_silent_sockets_and_requests_are_told_to_retry(
    silent_web: tuple[SilentProxy, str],
) -> None:
    proxy, address = silent_web
    proxy.arm()  # from the next statement on, the database answers nothing
    async with httpx.AsyncClient(base_url=f"http://{address}", headers=bearer()) as http:
        answer = await http.get("/api/orders", timeout=10)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        for path in ("/api/orders/ws", "/ws/dashboard"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{address}{path}", additional_headers=bearer()):
                    pass
            assert refused.value.response.status_code == 503, path
            assert refused.value.response.headers["Retry-After"]

        await proxy.release()  # the database answers again, and so does the engine
        assert (await http.get("/api/orders", timeout=10)).status_code == 200
        async with connect(f"ws://{address}/api/orders/ws", additional_headers=bearer()):
            pass
