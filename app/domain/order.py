"""The order the engine works on: typed, with Decimal amounts and its type's terms.

The pipeline, the store and the queue pass this object; JSON views of it are built at
the edges only (`app.events.schema.OrderView`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from app.domain.split import AUTO, Leg
from app.domain.status import TERMINAL, OrderStatus
from app.domain.tokens import Market, Token


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    type: str
    """An order kind's name (app/domain/kinds): `market`, …"""
    market: Market
    amount: Decimal
    """How much of `token_in` to sell."""
    slippage_bps: int
    status: OrderStatus
    attempt: int
    last_seq: int
    """The seq of the order's newest event."""
    created_at: datetime
    updated_at: datetime
    terms: dict[str, str] = field(default_factory=dict)
    """What the order's kind adds (a limit price, an expiry), as validated by that kind."""
    client: str = ""
    """The address it was placed from."""
    owner: str = ""
    """The API key (its id) that placed it: only that key, and admins, see it."""
    client_order_id: str | None = None
    """The client's own reference, unique per owner."""
    expires_at: datetime | None = None
    """When a waiting order stops waiting (set by the database's clock at placement)."""
    triggered: bool = False
    """In routing because its trigger fired: it routes on without a routing event of its own."""
    routing: str = AUTO
    """`auto`: split across venues when that pays; `single`: one venue only."""
    dex: str | None = None
    """The venue of this attempt's route; a split's venues joined by `+` (see `route`)."""
    route: tuple[Leg, ...] | None = None
    """This attempt's legs when it is split across venues (None: one venue, `dex`)."""
    tx_hash: str | None = None
    quoted_out: Decimal | None = None
    """The first routing's best quote: the reference the bound was set from."""
    min_out: Decimal | None = None
    """The user's bound: the least the order accepts, fixed once and never moved."""
    amount_out: Decimal | None = None
    executed_price: Decimal | None = None
    error: str | None = None
    retry_reason: str | None = None
    """Why the current attempt failed, until the next one starts."""

    @property
    def token_in(self) -> Token:
        return self.market.token_in

    @property
    def token_out(self) -> Token:
        return self.market.token_out

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True)
class Fill:
    """A confirmed order, as the dashboard's charts need it."""

    order_id: str
    placed_at: datetime
    confirmed_at: datetime
    dex: str
    pair: str
    price: Decimal | None
    """Quote per base, the pair's convention."""
