"""Token launches: a new token's pool created on a venue, opening for trading at its time.

A launch is what a sniper watches for (as a bot watches Raydium's `initialize2` logs): the
token (symbol, base58 mint, decimals), the venue and quote token of its pool, the opening
reserves, when it opens, and the safety facts bots check (mint and freeze authority
renounced, the top holder's share). Competing buys land in the opening moments: the price
climbs `rush_bps` over the first `RUSH_SECONDS`, so a late sniper pays more.

Times are market seconds (the simulator's clock); the edges turn them into dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from hashlib import blake2b

from app.domain.amm import BPS
from app.domain.problems import Problem, shown
from app.domain.tokens import TOKENS, Pair, Token

SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{1,9}$", re.ASCII)
MINT = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$", re.ASCII)
"""A Solana address: base58, 32 bytes."""
QUOTE_TOKENS = ("SOL", "USDC")
"""What a launched token's pool trades against."""
DECIMALS = 6
RUSH_SECONDS = Decimal(2)
"""How long the opening rush of competing buys lasts."""
MAX_OPEN_IN = 3600
MAX_RESERVE = Decimal(10) ** 12
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_NUMBER = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,9})?$", re.ASCII)


@dataclass(frozen=True, slots=True)
class Safety:
    mint_renounced: bool
    """Nobody can mint more of the token."""
    freeze_renounced: bool
    """Nobody can freeze holders' accounts."""
    top_holder_pct: Decimal
    """The largest holder's share of the supply, in %."""


@dataclass(frozen=True, slots=True)
class Launch:
    symbol: str
    mint: str
    decimals: int
    venue: str
    quote: str
    """The quote token's symbol (the pool is `symbol/quote`)."""
    base_reserve: Decimal
    """The new token in the pool when it was created."""
    quote_reserve: Decimal
    created_at: Decimal
    opens_at: Decimal
    safety: Safety
    rush_bps: int = 0
    """How far competing buys push the price in the opening moments."""

    @property
    def pair(self) -> Pair:
        return Pair(self.symbol, self.quote)

    @property
    def price(self) -> Decimal:
        """The opening price, quote per token (before the rush)."""
        return self.quote_reserve / self.base_reserve

    def token(self) -> Token:
        usd = self.price * TOKENS[self.quote].usd_price
        return Token(self.symbol, f"{self.symbol} (launched)", self.decimals, usd)

    def open(self, t: Decimal) -> bool:
        return t >= self.opens_at

    def rush(self, t: Decimal) -> Decimal:
        """The opening rush's part of the log price at `t`."""
        if t <= self.opens_at or self.rush_bps == 0:
            return Decimal(0)
        done = min((t - self.opens_at) / RUSH_SECONDS, Decimal(1))
        return Decimal(self.rush_bps) / BPS * done


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """A valid request to launch a token (`POST /api/sim/launches`)."""

    symbol: str
    venue: str
    quote: str
    base_reserve: Decimal
    quote_reserve: Decimal
    open_in: int
    safety: Safety
    decimals: int = DECIMALS


def mint_of(symbol: str, seed: int) -> str:
    """A launched token's base58 mint address, fixed by the market's seed."""
    number = int.from_bytes(blake2b(f"mint|{symbol}|{seed}".encode(), digest_size=32).digest())
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _BASE58[rem] + out
    return out


