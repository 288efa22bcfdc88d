"""Order list filters, shared by the JSON list and the history page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time

from litestar.exceptions import ValidationException

from app.domain.filters import OrderFilter
from app.domain.problems import shown
from app.domain.status import OrderStatus
from app.domain.tokens import PAIRS_BY_SYMBOL, TOKENS
from app.ids import parse_uuid

MAX_PAGE = 200


def parse_filter(
    *,
    status: list[str] | None,
    pair: str | None = None,
    token_in: str | None,
    token_out: str | None,
    dex: str | None,
    created_from: str | None,
    created_to: str | None,
    cursor: str | None,
    limit: int,
    venues: Sequence[str],
    source: str = "query",
) -> OrderFilter:
    """Turn list filters into an `OrderFilter`, or a 400 naming every bad parameter (a `to`
    before `from` too: nothing could match)."""
    problems: list[dict[str, str]] = []

    def bad(key: str, message: str) -> None:
        problems.append({"key": key, "message": message, "source": source})

    statuses: list[OrderStatus] = []
    for raw in [part for value in status or [] for part in value.split(",") if part]:
        try:
            statuses.append(OrderStatus(raw))
        except ValueError:
            bad("status", f"status {shown(raw)} is not one of {', '.join(OrderStatus)}")
    chosen_pair = PAIRS_BY_SYMBOL.get(pair or "")
    if pair and chosen_pair is None:
        bad("pair", f"pair {shown(pair)} is not one of {', '.join(PAIRS_BY_SYMBOL)}")
    for key, token in (("tokenIn", token_in), ("tokenOut", token_out)):
        if token and token not in TOKENS:
            bad(key, f"{key} {shown(token)} is not a supported token ({', '.join(TOKENS)})")
    if dex and dex not in venues:
        bad("dex", f"dex {shown(dex)} is not one of {', '.join(venues)}")
    start = _moment(created_from, "from", bad, end_of_day=False)
    end = _moment(created_to, "to", bad, end_of_day=True)
    if start is not None and end is not None and start >= end:
        bad(
            "to",
            f"To ({created_to}) is before From ({created_from}): no order can match;"
            " choose a To on or after From",
        )
    if cursor and parse_uuid(cursor) is None:
        bad("cursor", "cursor is not one this API returned (expected an order id)")
    if problems:
        raise ValidationException(detail="invalid order filter", extra=problems)
    return OrderFilter(
        statuses=statuses,
        pair=chosen_pair,
        token_in=token_in or None,
        token_out=token_out or None,
        dex=dex or None,
        created_from=start,
        created_to=end,
        before=cursor or None,
        limit=limit,
    )


def _moment(
    raw: str | None, key: str, bad: Callable[[str, str], None], *, end_of_day: bool
) -> datetime | None:
    """An ISO date (a whole day, `to` inclusive) or an ISO datetime; naive means UTC."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.min)
            if end_of_day:
                moment = datetime.combine(date.fromordinal(day.toordinal() + 1), time.min)
        else:
            moment = datetime.fromisoformat(raw)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        bad(key, f"{key} {shown(raw)} is not an ISO date (2026-11-21) or datetime")
        return None
    return moment


def problems_of(error: ValidationException) -> list[str]:
    """The messages of a 400 built by `parse_filter` or `invalid`, for showing in a page."""
    extra = error.extra if isinstance(error.extra, list) else []
    return [
        str(item.get("message", item)) if isinstance(item, dict) else str(item) for item in extra
    ]


def problem_fields(error: ValidationException) -> dict[str, str]:
    """The same messages by the parameter each is about (the first one per parameter)."""
    extra = error.extra if isinstance(error.extra, list) else []
    fields: dict[str, str] = {}
    for item in extra:
        if isinstance(item, dict) and "key" in item:
            fields.setdefault(str(item["key"]), str(item.get("message", "")))
    return fields
