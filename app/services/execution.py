"""The execution pipeline: route, build, submit, settle — one attempt per queue run.

Safe to run twice, even at once: every step is a guarded transition (the loser of a
race stops), submission is idempotent at the venue, and a run that finds the order
mid-way first asks the venue what became of the transaction it may already have sent.
What a pending order does first depends on its kind (app/services/policies).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

from app.db.orders import Move, OrderStore
from app.domain.failures import ExecutionError, FailureKind
from app.domain.kinds import KINDS
from app.domain.order import Order
from app.domain.retry import RETRY, RetryLater
from app.domain.routing import Quote, choose_best
from app.domain.status import TERMINAL, OrderStatus
from app.events.bus import EventPublisher
from app.events.schema import QuoteView, amount
from app.metrics import METRICS
from app.services.limits import LimitIndex, Waiting
from app.services.policies import POLICIES
from app.services.quoting import Quoter
from app.venues.base import SwapIntent, TxReceipt, TxState, Venue

log = logging.getLogger(__name__)

Heartbeat = Callable[[], Awaitable[None]]

RESUMED_ROUTING = "resumed: the previous run stopped before it chose a venue"


class _LostRace(Exception):
    """Another run moved the order first: it owns the order now."""


async def _no_heartbeat() -> None:
    return None


class Executor:
    def __init__(
        self,
        store: OrderStore,
        venues: Mapping[str, Venue],
        quoter: Quoter,
        publisher: EventPublisher,
        limits: LimitIndex,
        *,
        settle_wait: float = 3.0,
    ) -> None:
        self.store = store
        self.venues = venues
        self.quoter = quoter
        self.publisher = publisher
        self.limits = limits
        self.settle_wait = settle_wait

    async def execute(
        self,
        order_id: str,
        *,
        heartbeat: Heartbeat = _no_heartbeat,
        placed: Order | None = None,
    ) -> OrderStatus | None:
        """Drive the order as far as it goes in this run; its status afterwards (None: unknown).

        `placed` is the order as the web process stored it, carried in the job so a fresh
        order needs no read; if the order has moved on since, it is read after all.
        Raises `RetryLater` when a transient failure should be retried by the queue.
        """
        fresh = placed is not None and placed.status is OrderStatus.PENDING
        order = placed if fresh else await self.store.get(order_id)
        if order is None or order.terminal:
            return order.status if order else None
        run = Run(self, order, heartbeat)
        try:
            await run.drive()
        except _LostRace:
            if fresh and run.order.status is OrderStatus.PENDING:
                # The snapshot was stale (a re-delivered job): start from the stored order.
                return await self.execute(order_id, heartbeat=heartbeat)
            log.info("order %s moved on in another run", order_id)
        return run.order.status


class Run:
    """One queue run over one order; `order` is where it stands after each step."""

    def __init__(self, executor: Executor, order: Order, heartbeat: Heartbeat) -> None:
        self.x = executor
        self.order = order
        self.heartbeat = heartbeat

    async def drive(self) -> None:
        try:
            await self._resume()
        except ExecutionError as error:
            await self._give_up_or_retry(error)

    async def _resume(self) -> None:
        """Go on from where the order stands.

        An attempt ends only when a venue answers (`retry_reason` says why it failed); a
        run that merely stopped (a killed worker, a lost connection to Redis or PostgreSQL)
        is resumed within the same attempt, so infrastructure never uses up the order's
        attempts and never fails it.
        """
        order = self.order
        failed_attempt = order.retry_reason
        if order.status is OrderStatus.PENDING:
            await POLICIES[order.type].start(self)
        elif order.status is OrderStatus.WAITING:
            return  # the trigger moves it on when its price is there
        elif order.status is OrderStatus.ROUTING and order.triggered and not failed_attempt:
            await self._route_on()
        elif order.status is OrderStatus.ROUTING:
            if failed_attempt:
                await self.attempt(order.attempt + 1, cause=failed_attempt)
            else:
                await self.attempt(order.attempt, note=RESUMED_ROUTING)
        elif order.status is OrderStatus.BUILDING:
            if await self._adopt_sent():
                return
            if failed_attempt:
                await self.attempt(order.attempt + 1, cause=failed_attempt)
            else:
                # Nothing reached the venue: send to the venue this attempt chose.
                await self._send(self._chosen_venue(), self._bound())
        elif order.status is OrderStatus.SUBMITTED:
            venue = self._chosen_venue()
            if order.tx_hash is None:
                raise ExecutionError(FailureKind.NO_ROUTE, "the submitted order has no tx")
            receipt = await venue.status(order.tx_hash) or _unknown(order.tx_hash, order.attempt)
            if receipt.state is TxState.DROPPED:
                await self.attempt(order.attempt + 1, cause=failed_attempt or receipt.reason)
            else:
                await self._settle(venue, receipt)

    async def attempt(
        self, attempt: int, cause: str | None = None, note: str | None = None
    ) -> None:
        """Quote everywhere, record the routing step, then build and send to the best venue.

        The first routing with a quote fixes the order's bound (its kind says how); no
        later attempt fills below it.
        """
        if attempt > RETRY.max_attempts:
            await self._fail(RETRY.gave_up(cause or "no attempt succeeded", RETRY.max_attempts))
            return
        order = self.order
        results = await self.x.quoter.quote_all(
            order.market, order.amount, order_id=order.id, attempt=attempt
        )
        await self._move(
            OrderStatus.ROUTING,
            attempt,
            quotes=[QuoteView.of(r) for r in results],
            error=cause,
            note=note,
        )
        await self._build(choose_best(results))

    async def _route_on(self) -> None:
        """Routing a triggered order: its routing event holds what triggered it; fresh quotes
        decide the venue (and whether the price is still there)."""
        order = self.order
        results = await self.x.quoter.quote_all(
            order.market, order.amount, order_id=order.id, attempt=order.attempt
        )
        await self._build(choose_best(results))

    async def _build(self, best: Quote) -> None:
        """Take the best quote if it meets the order's bound, else let the kind decide."""
        order = self.order
        bound = order.min_out or KINDS[order.type].first_bound(order, best.amount_out)
        if best.amount_out < bound:
            await POLICIES[order.type].price_gone(self, self._below_bound(best, bound))
            return
        await self._move(
            OrderStatus.BUILDING,
            order.attempt,
            dex=best.dex,
            quoted_out=best.amount_out,
            min_out=bound,
        )
        await self._send(self.x.venues[best.dex], bound)

    async def wait(self, again: str | None = None) -> None:
        """Wait for the trigger (a limit order); `again`: why it waits once more."""
        order = self.order
        expiry = order.expires_at.isoformat() if order.expires_at else ""
        details = {"limitPrice": order.terms.get("limitPrice", ""), "expiresAt": expiry}
        note = f"waiting again: {again}" if again else "waiting for its price"
        await self._move(OrderStatus.WAITING, order.attempt, note=note, details=details)
        if self.order.min_out is not None:
            await self.x.limits.add([Waiting.of(self.order)])

    async def _send(self, venue: Venue, min_out: Decimal) -> None:
        order = self.order
        intent = SwapIntent(order.id, order.attempt, order.market, order.amount, min_out)
        built = await venue.build(intent)
        await self.heartbeat()
        receipt = await venue.submit(built)
        await self._submitted(venue, receipt)

    def _below_bound(self, best: Quote, bound: Decimal) -> str:
        order = self.order
        token = order.token_out.symbol
        limit = order.terms.get("limitPrice")
        source = (
            f"its limit of {limit} {order.market.pair.quote} per {order.market.pair.base}"
            if limit
            else f"the first quote ({amount(order.quoted_out)} {token}, "
            f"{order.slippage_bps} bps slippage)"
        )
        return (
            f"slippage exceeded: the best offer is {amount(best.amount_out)} {token} on "
            f"{best.dex}, below the minimum {amount(bound)} {token} set by {source}"
        )

    def _bound(self) -> Decimal:
        if self.order.min_out is None:
            raise ExecutionError(FailureKind.NO_ROUTE, "the order has no minimum to send with")
        return self.order.min_out

    def _chosen_venue(self) -> Venue:
        venue = self._venue(self.order.dex)
        if venue is None:
            raise ExecutionError(
                FailureKind.NO_ROUTE, f"venue {self.order.dex!r} is not configured"
            )
        return venue

    async def _submitted(self, venue: Venue, receipt: TxReceipt) -> None:
        await self._move(
            OrderStatus.SUBMITTED, self.order.attempt, dex=venue.name, tx_hash=receipt.tx_hash
        )
        await self._settle(venue, receipt)

    async def _settle(self, venue: Venue, receipt: TxReceipt) -> None:
        """Wait for the transaction to land, then record how it ended."""
        while receipt.state is TxState.PENDING:
            await self.heartbeat()
            found = await venue.status(receipt.tx_hash, wait=self.x.settle_wait)
            receipt = found or _unknown(receipt.tx_hash, receipt.attempt)
        if receipt.state is TxState.CONFIRMED:
            await self._move(
                OrderStatus.CONFIRMED,
                self.order.attempt,
                dex=venue.name,
                tx_hash=receipt.tx_hash,
                amount_out=receipt.amount_out,
                executed_price=receipt.executed_price,
            )
        elif receipt.state is TxState.FAILED:
            failure = receipt.failure or FailureKind.SLIPPAGE_EXCEEDED
            reason = receipt.reason or "the venue rejected the transaction"
            if failure is FailureKind.SLIPPAGE_EXCEEDED:
                await POLICIES[self.order.type].price_gone(self, reason)
                return
            raise ExecutionError(failure, reason)
        else:
            raise ExecutionError(
                FailureKind.BLOCKHASH_EXPIRED,
                receipt.reason
                or f"{venue.name}: transaction not landed before its blockhash expired",
            )

    async def _adopt_sent(self) -> bool:
        """Settle a transaction of this attempt that the chosen venue already holds, if any.

        Asked before starting over from `building`, and before failing there: a run can
        stop (crash, lost answer) after the venue took its transaction.
        """
        venue = self._venue(self.order.dex)
        receipt = await venue.find(self.order.id) if venue else None
        if venue is None or receipt is None:
            return False
        if receipt.attempt != self.order.attempt or not receipt.live:
            return False
        await self._submitted(venue, receipt)
        return True

    async def _give_up_or_retry(self, error: ExecutionError) -> None:
        # The order's own attempts decide, never the queue's: a job out of runs leaves the
        # order moving, and the reconciler queues it again.
        order = self.order
        retryable = RETRY.is_retryable(error.kind)
        if RETRY.may_retry(error.kind, order.attempt):
            await self.x.store.note_retry(order.id, order.status, order.attempt, error.message)
            METRICS.count("oee_retries_total", kind=error.kind.value)
            raise RetryLater(error.message) from error
        if order.status is OrderStatus.BUILDING and retryable:
            # Out of retries, but the venue may hold our transaction (a lost answer):
            # an order must not end `failed` while its trade can still fill.
            try:
                if await self._adopt_sent():
                    return
            except ExecutionError as final:
                error = final
        if retryable:
            await self._fail(RETRY.gave_up(error.message, self.order.attempt))
        else:
            await self._fail(error.message)

    async def _fail(self, reason: str) -> None:
        await self._move(OrderStatus.FAILED, self.order.attempt, error=reason)

    async def _move(self, status: OrderStatus, attempt: int, **fields: object) -> None:
        before = self.order
        move = Move(before.status, before.attempt, status, attempt, **fields)  # type: ignore[arg-type]
        recorded = await self.x.store.transition(before.id, move)
        if recorded is None:
            raise _LostRace
        self.order = order = recorded.order
        spent = (order.updated_at - before.updated_at).total_seconds()
        METRICS.observe("oee_stage_seconds", spent, stage=before.status)
        if status in TERMINAL:
            _record_outcome(order)
        try:
            await self.x.publisher.publish(recorded)
        except Exception:
            # The event is committed; watchers catch up from the database.
            log.exception("could not publish %s of order %s", status, order.id)

    def _venue(self, name: str | None) -> Venue | None:
        return self.x.venues.get(name) if name else None


def _record_outcome(order: Order) -> None:
    METRICS.count("oee_orders_finished_total", status=order.status.value)
    METRICS.observe("oee_order_seconds", (order.updated_at - order.created_at).total_seconds())
    if order.status is OrderStatus.CONFIRMED:
        log.info(
            "confirmed on %s: %s %s for %s %s (attempt %s)",
            order.dex, amount(order.amount), order.token_in.symbol, amount(order.amount_out),
            order.token_out.symbol, order.attempt,
        )  # fmt: skip
    else:
        log.info("failed: %s", order.error)


def _unknown(tx_hash: str, attempt: int) -> TxReceipt:
    """A transaction the venue has never seen never landed; a new one may be sent."""
    return TxReceipt(
        tx_hash,
        TxState.DROPPED,
        attempt,
        failure=FailureKind.BLOCKHASH_EXPIRED,
        reason="the venue has no record of the transaction",
    )
