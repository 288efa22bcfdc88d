"""How hard a chaos run pushes: load, fault counts and durations, time limits."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 7
    """Seeds the simulated market (MOCK_SEED), the fault moments and their targets."""
    orders: int = 1000
    """Orders posted per scenario by the load generator (probes add a few of their own)."""
    rate: float = 25.0
    """Orders posted per second, steadily (catching up after a stall)."""
    in_flight: int = 32
    """POSTs outstanding at most."""
    workers: int = 2
    worker_concurrency: int = 32
    latency_scale: float = 0.2
    failure_rate: float = 0.05
    """The engine's default: transient venue failures happen, and must end in a retry or
    in exactly one `failed` event (never a fill)."""
    heartbeat_seconds: int = 10
    """JOB_HEARTBEAT_SECONDS: how long a killed worker's jobs wait before another takes them."""
    reconcile_seconds: float = 10.0
    """RECONCILE_INTERVAL_SECONDS: how often workers re-queue moving orders with no job
    (orders stored while Redis was down, or by a web process killed before it queued)."""
    worker_kills: int = 20
    web_kills: int = 3
    redis_down_seconds: float = 3.0
    postgres_down_seconds: float = 3.0
    pause_seconds: float = 10.0
    db_timeout_seconds: float = 5.0
    """DB_TIMEOUT_SECONDS, the engine's default: a statement, or a wait for a pooled
    connection, fails after this long (so a request needs at most twice that)."""
    post_timeout: float = 15.0
    """A POST unanswered after this long counts as a client timeout."""
    settle_timeout: float = 180.0
    """After the load and the faults, every order must be terminal within this long."""
    recovery_timeout: float = 60.0
    """After a fault ends, an order must confirm within this long."""
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    """The engine's ADMIN_API_KEY, and the key every request of the harness carries: made
    afresh for each run (43 characters; the engine wants 32 or more). Never written to
    the results."""

    @property
    def load_seconds(self) -> float:
        """How long posting the orders takes at `rate` when nothing stalls it."""
        return self.orders / self.rate

    def replace(self, **changes: object) -> ChaosConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def auth_headers(self) -> dict[str, str]:
        """What every request to the engine carries (its sockets' handshakes included)."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def public(self) -> dict[str, object]:
        """The settings as the results record them: all but the key."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "api_key"}

    def engine_env(self) -> dict[str, str]:
        """The engine's settings for every process of a scenario."""
        return {
            "ADMIN_API_KEY": self.api_key,
            "MOCK_SEED": str(self.seed),
            "MOCK_LATENCY_SCALE": repr(self.latency_scale),
            "MOCK_FAILURE_RATE": repr(self.failure_rate),
            "ORDER_RATE_LIMIT": "0",
            "WORKER_CONCURRENCY": str(self.worker_concurrency),
            "JOB_HEARTBEAT_SECONDS": str(self.heartbeat_seconds),
            "DB_TIMEOUT_SECONDS": repr(self.db_timeout_seconds),
            "RECONCILE_INTERVAL_SECONDS": repr(self.reconcile_seconds),
            "LOG_FORMAT": "json",
        }


QUICK = ChaosConfig(
    orders=150,
    rate=30.0,
    worker_kills=3,
    web_kills=1,
    redis_down_seconds=2.0,
    postgres_down_seconds=2.0,
    pause_seconds=8.0,
    heartbeat_seconds=3,
    reconcile_seconds=2.0,
    settle_timeout=60.0,
    recovery_timeout=30.0,
)
"""The short version `make test` runs: fewer orders and kills, an 8 s pause (longer than
the engine's 5 s statement timeout, so it must answer 503 within it), and a 3 s heartbeat
and a 2 s reconciler so that killed jobs and orders stored while Redis was down come back
soon."""
