"""Order ids: UUIDv7, so ids sort by creation time and pages walk the primary key."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, counter) of the previous id from this process


def uuid7() -> uuid.UUID:
    """A version-7 UUID (RFC 9562): Unix milliseconds, a 12-bit counter, 62 random bits.

    The counter keeps ids from one process strictly increasing within a millisecond
    (RFC 9562 §6.2, method 1), so "newest first" holds even for bursts.
    """
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, counter = _last
        if millis <= last_millis:
            millis, counter = last_millis, counter + 1
            if counter > 0xFFF:
                millis, counter = millis + 1, 0
        else:
            counter = 0
        _last = (millis, counter)
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= int.from_bytes(os.urandom(8), "big") & (2**62 - 1)
    return uuid.UUID(int=value)


def parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
