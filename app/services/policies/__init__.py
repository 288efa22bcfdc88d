"""What each kind of order does once it is placed: market orders route at once; others
(limit, sniper) will wait for their moment first.

Each module here defines one policy as a module-level `POLICY`, found by name like the
kinds in app/domain/kinds.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.services.execution import Run


class ExecutionPolicy(Protocol):
    kind: str
    """The order kind (app/domain/kinds) this policy executes."""

    async def start(self, run: Run) -> None:
        """Take a `pending` order its first step."""
        ...

    async def price_gone(self, run: Run, reason: str) -> None:
        """No venue meets the order's bound (at routing, or at the fill): fail, or wait again."""
        ...


def _discover() -> dict[str, ExecutionPolicy]:
    found: dict[str, ExecutionPolicy] = {}
    for module in pkgutil.iter_modules(__path__):
        policy: ExecutionPolicy = importlib.import_module(f"{__name__}.{module.name}").POLICY
        found[policy.kind] = policy
    return found


POLICIES = _discover()
