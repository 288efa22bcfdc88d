"""Run one scenario: a fresh engine, steady load, the faults, settling, the checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from chaos import store
from chaos.cluster import Cluster
from chaos.config import ChaosConfig
from chaos.faults import Fault, Injector, plan
from chaos.load import Firehose, Poster, running, steady_load
from chaos.probes import OutageProber, Probe, recovery_seconds
from chaos.result import ScenarioResult, build

log = logging.getLogger("chaos")

SCENARIOS = ("worker-kill", "web-kill", "redis-restart", "postgres-restart", "postgres-pause")
SERVER_NAMES = {"redis-restart": "Redis", "postgres-restart": "PostgreSQL"}


class Deaths(logging.Handler):
    """What the supervisor restarted (it logs each death at ERROR)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def unexpected(self, scenario: str, killed: set[int]) -> list[str]:
        """What the faults did not cause: a process that died by itself, or one that
        could not be started again."""
        found = []
        for record in self.records:
            args = record.args if isinstance(record.args, tuple) else ()
            name, pid = (args[0], args[1]) if len(args) >= 2 else ("", None)
            if pid in killed or name == SERVER_NAMES.get(scenario):
                continue
            found.append(f"supervisor: {record.getMessage()}")
        return found


@contextlib.contextmanager
def noting_deaths() -> Iterator[Deaths]:
    handler = Deaths()
    stack_log = logging.getLogger("app.infra.stack")
    stack_log.addHandler(handler)
    try:
        yield handler
    finally:
        stack_log.removeHandler(handler)


def run_scenario(scenario: str, config: ChaosConfig, logs: Path) -> ScenarioResult:
    """Start an engine of its own, drive it through `scenario`, stop it; the result.

    The processes' logs (with markers at each fault) are kept in `logs/<scenario>.log`.
    """
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{scenario}.log"
    log_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"oee-chaos-{scenario}-") as tmp:
        cluster = Cluster(config, Path(tmp), log_path)
        with cluster.children_output(), noting_deaths() as deaths:
            try:
                cluster.start()
                result = asyncio.run(_drive(scenario, config, cluster, deaths))
            finally:
                cluster.stop()
    return result


async def _drive(
    scenario: str, config: ChaosConfig, cluster: Cluster, deaths: Deaths
) -> ScenarioResult:
    started = time.monotonic()
    faults = plan(scenario, config, random.Random(f"{config.seed}:{scenario}"))
    problems: list[str] = []
    probes: list[Probe] = []
    load_connector = aiohttp.TCPConnector(limit=config.in_flight + 16, force_close=True)
    # Every request carries the admin key (default headers: sockets' handshakes too).
    auth = cluster.auth_headers
    async with (
        aiohttp.ClientSession(
            base_url=cluster.base_url, connector=load_connector, headers=auth
        ) as session,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True), headers=auth
        ) as side,
    ):
        poster = Poster(session, config.post_timeout)
        firehose = Firehose(cluster.ws_url)
        async with running(firehose.run(side)):
            await asyncio.wait_for(firehose.connected.wait(), 30)
            t0 = time.monotonic()
            load = asyncio.create_task(
                steady_load(poster, config.orders, config.rate, config.in_flight)
            )
            recoveries: list[asyncio.Task[None]] = []
            for fault in faults:
                until_planned = max(0.0, t0 + fault.at - time.monotonic())
                await asyncio.sleep(until_planned)  # wait-ok: the fault's planned moment
                log.info("%s: %s at %.1fs", scenario, fault.kind, time.monotonic() - t0)
                try:
                    probes += await _inject(fault, cluster, poster, side)
                except Exception as error:
                    problems.append(f"harness: {fault.kind} failed: {error!r}")
                    log.exception("%s: %s failed", scenario, fault.kind)
                    continue
                recoveries.append(
                    asyncio.create_task(_recover(fault, cluster, poster, side, config))
                )
            await load
            log.info("%s: load done in %.1fs; settling", scenario, time.monotonic() - t0)
            await asyncio.gather(*recoveries)
            still_moving, settle_seconds = await store.settle(
                cluster.database_url, within=config.settle_timeout
            )
            log.info("%s: settled in %.1fs; checking", scenario, settle_seconds)
            stored = await store.read(cluster.database_url, cluster.redis_url)
            event_ids = {e.event_id for events in stored.events.values() for e in events}
            await firehose.caught_up(event_ids, within=5)
    if cluster.supervisor.error is not None:
        problems.append(f"supervision stopped: {cluster.supervisor.error}")
    killed = {pid for fault in faults for pid in fault.pids}
    problems += deaths.unexpected(scenario, killed)
    result, findings = build(
        scenario,
        config.seed,
        faults=faults,
        posts=poster.posts,
        probes=probes,
        firehose=firehose,
        stored=stored,
        still_moving=still_moving,
        settle_seconds=settle_seconds,
        seconds=time.monotonic() - started,
        problems=problems,
        db_timeout=config.db_timeout_seconds,
    )
    result.evidence = await _evidence(findings.suspects(), stored, poster, cluster)
    return result


