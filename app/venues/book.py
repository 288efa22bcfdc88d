"""The simulated venues' books in Redis: pools and the transaction ledger.

Each operation is one Lua script call (one round trip, atomic): reading a pool with the
step's scripted fault, recording a transaction only if none is live for the order, and
settling a batch of transactions on one pool only if they are all still pending and the
pool has not moved since their fills were computed, and settling a split route's
transaction on all of its pools only if none of them has moved. The AMM math stays in Python
(Decimal); Redis only keeps state.
Key names are built inside the scripts, so this expects a single Redis, not a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

_TAKE = """
local function take(faults, a, b)
  for _, field in ipairs({a, b}) do
    if field ~= '' then
      local fault = redis.call('HGET', faults, field)
      if fault then
        redis.call('HDEL', faults, field)
        return fault
      end
    end
  end
  return false
end
"""

_TAKE_FAULT = (
    _TAKE
    + """
-- KEYS: faults; ARGV: the step's two fault fields
return take(KEYS[1], ARGV[1], ARGV[2])
"""
)

_READ_POOL = (
    _TAKE
    + """
-- KEYS: pool, faults; ARGV: two fault fields ('' when not an order's quote)
return {take(KEYS[2], ARGV[1], ARGV[2]), redis.call('HGETALL', KEYS[1])}
"""
)

_RECORD = (
    _TAKE
    + """
-- KEYS: ledger, tx index, faults
-- ARGV: submit fault fields (2), land fault fields (2), order id, the send's nonce, then
--       the entry's fields
-- A live or landed transaction is returned, never replaced; except that one which landed
-- and failed is replaced by a later send (another nonce) of an order that waited again.
local submit_fault = take(KEYS[3], ARGV[1], ARGV[2])
if submit_fault == 'timeout' then
  return {'refused', submit_fault, {}}
end
local state = redis.call('HGET', KEYS[1], 'state')
local resent = state == 'failed' and redis.call('HGET', KEYS[1], 'nonce') ~= ARGV[6]
if state and state ~= 'dropped' and not resent then
  return {'existing', submit_fault or false, redis.call('HGETALL', KEYS[1])}
end
local land_fault = take(KEYS[3], ARGV[3], ARGV[4])
-- A dropped transaction is being replaced: forget how it ended.
redis.call('HDEL', KEYS[1], 'failure', 'reason', 'amount_out', 'price', 'legs_out')
for i = 7, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'state', 'pending',
           'drop', (land_fault == 'drop') and '1' or redis.call('HGET', KEYS[1], 'drop'),
           'adverse', (land_fault == 'adverse') and '1' or '0')
redis.call('SET', KEYS[2], ARGV[5])
return {'recorded', submit_fault or false, redis.call('HGETALL', KEYS[1])}
"""
)

_READ_TX = """
-- KEYS: tx index; ARGV: ledger key prefix
local order_id = redis.call('GET', KEYS[1])
if not order_id then return false end
return {order_id, redis.call('HGETALL', ARGV[1] .. order_id)}
"""

_SETTLE_BATCH = """
-- KEYS: pool, then ledger entries
-- ARGV: pool version seen, n pool field/value pairs, those pairs, then per ledger entry:
--       its tx, n outcome field/value pairs, those pairs
-- All or nothing: if the pool moved or any entry is no longer our pending tx, nothing is
-- written and the caller recomputes the batch from fresh reads.
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
local n_pool = tonumber(ARGV[2])
local at = 3 + 2 * n_pool
local plan = {}
for i = 2, #KEYS do
  local tx, n = ARGV[at], tonumber(ARGV[at + 1])
  if redis.call('HGET', KEYS[i], 'tx') ~= tx
     or redis.call('HGET', KEYS[i], 'state') ~= 'pending' then
    return 0
  end
  plan[i] = {at + 2, at + 1 + 2 * n}
  at = at + 2 + 2 * n
end
for i = 2, #KEYS do
  for j = plan[i][1], plan[i][2], 2 do
    redis.call('HSET', KEYS[i], ARGV[j], ARGV[j + 1])
  end
  if redis.call('HGET', KEYS[i], 'state') == 'confirmed' then
    redis.call('HINCRBY', KEYS[i], 'fills', 1)
  end
end
for j = 3, 2 + 2 * n_pool, 2 do
  redis.call('HSET', KEYS[1], ARGV[j], ARGV[j + 1])
end
return 1
"""

_READ_KEYS = """
-- KEYS: hashes to read at one moment
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HGETALL', KEYS[i])
end
return out
"""

_SETTLE_ROUTE = """
-- KEYS: the route's ledger entry, then its pools
-- ARGV: tx, then per pool: version seen, n field/value pairs, those pairs; then the outcome's
--       field/value pairs
-- All or nothing, over every pool of the route: if the entry is no longer our pending tx or
-- any pool moved, nothing is written and the caller recomputes from fresh reads.
if redis.call('HGET', KEYS[1], 'tx') ~= ARGV[1]
   or redis.call('HGET', KEYS[1], 'state') ~= 'pending' then
  return 0
end
local at = 2
local writes = {}
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'version') ~= ARGV[at] then return 0 end
  local n = tonumber(ARGV[at + 1])
  writes[i] = {at + 2, at + 1 + 2 * n}
  at = at + 2 + 2 * n
end
for i = 2, #KEYS do
  for j = writes[i][1], writes[i][2], 2 do
    redis.call('HSET', KEYS[i], ARGV[j], ARGV[j + 1])
  end
end
for j = at, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[j], ARGV[j + 1])
end
if redis.call('HGET', KEYS[1], 'state') == 'confirmed' then
  redis.call('HINCRBY', KEYS[1], 'fills', 1)
