"""Orders and their lifecycle events. The database is the record; pushes only notify."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


# Piccolo's migration history knows these classes as `Order` and `OrderEvent`; the code
# calls them `OrderRow` and `EventRow` (below), so a name means one thing everywhere.
class Order(Table, tablename="orders"):
    """A stored order (the pipeline's object is `app.domain.order.Order`)."""

    id = UUID(primary_key=True)
    type = Varchar(length=16)
    token_in = Varchar(length=64)
    token_out = Varchar(length=64)
    """A symbol; a sniper's may be a token not launched yet, by symbol or mint."""
    amount_in = Numeric()
    slippage_bps = Integer()
    status = Varchar(length=16)
    attempt = Integer(default=1)
    last_seq = Integer(default=1)
    """The seq of the newest event: events are numbered 1, 2, 3 … with no gap."""
    dex = Varchar(length=32, null=True, default=None)
    tx_hash = Varchar(length=128, null=True, default=None)
    quoted_out = Numeric(null=True, default=None)
    """The first routing's best quote: the reference the user's bound was set from."""
    min_out = Numeric(null=True, default=None)
    """The user's bound: fixed at the first routing, never moved by a retry."""
    amount_out = Numeric(null=True, default=None)
    executed_price = Numeric(null=True, default=None)
    error = Text(null=True, default=None)
    retry_reason = Text(null=True, default=None)
    """Why the current attempt failed, until the next attempt starts (written on its event)."""
    client = Varchar(length=64, default="")
    owner = Varchar(length=36, default="")
    """The API key (its id) that placed the order: only it, and admins, see the order."""
    client_order_id = Varchar(length=64, null=True, default=None)
    """The client's own reference, unique per owner."""
    terms = JSONB(default="{}")
    """What the order's kind adds (app/domain/kinds), e.g. a limit price."""
    limit_price = Numeric(null=True, default=None)
    """A limit order's price (quote per base): the trigger's index is rebuilt from it."""
    expires_at = Timestamptz(null=True, default=None)
    """When a waiting order expires, by the database's clock."""
    triggered = Boolean(default=False)
    """In routing because its trigger fired (it routes on without a new routing event)."""
    routing = Varchar(length=8, default="auto")
    """`auto` (split across venues when that pays) or `single`."""
    route = JSONB(null=True, default=None)
    """This attempt's legs when split across venues; null for a single venue (`dex`)."""
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OrderEvent(Table, tablename="order_events"):
    """A stored lifecycle event (its wire form is `app.events.schema.OrderEvent`)."""

    id = BigSerial(primary_key=True)
    order_id = ForeignKey(references=Order, on_delete=OnDelete.cascade)
    seq = Integer()
    status = Varchar(length=16)
    at = Timestamptz()
    attempt = Integer()
    dex = Varchar(length=32, null=True, default=None)
    tx_hash = Varchar(length=128, null=True, default=None)
    quotes = JSONB(null=True, default=None)
    amount_out = Numeric(null=True, default=None)
    executed_price = Numeric(null=True, default=None)
    error = Text(null=True, default=None)
    note = Text(null=True, default=None)
    """Why a step happened that the status alone does not explain (e.g. a resumed run)."""
    details = JSONB(null=True, default=None)
    """What a kind's step adds: a waiting event's terms, a trigger's observed output."""
    route = JSONB(null=True, default=None)
    """The chosen route (routing), a split's legs (building), and what each paid (confirmed)."""


class ApiKey(Table, tablename="api_keys"):
    id = Varchar(length=36, primary_key=True)
    name = Varchar(length=100)
    prefix = Varchar(length=16)
    digest = Varchar(length=64, unique=True)
    """SHA-256 of the key; the key itself is never stored."""
    scopes = Varchar(length=64)
    """Comma-separated: read, trade, admin."""
    rate_limit = Integer(null=True, default=None)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class SignInLink(Table, tablename="sign_in_links"):
    digest = Varchar(length=64, primary_key=True)
    key_id = Varchar(length=36)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class IdempotencyKey(Table, tablename="idempotency_keys"):
    owner = Varchar(length=36)
    key = Varchar(length=255)
    fingerprint = Varchar(length=64)
    """SHA-256 of the request: the same key with another request is refused."""
    status_code = Integer()
    response = Text()
    created_at = Timestamptz()


class Webhook(Table, tablename="webhooks"):
    id = Varchar(length=36, primary_key=True)
    owner = Varchar(length=36)
    url = Text()
    events = Varchar(length=200)
    """Comma-separated statuses this subscription is sent."""
    secret = Varchar(length=100)
    created_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)
    last_status = Varchar(length=100, null=True, default=None)
    last_attempt_at = Timestamptz(null=True, default=None)
    failures = Integer(default=0)


class WebhookDelivery(Table, tablename="webhook_deliveries"):
    id = BigSerial(primary_key=True)
    webhook_id = Varchar(length=36)
    event_id = BigInt()
    attempts = Integer(default=0)
    next_at = Timestamptz()
    leased_until = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
    last_status = Varchar(length=100, null=True, default=None)


OrderRow = Order
EventRow = OrderEvent

TABLES: tuple[type[Table], ...] = (
    OrderRow,
    EventRow,
    ApiKey,
    SignInLink,
    IdempotencyKey,
    Webhook,
    WebhookDelivery,
)
