"""Create the database if needed and apply Piccolo migrations: `python -m app.infra.migrate`."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def ensure_database(url: str) -> None:
    """Create the URL's database on its server unless it exists."""
    name = database_name(url)
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            quoted = name.replace('"', '""')
            await conn.execute(f'CREATE DATABASE "{quoted}"')
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    name = database_name(url)
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        quoted = name.replace('"', '""')
        await conn.execute(f'DROP DATABASE IF EXISTS "{quoted}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    """Apply every pending migration to the database at `url`."""
    await ensure_database(url)
    from piccolo.apps.migrations.commands.forwards import run_forwards

    chatter = io.StringIO()  # Piccolo prints a banner per migration; keep ours quiet
    with _piccolo_on(url), contextlib.redirect_stdout(chatter):
        result = await run_forwards("all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}\n{chatter.getvalue()}")


@contextlib.contextmanager
def _piccolo_on(url: str) -> Iterator[None]:
    """Point Piccolo at `url` for one run of migrations.

    Piccolo finds its engine through `piccolo_conf` (which reads DATABASE_URL when first
    imported) and its migrations table keeps the engine it first found: left alone, a
    second database migrated in the same process would be the first one again.
    """
    from piccolo.apps.migrations.tables import Migration

    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    sys.modules.pop("piccolo_conf", None)
    Migration._meta.db = None  # type: ignore[assignment]  # found again on next use
    try:
        yield
    finally:
        sys.modules.pop("piccolo_conf", None)
        Migration._meta.db = None  # type: ignore[assignment]
        if before is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = before


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set")
    asyncio.run(migrate(url))
    print("migrations applied")


if __name__ == "__main__":
    main()
