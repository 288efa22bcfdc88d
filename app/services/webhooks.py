"""Webhooks: owners subscribe a URL to their orders' statuses; workers deliver, signed.

Each delivery is a POST of the event's JSON with `Event-Id: <orderId>:<seq>` (stable
across retries, for de-duplication) and `Webhook-Signature: t=<unix>,v1=<hex>`, the
HMAC-SHA256 of `<t>.<body>` under the subscription's secret (Stripe's scheme). A non-2xx
answer or a timeout is retried after ≈1 s, 10 s, 1 min, 10 min and 1 h, then given up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.db.webhooks import Delivery, WebhookRecord, WebhookStore
from app.domain.access import sign
from app.domain.status import OrderStatus
from app.events.schema import encode

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 10.0, 60.0, 600.0, 3600.0)
"""Seconds before each retry of a failed delivery; after the last, it is given up."""
SEND_TIMEOUT = 5.0
BATCH = 50


@dataclass(frozen=True, slots=True)
class Subscribed:
    record: WebhookRecord
    secret: str
    """Shown once: the receiver checks signatures with it."""


def check_url(url: str) -> str | None:
    """Why `url` cannot be a webhook target, or None if it can."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "url must be an absolute http:// or https:// URL"
    if len(url) > 2000:
        return "url must be at most 2000 characters"
    return None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, f'{timestamp}.{body.decode()}')}"


class Webhooks:
    def __init__(self, store: WebhookStore) -> None:
        self._store = store

    async def subscribe(self, owner: str, url: str, events: frozenset[OrderStatus]) -> Subscribed:
        secret = f"whsec_{secrets.token_urlsafe(32)}"
        return Subscribed(await self._store.create(owner, url, events, secret), secret)

    async def of(self, owner: str | None) -> list[WebhookRecord]:
        return await self._store.of(owner)

    async def delete(self, webhook_id: str, owner: str | None) -> bool:
        return await self._store.delete(webhook_id, owner)


class Courier:
    """Delivers due webhook events (run by every worker; leases keep them from colliding)."""

    def __init__(self, store: WebhookStore) -> None:
        self._store = store
        self._http = httpx.AsyncClient(timeout=SEND_TIMEOUT, follow_redirects=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def deliver_due(self) -> int:
        """Send every due delivery (in batches); how many were tried."""
        tried = 0
        while deliveries := await self._store.lease(BATCH, SEND_TIMEOUT * 2 + 5):
            await asyncio.gather(*(self._send(d) for d in deliveries))
            tried += len(deliveries)
            if len(deliveries) < BATCH:
                break
        return tried

    async def _send(self, delivery: Delivery) -> None:
        event = delivery.event
        body = encode(event)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "event-id": f"{event.order_id}:{event.seq}",
            "webhook-signature": signature(delivery.secret, timestamp, body),
            "user-agent": "order-execution-engine-webhooks",
        }
        try:
            response = await self._http.post(delivery.url, content=body, headers=headers)
            outcome, ok = f"HTTP {response.status_code}", response.is_success
        except httpx.HTTPError as error:
            outcome, ok = f"{type(error).__name__}: {error}"[:100], False
        if ok:
            await self._store.delivered(delivery, outcome)
            return
        retry_in = (
            RETRY_DELAYS[delivery.attempts - 1] if delivery.attempts <= len(RETRY_DELAYS) else None
        )
        if retry_in is None:
            outcome = f"gave up after {delivery.attempts} tries: {outcome}"[:100]
            log.warning("webhook %s: %s", delivery.webhook_id, outcome)
        await self._store.failed(delivery, outcome, retry_in)