def parse_launch(
    raw: Mapping[str, object], venues: frozenset[str]
) -> tuple[LaunchSpec | None, list[Problem]]:
    """The launch asked for, or the problems with it (each naming its field)."""
    problems: list[Problem] = []
    symbol = _choice(raw, "symbol", None, problems)
    if symbol is not None and not SYMBOL.match(symbol):
        problems.append(
            Problem(
                "symbol", f"symbol must be 2-10 capital letters or digits (got {shown(symbol)})"
            )
        )
    elif symbol in TOKENS:
        problems.append(Problem("symbol", f"{symbol} is already launched"))
    venue = _choice(raw, "venue", "raydium", problems, sorted(venues))
    quote = _choice(raw, "quoteToken", "SOL", problems, QUOTE_TOKENS)
    base_reserve = _reserve(raw, "baseReserve", problems)
    quote_reserve = _reserve(raw, "quoteReserve", problems)
    open_in = _whole(raw, "openIn", 5, 0, MAX_OPEN_IN, problems)
    top = raw.get("topHolderPct", 10)
    top_pct = _number(top)
    if top_pct is None or top_pct > 100:
        message = f"topHolderPct must be a number from 0 to 100 (got {shown(top)})"
        problems.append(Problem("topHolderPct", message))
    mint_renounced = _flag(raw, "mintRenounced", problems)
    freeze_renounced = _flag(raw, "freezeRenounced", problems)
    if (
        problems
        or symbol is None
        or venue is None
        or quote is None
        or base_reserve is None
        or quote_reserve is None
        or open_in is None
        or top_pct is None
    ):
        return None, problems
    safety = Safety(mint_renounced is not False, freeze_renounced is not False, top_pct)
    return LaunchSpec(symbol, venue, quote, base_reserve, quote_reserve, open_in, safety), []


def _choice(
    raw: Mapping[str, object],
    name: str,
    default: str | None,
    problems: list[Problem],
    allowed: Sequence[str] = (),
) -> str | None:
    value = raw.get(name, default)
    if isinstance(value, str) and (not allowed or value in allowed):
        return value
    rule = f"one of: {', '.join(allowed)}" if allowed else "a string"
    problems.append(Problem(name, f"{name} must be {rule} (got {shown(value)})"))
    return None


def _reserve(raw: Mapping[str, object], name: str, problems: list[Problem]) -> Decimal | None:
    value = _number(raw.get(name))
    if value is None or value <= 0 or value > MAX_RESERVE:
        problems.append(
            Problem(
                name, f"{name} must be a positive amount up to 10^12 (got {shown(raw.get(name))})"
            )
        )
        return None
    return value


def _number(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    text = str(raw)
    return Decimal(text) if _NUMBER.match(text) else None


def _whole(
    raw: Mapping[str, object], name: str, default: int, low: int, high: int, problems: list[Problem]
) -> int | None:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(
            Problem(name, f"{name} must be whole seconds from {low} to {high} (got {shown(value)})")
        )
        return None
    return value


def _flag(raw: Mapping[str, object], name: str, problems: list[Problem]) -> bool | None:
    value = raw.get(name, True)
    if not isinstance(value, bool):
        problems.append(Problem(name, f"{name} must be true or false (got {shown(value)})"))
        return None
    return value


_SYLLABLES = ("PE", "PO", "MO", "DO", "GI", "KA", "ZU", "BO", "WI", "FU", "NY", "RA", "TO", "LU")


def scheduled(slot: int, roll: Callable[[str], float], venues: Sequence[str]) -> LaunchSpec:
    """The seeded schedule's launch for `slot`: a made-up token with made-up facts, mostly
    safe, sometimes not, opening 10-30 s after it is created."""

    def pick(name: str, choices: Sequence[str]) -> str:
        return choices[min(int(roll(f"{slot}|{name}") * len(choices)), len(choices) - 1)]

    symbol = "".join(pick(f"s{i}", _SYLLABLES) for i in range(3)) + str(slot % 100)
    quote = pick("quote", ("SOL", "SOL", "SOL", "USDC"))
    base_reserve = Decimal(10) ** (6 + int(roll(f"{slot}|depth") * 3))
    quote_sol = Decimal(20 + int(roll(f"{slot}|quote") * 480))
    quote_reserve = quote_sol if quote == "SOL" else quote_sol * TOKENS["SOL"].usd_price
    safety = Safety(
        mint_renounced=roll(f"{slot}|mint") < 0.8,
        freeze_renounced=roll(f"{slot}|freeze") < 0.85,
        top_holder_pct=Decimal(2 + int(roll(f"{slot}|holder") * 38)),
    )
    open_in = 10 + int(roll(f"{slot}|open") * 20)
    return LaunchSpec(
        symbol, pick("venue", venues), quote, base_reserve, quote_reserve, open_in, safety
    )
