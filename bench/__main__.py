"""`make bench` (`python -m bench`): start the stack, drive it through the public API, report.

Embedded PostgreSQL and Redis by default (in a temporary directory); DATABASE_URL and
REDIS_URL point it at yours (each run uses its own database and queue names).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import resource
import secrets
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.infra.migrate import drop_database, with_database
from bench import report
from bench.limits import limits
from bench.load import HOT, MIX, Mix
from bench.scenarios import (
    Servers,
    census_engine,
    census_floor,
    floor,
    many_sockets,
    throughput,
)
from bench.snipers import snipers

log = logging.getLogger("bench")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument(
        "--scenario",
        choices=[*SCENARIOS, "ratios", "all"],
        default="all",
        help="; ".join(f"{k}: {v}" for k, v in SCENARIOS.items())
        + "; ratios: floor, zero (1 worker) and hot; all: every one",
    )
    parser.add_argument("--orders", type=int, default=3000, help="orders per zero-latency run")
    parser.add_argument("--in-flight", type=int, default=32, help="POSTs in flight at once")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="WORKER_CONCURRENCY for zero-latency runs"
    )
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--realistic-orders", type=int, default=200)
    parser.add_argument(
        "--high-concurrency", type=int, default=256, help="WORKER_CONCURRENCY, high-concurrency"
    )
    parser.add_argument("--census-orders", type=int, default=500)
    parser.add_argument(
        "--limit-orders", type=int, default=100_000, help="limit orders waiting (limits)"
    )
    parser.add_argument(
        "--limit-crossing", type=int, default=1000, help="of them, crossed by the move (limits)"
    )
    parser.add_argument(
        "--limit-move-bps", type=int, default=300, help="the price move, in bps (limits)"
    )
    parser.add_argument(
        "--limit-idle-seconds",
        type=float,
        default=20.0,
        help="how long the idle trigger is measured (limits)",
    )
    parser.add_argument(
        "--limit-latency-scale", type=float, default=0.0, help="MOCK_LATENCY_SCALE (limits)"
    )
    parser.add_argument(
        "--limit-failure-rate", type=float, default=0.0, help="MOCK_FAILURE_RATE (limits)"
    )
    parser.add_argument(
        "--sniper-waiting", type=int, default=1000, help="snipers waiting on other tokens"
    )
    parser.add_argument("--sniper-launches", type=int, default=40, help="launches timed")
    parser.add_argument(
        "--attempts",
        type=int,
        default=2,
        help="the runs behind the ratios (floor, zero-latency-1k, hot-1k) are run again when "
        "other load disturbed them, up to this many times in all (ratios take each one's best)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="the floor, the mix and the hot pool are run this many times, back to back; "
        "each round's ratios compare runs a minute apart, and the ratios reported are the "
        "rounds' medians (this host's speed drifts more than that between minutes)",
    )
    parser.add_argument(
        "--disturbed",
        type=float,
        default=0.25,
        help="cores kept busy by other processes, on average, above which a run is disturbed",
    )
    parser.add_argument(
        "--profile", type=Path, help="write py-spy flame graphs of web and workers to this folder"
    )
    parser.add_argument(
        "--no-firehose",
        action="store_true",
        help="diagnostic: no WebSocket client watches the zero-latency runs (what watching costs)",
    )
    parser.add_argument(
        "--logs", type=Path, help="keep every process's log here (default: thrown away after)"
    )
    return parser.parse_args()


SCENARIOS = {
    "floor": "the floor: the engine's SQL and Redis round trips per order from a bare client",
    "zero": "zero simulated latency, the mix, 1 and 2 workers",
    "hot": "zero latency, every order SOL→USDC (one pool, one direction)",
    "high-concurrency": "zero latency, WORKER_CONCURRENCY=256, logs scanned for trouble",
    "realistic": "realistic latency, concurrency 10 and 100",
    "sockets": "5,000 per-order WebSocket clients",
    "census": "Redis round trips per order by command (MONITOR), engine and floor",
    "limits": "100,000 waiting limit orders (written to PostgreSQL), the index rebuilt, the "
    "idle trigger, then a move that crosses 1,000 of them",
    "snipers": "1,000 snipers waiting on other tokens; launches timed from the pool's open "
    "event to its sniper's routing event",
}


async def _floor_attempt(servers: Servers, name: str, round_: int, **kwargs: Any) -> dict[str, Any]:
    return await floor(servers, name, round_=round_, **kwargs)


async def _throughput_attempt(
    servers: Servers, name: str, round_: int, **kwargs: Any
) -> dict[str, Any]:
    return await throughput(servers, name, round_=round_, **kwargs)


def _disturbance(run: dict[str, Any]) -> float:
    """Cores that processes not ours kept busy, on average, during the run's window."""
    machine = run.get("machine") or {}
    wall = machine.get("wall_seconds") or 0
    return float(machine.get("other_seconds", 0)) / wall if wall else 0.0


def wanted(args: argparse.Namespace, name: str) -> bool:
    chosen: str = args.scenario
    if chosen == "all":
        return True
    if chosen == "ratios":
        return name in ("floor", "zero", "hot")
    return chosen == name


