"""The composition root: builds every shared resource of a process from `Settings`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from app.clients import connections_for, redis_client
from app.db.database import Database
from app.db.keys import KeyStore
from app.db.orders import OrderStore
from app.db.webhooks import WebhookStore
from app.domain.retry import RETRY
from app.events.bus import EventPublisher
from app.metrics import METRICS
from app.periodic import Periodic
from app.services.access import Access
from app.services.catalog import VenueCatalog
from app.services.execution import Executor
from app.services.launches import Launches
from app.services.limits import LimitIndex
from app.services.monitoring import Monitor
from app.services.placing import OrderDesk
from app.services.queueing import ExecutionQueue, JobPolicy, make_queue
from app.services.quoting import Quoter
from app.services.reads import OrderReads
from app.services.reconciler import Reconciler
from app.services.simulator import SimControls
from app.services.snipers import Snipers
from app.services.trigger import Trigger
from app.services.webhooks import Courier, Webhooks
from app.settings import Settings
from app.venues.base import Venue
from app.venues.clock import Clock
from app.venues.router import SimulatedRouter
from app.venues.simulated import SimulatedVenue, build_venues
from app.venues.simulator import Simulator

VenueOverrides = Callable[[dict[str, SimulatedVenue]], Mapping[str, Venue]]
"""Given the simulated venues, the venues to trade on (e.g. one replaced by a real adapter)."""


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    redis: Redis
    simulator: Simulator
    simulated: dict[str, SimulatedVenue]
    router: SimulatedRouter
    """Sends split routes over the simulated venues as one transaction."""
    launches: Launches
    snipers: Snipers
    """The simulator's venues, for its own controls (faults, ledger, price moves)."""
    venues: Mapping[str, Venue]
    """The venues orders trade on, by name."""
    store: OrderStore
    queue: ExecutionQueue
    publisher: EventPublisher
    quoter: Quoter
    executor: Executor
    reconciler: Reconciler
    desk: OrderDesk
    reads: OrderReads
    access: Access
    webhooks: Webhooks
    courier: Courier
    catalog: VenueCatalog
    limits: LimitIndex
    trigger: Trigger
    sim: SimControls
    monitor: Monitor
    metrics_flusher: Periodic

    @property
    def metrics_key(self) -> str:
        return metrics_key(self.settings)

    async def close(self) -> None:
        self.launches.close()
        await self.metrics_flusher.stop()
        await self.courier.close()
        await self.queue.close()
        await self.redis.aclose()
        await self.db.stop()


def metrics_key(settings: Settings) -> str:
    """The Redis hash every process of this deployment adds its counters to."""
    return f"{settings.queue_name}:metrics"


WEB_CONCURRENCY = 64
"""Requests a web process serves at once that may each need Redis or PostgreSQL."""


async def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    concurrency: int = WEB_CONCURRENCY,
    venues: VenueOverrides | None = None,
    session_secret: str = "",
    patient: bool = False,
) -> Runtime:
    """Connect to PostgreSQL and Redis and wire the services; `close()` undoes it.

    Pools are sized from `concurrency`, the orders or requests this process serves at
    once; beyond that, callers wait for a connection (bounded by a timeout). `patient`: a
    worker's jobs, which nobody waits on, wait longer for a PostgreSQL connection than a
    request does (most of a job heartbeat): a busy pool delays them rather than fails them.
    """
    db = Database(
        settings.database_url,
        max_size=min(concurrency + 2, settings.db_pool_size),
        timeout=settings.db_timeout_seconds,
        acquire_timeout=(
            max(settings.db_timeout_seconds, 0.8 * settings.job_heartbeat_seconds)
            if patient
            else None
        ),
    )
    await db.start()
    redis = redis_client(
        settings.redis_url, connections=connections_for(concurrency), decode_responses=True
    )
    simulator = Simulator(
        redis,
        seed=settings.mock_seed,
        failure_rate=settings.mock_failure_rate,
        latency_scale=settings.mock_latency_scale,
        clock=clock,
    )
    await simulator.open()
    simulated = build_venues(simulator)
    trading: Mapping[str, Venue] = venues(simulated) if venues else simulated
    store = OrderStore(db)
    policy = JobPolicy.for_latency(settings.mock_latency_scale, settings.job_heartbeat_seconds)
    queue = make_queue(settings.redis_url, settings.queue_name, policy, concurrency)
    publisher = EventPublisher(redis, f"{settings.queue_name}:events")
    router = SimulatedRouter(simulator, simulated)
    quoter = Quoter(
        trading, timeout=RETRY.quote_timeout(settings.mock_latency_scale), can_split=True
    )
    limits = LimitIndex(redis, settings.queue_name)
    launches = Launches(simulator, simulated, redis, every=settings.mock_launch_every)
    executor = Executor(
        store,
        trading,
        quoter,
        publisher,
        limits,
        router=router,
        learn=launches.learn,
        settle_wait=settings.job_heartbeat_seconds / 3,
    )
    reads = OrderReads(store)
    trigger = Trigger(
        store=store,
        publisher=publisher,
        queue=queue,
        index=limits,
        venues=trading,
        redis=redis,
        namespace=settings.queue_name,
    )
    return Runtime(
        settings=settings,
        db=db,
        redis=redis,
        simulator=simulator,
        simulated=simulated,
        router=router,
        launches=launches,
        venues=trading,
        store=store,
        queue=queue,
        publisher=publisher,
        quoter=quoter,
        executor=executor,
        reconciler=Reconciler(store, queue),
        desk=OrderDesk(
            store,
            queue,
            publisher,
            limits,
            trading=launches.trading,
            idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        ),
        reads=reads,
        access=Access(KeyStore(db), session_secret or settings.secret_key),
        webhooks=Webhooks(WebhookStore(db)),
        courier=Courier(WebhookStore(db)),
        catalog=VenueCatalog(trading),
        limits=limits,
        sim=SimControls(simulator),
        trigger=trigger,
        snipers=Snipers(
            store=store,
            publisher=publisher,
            queue=queue,
            launches=launches,
            venues=trading,
            leading=lambda: trigger.leading,
        ),
        monitor=Monitor(
            db,
            redis,
            queue,
            reads,
            metrics_key=metrics_key(settings),
            watchers_prefix=f"{settings.queue_name}:ws:",
        ),
        metrics_flusher=Periodic(
            "metrics flush",
            lambda: METRICS.flush(redis, metrics_key(settings)),
            interval=1.0,
            final=True,
        ),
    )
