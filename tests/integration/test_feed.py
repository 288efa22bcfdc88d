"""The all-orders feed on real PostgreSQL: in eventId order, and never a gap to fall into."""

from __future__ import annotations

import asyncio

import asyncpg

from app.db.feed import EventFeed, Horizon, Snapshot
from app.ids import uuid7
from app.runtime import Runtime
from tests.builders import order_request


async def place(runtime: Runtime) -> str:
    notice = await runtime.store.create(uuid7(), order_request(), "test")
    return notice.order.id


def test_a_horizon_needs_a_later_snapshot_and_waits_for_what_was_in_flight() -> None:
    horizon = Horizon()
    assert horizon.observe(Snapshot(100, ()), issued=10) is None  # nothing to pair it with yet
    # Transaction 100 was running when 10 was read (it may hold id 9): 10 is not final.
    assert horizon.observe(Snapshot(100, (100,)), issued=12) is None
    assert horizon.behind
    # 100 still runs: neither 10 nor 12 is final.
    assert horizon.observe(Snapshot(100, (100, 103)), issued=15) is None
    # 100 finished (xmin moved past it); 103 still runs, so 12 is not final yet.
    assert horizon.observe(Snapshot(103, (103,)), issued=15) == 10
    # Nothing in flight: everything read before this snapshot is final.
    assert horizon.observe(Snapshot(110, ()), issued=16) == 15
    assert horizon.behind  # 16 awaits the next round


def test_snapshots_parse_from_postgresql_text() -> None:
    assert Snapshot.parse("745:752:745,750") == Snapshot(745, (745, 750))
    assert Snapshot.parse("752:752:") == Snapshot(752, ())


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
        await asyncio.sleep(0)
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
