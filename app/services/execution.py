"""The execution pipeline: route, build, submit, settle — one attempt per queue run.

Safe to run twice, even at once: every step is a guarded transition (the loser of a
race stops), submission is idempotent at the venue, and a run that finds the order
mid-way first asks the venue what became of the transaction it may already have sent.
What a pending order does first depends on its kind (app/services/policies).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal

from app.db.orders import Move, OrderStore
from app.domain.failures import ExecutionError, FailureKind
from app.domain.kinds import KINDS
from app.domain.order import Order
from app.domain.retry import RETRY, RetryLater
from app.domain.routing import QuoteResult
from app.domain.split import AUTO, Leg, Route
from app.domain.status import TERMINAL, OrderStatus
from app.domain.tokens import find_market
from app.events.bus import EventPublisher
from app.events.schema import QuoteView, amount
from app.metrics import METRICS
from app.services.limits import LimitIndex, Waiting
from app.services.policies import POLICIES
from app.services.quoting import Quoter
from app.venues.base import Router, Sender, SwapIntent, TxReceipt, TxState, Venue

log = logging.getLogger(__name__)

RESUMED_ROUTING = "resumed: the previous run stopped before it chose a venue"
POOL_FAILURES = frozenset(
    {FailureKind.INSUFFICIENT_LIQUIDITY, FailureKind.NOT_OPEN, FailureKind.NO_ROUTE}
)
"""What a young pool may answer for a while (drained, not open by another clock): a sniper
waits again on these, at routing or at the fill, rather than fail."""


class _LostRace(Exception):
    """Another run moved the order first: it owns the order now."""


class Executor:
    def __init__(
        self,
        store: OrderStore,
        venues: Mapping[str, Venue],
        quoter: Quoter,
        publisher: EventPublisher,
        limits: LimitIndex,
        *,
        router: Router | None = None,
        learn: Callable[[], Awaitable[None]] | None = None,
        settle_wait: float = 3.0,
    ) -> None:
        self.store = store
        self.venues = venues
        self.router = router
        """Sends split routes; without one, every order goes to a single venue."""
        self.learn = learn
        """Learns the tokens launched lately (a sniper's token may be one this process has
        not heard of yet)."""
        self.quoter = quoter
        self.publisher = publisher
        self.limits = limits
        self.settle_wait = settle_wait

    async def execute(
        self,
        order_id: str,
        *,
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
        run = Run(self, order)
        try:
            await run.drive()
        except _LostRace:
            if fresh and run.order.status is OrderStatus.PENDING:
                # The snapshot was stale (a re-delivered job): start from the stored order.
                return await self.execute(order_id)
            log.info("order %s moved on in another run", order_id)
        return run.order.status


class Run:
    """One queue run over one order; `order` is where it stands after each step."""

    def __init__(self, executor: Executor, order: Order) -> None:
        self.x = executor
        self.order = order

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
                # Nothing reached the venue: send along the route this attempt chose.
                await self._send(self._sender(), self._bound())
        elif order.status is OrderStatus.SUBMITTED:
            venue = self._sender()
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
        """Quote everywhere, choose the route, record the routing step, then build and send.

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
        quotes = [QuoteView.of(r) for r in results]
        try:
            route = await self._route(results)
        except ExecutionError:
            await self._move(OrderStatus.ROUTING, attempt, quotes=quotes, error=cause, note=note)
            raise
        await self._move(
            OrderStatus.ROUTING, attempt, quotes=quotes, route=route.legs, error=cause, note=note
        )
        await self._build(route)

    async def _route_on(self) -> None:
        """Routing a triggered order: its routing event holds what triggered it; fresh quotes
        decide the venue (and whether the price is still there).

        A sniper's token may have launched since this process last looked: it is learnt
        first. If its pool cannot take the order after all (drained, not open by this
        process's clock), the sniper waits again rather than fail.
        """
        awaits_launch = KINDS[self.order.type].awaits_launch
        if awaits_launch:
            await self._resolve_market()
        order = self.order
        results = await self.x.quoter.quote_all(
            order.market, order.amount, order_id=order.id, attempt=order.attempt
        )
        try:
            route = await self._route(results)
        except ExecutionError as error:
            if awaits_launch and error.kind in POOL_FAILURES:
                await POLICIES[order.type].price_gone(self, error.message)
                return
            raise
        await self._build(route)

    async def _resolve_market(self) -> None:
        order = self.order
        found = find_market(order.token_in.symbol, order.token_out.symbol)
        if found is None and self.x.learn is not None:
            await self.x.learn()
            found = find_market(order.token_in.symbol, order.token_out.symbol)
        if found is not None and found != order.market:
            self.order = replace(order, market=found)

    async def _route(self, results: list[QuoteResult]) -> Route:
        order = self.order
        allow_split = order.routing == AUTO and self.x.router is not None
        return await self.x.quoter.route(
            order.market, order.amount, results, allow_split=allow_split
        )

    async def _build(self, route: Route) -> None:
        """Take the route if it meets the order's bound (its total does: a split's legs are
        one transaction), else let the kind decide."""
        order = self.order
        bound = order.min_out or KINDS[order.type].first_bound(order, route.amount_out)
        if route.amount_out < bound:
            await POLICIES[order.type].price_gone(self, self._below_bound(route, bound))
            return
        await self._move(
            OrderStatus.BUILDING,
            order.attempt,
            dex=route.dex,
            route=route.legs if route.split else None,
            quoted_out=route.amount_out,
            min_out=bound,
        )
        await self._send(self._sender(), bound)

    async def wait(self, note: str, details: dict[str, str], *, indexed: bool = False) -> None:
        """Wait for a trigger; `indexed`: in the limit trigger's index (by its minimum)."""
        await self._move(OrderStatus.WAITING, self.order.attempt, note=note, details=details)
        if indexed and self.order.min_out is not None:
            await self.x.limits.add([Waiting.of(self.order)])

    async def _send(self, sender: Sender, min_out: Decimal) -> None:
        order = self.order
        legs = order.route or ()
        intent = SwapIntent(
            order.id, order.attempt, order.market, order.amount, min_out, legs, order.last_seq
        )
        built = await sender.build(intent)
        receipt = await sender.submit(built)
        await self._submitted(sender, receipt)

    def _below_bound(self, best: Route, bound: Decimal) -> str:
        order = self.order
        token = order.token_out.symbol
        limit, ceiling = order.terms.get("limitPrice"), order.terms.get("maxPrice")
        if limit:
            source = f"its limit of {limit} {order.market.pair.quote} per {order.market.pair.base}"
        elif ceiling:
            source = f"its max price of {ceiling} {order.token_in.symbol} per {token}"
        else:
            source = (
                f"the first quote ({amount(order.quoted_out or best.amount_out)} {token}, "
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

    def _sender(self) -> Sender:
        sender = self._sender_or_none()
        if sender is None:
            raise ExecutionError(
                FailureKind.NO_ROUTE, f"venue {self.order.dex!r} is not configured"
            )
        return sender

    def _sender_or_none(self) -> Sender | None:
        """Who sends this attempt's transaction: the router for a split route, else its venue."""
        if self.order.route:
            return self.x.router
        return self.x.venues.get(self.order.dex) if self.order.dex else None

    async def _submitted(self, sender: Sender, receipt: TxReceipt) -> None:
        await self._move(
            OrderStatus.SUBMITTED, self.order.attempt, dex=self.order.dex, tx_hash=receipt.tx_hash
        )
        await self._settle(sender, receipt)

    async def _settle(self, venue: Sender, receipt: TxReceipt) -> None:
        """Wait for the transaction to land, then record how it ended."""
        while receipt.state is TxState.PENDING:
            found = await venue.status(receipt.tx_hash, wait=self.x.settle_wait)
            receipt = found or _unknown(receipt.tx_hash, receipt.attempt)
        if receipt.state is TxState.CONFIRMED:
            await self._move(
                OrderStatus.CONFIRMED,
                self.order.attempt,
                dex=self.order.dex,
                route=self._paid(receipt),
                tx_hash=receipt.tx_hash,
                amount_out=receipt.amount_out,
                executed_price=receipt.executed_price,
            )
        elif receipt.state is TxState.FAILED:
            failure = receipt.failure or FailureKind.SLIPPAGE_EXCEEDED
            reason = receipt.reason or "the venue rejected the transaction"
            if failure is FailureKind.SLIPPAGE_EXCEEDED or (
                KINDS[self.order.type].awaits_launch and failure in POOL_FAILURES
            ):
                await POLICIES[self.order.type].price_gone(self, reason)
                return
            raise ExecutionError(failure, reason)
        else:
            raise ExecutionError(
                FailureKind.BLOCKHASH_EXPIRED,
                receipt.reason
                or f"{venue.name}: transaction not landed before its blockhash expired",
            )

    def _paid(self, receipt: TxReceipt) -> tuple[Leg, ...] | None:
        """A split route's legs with what each paid."""
        legs = self.order.route
        if not legs or len(receipt.legs_out) != len(legs):
            return legs
        return tuple(
            replace(leg, amount_out=out) for leg, out in zip(legs, receipt.legs_out, strict=True)
        )

    async def _adopt_sent(self) -> bool:
        """Settle a transaction of this attempt that the chosen venue already holds, if any.

        Asked before starting over from `building`, and before failing there: a run can
        stop (crash, lost answer) after the venue took its transaction.
        """
        venue = self._sender_or_none()
        receipt = await venue.find(self.order.id) if venue else None
        if venue is None or receipt is None:
            return False
        if receipt.attempt != self.order.attempt or not receipt.live:
            return False
        if receipt.nonce not in (0, self.order.last_seq):
            return False  # an earlier send of this attempt, which landed and failed
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
