"""The stored all-orders feed, a page at a time: what the firehose replays, for pollers."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from app.domain.access import Scope
from app.events.schema import OrderEvent
from app.web.auth import Caller, requires
from app.web.context import Web
from app.web.errors import ERRORS_FOR_READS
from app.web.strict import StrictRequest

MAX_EVENTS_PAGE = 1000


class EventPage(msgspec.Struct, rename="camel"):
    items: list[OrderEvent]
    next_after: int
    """Pass as `after` for the next page (the last eventId here, or `after` when empty)."""
    next: str


class EventsController(Controller):
    request_class = StrictRequest
    path = "/api/events"
    tags = ["orders"]

    @get("/", responses=ERRORS_FOR_READS, guards=[requires(Scope.READ)])
    async def feed(
        self,
        web: Web,
        principal: Caller,
        after: Annotated[
            int,
            QueryParameter(ge=0, le=2**62, description="Events with an eventId above this"),
        ] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_EVENTS_PAGE)] = 100,
    ) -> EventPage:
        """Every order's events in eventId order, after `after`.

        Only events below the feed's horizon are served: none with a smaller eventId can
        still be committed later, so paging by `nextAfter` never skips one.
        """
        async with asyncio.timeout(web.settings.db_timeout_seconds):
            horizon = await web.feed.horizon()
        owner = principal.owner_filter
        items = await web.feed.read(after, horizon, limit, owner) if after < horizon else []
        next_after = items[-1].event_id if items else after
        return EventPage(items, next_after, f"/api/events?after={next_after}&limit={limit}")
