"""`make bench` (`python -m bench`): start the stack, drive it through the public API, report.

Embedded PostgreSQL and Redis by default (in a temporary directory); DATABASE_URL and
REDIS_URL point it at yours (each run uses its own database and queue names).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.infra.migrate import drop_database, with_database
from bench import report
from bench.scenarios import Servers, many_sockets, throughput

log = logging.getLogger("bench")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument(
        "--scenario",
        choices=["zero", "realistic", "sockets", "all"],
        default="all",
        help="zero simulated latency, realistic latency, or 5,000 WebSocket clients",
    )
    parser.add_argument("--orders", type=int, default=3000, help="orders per zero-latency run")
    parser.add_argument("--in-flight", type=int, default=32, help="POSTs in flight at once")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="WORKER_CONCURRENCY for zero-latency runs"
    )
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--realistic-orders", type=int, default=200)
    parser.add_argument(
        "--profile", type=Path, help="write py-spy flame graphs of web and workers to this folder"
    )
    return parser.parse_args()


async def run(args: argparse.Namespace, servers: Servers) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    zero = {
        "MOCK_LATENCY_SCALE": "0",
        "MOCK_FAILURE_RATE": "0",
        "WORKER_CONCURRENCY": str(args.concurrency),
    }
    if args.scenario in ("zero", "all"):
        for workers in (1, 2):
            log.info("zero latency, 1 web + %s worker(s), %s orders", workers, args.orders)
            runs.append(
                await throughput(
                    servers,
                    f"zero-latency-{workers}k",
                    web=1,
                    workers=workers,
                    orders=args.orders,
                    in_flight=args.in_flight,
                    env=zero,
                )
            )
    if args.scenario in ("realistic", "all"):
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
    if args.scenario in ("sockets", "all"):
        log.info("%s WebSocket clients on one web process", args.sockets)
        runs.append(await many_sockets(servers, sockets=args.sockets, in_flight=args.in_flight))
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
        servers = Servers(Path(tmp), env, profile=args.profile)
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
    }
    path = report.write(results)
    print(report.markdown(results))
    print(f"results: {path} (and bench/results/latest.{{json,md,png}})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
