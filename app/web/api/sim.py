"""The simulator's controls (admin): move a pair's price on purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.exceptions import ValidationException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from app.domain.access import Scope
from app.domain.moves import MAX_HOLD_SECONDS, MAX_MOVE_BPS
from app.domain.problems import shown
from app.domain.tokens import PAIRS_BY_SYMBOL
from app.web.auth import requires
from app.web.context import Web
from app.web.errors import ERRORS_FOR_WRITES
from app.web.strict import StrictRequest


class MoveRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    pair: Annotated[
        str, msgspec.Meta(max_length=16, description=f"One of {', '.join(PAIRS_BY_SYMBOL)}.")
    ]
    move_bps: Annotated[
        int,
        msgspec.Meta(
            ge=-MAX_MOVE_BPS,
            le=MAX_MOVE_BPS,
            description="How far to shift the pair's reference price, in bps (negative: down).",
        ),
    ]
    hold_seconds: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=MAX_HOLD_SECONDS,
            description="How long to hold it there before it drifts back (~30 s to relax).",
        ),
    ] = 60


class MoveMade(msgspec.Struct, rename="camel"):
    pair: str
    move_bps: int
    hold_seconds: int
    at: datetime


class SimController(Controller):
    request_class = StrictRequest
    path = "/api/sim"
    tags = ["simulator"]
    guards = [requires(Scope.ADMIN)]

    @post("/moves", status_code=HTTP_201_CREATED, responses=ERRORS_FOR_WRITES)
    async def move(self, data: JSONBody[MoveRequest], web: Web) -> MoveMade:
        """Shift a pair's price on every venue, hold it, then let it drift back (admin)."""
        pair = PAIRS_BY_SYMBOL.get(data.pair)
        if pair is None:
            message = f"pair {shown(data.pair)} is not one of {', '.join(PAIRS_BY_SYMBOL)}"
            raise ValidationException(
                detail=message, extra=[{"key": "pair", "message": message, "source": "body"}]
            )
        await web.sim.move(pair, data.move_bps, data.hold_seconds)
        return MoveMade(pair.symbol, data.move_bps, data.hold_seconds, datetime.now().astimezone())
