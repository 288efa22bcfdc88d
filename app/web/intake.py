"""What clients send, in the API's field names, turned into a domain order request.

The JSON API, the dashboard form and the quote preview all go through `order_request`,
so a field means the same thing, with the same rules and messages, everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from litestar.exceptions import ValidationException

from app.domain.kinds import KINDS
from app.domain.problems import InvalidOrder
from app.domain.requests import OrderRequest, validate_order

COMMON_FIELDS = ("type", "tokenIn", "tokenOut", "amount", "slippageBps", "clientOrderId", "routing")


SNIPE_FIELD = "snipe"
"""The form's field for a sniper's token: free text, where other kinds pick `tokenOut`."""


def form_fields() -> tuple[str, ...]:
    """Every field the order form may carry: the common ones and each kind's."""
    extra = [f.name for kind in KINDS.kinds.values() for f in kind.fields]
    return (*COMMON_FIELDS, *dict.fromkeys(extra), SNIPE_FIELD)


def order_request(values: Mapping[str, object], *, default_type: str = "market") -> OrderRequest:
    """Validate a request given in the API's field names; raises `InvalidOrder`."""
    amount = values.get("amount", "")
    slippage = values.get("slippageBps")
    return validate_order(
        type=str(values.get("type") or default_type),
        token_in=str(values.get("tokenIn", "")),
        token_out=str(values.get("tokenOut", "")),
        amount=amount if isinstance(amount, str | int | Decimal) else str(amount),
        slippage_bps=slippage if isinstance(slippage, int | str) or slippage is None else "",
        terms={k: v for k, v in values.items() if k not in COMMON_FIELDS},
        client_order_id=values.get("clientOrderId"),
        routing=values.get("routing"),
    )


def form_request(values: Mapping[str, str]) -> OrderRequest:
    """The dashboard form's request: its type's fields only (the form holds every type's),
    blanks left out, whole numbers as numbers."""
    kind = KINDS.kinds.get(values.get("type", "market"))
    own = {f.name: f.kind for f in kind.fields} if kind else {}
    if kind is not None and kind.awaits_launch:
        values = {**values, "tokenOut": values.get(SNIPE_FIELD, "").strip()}
    chosen: dict[str, object] = {}
    for name, value in values.items():
        if value == "" or (name not in COMMON_FIELDS and name not in own):
            continue
        if own.get(name) is bool:
            chosen[name] = value in ("true", "on")
        else:
            chosen[name] = int(value) if own.get(name) is int and value.isdigit() else value
    return order_request(chosen)


def invalid(error: InvalidOrder, source: str) -> ValidationException:
    """A 400 listing every problem, each naming its field."""
    return ValidationException(
        detail=str(error),
        extra=[{"key": p.field, "message": p.message, "source": source} for p in error.problems],
    )
