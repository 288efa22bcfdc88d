"""A worker process: the runtime, the worker's background loops, and the job loop."""

from __future__ import annotations

import functools
import logging

from app.events.pools import PoolHub
from app.periodic import Periodic
from app.runtime import open_runtime
from app.settings import Settings
from jobs.execute import execute_order
from jobs.runner import Worker

log = logging.getLogger(__name__)

TRIGGER_TICK_SECONDS = 0.2
"""How often the trigger looks at the pools: a crossing is seen within this long."""
LAUNCH_TICK_SECONDS = 0.05


async def serve(settings: Settings) -> None:
    """Run jobs until SIGINT or SIGTERM."""
    runtime = await open_runtime(settings, concurrency=settings.worker_concurrency, patient=True)
    # Launch events reach the sniper trigger as they happen (its leader acts on them).
    pools = PoolHub(
        runtime.redis, runtime.simulator.pools_channel, on_event=runtime.snipers.on_pool_event
    )
    loops: list[Periodic] = []
    try:
        await pools.start()
        loops = [
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
        worker = Worker(
            runtime.queue,
            functools.partial(execute_order, runtime),
            concurrency=settings.worker_concurrency,
        )
        log.info("worker %s taking jobs (%s at once)", worker.id, worker.concurrency)
        await worker.serve()
    finally:
        for loop in loops:
            await loop.stop()
        await pools.stop()
        await runtime.close()
