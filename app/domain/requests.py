"""What a valid order request is. The API and the dashboard form share these rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal

from app.domain.kinds import KINDS, OrderKind
from app.domain.kinds.sniper import target_problem
from app.domain.problems import InvalidOrder, Problem, shown
from app.domain.split import AUTO, ROUTINGS
from app.domain.tokens import MAX_AMOUNT, PAIRS, TOKENS, Market, awaited_market, find_market

DEFAULT_SLIPPAGE_BPS = 50
MIN_SLIPPAGE_BPS = 1
MAX_SLIPPAGE_BPS = 5000

AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
"""Plain ASCII decimal notation: no sign, exponent, separators or other scripts' digits."""
MAX_AMOUNT_CHARS = 40
"""Checked before any arithmetic, so a huge number costs nothing to refuse."""
_AMOUNT = re.compile(AMOUNT_PATTERN, re.ASCII)
_WHOLE = re.compile(r"^[0-9]{1,9}$", re.ASCII)
CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7E]{1,255}$"
"""Printable ASCII, as a header carries it."""
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
CLIENT_ORDER_ID = re.compile(CLIENT_ORDER_ID_PATTERN, re.ASCII)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A valid request to place an order, before it is stored."""

    kind: OrderKind
    market: Market
    amount: Decimal
    slippage_bps: int
    terms: dict[str, str] = dataclass_field(default_factory=dict)
    client_order_id: str | None = None
    routing: str = AUTO
    """`auto`: split across venues when that pays; `single`: one venue only."""

    @property
    def type(self) -> str:
        return self.kind.name

    @property
    def limit_price(self) -> Decimal | None:
        price = self.terms.get("limitPrice")
        return Decimal(price) if price else None

    @property
    def bound(self) -> Decimal | None:
        """The least the order accepts, when its terms fix it before any quote."""
        return self.kind.placed_bound(self.market, self.amount, self.terms)

    @property
    def expires_in(self) -> float | None:
        seconds = self.terms.get("expiresIn")
        return float(seconds) if seconds else None

    @property
    def expires_at(self) -> datetime | None:
        at = self.terms.get("expiresAt")
        return datetime.fromisoformat(at) if at else None

    @property
    def token_in(self) -> str:
        return self.market.token_in.symbol

    @property
    def token_out(self) -> str:
        return self.market.token_out.symbol


def validate_order(
    *,
    type: str,
    token_in: str,
    token_out: str,
    amount: Decimal | str | int,
    slippage_bps: int | str | None,
    terms: Mapping[str, object] | None = None,
    client_order_id: object = None,
    routing: object = None,
) -> OrderRequest:
    """Check every rule and return the request, or raise `InvalidOrder` listing all problems.

    `terms` are the fields the order's kind adds (app/domain/kinds), as the client sent them.
    """
    problems: list[Problem] = []
    kind = _kind(type, problems)
    if kind is not None and kind.awaits_launch:
        market = _awaited(token_in, token_out, problems)
    else:
        market = _market(token_in, token_out, problems)
    parsed_amount = _amount(amount, market, problems)
    slippage = _slippage(slippage_bps, problems)
    parsed_terms = kind.parse_terms(terms or {}, problems) if kind else {}
    if kind is not None:
        own = {f.name for f in kind.fields}
        for name in sorted(set(terms or {}) - own):
            problems.append(Problem(name, f"{name} does not apply to {kind.name} orders"))
    reference = _client_order_id(client_order_id, problems)
    route = _routing(routing, problems)
    if problems or kind is None or market is None or parsed_amount is None or slippage is None:
        raise InvalidOrder(problems)
    return OrderRequest(kind, market, parsed_amount, slippage, parsed_terms, reference, route)


def _routing(raw: object, problems: list[Problem]) -> str:
    if raw is None or raw == "":
        return AUTO
    if isinstance(raw, str) and raw in ROUTINGS:
        return raw
    problems.append(
        Problem("routing", f"routing must be one of: {', '.join(ROUTINGS)} (got {shown(raw)})")
    )
    return AUTO


def _client_order_id(raw: object, problems: list[Problem]) -> str | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and CLIENT_ORDER_ID.match(raw):
        return raw
    problems.append(
        Problem(
            "clientOrderId",
            f"clientOrderId must be 1-64 letters, digits, '_' or '-' (got {shown(raw)})",
        )
    )
    return None


def _kind(raw: str, problems: list[Problem]) -> OrderKind | None:
    if raw in KINDS:
        return KINDS[raw]
    allowed = ", ".join(KINDS.names())
    problems.append(Problem("type", f"type must be one of: {allowed} (got {shown(raw)})"))
    return None


def _awaited(token_in: str, token_out: str, problems: list[Problem]) -> Market | None:
    """A sniper's market: paying with a quote token for a token that may not exist yet."""
    problem = target_problem(token_in, token_out)
    if problem is not None:
        problems.append(problem)
        return None
    return find_market(token_in, token_out) or awaited_market(token_in, token_out)


