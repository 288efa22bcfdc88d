"""SAQ worker settings: `python -m jobs` (or `saq jobs.worker.settings`)."""

from __future__ import annotations

import logging
from typing import Any

from app.events.pools import PoolHub
from app.periodic import Periodic
from app.runtime import open_runtime
from app.services.queueing import make_queue
from app.settings import Settings
from jobs.execute import execute_order

log = logging.getLogger(__name__)

TRIGGER_TICK_SECONDS = 0.2
"""How often the trigger looks at the pools: a crossing is seen within this long."""
LAUNCH_TICK_SECONDS = 0.05


def worker_settings(settings: Settings) -> dict[str, Any]:
    async def startup(ctx: dict[str, Any]) -> None:
        runtime = await open_runtime(
            settings, concurrency=settings.worker_concurrency, patient=True
        )
        ctx["runtime"] = runtime
        # Launch events reach the sniper trigger as they happen (its leader acts on them).
        pools = PoolHub(
            runtime.redis, runtime.simulator.pools_channel, on_event=runtime.snipers.on_pool_event
        )
        await pools.start()
        ctx["pools"] = pools
        ctx["loops"] = [
            # At start-up, then every interval: nothing stays stuck if Redis lost the queue.
            Periodic(
                "reconciler",
                runtime.reconciler.sweep,
                interval=settings.reconcile_interval_seconds,
                delay=0,
            ),
            Periodic("webhook deliveries", runtime.courier.deliver_due, interval=0.25),
            # One worker leads it at a time; the others stand by to take over.
            Periodic("limit trigger", runtime.trigger.tick, interval=TRIGGER_TICK_SECONDS),
            Periodic("sniper sweep", runtime.snipers.sweep, interval=0.5),
            # Openings are announced within this long of their time; launches on schedule.
            Periodic("launches", runtime.launches.tick, interval=LAUNCH_TICK_SECONDS),
            Periodic("idempotency key expiry", runtime.desk.forget_old_keys, interval=600),
        ]

    async def shutdown(ctx: dict[str, Any]) -> None:
        for loop in ctx.get("loops", []):
            await loop.stop()
        if "pools" in ctx:
            await ctx["pools"].stop()
        if "runtime" in ctx:
            await ctx["runtime"].close()

    heartbeat = settings.job_heartbeat_seconds
    return {
        "queue": make_queue(settings.redis_url, settings.queue_name, settings.worker_concurrency),
        "functions": [execute_order],
        "concurrency": settings.worker_concurrency,
        "startup": startup,
        "shutdown": shutdown,
        # Sweep often enough that a killed worker's job is reclaimed soon after its
        # heartbeat runs out, not a minute later.
        "timers": {"sweep": max(1, heartbeat // 2), "schedule": 1},
        # Running jobs get a moment to finish; any still running are re-queued and resumed.
        "shutdown_grace_period_s": 3,
    }


def settings() -> dict[str, Any]:
    """For the `saq` command line."""
    return worker_settings(Settings.from_env())
