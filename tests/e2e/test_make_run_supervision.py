"""`make run` keeps the engine up: what dies is started again, until something keeps dying."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Collection, Iterator
from functools import partial
from pathlib import Path
from typing import cast

import httpx
import psutil
import pytest
import redis

from app.infra.embedded import free_port
from tests.builders import order_body
from tests.e2e.test_make_run import healthy, leftovers, start
from tests.support.access import bearer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

IN_FLIGHT = ("routing", "building", "submitted")


class Engine:
    """One `make run` on its own data dir and port, with its log kept."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir, self.port = tmp_path / "data", free_port()
        self.log = tmp_path / "make-run.log"
        self.base = f"http://127.0.0.1:{self.port}"
        # Every order must confirm: no simulated venue failures.
        self.run = start(self.data_dir, self.port, output=self.log, MOCK_FAILURE_RATE="0")
        self.http = httpx.Client(base_url=self.base, timeout=10, headers=bearer())

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> list[psutil.Process]:
        """Everything `make run` started and that still has a process entry."""
        try:
            children = psutil.Process(self.run.pid).children(recursive=True)
            return cast(list[psutil.Process], children)
        except psutil.NoSuchProcess:
            return []

    def worker_pid(self, other_than: Collection[int] = ()) -> int | None:
        """A running (not zombie) worker process, other than those given."""
        for process in self.processes():
            try:
                if (
                    process.cmdline()[-2:] == ["-m", "jobs"]
                    and process.status() != psutil.STATUS_ZOMBIE
                    and process.pid not in other_than
                ):
                    return cast(int, process.pid)
            except psutil.Error:
                continue
        return None

    def redis(self) -> tuple[int, int] | None:
        """The running redis-server's pid and the port it listens on."""
        try:
            process = psutil.Process(
                int((self.data_dir / "redis" / "redis-server.pid").read_text())
            )
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            ports = [c.laddr.port for c in process.net_connections() if c.status == "LISTEN"]
        except (FileNotFoundError, ValueError, psutil.Error):
            return None
        return (process.pid, ports[0]) if ports else None

    def postmaster_pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
            return pid if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else None
        except (FileNotFoundError, IndexError, ValueError, psutil.Error):
            return None

    def place_order(self) -> str:
        response = self.http.post("/api/orders/execute", json=order_body())
        response.raise_for_status()
        order_id: str = response.json()["orderId"]
        return order_id

    def status(self, order_id: str) -> str | None:
        try:
            response = self.http.get(f"/api/orders/{order_id}")
        except httpx.HTTPError:
            return None
        return str(response.json()["order"]["status"]) if response.status_code == 200 else None

    def executing(self, orders: Collection[str]) -> bool:
        """Some of these orders are being executed."""
        return any(self.status(o) in IN_FLIGHT for o in orders)

    def confirms(self, order_id: str) -> None:
        wait_until(
            lambda: self.status(order_id) == "confirmed", timeout=60, what=f"{order_id} confirmed"
        )

    def stop(self) -> None:
        self.http.close()
        if self.run.poll() is None:
            os.killpg(self.run.pid, signal.SIGINT)
            self.run.wait(60)
        wait_until(
            lambda: not leftovers(self.data_dir), timeout=20, what="every process to be gone"
        )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(tmp_path)
    try:
        # Supervision starts once it says it is ready, a moment after /healthz is 200.
        wait_until(
            lambda: "Order Execution Engine ready" in engine.output() or engine.run.poll(),
            timeout=180,
            what="make run to be ready",
        )
        assert engine.run.poll() is None, f"make run failed:\n{engine.output()[-3000:]}"
        assert healthy(engine.base)
        yield engine
    finally:
        engine.stop()


