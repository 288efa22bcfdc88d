"""Keys for tests: every test run's settings make `ADMIN_KEY` an admin key."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

Client = TypeVar("Client", bound=httpx.Client)

ADMIN_KEY = "test-admin-key-0123456789abcdef0123456789abcdef"
"""`ADMIN_API_KEY` in every test's settings (32+ characters, as the setting requires)."""


def bearer(key: str | None = ADMIN_KEY) -> dict[str, str]:
    """The header a program sends with its key (none for `None`)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def connect(url: str, *, key: str | None = ADMIN_KEY, **options: Any) -> ClientConnection:
    """A WebSocket client, sending `key` as a program does (no key: `key=None`)."""
    headers = {**bearer(key), **options.pop("additional_headers", {})}
    connection: ClientConnection = ws_connect(url, additional_headers=headers, **options)
    return connection


def signed(client: Client, key: str | None = ADMIN_KEY) -> Client:
    """The client, sending `key` with every request from now on."""
    client.headers.update(bearer(key))
    return client
