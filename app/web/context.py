"""What a web process's handlers work with: services, built once in the app's lifespan.

Handlers ask for it as `web: Web`. It holds services only — the web layer never reaches
the store, SQL or a venue directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.datastructures import State
from litestar.di import NamedDependency

from app.events.bus import EventHub
from app.events.pools import PoolHub
from app.services.access import Access
from app.services.catalog import VenueCatalog
from app.services.feed import FeedPump
from app.services.launches import Launches
from app.services.monitoring import Monitor
from app.services.placing import OrderDesk
from app.services.quoting import Quoter
from app.services.ratelimit import RateLimiter
from app.services.reads import OrderReads
from app.services.simulator import SimControls
from app.services.webhooks import Webhooks
from app.settings import Settings
from app.web.cache import SharedBy


@dataclass(slots=True)
class WebContext:
    settings: Settings
    orders: OrderReads
    desk: OrderDesk
    quoter: Quoter
    catalog: VenueCatalog
    monitor: Monitor
    hub: EventHub
    pools: PoolHub
    launches: Launches
    feed: FeedPump
    limiter: RateLimiter
    access: Access
    sim: SimControls
    webhooks: Webhooks
    csrf_secret: str
    """Signs CSRF tokens (and, through `access`, session cookies)."""
    charts: SharedBy = field(default_factory=SharedBy)
    """The dashboard charts, per owner: computed once, shared by that owner's sockets."""


def provide_web(state: State) -> WebContext:
    web: WebContext = state.web
    return web


Web = NamedDependency[WebContext]
"""How handlers ask for it: `web: Web`."""
