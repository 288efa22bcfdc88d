"""The PostgreSQL connection pool, shared by Piccolo queries and our hand-written statements."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from app.metrics import METRICS


class Database:
    """Owns one Piccolo engine and its asyncpg pool.

    Queries built with Piccolo run through `select`, on this pool: nothing depends on
    Piccolo's process-wide engine binding, so several Databases (tests, tools) coexist.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        timeout: float = 5.0,
        acquire_timeout: float | None = None,
    ) -> None:
        self.engine = PostgresEngine(config={"dsn": url}, log_queries=False)
        self._pool_size = (min(min_size, max_size), max_size)
        self.timeout = timeout
        """Seconds a statement may run (and, by default, a caller may wait for a connection)."""
        self.acquire_timeout = acquire_timeout or timeout
        """Seconds a caller may wait for a pooled connection."""

    async def start(self) -> None:
        low, high = self._pool_size
        await self.engine.start_connection_pool(
            min_size=low,
            max_size=high,
            reset=_keep_session,
            # A server that stops answering (paused, partitioned) must not hang callers:
            # statements fail after `timeout` (and are cancelled on the server).
            command_timeout=self.timeout,
            timeout=self.timeout,
        )

    async def stop(self) -> None:
        if self.engine.pool is not None:
            await self.engine.close_connection_pool()

    @property
    def pool(self) -> asyncpg.Pool:
        if self.engine.pool is None:
            raise RuntimeError("the database pool is not started")
        return self.engine.pool

    # Every statement goes through these, one round trip each (asyncpg prepares and
    # caches it), and is counted: `oee_db_statements_total` at /metrics.

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        METRICS.count("oee_db_statements_total")
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return list(await conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        METRICS.count("oee_db_statements_total")
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return await conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        METRICS.count("oee_db_statements_total")
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return await conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        METRICS.count("oee_db_statements_total")
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return str(await conn.execute(sql, *args))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Statements that commit together (each counted like any other)."""
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn, conn.transaction():
            yield Connection(conn)

    @contextlib.asynccontextmanager
    async def decisive(self) -> AsyncIterator[Connection]:
        """A transaction whose outcome the caller learns for certain, or is told it cannot.

        A single statement that times out may still commit later — say the server was
        paused with the statement unread in its socket — after the caller gave up and said
        it failed. Here the statements run inside a transaction, and COMMIT is sent only
        once all of them answered. If anything fails or times out before that, the
        connection is closed at once: the server can only roll back whatever it has yet
        to read. Only a COMMIT that got no answer is in doubt, and that is said: it
        raises `CommitUnanswered`.
        """
        async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
            tx = conn.transaction()
            try:
                await tx.start()
                yield Connection(conn)
            except _LOST:
                _drop(conn)
                raise
            except BaseException:
                await tx.rollback()
                raise
            try:
                await tx.commit()
            except (Exception, asyncio.CancelledError) as error:
                if _refused(error):
                    raise
                _drop(conn)
                raise CommitUnanswered("the commit got no answer") from error

    async def select(self, query: Any) -> list[dict[str, Any]]:
        """Run a Piccolo query (a select) on this pool; rows as dicts."""
        sql, args = query.querystrings[0].compile_string(engine_type=self.engine.engine_type)
        return [dict(row) for row in await self.fetch(sql, *args)]


_LOST = (
    OSError,  # TimeoutError among them
    asyncio.CancelledError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # shutting down, crashed, cancelled
)
"""The server did not answer (or we stopped waiting): its state is unknown to us."""


def _refused(error: BaseException) -> bool:
    """Whether the server answered COMMIT with an error of the transaction's own (a
    deferred constraint, a serialization failure): it rolled back. The server going away
    (a closed connection, a shutdown or crash notice) says nothing of what became of it."""
    return isinstance(error, asyncpg.PostgresError) and not isinstance(error, _LOST)


def _drop(conn: Any) -> None:
    """Close the connection at once, so the server rolls back what it has yet to commit.

    A connection the server closed is one asyncpg may already have taken back into its
    pool; terminating it then raises, and must not hide what happened to the transaction.
    """
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


class CommitUnanswered(Exception):
    """COMMIT was sent and no answer came: the transaction may or may not have committed."""


class Connection:
    """One connection inside a transaction, counting its statements as `Database` does."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        METRICS.count("oee_db_statements_total")
        return await self._conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        METRICS.count("oee_db_statements_total")
        return await self._conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        METRICS.count("oee_db_statements_total")
        return str(await self._conn.execute(sql, *args))


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release a connection without asyncpg's reset query (a round trip per release).

    We set no session state (no SET, LISTEN, advisory locks or open cursors), so there is
    nothing to reset; asyncpg still rolls back a transaction left open.
    """
