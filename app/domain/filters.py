"""Which orders a list shows: the filter the API, the history page and the CSV share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.order import Order
from app.domain.status import OrderStatus
from app.domain.tokens import Pair


@dataclass(frozen=True, slots=True)
class OrderFilter:
    statuses: Sequence[OrderStatus] = ()
    pair: Pair | None = None
    """Either direction across this pair."""
    token_in: str | None = None
    token_out: str | None = None
    dex: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    before: str | None = None
    """Cursor: only orders older than this order id."""
    owner: str | None = None
    """Only this key's orders; None: everyone's (admins)."""
    client_order_id: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Order] = field(default_factory=list)
    next_cursor: str | None = None
    """Pass as `before` for the next (older) page; None on the last."""
