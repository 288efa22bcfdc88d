"""A real web process under hostile or careless clients: it answers clearly and stays up."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from app.settings import Settings
from tests.builders import order_body
from tests.e2e.conftest import Live
from tests.support.access import bearer, connect
from tests.support.db import query
from tests.support.processes import start_web


@pytest.fixture(scope="module")
def strict_web(live: Live) -> Iterator[tuple[str, Settings]]:
    """A web process of its own, with a short header timeout and a rate limit."""
    settings = live.settings.replace(header_timeout_seconds=1.0, order_rate_limit=20)
    web, address = start_web(settings)
    try:
        yield address, settings
    finally:
        web.stop()


@pytest.fixture(scope="module")
def unlimited_web(live: Live) -> Iterator[tuple[str, Settings]]:
    """A web process of its own, with no worker and no rate limit."""
    settings = live.settings.replace(queue_name="e2e-no-worker")
    web, address = start_web(settings)
    try:
        yield address, settings
    finally:
        web.stop()


def raw_exchange(address: str, request: bytes, timeout: float = 5) -> bytes:
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_every_response_carries_security_headers(api: httpx.Client) -> None:
    for path in ("/", "/healthz", "/api/tokens", "/api/orders/nope", "/static/app.css"):
        headers = api.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
        assert headers["x-frame-options"] == "DENY", path


def test_metrics_name_their_charset_once(api: httpx.Client) -> None:
    content_type = api.get("/metrics").headers["content-type"]
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"


def test_other_host_names_are_refused_on_http_and_websockets(live: Live) -> None:
    """DNS rebinding: a page on evil.example re-points its name at this machine."""
    response = httpx.get(
        f"{live.http}/api/tokens", headers={"host": f"evil.example:{live.settings.port}"}
    )
    assert response.status_code == 400
    assert "evil.example" in response.json()["detail"]
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"{live.ws}/api/orders/ws",
            additional_headers={"Host": "evil.example"},
            origin=Origin("http://evil.example"),
        )
    assert refused.value.response.status_code == 403


def test_an_origin_matching_the_host_header_is_not_enough(live: Live) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live.ws}/ws/dashboard", origin=Origin("http://localhost:1"))
    assert refused.value.response.status_code == 403


def test_a_connection_that_dribbles_its_headers_is_closed(
    strict_web: tuple[str, Settings],
) -> None:
    address, _ = strict_web
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        started = time.monotonic()
        assert conn.recv(1024) == b"", "the server should hang up"
        assert time.monotonic() - started < 5


def test_client_messages_on_read_only_sockets_are_capped(live: Live) -> None:
    with connect(f"{live.ws}/api/orders/ws") as ws:
        ws.send("x" * 16384)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 1009  # message too big


def test_forwarded_headers_are_not_believed_from_an_untrusted_peer(
    live: Live, api: httpx.Client
) -> None:
    response = api.post(
        "/api/orders/execute", json=order_body(), headers={"x-forwarded-for": "203.0.113.9"}
    )
    assert response.status_code == 201
    rows = query(
        live.settings.database_url,
        "SELECT client FROM orders WHERE id = $1::uuid",
        response.json()["orderId"],
    )
    assert rows[0]["client"] == "127.0.0.1"


def test_requests_that_fail_validation_do_not_use_up_the_rate_limit(
    strict_web: tuple[str, Settings],
) -> None:
    address, settings = strict_web
    with httpx.Client(base_url=f"http://{address}", headers=bearer()) as client:
        for _ in range(settings.order_rate_limit * 2):
            bad = client.post("/api/orders/execute", json=order_body(amount="lots"))
            assert bad.status_code == 400
        assert client.post("/api/orders/execute", json=order_body()).status_code == 201


def test_a_rate_limited_form_post_says_so_instead_of_looking_like_success(
    strict_web: tuple[str, Settings],
) -> None:
    address, settings = strict_web
    with httpx.Client(base_url=f"http://{address}", headers=bearer()) as client:
        page = client.get("/")
        token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
        form = {"_csrf_token": token, "type": "market", "tokenIn": "SOL", "tokenOut": "USDC",
                "amount": "1", "slippageBps": "50"}  # fmt: skip
        statuses = [
            client.post("/orders", data=form).status_code
            for _ in range(settings.order_rate_limit + 5)
        ]
    assert 429 in statuses
    refused = statuses.index(429)
    assert all(status == 303 for status in statuses[:refused])


async def _time_healthz(client: httpx.AsyncClient, samples: int) -> list[float]:
    took = []
    for _ in range(samples):
        started = time.perf_counter()
        assert (await client.get("/healthz")).status_code == 200
        took.append(time.perf_counter() - started)
    return took


def test_maximum_size_requests_do_not_stall_the_process(live: Live) -> None:
    """Eight clients sending 64 KiB amounts: /healthz stays about as fast as when idle."""
    body = json.dumps(order_body(amount="1." + "0" * (64 * 1024 - 200))).encode()
    assert len(body) < 64 * 1024

    async def run() -> tuple[float, float]:
        async with httpx.AsyncClient(base_url=live.http, timeout=30, headers=bearer()) as client:
            idle = statistics.median(await _time_healthz(client, 30))
            stop = asyncio.Event()

            async def hammer() -> None:
                while not stop.is_set():
                    response = await client.post(
                        "/api/orders/execute",
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                    assert response.status_code == 400

            hammers = [asyncio.create_task(hammer()) for _ in range(8)]
            busy = statistics.median(await _time_healthz(client, 30))
            stop.set()
            await asyncio.gather(*hammers)
            return idle, busy

    idle, busy = asyncio.run(run())
    # Before validation was linear, one such body took seconds of CPU: a ratio in the
    # thousands. Sharing the process with eight busy clients costs a few times idle.
    assert busy < max(idle * 10, 0.1), (
        f"/healthz took {busy * 1000:.1f} ms vs {idle * 1000:.1f} idle"
    )


def tcp_established(sock: socket.socket) -> bool:
    """The connection's TCP state, read without consuming what waits in its buffer."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == 1  # TCP_ESTABLISHED


def test_a_firehose_client_that_stops_reading_is_dropped_and_others_keep_going(
    unlimited_web: tuple[str, Settings],
) -> None:
    address, settings = unlimited_web
    host, port = address.split(":")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window
    stalled.connect((host, int(port)))
    stalled.sendall(
        b"GET /api/orders/ws?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )  # and never reads a byte
    placed: list[str] = []
    try:
        with (
            httpx.Client(base_url=f"http://{address}", headers=bearer()) as api,
            connect(f"ws://{address}/api/orders/ws") as healthy,
        ):
            deadline = time.monotonic() + 60
            while tcp_established(stalled):
                assert time.monotonic() < deadline, "the stalled client was never dropped"
                for _ in range(20):
                    response = api.post("/api/orders/execute", json=order_body(amount="0.01"))
                    placed.append(response.json()["orderId"])
                # The healthy client keeps receiving meanwhile (no worker: one event each).
                got = {json.loads(healthy.recv(timeout=20))["orderId"] for _ in range(20)}
                assert got == set(placed[-20:])
            api.post("/api/orders/execute", json=order_body(amount="0.01"))
            assert json.loads(healthy.recv(timeout=20))["status"] == "pending"
    finally:
        stalled.close()
        # Nobody works this process's queue: take its orders away before a reconciler does.
        query(settings.database_url, "DELETE FROM orders WHERE id = ANY($1::uuid[])", placed)
