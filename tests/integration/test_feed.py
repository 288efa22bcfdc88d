"""The all-orders feed on real PostgreSQL: in eventId order, and never a gap to fall into."""

from __future__ import annotations

import asyncio

import asyncpg

from app.db.feed import EventFeed, Horizon, Round
from app.ids import uuid7
from app.runtime import Runtime
from tests.builders import order_request


async def place(runtime: Runtime) -> str:
    notice = await runtime.store.create(uuid7(), order_request(), "test")
    return notice.order.id


def test_a_horizon_waits_for_every_transaction_older_than_the_next_round() -> None:
    horizon = Horizon()
    assert horizon.observe(Round(xmin=90, issued=10, xact=100)) is None
    # Whoever holds an id ≤ 10 began before this round's transaction, 105.
    assert horizon.observe(Round(xmin=95, issued=12, xact=105)) is None
    assert horizon.behind
    # 95..104 may still run: 10 is not final yet.
    assert horizon.observe(Round(xmin=104, issued=15, xact=110)) is None
    # Everything older than 105 has finished: 10 is final; 12 waits for 110.
    assert horizon.observe(Round(xmin=105, issued=15, xact=111)) == 10
    assert horizon.observe(Round(xmin=120, issued=16, xact=121)) == 15
    assert horizon.behind  # 15 and 16 await later rounds


def test_an_empty_in_flight_list_is_not_taken_for_nothing_running() -> None:
    # PostgreSQL's "753:753:" lists nothing in flight, yet 753 may be running (a
    # transaction newer than the newest finished one is left out of the list).
    horizon = Horizon()
    horizon.observe(Round(xmin=753, issued=224, xact=754))
    horizon.observe(Round(xmin=753, issued=224, xact=755))
    assert horizon.observe(Round(xmin=753, issued=224, xact=756)) is None
    assert horizon.observe(Round(xmin=757, issued=225, xact=758)) == 224


async def test_events_behind_an_open_transaction_are_held_back_until_it_commits(
    runtime: Runtime,
) -> None:
    feed = EventFeed(runtime.db)
    held_order = await place(runtime)
    start = await feed.settled()
    slow = await asyncpg.connect(runtime.settings.database_url)
    try:
        tx = slow.transaction()
        await tx.start()
        # A writer that takes its event id first but commits last.
        held = await slow.fetchval(
            "WITH o AS (UPDATE orders SET last_seq = last_seq + 1 WHERE id = $1 RETURNING *)"
            " INSERT INTO order_events (order_id, seq, status, at, attempt)"
            " SELECT id, last_seq, 'routing', now(), 1 FROM o RETURNING id",
            held_order,
        )
        later = (await runtime.store.events(await place(runtime)))[0].event_id
        assert later > held
        for _ in range(5):
            horizon = await feed.advance()
            assert horizon is not None
            assert horizon < held, "the horizon passed a transaction still in flight"
        await tx.commit()
    finally:
        await slow.close()
    horizon = await asyncio.wait_for(feed.settled(), 5)
    ids = [e.event_id for e in await feed.read(start, horizon, 100)]
    assert ids == sorted(ids)
    assert held in ids
    assert later in ids


async def test_paging_the_feed_while_orders_run_misses_nothing_and_repeats_nothing(
    runtime: Runtime,
) -> None:
    feed = EventFeed(runtime.db)
    start = await feed.settled()
    order_ids = [await place(runtime) for _ in range(40)]
    running = asyncio.gather(*(runtime.executor.execute(order_id) for order_id in order_ids))
    seen: list[int] = []
    cursor = start
    while True:
        done = running.done()
        horizon = await feed.settled()
        page = await feed.read(cursor, horizon, 7)
        seen += [e.event_id for e in page]
        cursor = page[-1].event_id if page else cursor
        if done and not page:
            break
        await asyncio.sleep(0)  # wait-ok: yields to the writers between reads, waits for nothing
    await running
    stored = [
        row["id"]
        for row in await runtime.db.fetch(
            "SELECT id FROM order_events WHERE id > $1 ORDER BY id", start
        )
    ]
    assert seen == stored
    assert len(seen) == len(set(seen))
    assert len(stored) >= 40 * 4


async def test_a_writer_newer_than_every_finished_transaction_still_holds_the_horizon(
    runtime: Runtime,
) -> None:
    feed = EventFeed(runtime.db)
    held_order = await place(runtime)
    await feed.settled()
    slow = await asyncpg.connect(runtime.settings.database_url)
    try:
        tx = slow.transaction()
        await tx.start()
        # Nothing else writes meanwhile: this writer is the newest transaction there is,
        # and PostgreSQL's in-flight list would leave it out.
        held = await slow.fetchval(
            "WITH o AS (UPDATE orders SET last_seq = last_seq + 1 WHERE id = $1 RETURNING *)"
            " INSERT INTO order_events (order_id, seq, status, at, attempt)"
            " SELECT id, last_seq, 'routing', now(), 1 FROM o RETURNING id",
            held_order,
        )
        for _ in range(5):
            horizon = await feed.advance()
            assert horizon is not None
            assert horizon < held, "the horizon passed a transaction still in flight"
        await tx.commit()
    finally:
        await slow.close()
    assert await asyncio.wait_for(feed.settled(), 5) >= held
