"""The one settings object, read once from the environment.

Every process (web, worker, runner, tests) builds its configuration from a
`Settings`; nothing else reads `os.environ` for product settings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from app.domain.access import MIN_ADMIN_KEY_CHARS

T = TypeVar("T")


class SettingsError(ValueError):
    """An environment variable holds a value the engine cannot use."""


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    redis_url: str
    port: int = 8000
    host: str = "127.0.0.1"
    """The address the web server listens on."""
    web_processes: int = 1
    """uvicorn processes behind the port (`python -m app.web.serve`)."""
    worker_concurrency: int = 10
    db_pool_size: int = 20
    """PostgreSQL connections per process at most; more jobs than this wait their turn."""
    db_timeout_seconds: float = 5.0
    """A statement, or the wait for a pooled connection, fails after this long."""
    order_rate_limit: int = 100
    mock_latency_scale: float = 1.0
    mock_failure_rate: float = 0.05
    mock_seed: int | None = None
    mock_launch_every: float = 120.0
    """Seconds between the simulated market's scheduled token launches; 0: none."""
    job_heartbeat_seconds: int = 10
    reconcile_interval_seconds: float = 10.0
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    """Host names the web server answers to; empty: `host`, localhost and PUBLIC_URL's host."""
    public_url: str = ""
    """Where users reach the engine (e.g. https://engine.example.com), if not at `host`."""
    forwarded_allow_ips: str = ""
    """Proxies whose X-Forwarded-For/-Proto are believed; empty: nobody's."""
    header_timeout_seconds: float = 10.0
    """A connection that has not sent a request's headers within this long is closed."""
    log_format: str = "text"
    queue_name: str = "orders"
    admin_api_key: str = ""
    """Made an admin key at start-up (32+ characters), for compose, CI and tests."""
    idempotency_ttl_seconds: int = 24 * 3600
    """How long an Idempotency-Key is remembered."""
    secret_key: str = ""
    """Signs CSRF tokens; empty: one is generated and shared by all web processes via Redis."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables; raise `SettingsError` naming a bad one."""
        env = os.environ if env is None else env
        database_url = env.get("DATABASE_URL", "")
        redis_url = env.get("REDIS_URL", "")
        if not database_url:
            raise SettingsError(
                "DATABASE_URL is not set (make run sets it for the embedded server)"
            )
        if not redis_url:
            raise SettingsError("REDIS_URL is not set (make run sets it for the embedded server)")
        seed = env.get("MOCK_SEED", "").strip()
        origins = env.get("ALLOWED_ORIGINS", "")
        public_url = env.get("PUBLIC_URL", "").strip().rstrip("/")
        if public_url and urlsplit(public_url).scheme not in ("http", "https"):
            raise SettingsError(f"PUBLIC_URL={public_url!r} must start with http:// or https://")
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            port=_read(env, "PORT", int, 8000, lambda v: 0 < v < 65536),
            host=env.get("HOST", "").strip() or "127.0.0.1",
            web_processes=_read(env, "WEB_PROCESSES", int, 1, lambda v: v >= 1),
            worker_concurrency=_read(env, "WORKER_CONCURRENCY", int, 10, lambda v: v >= 1),
            db_pool_size=_read(env, "DB_POOL_SIZE", int, 20, lambda v: v >= 2),
            db_timeout_seconds=_read(env, "DB_TIMEOUT_SECONDS", float, 5.0, lambda v: v > 0),
            order_rate_limit=_read(env, "ORDER_RATE_LIMIT", int, 100, lambda v: v >= 0),
            mock_latency_scale=_read(env, "MOCK_LATENCY_SCALE", float, 1.0, lambda v: v >= 0),
            mock_failure_rate=_read(env, "MOCK_FAILURE_RATE", float, 0.05, lambda v: 0 <= v <= 1),
            mock_seed=_read(env, "MOCK_SEED", int, 0, lambda v: True) if seed else None,
            mock_launch_every=_read(env, "MOCK_LAUNCH_EVERY", float, 120.0, lambda v: v >= 0),
            job_heartbeat_seconds=_read(env, "JOB_HEARTBEAT_SECONDS", int, 10, lambda v: v >= 1),
            reconcile_interval_seconds=_read(
                env, "RECONCILE_INTERVAL_SECONDS", float, 10.0, lambda v: v > 0
            ),
            allowed_origins=tuple(o.strip().rstrip("/") for o in origins.split(",") if o.strip()),
            allowed_hosts=_names(env.get("ALLOWED_HOSTS", "")),
            public_url=public_url,
            forwarded_allow_ips=env.get("FORWARDED_ALLOW_IPS", "").strip(),
            header_timeout_seconds=_read(
                env, "HEADER_TIMEOUT_SECONDS", float, 10.0, lambda v: v > 0
            ),
            log_format=_read(env, "LOG_FORMAT", str, "text", lambda v: v in ("text", "json")),
            queue_name=env.get("QUEUE_NAME", "orders") or "orders",
            secret_key=env.get("SECRET_KEY", ""),
            admin_api_key=_admin_key(env.get("ADMIN_API_KEY", "")),
            idempotency_ttl_seconds=_read(
                env, "IDEMPOTENCY_TTL_SECONDS", int, 24 * 3600, lambda v: v >= 1
            ),
        )

    @property
    def served_hosts(self) -> tuple[str, ...]:
        """The Host names this engine answers to (Litestar's allowed hosts)."""
        if self.allowed_hosts:
            return self.allowed_hosts
        hosts = ["localhost", "127.0.0.1", "[::1]"]
        if self.host not in ("0.0.0.0", "::", ""):
            hosts.append(self.host)
        if self.public_url:
            hosts.append(urlsplit(self.public_url).hostname or "")
        return tuple(dict.fromkeys(h for h in hosts if h))

    @property
    def https(self) -> bool:
        """Served to users over https (behind a TLS proxy): cookies are then `Secure`."""
        return self.public_url.startswith("https://")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The environment variables that `from_env` reads back into these settings."""
        env = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "PORT": str(self.port),
            "HOST": self.host,
            "WEB_PROCESSES": str(self.web_processes),
            "WORKER_CONCURRENCY": str(self.worker_concurrency),
            "DB_POOL_SIZE": str(self.db_pool_size),
            "DB_TIMEOUT_SECONDS": repr(self.db_timeout_seconds),
            "ORDER_RATE_LIMIT": str(self.order_rate_limit),
            "MOCK_LATENCY_SCALE": repr(self.mock_latency_scale),
            "MOCK_FAILURE_RATE": repr(self.mock_failure_rate),
            "MOCK_LAUNCH_EVERY": repr(self.mock_launch_every),
            "JOB_HEARTBEAT_SECONDS": str(self.job_heartbeat_seconds),
            "RECONCILE_INTERVAL_SECONDS": repr(self.reconcile_interval_seconds),
            "ALLOWED_ORIGINS": ",".join(self.allowed_origins),
            "ALLOWED_HOSTS": ",".join(self.allowed_hosts),
            "PUBLIC_URL": self.public_url,
            "FORWARDED_ALLOW_IPS": self.forwarded_allow_ips,
            "HEADER_TIMEOUT_SECONDS": repr(self.header_timeout_seconds),
            "LOG_FORMAT": self.log_format,
            "QUEUE_NAME": self.queue_name,
            "SECRET_KEY": self.secret_key,
            "ADMIN_API_KEY": self.admin_api_key,
            "IDEMPOTENCY_TTL_SECONDS": str(self.idempotency_ttl_seconds),
        }
        if self.mock_seed is not None:
            env["MOCK_SEED"] = str(self.mock_seed)
        return env


def _admin_key(raw: str) -> str:
    key = raw.strip()
    if key and len(key) < MIN_ADMIN_KEY_CHARS:
        raise SettingsError(f"ADMIN_API_KEY must be at least {MIN_ADMIN_KEY_CHARS} characters")
    return key


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in raw.split(",") if name.strip())


def _read(
    env: Mapping[str, str],
    name: str,
    kind: Callable[[str], T],
    default: T,
    valid: Callable[[T], bool],
) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if not valid(value):
        raise SettingsError(f"{name}={raw!r} is out of range")
    return value
