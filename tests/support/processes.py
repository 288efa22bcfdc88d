"""Real worker and web processes for tests that need them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.infra.embedded import free_port, stop_process, wait_for_port
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class Process:
    def __init__(self, command: list[str], settings: Settings, log: Path | None = None) -> None:
        env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
        output = open(log, "wb") if log else None  # noqa: SIM115 - lives as long as the process
        self.popen = subprocess.Popen(command, env=env, cwd=ROOT, stderr=output)
        if output:
            output.close()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as when a machine dies."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        stop_process(self.popen, grace=15)


def start_worker(settings: Settings, log: Path | None = None) -> Process:
    return Process([sys.executable, "-m", "jobs"], settings, log)


def start_web(settings: Settings, port: int | None = None) -> tuple[Process, str]:
    port = port or free_port()
    process = Process(
        [sys.executable, "-m", "app.web.serve"], settings.replace(port=port, host="127.0.0.1")
    )
    wait_for_port(port, process=process.popen, what="web process", timeout=30)
    return process, f"127.0.0.1:{port}"
