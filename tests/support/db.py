"""Synchronous peeks at the database, for tests that drive the app from outside."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg


def query(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def count_orders(database_url: str) -> int:
    return int(query(database_url, "SELECT count(*) AS n FROM orders")[0]["n"])