async def run(args: argparse.Namespace, servers: Servers) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    zero = {
        "MOCK_LATENCY_SCALE": "0",
        "MOCK_FAILURE_RATE": "0",
        "WORKER_CONCURRENCY": str(args.concurrency),
    }
    # The runs behind the ratios: the floor first (what the servers allow), then the mix
    # and the hot pool, in --rounds rounds back to back. The machine may be shared: a ratio
    # run during which other processes kept more than --disturbed cores busy on average is
    # run again, up to --attempts times in all. Every attempt is reported; within a round,
    # each scenario's best attempt counts, and the ratios are the rounds' medians.
    ratio_runs: list[tuple[str, Callable[[int], Awaitable[dict[str, Any]]]]] = []
    if wanted(args, "floor"):
        for processes in (2, 1):
            name = "floor" if processes == 2 else "floor-1p"
            ratio_runs.append(
                (
                    name,
                    functools.partial(
                        _floor_attempt,
                        servers,
                        name,
                        processes=processes,
                        orders=args.orders,
                        in_flight=args.in_flight,
                        concurrency=args.concurrency,
                    ),
                )
            )
    zero_runs: list[tuple[str, int, Mix]] = []
    if wanted(args, "zero") or wanted(args, "hot"):
        zero_runs.append(("zero-latency-1k", 1, MIX))
    if wanted(args, "hot"):
        zero_runs.append(("hot-1k", 1, HOT))
    if wanted(args, "zero"):
        zero_runs.append(("zero-latency-2k", 2, MIX))
    for name, workers, mix in zero_runs:
        ratio_runs.append(
            (
                name,
                functools.partial(
                    _throughput_attempt,
                    servers,
                    name,
                    web=1,
                    workers=workers,
                    orders=args.orders,
                    in_flight=args.in_flight,
                    env=zero,
                    mix=mix,
                    watch=not args.no_firehose,
                ),
            )
        )
    paired = ("floor", "zero-latency-1k", "hot-1k")
    for set_ in range(1, max(1, args.rounds) + 1):
        for name, attempt in ratio_runs:
            if set_ > 1 and name not in paired:
                continue  # the one-process floor and two workers: once is enough
            attempts = args.attempts if name in paired else 1
            for number in range(1, attempts + 1):
                log.info("%s (round %s, attempt %s): %s orders", name, set_, number, args.orders)
                result = await attempt(number)
                result["set"] = set_
                runs.append(result)
                others = _disturbance(result)
                if others <= args.disturbed:
                    break
                log.info("%s: other processes kept %.2f cores busy; again", name, others)
    if wanted(args, "high-concurrency"):
        log.info(
            "high concurrency: WORKER_CONCURRENCY=%s, %s orders", args.high_concurrency, args.orders
        )
        runs.append(
            await throughput(
                servers,
                f"high-concurrency-c{args.high_concurrency}",
                web=1,
                workers=1,
                orders=args.orders,
                in_flight=args.in_flight,
                env={**zero, "WORKER_CONCURRENCY": str(args.high_concurrency)},
            )
        )
    if wanted(args, "realistic"):
        for concurrency in (10, 100):
            log.info(
                "realistic latency, concurrency %s, %s orders", concurrency, args.realistic_orders
            )
            runs.append(
                await throughput(
                    servers,
                    f"realistic-c{concurrency}",
                    web=1,
                    workers=1,
                    orders=args.realistic_orders,
                    in_flight=args.in_flight,
                    warmup=10,
                    env={"MOCK_LATENCY_SCALE": "1", "WORKER_CONCURRENCY": str(concurrency)},
                )
            )
    if wanted(args, "sockets"):
        log.info("%s WebSocket clients on one web process", args.sockets)
        runs.append(await many_sockets(servers, sockets=args.sockets, in_flight=args.in_flight))
    if wanted(args, "census"):
        log.info("census: Redis round trips per order, %s orders each", args.census_orders)
        runs.append(
            await census_engine(servers, orders=args.census_orders, in_flight=args.in_flight)
        )
        runs.append(
            await census_floor(servers, orders=args.census_orders, in_flight=args.in_flight)
        )
    if wanted(args, "limits"):
        log.info(
            "limits: %s waiting, %s crossed by a %+d bps move",
            args.limit_orders,
            args.limit_crossing,
            args.limit_move_bps,
        )
        runs.append(
            await limits(
                servers,
                orders=args.limit_orders,
                crossing=args.limit_crossing,
                move_bps=args.limit_move_bps,
                idle_seconds=args.limit_idle_seconds,
                concurrency=args.concurrency,
                latency_scale=args.limit_latency_scale,
                failure_rate=args.limit_failure_rate,
            )
        )
    if wanted(args, "snipers"):
        log.info(
            "snipers: %s waiting elsewhere, %s launches", args.sniper_waiting, args.sniper_launches
        )
        runs.append(
            await snipers(
                servers,
                waiting=args.sniper_waiting,
                launches=args.sniper_launches,
                in_flight=args.in_flight,
            )
        )
    return runs


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s bench: %(message)s", datefmt="%H:%M:%S"
    )
    args = parse()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets
    env = dict(os.environ)
    external_db = env.get("DATABASE_URL")
    if external_db:
        env["DATABASE_URL"] = with_database(external_db, f"oee_bench_{secrets.token_hex(4)}")
    with tempfile.TemporaryDirectory(prefix="oee-bench-") as tmp:
        servers = Servers(
            Path(tmp),
            env,
            admin_key=secrets.token_urlsafe(32),  # ADMIN_API_KEY of every process
            profile=args.profile,
            logs=args.logs,
        )
        servers.start()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            runs = asyncio.run(run(args, servers))
        finally:
            servers.stop()
            if external_db:
                asyncio.run(drop_database(env["DATABASE_URL"]))
    results = {
        "started": started,
        "machine": report.machine(),
        "servers": "external" if external_db else "embedded",
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "runs": runs,
        "ratios": report.ratios(runs),
    }
    path = report.write(results)
    print(report.markdown(results))
    print(f"results: {path} (and bench/results/latest.{{json,md,png}})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
