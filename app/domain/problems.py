"""How a request breaks the rules: each problem named by the field as the client sent it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


class InvalidOrder(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)


def shown(raw: object, limit: int = 40) -> str:
    """A client's value, quoted and cut short, for a message."""
    text = repr(raw)
    return text if len(text) <= limit else text[:limit] + "…"
