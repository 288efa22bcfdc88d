"""What can be traded where, as the configured venues say (not the simulator's catalog)."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.tokens import PAIRS, Pair
from app.venues.base import Venue


class VenueCatalog:
    def __init__(self, venues: Mapping[str, Venue]) -> None:
        self._venues = venues

    @property
    def venue_names(self) -> list[str]:
        return list(self._venues)

    def venues_for(self, pair: Pair) -> list[str]:
        """The venues with a pool for `pair`, in configuration order."""
        return [name for name, venue in self._venues.items() if pair.symbol in venue.pairs()]

    def pairs(self) -> list[tuple[Pair, list[str]]]:
        return [(pair, self.venues_for(pair)) for pair in PAIRS]
