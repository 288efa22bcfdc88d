"""What a web process holds for its handlers, built once in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.datastructures import State
from litestar.di import NamedDependency

from app.events.bus import EventHub
from app.runtime import Runtime
from app.services.feed import FeedPump
from app.web.cache import Shared
from app.web.ratelimit import RateLimiter


@dataclass(slots=True)
class WebServices:
    runtime: Runtime
    hub: EventHub
    feed: FeedPump
    limiter: RateLimiter
    charts: Shared = field(default_factory=Shared)
    """The dashboard charts: two queries, shared by every dashboard socket."""


def provide_services(state: State) -> WebServices:
    services: WebServices = state.services
    return services


Services = NamedDependency[WebServices]
"""How handlers ask for the services: `services: Services`."""
