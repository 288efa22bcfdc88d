"""The job: drive one order through the pipeline. Small on purpose; the service does the work."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from app.domain.order import Order
from app.logs import about_order
from app.runtime import Runtime


async def execute_order(
    ctx: dict[str, Any], *, order_id: str, placed: dict[str, Any] | None = None
) -> str | None:
    runtime: Runtime = ctx["runtime"]
    job = ctx["job"]
    # A retry's order has moved on since it was placed: only a first run uses the snapshot.
    snapshot = (
        msgspec.convert(placed, Order, strict=False) if placed and job.attempts == 1 else None
    )
    with about_order(order_id):
        status = await runtime.executor.execute(
            order_id,
            heartbeat=_heartbeat(job, runtime),
            placed=snapshot,
        )
    return status.value if status else None


def _heartbeat(job: Any, runtime: Runtime) -> Any:
    """Tell the queue the run is alive, at most every third of the heartbeat window."""
    interval = runtime.settings.job_heartbeat_seconds / 3

    async def beat() -> None:
        if time.time() - job.touched / 1000 >= interval:
            await job.update()

    return beat