def not_a_zombie(pid: int) -> bool:
    """A killed process was reaped: no process entry is left in state Z."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" not in status


def test_a_worker_killed_three_times_is_restarted_and_every_order_confirms(
    engine: Engine,
) -> None:
    placed: list[str] = []
    for _ in range(3):
        worker = wait_until(engine.worker_pid, timeout=30, what="a worker process")
        batch = [engine.place_order() for _ in range(8)]
        placed += batch
        wait_until(partial(engine.executing, batch), timeout=30, what="an order being executed")
        os.kill(worker, signal.SIGKILL)
        wait_until(
            partial(engine.worker_pid, other_than=[worker]),
            timeout=30,
            what="a new worker process",
        )
        assert not_a_zombie(worker)
        assert f"worker 1 (pid {worker}) was killed by SIGKILL" in engine.output()

    wait_until(
        lambda: all(engine.status(o) == "confirmed" for o in placed),
        timeout=180,
        what="every order to be confirmed",
    )
    assert engine.run.poll() is None
    assert healthy(engine.base)


def test_a_killed_redis_comes_back_on_its_port_with_its_data(engine: Engine) -> None:
    pid, port = wait_until(engine.redis, what="redis-server")
    client = redis.Redis(host="127.0.0.1", port=port)
    client.set("supervision-test", "kept")
    # In the append-only file (flushed once a second) before the crash.
    aof = engine.data_dir / "redis" / "appendonly.aof"
    wait_until(lambda: b"supervision-test" in aof.read_bytes(), what="the write in the AOF")

    os.kill(pid, signal.SIGKILL)

    def restarted() -> tuple[int, int] | None:
        found = engine.redis()
        return found if found and found[0] != pid else None

    assert wait_until(restarted, what="a new redis-server")[1] == port
    assert not_a_zombie(pid)
    assert f"Redis (pid {pid}) was killed by SIGKILL" in engine.output()
    wait_until(lambda: healthy(engine.base), timeout=60, what="/healthz to recover")
    assert client.get("supervision-test") == b"kept"
    client.close()
    engine.confirms(engine.place_order())
    assert engine.run.poll() is None


def test_a_killed_postmaster_is_restarted_and_service_resumes(engine: Engine) -> None:
    pid = wait_until(engine.postmaster_pid, what="the postmaster")
    before = engine.place_order()
    engine.confirms(before)

    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: engine.postmaster_pid() not in (None, pid), timeout=60, what="a new postmaster"
    )
    assert f"PostgreSQL (pid {pid}) is gone" in engine.output()

    wait_until(lambda: healthy(engine.base), timeout=60, what="/healthz to recover")
    engine.confirms(engine.place_order())
    assert engine.status(before) == "confirmed"
    assert engine.run.poll() is None


def test_a_worker_that_keeps_dying_stops_everything(engine: Engine) -> None:
    killed: list[int] = []
    for _ in range(5):  # the policy's crashes within a minute before it gives up
        worker = wait_until(
            lambda: engine.worker_pid(other_than=killed), timeout=30, what="a new worker process"
        )
        os.kill(worker, signal.SIGKILL)
        killed.append(worker)

    assert engine.run.wait(60) != 0
    assert last_line(engine.output()).endswith(
        "app.run: stopped (gave up: worker 1 was killed by SIGKILL (5 crashes within 60s))"
    )


def last_line(output: str) -> str:
    """The supervisor's last line (`make` may add its own error after it)."""
    lines = [line for line in output.splitlines() if "app.run:" in line]
    return lines[-1] if lines else ""


def test_a_redis_that_cannot_come_back_stops_everything(engine: Engine) -> None:
    pid, port = wait_until(engine.redis, what="redis-server")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        os.kill(pid, signal.SIGKILL)

        def take_the_port() -> bool:
            try:
                squatter.bind(("127.0.0.1", port))
            except OSError:  # redis-server is not quite dead yet
                return False
            squatter.listen()
            return True

        # Before the supervisor's first restart, half a second after it notices.
        wait_until(take_the_port, timeout=0.4, what="redis-server's port")
        assert engine.run.wait(90) != 0
    output = engine.output()
    why = f"Redis could not be restarted: port {port} is taken by another program"
    assert f"{why}; trying again in 1.0s" in output
    # The last line: the processes' own output, while they fail, may be interleaved with
    # the first time it is said.
    assert last_line(output).endswith(f"app.run: stopped (gave up: {why} (5 attempts in a row))")


def test_the_data_dirs_are_private(engine: Engine) -> None:
    redis_dir = engine.data_dir / "redis"
    for private in (redis_dir, redis_dir / "appendonly.aof", engine.data_dir / "postgres"):
        assert private.stat().st_mode & 0o077 == 0, private
    # Others may at most pass through (as root, PostgreSQL runs as another user).
    assert engine.data_dir.stat().st_mode & 0o066 == 0
