"""Redis clients sized from the concurrency they serve.

redis-py 8's default pool holds 100 connections and raises `MaxConnectionsError` the
moment it runs dry. A worker running 256 jobs needs more than that, and a burst should
wait its turn rather than fail: every client here sits on a `BlockingConnectionPool`
whose size follows from the work it serves and which waits (up to a timeout) when full.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

POOL_WAIT_SECONDS = 10.0
"""How long a command waits for a free connection before it fails."""
COMMAND_TIMEOUT_SECONDS = 5.0
"""A Redis that answers nothing for this long (paused, partitioned) counts as down."""


def connections_for(concurrency: int) -> int:
    """Connections a process running `concurrency` orders at once can use at the same time.

    Each running order may have two commands in flight (both venues quote in parallel);
    the rest is for the process's own background work (publishing, metrics, sweeps).
    """
    return 2 * concurrency + 16


def redis_client(
    url: str,
    *,
    connections: int,
    decode_responses: bool = False,
    command_timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> Redis:
    """A client (RESP2: Litestar's channels parse its replies) on a waiting pool.

    A client that blocks on purpose (a worker's wait for a job) passes a `command_timeout`
    that allows for its blocking, so that it does not time out while merely idle.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=connections,
        timeout=POOL_WAIT_SECONDS,
        protocol=2,
        decode_responses=decode_responses,
        socket_timeout=command_timeout,
        socket_connect_timeout=COMMAND_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool
