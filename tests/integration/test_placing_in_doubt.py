"""A new order is stored, or not, and the caller knows which — even when the database goes
silent mid-write (paused, partitioned) and comes back later."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.domain.problems import OutcomeUnknown
from app.ids import uuid7
from app.runtime import Runtime, open_runtime
from app.settings import Settings
from tests.builders import order_request
from tests.support.pgproxy import SilentProxy


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[SilentProxy]:
    silent = SilentProxy(settings.database_url)
    yield silent
    await silent.release()
    await silent.stop()


@pytest.fixture
async def behind_proxy(settings: Settings, proxy: SilentProxy) -> AsyncIterator[Runtime]:
    """The engine reaching its database through `proxy`, with a 1 s statement timeout."""
    url = await proxy.start()
    opened = await open_runtime(settings.replace(database_url=url, db_timeout_seconds=1.0))
    try:
        yield opened
    finally:
        await opened.close()


async def test_an_order_the_database_never_answered_is_never_stored(
    runtime: Runtime, behind_proxy: Runtime, proxy: SilentProxy
) -> None:
    order_id = uuid7()
    proxy.arm()  # the server stops as the order's statement reaches it
    with pytest.raises(TimeoutError):  # answered 503: "nothing was done"
        await behind_proxy.store.create(order_id, order_request(), "test")
    await proxy.release()  # it runs again, and reads the statement it was sent
    await proxy.settled()
    assert await runtime.store.get(str(order_id)) is None, "a 503 must mean not placed"


async def test_a_commit_that_got_no_answer_is_said_to_be_in_doubt(
    runtime: Runtime, behind_proxy: Runtime, proxy: SilentProxy
) -> None:
    order_id = uuid7()
    proxy.arm(after_commit=True)  # the server commits, but its answer never comes
    with pytest.raises(OutcomeUnknown) as unknown:  # answered 504, naming the order
        await behind_proxy.store.create(order_id, order_request(), "test")
    assert unknown.value.order_id == str(order_id)
    await proxy.release()
    await proxy.settled()
    assert await runtime.store.get(str(order_id)) is not None, "here it was placed after all"


async def test_a_commit_whose_connection_died_unanswered_is_said_to_be_in_doubt(
    runtime: Runtime, behind_proxy: Runtime, proxy: SilentProxy
) -> None:
    # The server commits and dies before answering (an immediate shutdown): the client
    # sees its connection close, and asyncpg's pool takes the dead connection back at once.
    order_id = uuid7()
    proxy.arm(after_commit=True, hang_up=True)
    with pytest.raises(OutcomeUnknown) as unknown:  # 504, never 503 ("nothing was done")
        await behind_proxy.store.create(order_id, order_request(), "test")
    assert unknown.value.order_id == str(order_id)
    await proxy.release()
    await proxy.settled()
    assert await runtime.store.get(str(order_id)) is not None, "it was placed"