end
return 1
"""


def as_dict(flat: Sequence[Any]) -> dict[str, str]:
    """A Lua HGETALL reply (a flat list) as a dict."""
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


def _flatten(fields: Mapping[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]


class Book:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._take_fault = redis.register_script(_TAKE_FAULT)
        self._read_pool = redis.register_script(_READ_POOL)
        self._record = redis.register_script(_RECORD)
        self._read_tx = redis.register_script(_READ_TX)
        self._settle_batch = redis.register_script(_SETTLE_BATCH)
        self._read_keys = redis.register_script(_READ_KEYS)
        self._settle_route = redis.register_script(_SETTLE_ROUTE)

    def pool_key(self, venue: str, pair_symbol: str) -> str:
        return f"{self.prefix}:{venue}:pool:{pair_symbol.replace('/', '-')}"

    def ledger_prefix(self, venue: str) -> str:
        return f"{self.prefix}:{venue}:ledger:"

    def ledger_key(self, venue: str, order_id: str) -> str:
        return self.ledger_prefix(venue) + order_id

    def tx_key(self, venue: str, tx_hash: str) -> str:
        return f"{self.prefix}:{venue}:tx:{tx_hash}"

    def faults_key(self, order_id: str) -> str:
        return f"{self.prefix}:faults:{order_id}"

    async def plan_fault(self, order_id: str, field: str, fault: str, ttl: int) -> None:
        key = self.faults_key(order_id)
        await self.redis.hset(key, field, fault)
        await self.redis.expire(key, ttl)

    async def take_fault(self, order_id: str, fault_fields: Sequence[str]) -> str | None:
        """The step's scripted fault, removed as it is taken (each fires once)."""
        found = await self._take_fault(keys=[self.faults_key(order_id)], args=list(fault_fields))
        return str(found) if found else None

    async def read_pool(
        self, venue: str, pair_symbol: str, order_id: str | None, fault_fields: Sequence[str]
    ) -> tuple[str | None, dict[str, str]]:
        """(the scripted fault taken for this step, if any; the pool's fields)."""
        fields = list(fault_fields) if order_id else ["", ""]
        faults = self.faults_key(order_id or "-")
        fault, pool = await self._read_pool(
            keys=[self.pool_key(venue, pair_symbol), faults], args=fields
        )
        return (str(fault) if fault else None), as_dict(pool)

    async def record(
        self,
        venue: str,
        order_id: str,
        tx_hash: str,
        submit_faults: Sequence[str],
        land_faults: Sequence[str],
        entry: Mapping[str, str],
    ) -> tuple[str, str | None, dict[str, str]]:
        """('refused' | 'existing' | 'recorded', the submit fault taken, the ledger entry).

        `entry["nonce"]` says which send of the order this is (see `SwapIntent.nonce`)."""
        outcome, fault, fields = await self._record(
            keys=[
                self.ledger_key(venue, order_id),
                self.tx_key(venue, tx_hash),
                self.faults_key(order_id),
            ],
            args=[*submit_faults, *land_faults, order_id, entry["nonce"], *_flatten(entry)],
        )
        return str(outcome), (str(fault) if fault else None), as_dict(fields)

    async def read_tx(self, venue: str, tx_hash: str) -> tuple[str, dict[str, str]] | None:
        """(order id, ledger entry) of a transaction, or None if the venue never saw it."""
        found = await self._read_tx(
            keys=[self.tx_key(venue, tx_hash)], args=[self.ledger_prefix(venue)]
        )
        if not found:
            return None
        order_id, entry = found
        return str(order_id), as_dict(entry)

    async def read_batch(
        self, pool_key: str, ledger_keys: Sequence[str]
    ) -> tuple[dict[str, str], list[dict[str, str]]]:
        """A pool and ledger entries, read at one moment."""
        pool, *entries = await self.read_all([pool_key, *ledger_keys])
        return pool, entries

    async def settle_batch(
        self,
        pool_key: str,
        pool_version: str,
        pool: Mapping[str, str],
        outcomes: Sequence[tuple[str, str, Mapping[str, str]]],
    ) -> bool:
        """Write (ledger key, tx, outcome) for each entry and the pool's new fields, at once.

        False, writing nothing, when the pool moved or an entry changed since it was read.
        """
        args = [pool_version, str(len(pool)), *_flatten(pool)]
        for _, tx_hash, outcome in outcomes:
            args += [tx_hash, str(len(outcome)), *_flatten(outcome)]
        done = await self._settle_batch(keys=[pool_key, *(k for k, _, _ in outcomes)], args=args)
        return bool(done)

    async def read_all(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Hashes read at one moment."""
        return [as_dict(found) for found in await self._read_keys(keys=list(keys))]

    async def settle_route(
        self,
        ledger_key: str,
        tx_hash: str,
        pools: Sequence[tuple[str, str, Mapping[str, str]]],
        outcome: Mapping[str, str],
    ) -> bool:
        """Write a route's outcome and its pools' new fields — (key, version seen, fields)
        each — at once. False, writing nothing, when the entry or any pool changed since."""
        args = [tx_hash]
        for _, version, fields in pools:
            args += [version, str(len(fields)), *_flatten(fields)]
        args += _flatten(outcome)
        done = await self._settle_route(keys=[ledger_key, *(k for k, _, _ in pools)], args=args)
        return bool(done)

    async def entry(self, venue: str, order_id: str) -> dict[str, str]:
        return await self.entry_of(self.ledger_key(venue, order_id))

    async def entry_of(self, key: str) -> dict[str, str]:
        raw = await self.redis.hgetall(key)
        return {str(k): str(v) for k, v in raw.items()}
