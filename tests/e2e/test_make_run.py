"""`make run` on the embedded servers, as a newcomer uses it: start, trade, stop, start again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from app.infra.embedded import free_port
from tests.builders import order_body
from tests.support.access import ADMIN_KEY, bearer, connect
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def start(
    data_dir: Path, port: int, *, output: Path | None = None, **settings: str
) -> subprocess.Popen[bytes]:
    """`make run` on embedded servers in `data_dir`; its log to `output` if given."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "PORT": str(port),
            "MOCK_LATENCY_SCALE": "0.2",
            "ADMIN_API_KEY": ADMIN_KEY,
            **settings,
        }
    )
    log = open(output, "wb") if output else None  # noqa: SIM115 - the child keeps it open
    try:
        return subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
        )
    finally:
        if log:
            log.close()


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def leftovers(data_dir: Path) -> list[int]:
    """Processes still running with this run's data dir in their command line or environment."""
    marker = str(data_dir).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (
                marker in (proc / "cmdline").read_bytes()
                or marker in (proc / "environ").read_bytes()
            ):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_make_run_serves_trades_stops_cleanly_and_keeps_orders(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"

    run = start(data_dir, port)
    try:
        wait_until(lambda: healthy(base), timeout=180, what="make run to serve /healthz")
        order_id = httpx.post(
            f"{base}/api/orders/execute", json=order_body(), headers=bearer()
        ).json()["orderId"]
        statuses = []
        with connect(f"ws://127.0.0.1:{port}/api/orders/{order_id}/ws") as ws:
            try:
                while True:
                    statuses.append(json.loads(ws.recv(timeout=30))["status"])
            except ConnectionClosed:
                assert ws.close_code == 1000
        assert statuses[0] == "pending"
        assert statuses[-1] in ("confirmed", "failed")
    finally:
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole group
        # make waits for the engine to stop, then ends itself by the same signal.
        assert run.wait(60) in (0, -signal.SIGINT)
    wait_until(lambda: not leftovers(data_dir), timeout=20, what="every process to be gone")

    again = start(data_dir, port)
    try:
        wait_until(lambda: healthy(base), timeout=120, what="the second make run")
        kept = httpx.get(f"{base}/api/orders/{order_id}", headers=bearer()).json()
        assert kept["order"]["status"] == statuses[-1]
        assert [e["status"] for e in kept["events"]] == statuses
    finally:
        again.terminate()  # SIGTERM to make alone: it passes it on
        again.wait(60)
    wait_until(lambda: not leftovers(data_dir), timeout=20, what="every process to be gone")


def test_the_first_start_makes_an_admin_key_and_a_one_time_sign_in_link(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base, log = f"http://127.0.0.1:{port}", tmp_path / "run.log"
    run = start(data_dir, port, output=log, ADMIN_API_KEY="")
    try:
        wait_until(lambda: "/login?token=" in log.read_text(), timeout=180, what="the link")
        printed = log.read_text()
        key = re.search(r"^\s+(oee_\S+)$", printed, re.MULTILINE)
        link = re.search(r"(http://\S+/login\?token=\S+)", printed)
        assert key is not None
        assert link is not None
        assert httpx.get(f"{base}/api/keys", headers=bearer(key.group(1))).status_code == 200
        with httpx.Client() as browser:
            signed_in = browser.get(link.group(1), follow_redirects=True)
            assert signed_in.status_code == 200
            assert "Signed in as" in signed_in.text
        with httpx.Client() as stranger:  # the link works once
            assert stranger.get(link.group(1)).status_code == 400
    finally:
        run.terminate()
        run.wait(60)
    wait_until(lambda: not leftovers(data_dir), timeout=20, what="every process to be gone")
    log.write_text("")
    again = start(data_dir, port, output=log, ADMIN_API_KEY="")
    try:
        wait_until(lambda: "make key" in log.read_text(), timeout=120, what="the hint")
        assert "oee_" not in log.read_text()
    finally:
        again.terminate()
        again.wait(60)
    wait_until(lambda: not leftovers(data_dir), timeout=20, what="every process to be gone")
