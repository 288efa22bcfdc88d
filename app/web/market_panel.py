"""The dashboard's "move the market" control (admins): the simulator's price move, as a form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Response, post
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from app.domain.access import Scope
from app.domain.moves import MAX_HOLD_SECONDS, MAX_MOVE_BPS
from app.domain.problems import shown
from app.domain.tokens import PAIRS_BY_SYMBOL
from app.web.auth import requires
from app.web.context import Web

PANEL = "partials/market_panel.html"


class MarketPanelController(Controller):
    include_in_schema = False
    guards = [requires(Scope.ADMIN)]

    @post("/sim/moves")
    async def move(self, request: HTMXRequest, web: Web) -> Response[Any]:
        form = await request.form()
        raw = {name: str(form.get(name, "")).strip() for name in ("pair", "moveBps", "holdSeconds")}
        errors: dict[str, str] = {}
        pair = PAIRS_BY_SYMBOL.get(raw["pair"])
        if pair is None:
            errors["pair"] = f"pair {shown(raw['pair'])} is not one of {', '.join(PAIRS_BY_SYMBOL)}"
        move_bps = _whole(raw["moveBps"], -MAX_MOVE_BPS, MAX_MOVE_BPS)
        if move_bps is None or move_bps == 0:
            errors["moveBps"] = (
                f"a whole number of bps from -{MAX_MOVE_BPS} to {MAX_MOVE_BPS}, not 0"
            )
        hold = _whole(raw["holdSeconds"], 0, MAX_HOLD_SECONDS)
        if hold is None:
            errors["holdSeconds"] = f"whole seconds from 0 to {MAX_HOLD_SECONDS}"
        context: dict[str, Any] = {"pairs": list(PAIRS_BY_SYMBOL), "sim": raw, "sim_errors": errors}
        if errors or pair is None or move_bps is None or hold is None:
            return Template(PANEL, context=context, status_code=422)
        await web.sim.move(pair, move_bps, hold)
        if not request.htmx:
            return Redirect("/", status_code=303)
        at = datetime.now(UTC).strftime("%H:%M:%S")
        sign = "+" if move_bps > 0 else ""
        context["made"] = (
            f"{pair.symbol} moved {sign}{move_bps} bps at {at} UTC on every venue; held {hold} s,"
            " then it drifts back."
        )
        return Template(PANEL, context=context)


def _whole(text: str, low: int, high: int) -> int | None:
    body = text[1:] if text.startswith("-") else text
    if not body.isascii() or not body.isdigit() or len(body) > 6:
        return None
    value = int(text)
    return value if low <= value <= high else None
