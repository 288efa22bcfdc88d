"""Taking an order: store it (once per idempotency key), queue it, announce it."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis.exceptions import RedisError

from app.db.orders import Move, Once, OrderStore
from app.domain.order import Order
from app.domain.problems import InvalidOrder, NotCancellable, Problem
from app.domain.requests import OrderRequest
from app.domain.status import CANCELLABLE, OrderStatus
from app.domain.tokens import SEEDED
from app.events.bus import EventPublisher
from app.events.schema import Recorded
from app.ids import uuid7
from app.metrics import METRICS
from app.services.limits import LimitIndex
from app.services.queueing import ExecutionQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    """The order as it was placed (for a repeat, as the first request placed it)."""
    repeat: bool = False
    """A repeat of a request already handled under the same idempotency key."""


class OrderDesk:
    def __init__(
        self,
        store: OrderStore,
        queue: ExecutionQueue,
        publisher: EventPublisher,
        limits: LimitIndex,
        *,
        trading: Callable[[str], bool] = lambda name: False,
        idempotency_ttl_seconds: float = 24 * 3600,
    ) -> None:
        self.store = store
        self.queue = queue
        self.publisher = publisher
        self.limits = limits
        self.trading = trading
        """Whether a launched token trades already (its pool is open)."""
        self.idempotency_ttl_seconds = idempotency_ttl_seconds

    def vet(self, request: OrderRequest) -> OrderRequest:
        """The request, if the market as it stands now allows it; else `InvalidOrder`.

        A sniper must name a token that does not trade yet: one seeded, or launched with
        its pool open, is refused.
        """
        token = request.token_out
        if request.kind.awaits_launch and (token in SEEDED or self.trading(token)):
            raise InvalidOrder(
                [
                    Problem(
                        "tokenOut",
                        f"{token} is already launched and trading: a sniper waits for a token "
                        "that does not trade yet (buy this one with a market or limit order)",
                    )
                ]
            )
        return request

    async def place(self, request: OrderRequest, client: str, *, owner: str = "") -> Order:
        """Store the order as `pending` and queue its execution.

        Once stored, the order is accepted: if Redis is briefly unreachable the
        reconciler queues it later, so the caller still gets its id.
        """
        recorded = await self.store.create(uuid7(), request, client, owner)
        await self._start(recorded)
        return recorded.order

    async def place_once(
        self,
        request: OrderRequest,
        client: str,
        *,
        owner: str,
        idempotency_key: str,
        fields: Mapping[str, object],
    ) -> Placed:
        """`place`, unless this owner already sent this `idempotency_key`.

        A repeat of the same request (`fields`, as the client sent them) returns the order
        the first one placed; see `OrderStore.create_once` for the other outcomes.
        """
        once = Once(idempotency_key, fingerprint(fields), self.idempotency_ttl_seconds)
        stored = await self.store.create_once(uuid7(), request, client, owner, once)
        if not isinstance(stored, Recorded):
            return Placed(stored, repeat=True)
        await self._start(stored)
        return Placed(stored.order)

    async def _announce(self, recorded: Recorded) -> None:
        try:
            await self.publisher.publish(recorded)
        except (RedisError, OSError):
            log.exception("could not publish; watchers catch up from the database")

    async def _start(self, recorded: Recorded) -> None:
        order = recorded.order
        METRICS.count("oee_orders_placed_total")
        try:
            # Announce first: the worker's events must not reach a watcher before seq 1 does.
            await self.publisher.publish(recorded)
            await self.queue.enqueue(order.id, order)
        except (RedisError, OSError):
            log.exception(
                "order %s stored but not queued yet; the reconciler will queue it", order.id
            )

    async def cancel(self, order_id: str, owner: str | None) -> Order | None:
        """Cancel an order that has not started executing; the order as it then stands.

        None if the order is unknown (or someone else's). Cancelling a cancelled order
        answers the same order again; an order already routing, building, submitted or
        ended raises `NotCancellable` naming its status. Cancel, the limit trigger and expiry
        are compare-and-sets on the same status: exactly one of them wins.
        """
        for _ in range(3):
            order = await self.store.get(order_id)
            if order is None or (owner is not None and order.owner != owner):
                return None
            if order.status is OrderStatus.CANCELLED:
                return order
            if order.status not in CANCELLABLE:
                raise NotCancellable(
                    f"the order is {order.status}: it can no longer be cancelled", order.status
                )
            move = Move(
                order.status, order.attempt, OrderStatus.CANCELLED, order.attempt,
                note="cancelled by its owner",
            )  # fmt: skip
            recorded = await self.store.transition(order.id, move)
            if recorded is not None:
                await self.limits.forget(order.id)
                await self._announce(recorded)
                return recorded.order
            # It moved meanwhile (picked up, triggered): look again.
        raise NotCancellable("the order is changing too fast to cancel; try again", "moving")

    async def forget_old_keys(self) -> int:
        return await self.store.forget_keys(self.idempotency_ttl_seconds)


def fingerprint(fields: Mapping[str, object]) -> str:
    """A hash of a request's fields, whatever their order or spacing on the wire."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
