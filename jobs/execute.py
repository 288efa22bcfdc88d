"""The job: drive one order through the pipeline. Small on purpose; the service does the work."""

from __future__ import annotations

from app.domain.status import OrderStatus
from app.logs import about_order
from app.runtime import Runtime
from app.services.queueing import Job


async def execute_order(runtime: Runtime, job: Job) -> OrderStatus | None:
    with about_order(job.order_id):
        return await runtime.executor.execute(job.order_id, placed=job.placed)
