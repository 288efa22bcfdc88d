"""Launched pools over JSON and WebSocket, and the simulator's launch controls (admin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Controller, WebSocket, get, post, websocket
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.domain.access import Scope
from app.domain.launches import MAX_OPEN_IN, QUOTE_TOKENS, parse_launch
from app.domain.problems import Problem, shown
from app.events.pools import PoolView, encode_pool_event
from app.services.launches import LaunchTaken
from app.web.auth import requires
from app.web.context import Web
from app.web.errors import ERRORS_FOR_READS, ERRORS_FOR_WRITES, NOT_FOUND
from app.web.sockets import (
    WS_1013_TRY_AGAIN_LATER,
    close,
    closes,
    guarded,
    reader,
    send_text,
)
from app.web.strict import StrictRequest

_FACTOR = Annotated[
    str,
    msgspec.Meta(
        max_length=12,
        pattern=r"^[0-9]{1,4}(\.[0-9]{1,6})?$",
        description="Multiply the pool's depth by this (e.g. 2 doubles it, 0.5 halves it).",
    ),
]


class LaunchRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """A token to launch on a simulated venue."""

    symbol: Annotated[str, msgspec.Meta(max_length=10, description="2-10 capitals or digits.")]
    venue: Annotated[str, msgspec.Meta(max_length=16)] = "raydium"
    quote_token: Annotated[
        str, msgspec.Meta(max_length=8, description=f"One of {', '.join(QUOTE_TOKENS)}.")
    ] = "SOL"
    base_reserve: Annotated[
        str, msgspec.Meta(max_length=24, description="The new token in the pool at creation.")
    ]
    quote_reserve: Annotated[
        str, msgspec.Meta(max_length=24, description="The quote token in the pool at creation.")
    ]
    open_in: Annotated[
        int, msgspec.Meta(description=f"Seconds until trading opens, 0 to {MAX_OPEN_IN}.")
    ] = 5
    mint_renounced: bool = True
    freeze_renounced: bool = True
    top_holder_pct: Annotated[
        str, msgspec.Meta(max_length=8, description="The largest holder's share, in %.")
    ] = "10"


class LiquidityChange(msgspec.Struct, forbid_unknown_fields=True):
    factor: _FACTOR


class PoolsController(Controller):
    request_class = StrictRequest
    tags = ["launches"]

    @get("/api/pools", guards=[requires(Scope.READ)], responses=ERRORS_FOR_READS)
    async def pools(self, web: Web) -> list[PoolView]:
        """Launched tokens' pools, newest first, with their status (`created`, `open`)."""
        return await web.launches.pools()

    @post(
        "/api/sim/launches",
        guards=[requires(Scope.ADMIN)],
        status_code=HTTP_201_CREATED,
        responses=ERRORS_FOR_WRITES,
    )
    async def launch(self, data: JSONBody[LaunchRequest], web: Web) -> PoolView:
        """Launch a token (admin): its pool is created now and opens `openIn` seconds later."""
        raw = {
            "symbol": data.symbol,
            "venue": data.venue,
            "quoteToken": data.quote_token,
            "baseReserve": data.base_reserve,
            "quoteReserve": data.quote_reserve,
            "openIn": data.open_in,
            "mintRenounced": data.mint_renounced,
            "freezeRenounced": data.freeze_renounced,
            "topHolderPct": data.top_holder_pct,
        }
        await web.launches.learn()
        spec, problems = parse_launch(raw, web.launches.venues)
        if spec is None:
            raise _invalid(problems)
        try:
            return await web.launches.launch(spec)
        except LaunchTaken as taken:
            raise _invalid([Problem("symbol", str(taken))]) from None

    @post(
        "/api/sim/pools/{symbol:str}/liquidity",
        guards=[requires(Scope.ADMIN)],
        status_code=HTTP_200_OK,
        responses={**NOT_FOUND, **ERRORS_FOR_WRITES},
    )
    async def liquidity(
        self, symbol: FromPath[str], data: JSONBody[LiquidityChange], web: Web
    ) -> PoolView:
        """Add liquidity to a launched token's pool (`factor` > 1) or take some out (admin)."""
        launch = web.launches.find(symbol)
        if launch is None:
            await web.launches.learn()
            launch = web.launches.find(symbol)
        if launch is None:
            raise NotFoundException(f"no launched token {shown(symbol)}")
        factor = Decimal(data.factor)
        if not Decimal("0.01") <= factor <= 100:
            raise _invalid([Problem("factor", f"factor must be from 0.01 to 100 (got {factor})")])
        return await web.launches.change_liquidity(launch, factor)


def _invalid(problems: list[Problem]) -> ValidationException:
    return ValidationException(
        detail="; ".join(p.message for p in problems),
        extra=[{"key": p.field, "message": p.message, "source": "body"} for p in problems],
    )


@websocket("/api/pools/ws")
async def pool_events(socket: WebSocket[Any, Any, Any], web: Web) -> None:
    """Launches as they happen: `{event: created | open | liquidity, at, pool}`."""
    if await reader(socket, web) is None:
        return
    await socket.accept()
    async with guarded(socket):
        if not web.pools.connected:
            await close(socket, WS_1013_TRY_AGAIN_LATER, "live updates are reconnecting")
            return
        async with web.pools.subscribe() as watch, closes(socket, watch):
            while (event := await watch.get()) is not None:
                await send_text(socket, encode_pool_event(event).decode())
