"""Supported tokens, the markets (pairs) between them, and amount rules.

The five seeded tokens are known from the start; tokens launched later (app/domain/
launches.py) join with `register`, in every process that learns of the launch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

MAX_AMOUNT = Decimal(10) ** 12
"""Largest order amount accepted, in whole tokens: far beyond any pool, well inside Numeric."""


@dataclass(frozen=True, slots=True)
class Token:
    symbol: str
    name: str
    decimals: int
    usd_price: Decimal
    """Reference price the simulated market drifts around."""

    @property
    def unit(self) -> Decimal:
        """The smallest amount of this token (one lamport for SOL)."""
        return Decimal(1).scaleb(-self.decimals)

    def floor(self, amount: Decimal) -> Decimal:
        """Round down to what the token can represent: never pay out more than computed."""
        return amount.quantize(self.unit, rounding=ROUND_DOWN)


TOKENS: dict[str, Token] = {
    t.symbol: t
    for t in (
        Token("SOL", "Solana", 9, Decimal("150")),
        Token("USDC", "USD Coin", 6, Decimal("1")),
        Token("USDT", "Tether USD", 6, Decimal("1")),
        Token("JUP", "Jupiter", 6, Decimal("0.9")),
        Token("BONK", "Bonk", 5, Decimal("0.00002")),
    )
}


class Side(enum.StrEnum):
    """Which way an order crosses a market."""

    SELL_BASE = "sell_base"
    """tokenIn is the base token (sell SOL for USDC on SOL/USDC)."""
    BUY_BASE = "buy_base"
    """tokenIn is the quote token (pay USDC for SOL on SOL/USDC)."""


@dataclass(frozen=True, slots=True)
class Pair:
    """A market `base/quote`; prices are in quote per base."""

    base: str
    quote: str

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"

    @property
    def reference_price(self) -> Decimal:
        return TOKENS[self.base].usd_price / TOKENS[self.quote].usd_price


PAIRS: list[Pair] = [
    Pair("SOL", "USDC"),
    Pair("SOL", "USDT"),
    Pair("JUP", "USDC"),
    Pair("JUP", "SOL"),
    Pair("BONK", "SOL"),
    Pair("BONK", "USDC"),
    Pair("USDC", "USDT"),
]
PAIRS_BY_SYMBOL: dict[str, Pair] = {p.symbol: p for p in PAIRS}
SEEDED = frozenset(TOKENS)
"""The tokens every market starts with (the rest are launched)."""
MINTS: dict[str, str] = {}
"""Launched tokens' mint addresses, to their symbols."""


def pair_named(symbol: str) -> Pair:
    """The pair `BASE/QUOTE` (known here or not: a pair is its two symbols)."""
    base, _, quote = symbol.partition("/")
    return Pair(base, quote)


def register(token: Token, mint: str, pair: Pair) -> bool:
    """Make a launched token and its pair known here; False if they already were."""
    if pair.symbol in PAIRS_BY_SYMBOL:
        return False
    TOKENS.setdefault(token.symbol, token)
    MINTS[mint] = token.symbol
    PAIRS.append(pair)
    PAIRS_BY_SYMBOL[pair.symbol] = pair
    return True


@dataclass(frozen=True, slots=True)
class Market:
    """An order's way through a pair: the pair, and which side tokenIn is on."""

    pair: Pair
    side: Side

    @property
    def token_in(self) -> Token:
        return token_named(self.pair.base if self.side is Side.SELL_BASE else self.pair.quote)

    @property
    def token_out(self) -> Token:
        return token_named(self.pair.quote if self.side is Side.SELL_BASE else self.pair.base)


def token_named(name: str) -> Token:
    """The token called `name` (a symbol, or a launched token's mint); one that has not
    launched yet (a sniper's target) stands in with no units."""
    found = TOKENS.get(MINTS.get(name, name))
    return found if found is not None else Token(name, "not launched yet", 0, Decimal(0))


def find_market(token_in: str, token_out: str) -> Market | None:
    """The market that swaps `token_in` for `token_out`, or None when no pair joins them.
    A launched token may be named by its mint."""
    token_in, token_out = MINTS.get(token_in, token_in), MINTS.get(token_out, token_out)
    for pair in PAIRS:
        if (pair.base, pair.quote) == (token_in, token_out):
            return Market(pair, Side.SELL_BASE)
        if (pair.quote, pair.base) == (token_in, token_out):
            return Market(pair, Side.BUY_BASE)
    return None


def unknown_market(token_in: str, token_out: str) -> Market:
    """The market of an order whose pair this process does not know (a launch it has not
    learnt yet, or a sniper's token not launched): a launched token is the base of its
    pair, a seeded one the quote."""
    if token_in in SEEDED and token_out not in SEEDED:
        return awaited_market(token_in, token_out)
    return Market(Pair(MINTS.get(token_in, token_in), token_out), Side.SELL_BASE)


def awaited_market(token_in: str, token_out: str) -> Market:
    """The market an order for a token not (yet) pooled against `token_in` would take:
    buying it with `token_in` — what a sniper waits for."""
    return Market(Pair(MINTS.get(token_out, token_out), token_in), Side.BUY_BASE)


def executed_price(market: Market, amount_in: Decimal, amount_out: Decimal) -> Decimal:
    """Price of a fill in the pair's convention (quote per base), to 12 significant digits."""
    price = amount_out / amount_in if market.side is Side.SELL_BASE else amount_in / amount_out
    return _significant(price, 12)


def _significant(value: Decimal, digits: int) -> Decimal:
    if value == 0:
        return value
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_DOWN).normalize()
