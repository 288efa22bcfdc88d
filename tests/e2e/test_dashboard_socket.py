"""`WS /ws/dashboard`: HTML fragments for the htmx ws extension, from real processes."""

from __future__ import annotations

import re

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.builders import order_body
from tests.e2e.conftest import Live
from tests.support.access import connect

ROW = re.compile(r'<tr id="order-([0-9a-f-]{36})" data-status="(\w+)"')


def test_a_dashboard_gets_the_current_rows_first_then_every_change(
    live: Live, api: httpx.Client
) -> None:
    with connect(f"{live.ws}/ws/dashboard") as ws:
        snapshot = ws.recv(timeout=10)
        assert '<tbody hx-swap-oob="innerHTML:#recent-rows">' in snapshot
        assert 'id="charts" class="charts" hx-swap-oob="true"' in snapshot

        order_id = api.post("/api/orders/execute", json=order_body()).json()["orderId"]
        statuses: list[str] = []
        messages: list[str] = []
        while not statuses or statuses[-1] not in ("confirmed", "failed"):
            message = str(ws.recv(timeout=20))
            rows = [(oid, status) for oid, status in ROW.findall(message) if oid == order_id]
            if rows:
                messages.append(message)
                statuses.append(rows[0][1])
        # Finished orders refresh the charts, gathered into one trailing update.
        while 'id="charts"' not in (chart := str(ws.recv(timeout=5))):
            pass
    assert 'class="legend"' in chart
    assert statuses == ["pending", "routing", "building", "submitted", "confirmed"]
    assert messages[0].startswith('<tbody hx-swap-oob="afterbegin:#recent-rows"><tr id="order-')
    assert all('hx-swap-oob="true"' in m for m in messages[1:])


def test_an_order_page_socket_sends_that_orders_detail(live: Live, api: httpx.Client) -> None:
    order_id = api.post("/api/orders/execute", json=order_body()).json()["orderId"]
    with connect(f"{live.ws}/ws/dashboard?order={order_id}") as ws:
        first = str(ws.recv(timeout=10))
    assert first.startswith('<div id="order-detail" hx-swap-oob="true">')
    assert order_id in first
    assert 'class="timeline"' in first


def test_the_dashboard_socket_checks_the_origin(live: Live) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live.ws}/ws/dashboard", origin=Origin("http://evil.example"))
    assert refused.value.response.status_code == 403