def _market(token_in: str, token_out: str, problems: list[Problem]) -> Market | None:
    known = True
    for field, symbol in (("tokenIn", token_in), ("tokenOut", token_out)):
        if symbol not in TOKENS:
            supported = ", ".join(TOKENS)
            problems.append(
                Problem(field, f"{field} {shown(symbol)} is not a supported token ({supported})")
            )
            known = False
    if not known:
        return None
    if token_in == token_out:
        problems.append(Problem("tokenOut", "tokenOut must differ from tokenIn"))
        return None
    market = find_market(token_in, token_out)
    if market is None:
        pairs = ", ".join(p.symbol for p in PAIRS)
        problems.append(
            Problem("tokenOut", f"no market trades {token_in} for {token_out} (pairs: {pairs})")
        )
    return market


def _amount(
    raw: Decimal | str | int, market: Market | None, problems: list[Problem]
) -> Decimal | None:
    amount = _parse_amount(raw, problems)
    if amount is None:
        return None
    if amount <= 0:
        problems.append(Problem("amount", "amount must be greater than 0"))
        return None
    if amount > MAX_AMOUNT:
        problems.append(Problem("amount", f"amount must be at most {MAX_AMOUNT:f}"))
        return None
    places = _decimal_places(amount)
    if market is not None and places > market.token_in.decimals:
        token = market.token_in
        problems.append(
            Problem(
                "amount",
                f"amount has {places} decimal places; {token.symbol} allows at most "
                f"{token.decimals}",
            )
        )
        return None
    return amount


def _parse_amount(raw: Decimal | str | int, problems: list[Problem]) -> Decimal | None:
    if isinstance(raw, Decimal):
        if raw.is_finite():
            return raw
        problems.append(Problem("amount", "amount must be a finite decimal number"))
        return None
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str):
        problems.append(Problem("amount", f"amount must be a decimal string (got {shown(raw)})"))
        return None
    text = text.strip()
    if len(text) > MAX_AMOUNT_CHARS:
        problems.append(
            Problem("amount", f"amount is too long (at most {MAX_AMOUNT_CHARS} characters)")
        )
        return None
    if text.startswith("-") and _AMOUNT.match(text[1:]):
        problems.append(Problem("amount", "amount must be greater than 0"))
        return None
    if not _AMOUNT.match(text):
        problems.append(
            Problem("amount", f"amount must be a decimal number such as 1.5 (got {text!r})")
        )
        return None
    return Decimal(text)


def _decimal_places(amount: Decimal) -> int:
    """Digits after the point, trailing zeros aside; exact (normalize() would round to 28)."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite: checked before
    zeros = 0
    for digit in reversed(digits):
        if digit:
            break
        zeros += 1
    return max(0, -exponent - zeros)


def _slippage(raw: int | str | None, problems: list[Problem]) -> int | None:
    if raw is None or raw == "":
        return DEFAULT_SLIPPAGE_BPS
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and _WHOLE.match(raw.strip()):
        value = int(raw.strip())
    if value is None or not (MIN_SLIPPAGE_BPS <= value <= MAX_SLIPPAGE_BPS):
        problems.append(
            Problem(
                "slippageBps",
                f"slippageBps must be a whole number from {MIN_SLIPPAGE_BPS} to "
                f"{MAX_SLIPPAGE_BPS} (got {shown(raw)})",
            )
        )
        return None
    return value
