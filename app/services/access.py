"""Who is asking: API keys and browser sessions resolved to a principal, quickly and revocably.

Every web process caches what a key resolves to for `CACHE_SECONDS`, so a revoked key is
refused everywhere within that long without a database read per request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.db.keys import KeyRecord, KeyStore
from app.domain.access import (
    MIN_ADMIN_KEY_CHARS,
    NewKey,
    Principal,
    Scope,
    digest,
    make_key,
    same,
    sign,
)

CACHE_SECONDS = 0.5
SESSION_SECONDS = 7 * 24 * 3600
SIGN_IN_LINK_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Issued:
    """A key as created: the secret, shown once, and its record."""

    key: str
    record: KeyRecord


class Access:
    def __init__(self, keys: KeyStore, secret: str) -> None:
        self._keys = keys
        self._secret = secret
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    # -- resolving --------------------------------------------------------------------

    async def by_key(self, key: str) -> Principal | None:
        """The principal a presented key acts as; None if unknown or revoked."""
        if not key or len(key) > 512:
            return None
        return await self._cached(f"k:{digest(key)}", lambda: self._keys.by_digest(digest(key)))

    async def by_session(self, cookie: str) -> Principal | None:
        """The principal a session cookie signs in as; None if forged, expired or revoked."""
        key_id = self._verified_session(cookie)
        if key_id is None:
            return None
        return await self._cached(f"i:{key_id}", lambda: self._keys.by_id(key_id))

    async def _cached(
        self, name: str, load: Callable[[], Awaitable[KeyRecord | None]]
    ) -> Principal | None:
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = await load()
        principal = record.principal if record is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[name] = (now + CACHE_SECONDS, principal)
        if principal is not None:
            await self._keys.touch(principal.key_id)
        return principal

    # -- sessions ---------------------------------------------------------------------

    def session_for(self, principal: Principal) -> str:
        """A signed cookie value naming the key; it holds no secret."""
        body = f"v1.{principal.key_id}.{int(time.time())}"
        return f"{body}.{sign(self._secret, body)}"

    def _verified_session(self, cookie: str) -> str | None:
        parts = cookie.split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit():
            return None
        body = ".".join(parts[:3])
        if not same(sign(self._secret, body), parts[3]):
            return None
        if int(parts[2]) + SESSION_SECONDS < time.time():
            return None
        return parts[1]

    # -- managing keys ----------------------------------------------------------------

    async def issue(
        self, name: str, scopes: frozenset[Scope], rate_limit: int | None = None
    ) -> Issued:
        made: NewKey = make_key()
        record = await self._keys.create(
            name=name,
            prefix=made.prefix,
            key_digest=made.digest,
            scopes=scopes,
            rate_limit=rate_limit,
        )
        return Issued(made.key, record)

    async def ensure_admin(self, key: str) -> KeyRecord:
        """Make `ADMIN_API_KEY` an admin key (at start-up; idempotent)."""
        if len(key) < MIN_ADMIN_KEY_CHARS:
            raise ValueError(f"ADMIN_API_KEY must be at least {MIN_ADMIN_KEY_CHARS} characters")
        return await self._keys.ensure(key, name="ADMIN_API_KEY", scopes=frozenset({Scope.ADMIN}))

    async def keys(self) -> list[KeyRecord]:
        return await self._keys.all()

    async def revoke(self, key_id: str) -> KeyRecord | None:
        revoked = await self._keys.revoke(key_id)
        self._cache.clear()
        return revoked

    async def sign_in_link(self, key_id: str) -> str:
        """A one-time token that signs a browser in as this key (for `make run`'s first start)."""
        token = secrets.token_urlsafe(24)
        await self._keys.add_sign_in_link(digest(token), key_id, SIGN_IN_LINK_SECONDS)
        return token

    async def redeem(self, token: str) -> Principal | None:
        if not token or len(token) > 200:
            return None
        record = await self._keys.use_sign_in_link(digest(token))
        return record.principal if record else None
