"""Supported tokens, the markets (pairs) between them, and amount rules."""

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


PAIRS: tuple[Pair, ...] = (
    Pair("SOL", "USDC"),
    Pair("SOL", "USDT"),
    Pair("JUP", "USDC"),
    Pair("JUP", "SOL"),
    Pair("BONK", "SOL"),
    Pair("BONK", "USDC"),
    Pair("USDC", "USDT"),
)
PAIRS_BY_SYMBOL: dict[str, Pair] = {p.symbol: p for p in PAIRS}


@dataclass(frozen=True, slots=True)
class Market:
    """An order's way through a pair: the pair, and which side tokenIn is on."""

    pair: Pair
    side: Side

    @property
    def token_in(self) -> Token:
        return TOKENS[self.pair.base if self.side is Side.SELL_BASE else self.pair.quote]

    @property
    def token_out(self) -> Token:
        return TOKENS[self.pair.quote if self.side is Side.SELL_BASE else self.pair.base]


def find_market(token_in: str, token_out: str) -> Market | None:
    """The market that swaps `token_in` for `token_out`, or None when no pair joins them."""
    for pair in PAIRS:
        if (pair.base, pair.quote) == (token_in, token_out):
            return Market(pair, Side.SELL_BASE)
        if (pair.quote, pair.base) == (token_in, token_out):
            return Market(pair, Side.BUY_BASE)
    return None


def executed_price(market: Market, amount_in: Decimal, amount_out: Decimal) -> Decimal:
    """Price of a fill in the pair's convention (quote per base), to 12 significant digits."""
    price = amount_out / amount_in if market.side is Side.SELL_BASE else amount_in / amount_out
    return _significant(price, 12)


def _significant(value: Decimal, digits: int) -> Decimal:
    if value == 0:
        return value
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_DOWN).normalize()
