"""A sniper order: buy a token the moment it launches, if the launch is one worth buying.

It names a token that does not trade yet (by symbol or mint) and waits. When the token's
pool is created the order notes it; once the pool is open and every condition holds —
safety (mint and freeze authority renounced, the top holder's share), depth
(`minLiquidity`, in tokenIn on the pool's quote side) and price (`maxPrice`, tokenIn per
token, for the whole amount after fees) — it executes at once through the normal pipeline.
A failed safety condition can never come right: the order expires at once, unfilled.
Cancel and expiry work as for limit orders.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from app.domain.kinds import TermField
from app.domain.kinds.limit import PRICE, expiry_of
from app.domain.launches import MINT, QUOTE_TOKENS, SYMBOL, Launch
from app.domain.order import Order
from app.domain.problems import Problem, shown
from app.domain.routing import min_received
from app.domain.tokens import Market

_PERCENT = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,4})?$", re.ASCII)
_FLAGS = ("requireMintRenounced", "requireFreezeRenounced")


@dataclass(frozen=True, slots=True)
class SniperKind:
    name: str = "sniper"
    description: str = "Wait for a token's launch, then buy it at once if it is worth it."
    position: int = 2
    awaits_launch: bool = True
    fields: tuple[TermField, ...] = (
        TermField(
            "maxPrice",
            str,
            "The most to pay, tokenIn per token, for the whole amount after fees.",
            False,
        ),
        TermField(
            "minLiquidity",
            str,
            "The least the pool must hold on its quote side (tokenIn), e.g. 50 SOL.",
            False,
        ),
        TermField("requireMintRenounced", bool, "Only if nobody can mint more.", False),
        TermField("requireFreezeRenounced", bool, "Only if nobody can freeze accounts.", False),
        TermField(
            "maxTopHolderPct", str, "Only if no holder has more than this % of the supply.", False
        ),
        TermField("expiresIn", int, "Seconds to wait, 1 to 30 days (default 24 h).", False),
        TermField("expiresAt", str, "When to stop waiting: ISO-8601 UTC, within 30 days.", False),
    )

    def parse_terms(self, raw: Mapping[str, object], problems: list[Problem]) -> dict[str, str]:
        terms: dict[str, str] = {}
        for name, pattern, example in (
            ("maxPrice", PRICE, "0.0005"),
            ("minLiquidity", PRICE, "50"),
            ("maxTopHolderPct", _PERCENT, "20"),
        ):
            value = raw.get(name)
            if value is None:
                continue
            text = (
                str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
            )
            number = Decimal(text) if pattern.match(text) else None
            if number is None or number <= 0 or (name == "maxTopHolderPct" and number > 100):
                rule = "from 0 to 100" if name == "maxTopHolderPct" else f"such as {example}"
                problems.append(
                    Problem(name, f"{name} must be a positive decimal {rule} (got {shown(value)})")
                )
            else:
                terms[name] = text
        for name in _FLAGS:
            value = raw.get(name)
            if value is None:
                continue
            if not isinstance(value, bool):
                problems.append(Problem(name, f"{name} must be true or false (got {shown(value)})"))
            elif value:
                terms[name] = "true"
        expiry = expiry_of(raw, problems, datetime.now(UTC))
        if expiry is not None:
            terms.update(expiry)
        return terms

    def first_bound(self, order: Order, best_out: Decimal) -> Decimal:
        price = order.terms.get("maxPrice")
        if price is None:
            return min_received(best_out, order.slippage_bps, order.token_out)
        return (order.amount / Decimal(price)).quantize(
            order.token_out.unit, rounding=ROUND_CEILING
        )

    def placed_bound(
        self, market: Market, amount: Decimal, terms: Mapping[str, str]
    ) -> Decimal | None:
        return None  # the token's units are known only once it launches


KIND = SniperKind()


def target_problem(token_in: str, token_out: str) -> Problem | None:
    """What is wrong with a sniper's tokens, if anything (a token already trading is the
    service's to refuse: only it knows which launches are open)."""
    if token_in not in QUOTE_TOKENS:
        return Problem(
            "tokenIn", f"a sniper pays with {' or '.join(QUOTE_TOKENS)} (got {shown(token_in)})"
        )
    if not (SYMBOL.match(token_out) or MINT.match(token_out)):
        return Problem(
            "tokenOut",
            "tokenOut must name the token to snipe by symbol (2-10 capitals or digits) or by "
            f"its base58 mint address (got {shown(token_out)})",
        )
    return None


