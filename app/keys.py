"""API keys from the command line: `make key NAME=bot SCOPES=read,trade`.

`python -m app.keys create --name NAME --scopes read,trade [--rate-limit N]` prints a new
key once; `list` shows every key (never a secret); `revoke ID` revokes one. With no
DATABASE_URL it uses `make run`'s embedded PostgreSQL in DATA_DIR (starting it if needed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.db.database import Database
from app.db.keys import KeyStore
from app.domain.access import Scope, parse_scopes
from app.services.access import Access, Issued

LOCAL_ADMIN = "local admin"


async def first_start(database_url: str, base_url: str) -> str:
    """What `make run` says about keys as it starts: a new admin key and a one-time sign-in
    link on the very first start, how to make one on later starts."""
    async with _access(database_url) as access:
        if await access.keys():
            return (
                "Sign in with an API key at "
                f"{base_url}/login  (make a new one: make key NAME=me SCOPES=admin)"
            )
        issued = await access.issue(LOCAL_ADMIN, frozenset({Scope.ADMIN}))
        token = await access.sign_in_link(issued.record.id)
    return (
        "\n  First start: an admin API key was made for you. It is shown this once:\n\n"
        f"      {issued.key}\n\n"
        f"  Sign in to the dashboard (this link works once, for a day):\n\n"
        f"      {base_url}/login?token={token}\n\n"
        "  Programs send it as `Authorization: Bearer <key>`. More keys: make key NAME=…\n"
    )


class _AccessScope:
    def __init__(self, database_url: str) -> None:
        self._db = Database(database_url, min_size=1, max_size=2)

    async def __aenter__(self) -> Access:
        await self._db.start()
        # Keys and sign-in links need no signing secret: only sessions do.
        return Access(KeyStore(self._db), secret="")

    async def __aexit__(self, *_: object) -> None:
        await self._db.stop()


def _access(database_url: str) -> _AccessScope:
    return _AccessScope(database_url)


async def _create(database_url: str, name: str, scopes: str, rate_limit: int | None) -> Issued:
    async with _access(database_url) as access:
        return await access.issue(name, parse_scopes(scopes), rate_limit)


async def _list(database_url: str) -> list[str]:
    async with _access(database_url) as access:
        return [
            f"{k.id}  {k.prefix}  {k.name!r}  {','.join(sorted(k.scopes))}"
            f"  {'revoked' if k.revoked_at else 'live'}"
            for k in await access.keys()
        ]


async def _revoke(database_url: str, key_id: str) -> bool:
    async with _access(database_url) as access:
        return await access.revoke(key_id) is not None


@contextmanager
def _database() -> Iterator[str]:
    """DATABASE_URL, or `make run`'s embedded server (started for the command if needed)."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    from app.infra.embedded import EmbeddedPostgres
    from app.infra.migrate import migrate, with_database
    from app.infra.stack import DATABASE

    server = EmbeddedPostgres(Path(os.environ.get("DATA_DIR", ".data")) / "postgres")
    url = with_database(server.start(), DATABASE)
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make key", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it (once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", default="read,trade", help="comma-separated: read,trade,admin")
    create.add_argument("--rate-limit", type=int, default=None, help="orders per minute")
    commands.add_parser("list", help="every key, without secrets")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            parse_scopes(args.scopes)  # a clear message before touching the database
    except ValueError as error:
        print(f"make key: {error}", file=sys.stderr)
        return 2
    with _database() as url:
        if args.command == "create":
            issued = asyncio.run(_create(url, args.name, args.scopes, args.rate_limit))
            record = issued.record
            print(f"key {record.name!r} ({','.join(sorted(record.scopes))}), id {record.id}:")
            print(issued.key)
            print("It is shown this once. Send it as `Authorization: Bearer <key>`.")
        elif args.command == "list":
            print("\n".join(asyncio.run(_list(url))) or "no keys")
        elif not asyncio.run(_revoke(url, args.key_id)):
            print(f"make key: no key with id {args.key_id!r}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
