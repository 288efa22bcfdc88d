"""The index of waiting limit orders, in Redis: one sorted set per pair and side, by limit.

A tick asks the index only for orders whose limit the market could meet at all — for a
sell, limits at or below the best marginal price after fees; for a buy, at or above — in
best-limit-first order (lowest ask, highest bid). That costs O(log n + candidates), however
many orders wait. The database stays the record: the index is rebuilt from it whenever a
trigger takes the lead, and an entry whose order has moved on is dropped when seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from redis.asyncio import Redis

from app.domain.kinds.limit import limit_price
from app.domain.order import Order
from app.domain.tokens import Market, Side, pair_named


@dataclass(frozen=True, slots=True)
class Waiting:
    """What the trigger needs of a waiting order, without reading the database."""

    order_id: str
    market: Market
    amount: Decimal
    min_out: Decimal
    limit: Decimal
    attempt: int

    def encode(self) -> str:
        return json.dumps(
            {
                "pair": self.market.pair.symbol,
                "side": self.market.side.value,
                "amount": str(self.amount),
                "min_out": str(self.min_out),
                "limit": str(self.limit),
                "attempt": self.attempt,
            }
        )

    @classmethod
    def decode(cls, order_id: str, raw: str) -> Waiting:
        fields = json.loads(raw)
        market = Market(pair_named(fields["pair"]), Side(fields["side"]))
        return cls(
            order_id,
            market,
            Decimal(fields["amount"]),
            Decimal(fields["min_out"]),
            Decimal(fields["limit"]),
            int(fields["attempt"]),
        )

    @classmethod
    def of(cls, order: Order) -> Waiting:
        assert order.min_out is not None, "a limit order's minimum is set when it is placed"
        return cls(
            order.id, order.market, order.amount, order.min_out, limit_price(order), order.attempt
        )


def indexed(order: Order) -> bool:
    """Whether the order belongs in the index: a limit order, with its minimum."""
    return order.min_out is not None and "limitPrice" in order.terms


class LimitIndex:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._ns = f"{namespace}:limits"

    def _book(self, market: Market) -> str:
        return f"{self._ns}:book:{market.pair.symbol}:{market.side.value}"

    @property
    def _orders(self) -> str:
        return f"{self._ns}:orders"

    @property
    def _books(self) -> str:
        return f"{self._ns}:books"

    async def add(self, waiting: Iterable[Waiting]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in waiting:
                book = self._book(entry.market)
                pipe.zadd(book, {entry.order_id: float(entry.limit)})
                pipe.hset(self._orders, entry.order_id, entry.encode())
                pipe.sadd(self._books, book)
            await pipe.execute()

    async def remove(self, waiting: Iterable[Waiting]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in waiting:
                pipe.zrem(self._book(entry.market), entry.order_id)
                pipe.hdel(self._orders, entry.order_id)
            await pipe.execute()

    async def forget(self, order_id: str) -> None:
        """Drop an order whose entry we do not have at hand (a cancelled one)."""
        raw = await self._redis.hget(self._orders, order_id)
        if raw is not None:
            await self.remove([Waiting.decode(order_id, str(raw))])

    async def markets(self) -> list[Market]:
        """Every pair and side with orders waiting."""
        found: list[Market] = []
        for book in sorted(str(b) for b in await self._redis.smembers(self._books)):
            symbol, side = book.rsplit(":", 2)[-2:]
            found.append(Market(pair_named(symbol), Side(side)))
        return found

    async def candidates(self, market: Market, best: Decimal, limit: int) -> list[Waiting]:
        """Orders on this side whose limit `best` (the best marginal price) could meet,
        best limit first."""
        book = self._book(market)
        if market.side is Side.SELL_BASE:
            ids = await self._redis.zrangebyscore(book, "-inf", float(best), start=0, num=limit)
        else:
            ids = await self._redis.zrevrangebyscore(book, "+inf", float(best), start=0, num=limit)
        if not ids:
            return []
        names = [str(i) for i in ids]
        raws = await self._redis.hmget(self._orders, names)
        return [Waiting.decode(n, str(r)) for n, r in zip(names, raws, strict=True) if r]

    async def size(self) -> int:
        return int(await self._redis.hlen(self._orders))

    async def clear(self) -> None:
        books = [str(b) for b in await self._redis.smembers(self._books)]
        await self._redis.delete(self._orders, self._books, *books)
