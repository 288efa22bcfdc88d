"""Per-client limit on order submission, shared by every web process through Redis.

GCRA (a leaky bucket in one key): bursts up to the limit, then one request per
window/limit; a rejected caller learns exactly when to come back (`Retry-After`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - (burst - 1) * interval
if now < allow_at then
  return {0, allow_at - now, 0}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
return {1, 0, math.floor((now - (new_tat - burst * interval)) / interval)}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: float
    """Seconds until the next request would be allowed (0 when allowed)."""
    remaining: int
    limit: int

    @property
    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class RateLimiter:
    def __init__(self, redis: Redis, per_minute: int, prefix: str = "ratelimit:orders") -> None:
        self._redis = redis
        self.per_minute = per_minute
        self._prefix = prefix
        self._script = redis.register_script(_GCRA)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def check(self, client: str, per_minute: int | None = None) -> Verdict:
        """Take one request from `client`'s allowance (`per_minute` overrides the default)."""
        limit = self.per_minute if per_minute is None else per_minute
        if limit <= 0:
            return Verdict(True, 0, 0, 0)
        interval_ms = 60_000 / limit
        allowed, wait_ms, remaining = await self._script(
            keys=[f"{self._prefix}:{client}"],
            args=[int(time.time() * 1000), interval_ms, limit],
        )
        return Verdict(bool(allowed), float(wait_ms) / 1000, int(remaining), limit)
