"""Order kinds: what each type of order adds to the common fields, and the rules for it.

Each module in this package defines one kind as a module-level `KIND`; they are found
by name, so a new kind is a new module (see docs/architecture.md, "Adding an order type").
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from app.domain.order import Order
from app.domain.problems import Problem
from app.domain.tokens import Market


@dataclass(frozen=True, slots=True)
class TermField:
    """A field a kind adds to an order request, named as clients send it."""

    name: str
    kind: type[str] | type[int] | type[bool]
    description: str
    required: bool = True


class OrderKind(Protocol):
    name: str
    description: str
    position: int
    """Where the kind appears in lists and forms (market first)."""
    awaits_launch: bool
    """Its tokenOut is a token that does not trade yet (a sniper's target)."""
    fields: tuple[TermField, ...]

    def parse_terms(self, raw: Mapping[str, object], problems: list[Problem]) -> dict[str, str]:
        """The kind's terms from the request's extra fields, or problems naming each."""
        ...

    def first_bound(self, order: Order, best_out: Decimal) -> Decimal:
        """The least the order accepts, given the first routing's best quote."""
        ...

    def placed_bound(
        self, market: Market, amount: Decimal, terms: Mapping[str, str]
    ) -> Decimal | None:
        """The least the order accepts, when its terms fix it at placement (else None)."""
        ...


@dataclass(frozen=True, slots=True)
class Registry:
    kinds: dict[str, OrderKind] = field(default_factory=dict)

    def __getitem__(self, name: str) -> OrderKind:
        return self.kinds[name]

    def __contains__(self, name: object) -> bool:
        return name in self.kinds

    def names(self) -> list[str]:
        return list(self.kinds)


def _discover() -> Registry:
    found: dict[str, OrderKind] = {}
    for module in pkgutil.iter_modules(__path__):
        kind: OrderKind = importlib.import_module(f"{__name__}.{module.name}").KIND
        found[kind.name] = kind
    return Registry(dict(sorted(found.items(), key=lambda item: item[1].position)))


KINDS = _discover()
"""Every order kind, by name, in a stable order (`market` first)."""
