"""API keys (admin) and webhook subscriptions (each owner's own), over JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.domain.access import Scope, parse_scopes
from app.domain.problems import shown
from app.domain.status import OrderStatus
from app.services.webhooks import check_url
from app.web.auth import Caller, requires
from app.web.context import Web
from app.web.errors import ERRORS_FOR_READS, ERRORS_FOR_WRITES, NOT_FOUND
from app.web.strict import StrictRequest


class NewKeyRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=3)]
    rate_limit: Annotated[
        int | None,
        msgspec.Meta(description="Orders per minute for this key (default: the engine's)."),
    ] = None


class KeyView(msgspec.Struct, rename="camel"):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    rate_limit: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedKey(msgspec.Struct, rename="camel"):
    id: str
    key: str
    """The key itself: shown this once, never again."""
    prefix: str
    name: str
    scopes: list[str]


class NewWebhookRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    events: Annotated[
        list[str],
        msgspec.Meta(
            min_length=1,
            max_length=len(OrderStatus),
            description=f"Statuses to deliver: {', '.join(OrderStatus)}.",
        ),
    ]


class WebhookView(msgspec.Struct, rename="camel"):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    last_status: str | None
    last_attempt_at: datetime | None
    failures: int


class CreatedWebhook(msgspec.Struct, rename="camel"):
    id: str
    url: str
    events: list[str]
    secret: str
    """Signs deliveries; shown this once, never again."""


def _problem(key: str, message: str) -> ValidationException:
    return ValidationException(
        detail=message, extra=[{"key": key, "message": message, "source": "body"}]
    )


class KeysController(Controller):
    request_class = StrictRequest
    path = "/api/keys"
    tags = ["access"]
    guards = [requires(Scope.ADMIN)]

    @post("/", status_code=HTTP_201_CREATED, responses=ERRORS_FOR_WRITES)
    async def create(self, data: JSONBody[NewKeyRequest], web: Web) -> IssuedKey:
        """Make a key (admin). The key is in this answer only: keep it."""
        try:
            scopes = parse_scopes(data.scopes)
        except ValueError as error:
            raise _problem("scopes", str(error)) from None
        if data.rate_limit is not None and not 0 <= data.rate_limit <= 100_000:
            raise _problem("rateLimit", "rateLimit must be from 0 to 100000 orders per minute")
        issued = await web.access.issue(data.name, scopes, data.rate_limit)
        record = issued.record
        return IssuedKey(record.id, issued.key, record.prefix, record.name, sorted(scopes))

    @get("/", responses=ERRORS_FOR_READS)
    async def index(self, web: Web) -> list[KeyView]:
        """Every key, newest first (secrets are never shown again)."""
        return [
            KeyView(
                k.id,
                k.name,
                k.prefix,
                sorted(k.scopes),
                k.rate_limit,
                k.created_at,
                k.last_used_at,
                k.revoked_at,
            )
            for k in await web.access.keys()
        ]

    @delete("/{key_id:str}", status_code=HTTP_204_NO_CONTENT, responses=NOT_FOUND)
    async def revoke(self, key_id: FromPath[str], web: Web) -> None:
        """Revoke a key: refused everywhere within a second."""
        if await web.access.revoke(key_id) is None:
            raise NotFoundException(detail=f"no key with id {shown(key_id)}")


class WebhooksController(Controller):
    request_class = StrictRequest
    path = "/api/webhooks"
    tags = ["webhooks"]
    guards = [requires(Scope.READ)]

    @post("/", status_code=HTTP_201_CREATED, responses=ERRORS_FOR_WRITES)
    async def create(
        self, data: JSONBody[NewWebhookRequest], web: Web, principal: Caller
    ) -> CreatedWebhook:
        """Deliver your orders' events with these statuses to `url`, signed."""
        if (reason := check_url(data.url)) is not None:
            raise _problem("url", reason)
        unknown = [s for s in data.events if s not in OrderStatus.__members__.values()]
        if unknown:
            raise _problem(
                "events", f"unknown status {shown(unknown[0])} (statuses: {', '.join(OrderStatus)})"
            )
        events = frozenset(OrderStatus(s) for s in data.events)
        made = await web.webhooks.subscribe(principal.key_id, data.url, events)
        record = made.record
        return CreatedWebhook(record.id, record.url, sorted(events), made.secret)

    @get("/", responses=ERRORS_FOR_READS)
    async def index(self, web: Web, principal: Caller) -> list[WebhookView]:
        """Your subscriptions (an admin's: everyone's), with how the last delivery went."""
        return [
            WebhookView(
                w.id,
                w.url,
                sorted(w.events),
                w.created_at,
                w.last_status,
                w.last_attempt_at,
                w.failures,
            )
            for w in await web.webhooks.of(principal.owner_filter)
        ]

    @delete("/{webhook_id:str}", status_code=HTTP_204_NO_CONTENT, responses=NOT_FOUND)
    async def remove(self, webhook_id: FromPath[str], web: Web, principal: Caller) -> None:
        """Stop delivering to this subscription."""
        if not await web.webhooks.delete(webhook_id, principal.owner_filter):
            raise NotFoundException(detail=f"no webhook with id {shown(webhook_id)}")
