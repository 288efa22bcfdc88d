"""This test run's own PostgreSQL database and Redis db, on given or embedded servers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from app.infra.embedded import EmbeddedPostgres, EmbeddedRedis
from app.infra.migrate import drop_database, migrate, with_database

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Infra:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def private_infra(tmp: Path) -> Iterator[Infra]:
    """A fresh database and an empty Redis db that no other run is using; removed afterwards."""
    with contextlib.ExitStack() as cleanup:
        server_url = os.environ.get("DATABASE_URL")
        if not server_url:
            postgres = EmbeddedPostgres(ROOT / ".data" / "test-postgres")
            server_url = postgres.start()
            cleanup.callback(postgres.stop)
        database_url = with_database(server_url, f"oee_test_{secrets.token_hex(4)}")
        asyncio.run(migrate(database_url))
        cleanup.callback(lambda: asyncio.run(drop_database(database_url)))

        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            redis_url = cleanup.enter_context(_claimed_db(redis_url))
        else:
            server = EmbeddedRedis(tmp / "redis", persistent=False)
            redis_url = server.start()
            cleanup.callback(server.stop)
        yield Infra(database_url, redis_url)


@contextlib.contextmanager
def fresh_database(infra: Infra, prefix: str) -> Iterator[str]:
    """A migrated database of its own on this run's server, dropped afterwards.

    For a deployment that runs workers: their limit trigger and reconciler act on every
    order in their database, so two deployments sharing one would take each other's.
    """
    url = with_database(infra.database_url, f"{prefix}_{secrets.token_hex(4)}")
    _run(migrate(url))
    try:
        yield url
    finally:
        _run(drop_database(url))


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to its end, also from a thread whose event loop is running (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, work).result()


@contextlib.contextmanager
def _claimed_db(url: str) -> Iterator[str]:
    """Claim one of the server's numbered dbs (1-15) with a lock key in db 0."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    admin = redis.Redis.from_url(f"{base}/0", protocol=2)
    token = secrets.token_hex(8)
    for db in range(1, 16):
        lock = f"oee:test-run-lock:{db}"
        if admin.set(lock, token, nx=True, ex=3600):
            client = redis.Redis.from_url(f"{base}/{db}", protocol=2)
            client.flushdb()
            try:
                yield f"{base}/{db}"
            finally:
                client.flushdb()
                client.close()
                if admin.get(lock) == token.encode():
                    admin.delete(lock)
                admin.close()
            return
    admin.close()
    raise RuntimeError(f"every Redis db 1-15 on {base} is claimed by another test run")
