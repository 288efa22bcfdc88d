"""Seeded price drift: a bounded random walk around each pair's reference price.

The walk is value noise summed over octaves whose amplitudes grow with the square
root of their period, as a Brownian path's do, so short moves are small and long
moves larger but bounded. It is a pure function of (seed, stream, time): every
process computes the same price for the same moment, with no shared state.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from hashlib import blake2b

_TWO = Decimal(2)
_THREE = Decimal(3)
_HALF_RANGE = Decimal(2**63)


class Drift:
    """Log-price deviation over time for one stream (a pair, or a venue's view of it)."""

    def __init__(
        self,
        seed: int,
        stream: str,
        amplitude: Decimal,
        base_period: Decimal = Decimal(2),
        octaves: int = 7,
    ) -> None:
        self._key = seed.to_bytes(16, "big", signed=True)
        self._stream = stream.encode()
        longest = base_period * 4 ** (octaves - 1)
        self._octaves = tuple(
            (base_period * 4**o, amplitude * (base_period * 4**o / longest).sqrt())
            for o in range(octaves)
        )

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - a few Drift objects live for the process
    def at(self, t: Decimal) -> Decimal:
        """Deviation (a natural log) at `t` seconds since the market opened."""
        total = Decimal(0)
        for octave, (period, amplitude) in enumerate(self._octaves):
            k, frac = divmod(t / period, 1)
            a = self._noise(octave, int(k))
            b = self._noise(octave, int(k) + 1)
            smooth = frac * frac * (_THREE - _TWO * frac)
            total += amplitude * (a + (b - a) * smooth)
        return total

    def _noise(self, octave: int, k: int) -> Decimal:
        """Uniform in [-1, 1), fixed by (seed, stream, octave, k)."""
        digest = blake2b(b"%s|%d|%d" % (self._stream, octave, k), key=self._key, digest_size=8)
        return Decimal(int.from_bytes(digest.digest(), "big")) / _HALF_RANGE - 1