async def _inject(
    fault: Fault, cluster: Cluster, poster: Poster, session: aiohttp.ClientSession
) -> list[Probe]:
    """Begin the fault, probe while a server is out, end it; the probes."""
    injector = Injector(cluster, fault)
    prober: OutageProber | None = None
    try:
        await injector.begin()
        if fault.server is not None:
            prober = OutageProber(session, poster, cluster.base_url, lambda: _an_order(poster))
            prober.start()
        await asyncio.sleep(fault.hold)  # wait-ok: the outage lasts this long
    finally:
        try:
            await injector.end()
        finally:
            if prober is not None:
                await prober.stop()
    return prober.probes if prober is not None else []


async def _recover(
    fault: Fault,
    cluster: Cluster,
    poster: Poster,
    session: aiohttp.ClientSession,
    config: ChaosConfig,
) -> None:
    """Place orders after the fault until one confirms (the load may be over by then);
    its recovery time is measured afterwards over every order placed after it."""
    if fault.ended is not None:
        await recovery_seconds(
            session, poster, cluster.base_url, fault.ended, config.recovery_timeout
        )


def _an_order(poster: Poster) -> str | None:
    return next((p.order_id for p in poster.posts if p.order_id), None)


async def _evidence(
    suspects: list[str], stored: store.Stored, poster: Poster, cluster: Cluster
) -> dict[str, Any]:
    """For each suspect order: its POST, events, ledger entries and log lines."""
    if not suspects:
        return {}
    lines = await asyncio.to_thread(_log_lines, cluster.log_path, suspects)
    posts = {p.order_id or p.in_doubt: p for p in poster.posts if p.order_id or p.in_doubt}
    evidence: dict[str, Any] = {}
    for order_id in suspects:
        order = stored.orders.get(order_id)
        evidence[order_id] = {
            "status": order.status if order else None,
            "post": posts[order_id].as_dict() if order_id in posts else None,
            "events": [
                {"eventId": e.event_id, "seq": e.seq, "status": e.status, "at": e.at.isoformat()}
                for e in stored.events.get(order_id, [])
            ],
            "ledger": await store.ledger_entries(cluster.redis_url, order_id),
            "job": await store.job_record(
                cluster.redis_url, cluster.stack.env.get("QUEUE_NAME", "orders"), order_id
            )
            if order is None or not order.terminal
            else None,
            "log": lines[order_id],
        }
    return evidence


def _log_lines(path: Path, order_ids: list[str], most: int = 60) -> dict[str, list[str]]:
    """The log lines that name each order (at most `most` each)."""
    lines: dict[str, list[str]] = {order_id: [] for order_id in order_ids}
    with open(path, errors="replace") as log_file:
        for line in log_file:
            for order_id in order_ids:
                if order_id in line and len(lines[order_id]) < most:
                    lines[order_id].append(line.rstrip()[:600])
    return lines
