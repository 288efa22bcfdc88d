"""API keys and one-time sign-in links, as stored: hashes only, never a key itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.database import Database
from app.domain.access import Principal, Scope, digest, parse_scopes, prefix_of
from app.ids import uuid7


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    prefix: str
    scopes: frozenset[Scope]
    rate_limit: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def principal(self) -> Principal:
        return Principal(self.id, self.name, self.scopes, self.rate_limit)


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        name: str,
        prefix: str,
        key_digest: str,
        scopes: frozenset[Scope],
        rate_limit: int | None = None,
    ) -> KeyRecord:
        row = await self.db.fetchrow(
            "INSERT INTO api_keys (id, name, prefix, digest, scopes, rate_limit, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING *",
            str(uuid7()),
            name,
            prefix,
            key_digest,
            ",".join(sorted(scopes)),
            rate_limit,
        )
        assert row is not None
        return _record(row)

    async def ensure(self, key: str, *, name: str, scopes: frozenset[Scope]) -> KeyRecord:
        """Make `key` a valid key with these scopes (idempotent: for `ADMIN_API_KEY`)."""
        row = await self.db.fetchrow(
            "INSERT INTO api_keys (id, name, prefix, digest, scopes, created_at)"
            " VALUES ($1, $2, $3, $4, $5, now())"
            " ON CONFLICT (digest) DO UPDATE SET scopes = EXCLUDED.scopes, revoked_at = NULL"
            " RETURNING *",
            str(uuid7()),
            name,
            prefix_of(key),
            digest(key),
            ",".join(sorted(scopes)),
        )
        assert row is not None
        return _record(row)

    async def by_digest(self, key_digest: str) -> KeyRecord | None:
        """The live (unrevoked) key with this digest."""
        row = await self.db.fetchrow(
            "SELECT * FROM api_keys WHERE digest = $1 AND revoked_at IS NULL", key_digest
        )
        return _record(row) if row else None

    async def by_id(self, key_id: str) -> KeyRecord | None:
        """The live (unrevoked) key with this id."""
        row = await self.db.fetchrow(
            "SELECT * FROM api_keys WHERE id = $1 AND revoked_at IS NULL", key_id
        )
        return _record(row) if row else None

    async def all(self) -> list[KeyRecord]:
        rows = await self.db.fetch("SELECT * FROM api_keys ORDER BY created_at DESC")
        return [_record(row) for row in rows]

    async def count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM api_keys") or 0)

    async def revoke(self, key_id: str) -> KeyRecord | None:
        row = await self.db.fetchrow(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1"
            " RETURNING *",
            key_id,
        )
        return _record(row) if row else None

    async def touch(self, key_id: str) -> None:
        """Record use, at most about once a minute per key (a write per request would cost)."""
        await self.db.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = $1"
            " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            key_id,
        )

    async def add_sign_in_link(self, token_digest: str, key_id: str, seconds: int) -> None:
        await self.db.execute(
            "INSERT INTO sign_in_links (digest, key_id, expires_at)"
            " VALUES ($1, $2, now() + make_interval(secs => $3))",
            token_digest,
            key_id,
            float(seconds),
        )

    async def use_sign_in_link(self, token_digest: str) -> KeyRecord | None:
        """The key a one-time link signs in as; the link is spent by this call."""
        key_id = await self.db.fetchval(
            "UPDATE sign_in_links SET used_at = now()"
            " WHERE digest = $1 AND used_at IS NULL AND expires_at > now() RETURNING key_id",
            token_digest,
        )
        return await self.by_id(key_id) if key_id else None


def _record(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=parse_scopes(row["scopes"]),
        rate_limit=row["rate_limit"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )
