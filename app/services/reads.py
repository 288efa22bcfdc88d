"""What the pages, the API's lists and the sockets read about orders: one service over the store."""

from __future__ import annotations

from collections.abc import Sequence

from app.db.orders import OrderStore
from app.domain.filters import OrderFilter, Page
from app.domain.order import Fill, Order
from app.domain.status import OrderStatus
from app.events.schema import OrderEvent


class OrderReads:
    def __init__(self, store: OrderStore) -> None:
        self._store = store

    async def order(self, order_id: str, owner: str | None = None) -> Order | None:
        """The order, or None if the id is unknown (or not an id at all) or, with `owner`,
        belongs to someone else: another owner's order looks exactly like a missing one."""
        order = await self._store.get(order_id)
        if order is None or (owner is not None and order.owner != owner):
            return None
        return order

    async def some(self, order_ids: Sequence[str], owner: str | None = None) -> list[Order]:
        """Those of the orders (of `owner`, with one) that exist, in no particular order."""
        found = await self._store.some(order_ids)
        return [o for o in found if owner is None or o.owner == owner]

    async def events(self, order_id: str, after_seq: int = 0) -> list[OrderEvent]:
        return await self._store.events(order_id, after_seq)

    async def page(self, where: OrderFilter) -> Page:
        return await self._store.page(where)

    async def counts(self, where: OrderFilter) -> dict[OrderStatus, int]:
        """Orders per status matching `where` (its status and cursor aside)."""
        return await self._store.count_by_status(where)

    async def active(self) -> dict[OrderStatus, int]:
        return await self._store.count_active()

    async def recent_fills(self, owner: str | None, recent: int = 40) -> list[Fill]:
        return await self._store.recent_fills(owner, recent)
