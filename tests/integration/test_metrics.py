"""Metrics: counted in each process, summed in Redis, served as Prometheus text."""

from __future__ import annotations

import re

from litestar.testing import TestClient

from app.metrics import METRICS, Metrics, render
from app.runtime import Runtime, open_runtime
from app.settings import Settings
from app.web.app import create_app
from tests.builders import order_body
from tests.support.access import signed


async def test_counts_and_histograms_add_up_across_flushes(runtime: Runtime) -> None:
    key = f"{runtime.metrics_key}:unit"
    first, second = Metrics(), Metrics()
    first.count("oee_orders_finished_total", status="confirmed")
    second.count("oee_orders_finished_total", 2, status="confirmed")
    first.observe("oee_stage_seconds", 0.03, stage="routing")
    second.observe("oee_stage_seconds", 3.0, stage="routing")
    await first.flush(runtime.redis, key)
    await second.flush(runtime.redis, key)
    stored = {str(k): str(v) for k, v in (await runtime.redis.hgetall(key)).items()}
    text = render(stored, [("oee_queue_depth", {}, 4.0)])
    assert 'oee_orders_finished_total{status="confirmed"} 3' in text
    assert 'oee_stage_seconds_bucket{le="0.05",stage="routing"} 1' in text
    assert 'oee_stage_seconds_bucket{le="5.0",stage="routing"} 2' in text
    assert 'oee_stage_seconds_bucket{le="+Inf",stage="routing"} 2' in text
    assert 'oee_stage_seconds_count{stage="routing"} 2' in text
    assert "# TYPE oee_stage_seconds histogram" in text
    assert "# TYPE oee_queue_depth gauge\noee_queue_depth 4" in text


async def execute_and_flush(settings: Settings, order_id: str) -> None:
    """What a worker does with the order, then its metrics flush."""
    runtime = await open_runtime(settings)
    try:
        assert await runtime.executor.execute(order_id) is not None
        await METRICS.flush(runtime.redis, runtime.metrics_key)
    finally:
        await runtime.close()


def test_the_metrics_endpoint_reports_the_pipeline(settings: Settings) -> None:
    with signed(TestClient(create_app(settings))) as client:
        order_id = client.post("/api/orders/execute", json=order_body()).json()["orderId"]
        client.blocking_portal.call(execute_and_flush, settings, order_id)
        text = client.get("/metrics").text
    samples = dict(re.findall(r"^(oee_\S+) (\S+)$", text, re.MULTILINE))
    assert float(samples["oee_orders_placed_total"]) >= 1
    assert float(samples['oee_orders_finished_total{status="confirmed"}']) >= 1
    assert float(samples['oee_stage_seconds_count{stage="submitted"}']) >= 1
    assert float(samples['oee_venue_quote_seconds_count{dex="raydium"}']) >= 1
    assert "oee_queue_depth" in samples
    assert "oee_websocket_connections" in samples
