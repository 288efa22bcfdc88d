"""Who may do what: API keys, their scopes, and the principal a request acts as.

A key is shown once, at creation: `oee_<prefix>_<secret>`. The prefix identifies it in
lists and logs; only a hash of the whole key is stored. Keys are long random strings, so
a plain SHA-256 is the right hash (a slow password hash buys nothing against 256 bits).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_MARK = "oee"
MIN_ADMIN_KEY_CHARS = 32
"""`ADMIN_API_KEY` must be at least this long: it is a password to everything."""


class Scope(enum.StrEnum):
    READ = "read"
    """Read orders and their events."""
    TRADE = "trade"
    """Place and cancel orders."""
    ADMIN = "admin"
    """Manage keys, see every owner's orders, drive the simulator."""


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


def parse_scopes(raw: list[str] | str) -> frozenset[Scope]:
    """Scopes from a list or a comma-separated string; raises ValueError naming a bad one."""
    names = [s.strip() for s in (raw.split(",") if isinstance(raw, str) else raw) if s.strip()]
    if not names:
        raise ValueError(f"give at least one scope ({', '.join(Scope)})")
    unknown = [n for n in names if n not in Scope.__members__.values()]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r} (scopes: {', '.join(Scope)})")
    return frozenset(Scope(n) for n in names)


@dataclass(frozen=True, slots=True)
class Principal:
    """The key a request acts as."""

    key_id: str
    name: str
    scopes: frozenset[Scope]
    rate_limit: int | None = None
    """Orders per minute for this key; None: the engine's default."""

    @property
    def admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    def may(self, scope: Scope) -> bool:
        """Admin may do anything; otherwise the scope must have been granted."""
        return self.admin or scope in self.scopes

    @property
    def owner_filter(self) -> str | None:
        """Whose orders this principal sees: its own, or everyone's (None) for admin."""
        return None if self.admin else self.key_id


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key as made: the secret (shown once) and what is stored."""

    key: str
    prefix: str
    digest: str


def make_key() -> NewKey:
    prefix = secrets.token_hex(4)
    key = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key, prefix, digest(key))


def digest(key: str) -> str:
    """What is stored of a key, and what a presented key is looked up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str:
    """The recognisable part of a key: `oee_1a2b3c4d_…` → `1a2b3c4d` (others: a hash's 8)."""
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_MARK:
        return parts[1][:8]
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def sign(secret: str, message: str) -> str:
    """HMAC-SHA256 of `message`, hex."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
