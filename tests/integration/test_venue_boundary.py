"""The venue boundary: any implementation of the `Venue` protocol replaces a simulator.

A trivial in-memory venue, registered in place of Meteora, is quoted, chosen, filled and
shown by the API's catalog with no change to the pipeline or the web layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal

import pytest
from litestar.testing import TestClient

from app.domain.routing import Quote, QuoteResult
from app.domain.status import OrderStatus
from app.domain.tokens import Market, Pair, Side
from app.ids import uuid7
from app.runtime import Runtime, open_runtime
from app.settings import Settings
from app.venues.base import BuiltTx, Pricing, SwapIntent, TxReceipt, TxState, Venue
from app.venues.simulated import SimulatedVenue
from app.web.app import create_app
from tests.builders import order_body, order_request
from tests.support.access import signed


class FixedPriceVenue:
    """Pays 200 USDC per SOL, fee-free, lands at once; remembers one transaction per order."""

    name = "fixedswap"
    PRICE = Decimal(200)

    def __init__(self) -> None:
        self.ledger: dict[str, TxReceipt] = {}

    def pairs(self) -> frozenset[str]:
        return frozenset({"SOL/USDC"})

    async def pricing(self, pair: Pair) -> Pricing | None:
        return FixedPricing(self) if pair.symbol in self.pairs() else None

    async def quote(
        self, market: Market, amount_in: Decimal, *, order_id: str | None = None, attempt: int = 0
    ) -> QuoteResult:
        out = market.token_out.floor(amount_in * self.PRICE)
        return Quote(self.name, amount_in, out, Decimal(0), Decimal(0), Decimal(0))

    async def build(self, intent: SwapIntent) -> BuiltTx:
        return BuiltTx(self.name, intent, blockhash=f"hash-{intent.attempt}")

    async def submit(self, tx: BuiltTx) -> TxReceipt:
        intent = tx.intent
        held = self.ledger.get(intent.order_id)
        if held is not None and held.live:
            return held
        out = intent.market.token_out.floor(intent.amount_in * self.PRICE)
        receipt = TxReceipt(
            f"tx-{intent.order_id}", TxState.CONFIRMED, intent.attempt, out, self.PRICE
        )
        self.ledger[intent.order_id] = receipt
        return receipt

    async def status(self, tx_hash: str, *, wait: float = 0) -> TxReceipt | None:
        return next((r for r in self.ledger.values() if r.tx_hash == tx_hash), None)

    async def find(self, order_id: str) -> TxReceipt | None:
        return self.ledger.get(order_id)


class FixedPricing:
    def __init__(self, venue: FixedPriceVenue) -> None:
        self.venue = venue

    @property
    def dex(self) -> str:
        return self.venue.name

    def quote(self, market: Market, amount_in: Decimal) -> QuoteResult:
        out = market.token_out.floor(amount_in * self.venue.PRICE)
        return Quote(self.dex, amount_in, out, Decimal(0), Decimal(0), Decimal(0))

    def marginal(self, side: Side) -> Decimal:
        return self.venue.PRICE


FIXED = FixedPriceVenue()


def replace_meteora(simulated: dict[str, SimulatedVenue]) -> Mapping[str, Venue]:
    return {"raydium": simulated["raydium"], FIXED.name: FIXED}


@pytest.fixture
async def swapped(settings: Settings) -> AsyncIterator[Runtime]:
    opened = await open_runtime(settings, venues=replace_meteora)
    try:
        yield opened
    finally:
        await opened.close()


async def test_an_order_routes_to_the_replacement_when_it_pays_more(swapped: Runtime) -> None:
    recorded = await swapped.store.create(uuid7(), order_request(amount="2"), "test")
    order_id = recorded.order.id
    assert await swapped.executor.execute(order_id) is OrderStatus.CONFIRMED
    order = await swapped.store.get(order_id)
    assert order is not None
    assert order.dex == "fixedswap"
    assert order.amount_out == Decimal("400")
    events = await swapped.store.events(order_id)
    routing = next(e for e in events if e.status is OrderStatus.ROUTING)
    assert {q.dex for q in routing.quotes or []} == {"raydium", "fixedswap"}


def test_the_api_lists_the_configured_venues_not_the_simulators(settings: Settings) -> None:
    with signed(TestClient(create_app(settings, venues=replace_meteora))) as client:
        pairs = {p["symbol"]: p["venues"] for p in client.get("/api/tokens").json()["pairs"]}
        assert pairs["SOL/USDC"] == ["raydium", "fixedswap"]
        assert pairs["USDC/USDT"] == []
        board = client.get(
            "/api/quote", params={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"}
        ).json()
        assert {q["dex"] for q in board["quotes"]} == {"raydium", "fixedswap"}
        assert client.post("/api/orders/execute", json=order_body()).status_code == 201
        listing = client.get("/api/orders", params={"dex": "fixedswap"})
        assert listing.status_code == 200
        assert client.get("/api/orders", params={"dex": "meteora"}).status_code == 400