class Call(enum.StrEnum):
    FIRE = "fire"
    WAIT = "wait"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class Sight:
    """What the sniper trigger sees of a launch at one moment."""

    launch: Launch
    is_open: bool
    opens_at: str
    """When it opens, for people (e.g. 14:02:05 UTC)."""
    liquidity: Decimal
    """The pool's quote side now, in the quote token."""
    best_out: Decimal | None = None
    """The best output after fees for the order's whole amount (None: no venue quotes it)."""
    refusal: str = ""
    """Why no venue quotes it, when `best_out` is None."""


@dataclass(frozen=True, slots=True)
class Verdict:
    call: Call
    note: str
    details: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    """Why it waits, as a word (the note has live numbers): a reason is noted once."""


def judge(order: Order, sight: Sight) -> Verdict:
    """Fire, keep waiting (saying why), or expire — for one waiting sniper and one launch."""
    launch, terms = sight.launch, order.terms
    unsafe = _unsafe(terms, launch)
    if unsafe:
        return Verdict(Call.EXPIRE, f"expired: {launch.symbol} failed a safety check ({unsafe})")
    pay = order.token_in.symbol
    if launch.quote != pay:
        return Verdict(
            Call.EXPIRE,
            f"expired: {launch.symbol}'s pool trades it for {launch.quote}, not {pay}",
        )
    if not sight.is_open:
        opens = f"pool created on {launch.venue}, opens at {sight.opens_at}"
        return Verdict(Call.WAIT, opens, {}, "created")
    least = terms.get("minLiquidity")
    if least is not None and sight.liquidity < Decimal(least):
        shown_liquidity = sight.liquidity.quantize(Decimal("0.01"))
        shallow = f"skipped: liquidity {shown_liquidity} {pay} < {least}"
        return Verdict(Call.WAIT, shallow, {}, "liquidity")
    if sight.best_out is None or sight.best_out <= 0:
        refused = f"skipped: {sight.refusal or 'no venue quotes it'}"
        return Verdict(Call.WAIT, refused, {}, "no quote")
    if order.min_out is not None and sight.best_out < order.min_out:
        # Started once already (its bound is fixed): only a price that meets it again.
        return Verdict(
            Call.WAIT,
            f"skipped: the best offer, {sight.best_out} {launch.symbol}, is below the"
            f" {order.min_out} it accepts",
            {},
            "bound",
        )
    price = order.amount / sight.best_out
    shown_price = f"{price:.6g}"
    ceiling = terms.get("maxPrice")
    if ceiling is not None and price > Decimal(ceiling):
        return Verdict(
            Call.WAIT,
            f"skipped: the price, {shown_price} {pay} per {launch.symbol}, is above the max"
            f" {ceiling}",
            {},
            "price",
        )
    return Verdict(
        Call.FIRE,
        f"triggered: {launch.symbol} is open on {launch.venue} with {sight.liquidity:.2f} {pay}"
        f" in the pool, at {shown_price} {pay} per {launch.symbol}",
        {"observedOut": str(sight.best_out), "price": shown_price, "pool": launch.pair.symbol},
    )


def _unsafe(terms: Mapping[str, str], launch: Launch) -> str:
    safety = launch.safety
    if terms.get("requireMintRenounced") and not safety.mint_renounced:
        return "mint authority not renounced"
    if terms.get("requireFreezeRenounced") and not safety.freeze_renounced:
        return "freeze authority not renounced"
    most = terms.get("maxTopHolderPct")
    if most is not None and safety.top_holder_pct > Decimal(most):
        return f"top holder has {safety.top_holder_pct} % > {most} %"
    return ""
