"""Create the database if needed and apply Piccolo migrations: `python -m app.infra.migrate`."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
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
    """Apply every pending migration. Piccolo finds its engine through DATABASE_URL."""
    await ensure_database(url)
    os.environ["DATABASE_URL"] = url
    from piccolo.apps.migrations.commands.forwards import run_forwards

    chatter = io.StringIO()  # Piccolo prints a banner per migration; keep ours quiet
    with contextlib.redirect_stdout(chatter):
        result = await run_forwards("all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}\n{chatter.getvalue()}")


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set")
    asyncio.run(migrate(url))
    print("migrations applied")


if __name__ == "__main__":
    main()
