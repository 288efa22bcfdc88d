"""The benchmark's floor (bench/floor.py) replays the engine's own SQL statements and Redis
scripts, read from the engine's source: when they change, the floor must still run them, or
`make bench` reports nothing true. Here it runs, small, on the suite's servers."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from app.settings import Settings
from bench.floor import Floor
from bench.load import MIX
from bench.scenarios import Servers, floor, prepare_floor


@pytest.mark.slow
async def test_the_floor_runs_the_engines_statements_and_every_order_ends(
    settings: Settings, tmp_path: Path
) -> None:
    servers = Servers(
        datadir=tmp_path,
        env={"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url},
    )
    run = await floor(
        servers, "floor-test", processes=2, orders=120, in_flight=8, concurrency=8,
        warmup=10, timeout=120, patience=0,
    )  # fmt: skip

    assert run["errors"] == []
    assert run["complete"], "every order ended"
    assert (run["confirmed"], run["failed"]) == (120, 0)
    assert run["bounds"]["violations"] == 0
    # The insert, then routing, building, submitted, confirmed: one statement each.
    assert run["db_statements_per_order"] == 5.0


async def test_a_floor_that_cannot_execute_an_order_stops_at_once(settings: Settings) -> None:
    await prepare_floor(settings.database_url)
    args = argparse.Namespace(
        prefix="floor-unseeded", schema="bench_floor", database_url=settings.database_url,
        redis_url=settings.redis_url, concurrency=1, in_flight=1, db_pool_size=2,
    )  # fmt: skip
    broken = Floor(args)
    await broken.connect(1)
    try:
        await broken.place(1, MIX[:1], in_flight=1)  # its pools were never seeded
        # Without a pool to quote, the order cannot end: the executor stops and says why,
        # where it used to wait for it until the run's timeout.
        await asyncio.wait_for(broken.consume(), 30)
    finally:
        await broken.close()

    assert broken.broken.is_set()
    assert broken.executed == 0
    assert len(broken.errors) == 1
