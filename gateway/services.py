"""The gateway's parts as the endpoints find them (``app.state.services``); built by
``gateway.bootstrap.build_services``, by tests with fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.feed import Feed
from gateway.hub import Hub
from scoreboard.domain.clock import Clock
from scoreboard.settings import Settings


@dataclass
class GatewayServices:
    settings: Settings
    hub: Hub
    feed: Feed
    clock: Clock
    observe_push: Callable[[float], None] | None = None
    """Records the seconds from a board change (the worker's clock) to a frame sent."""
    going_away: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on SIGTERM: every socket closes with 1001 and every event stream ends, before uvicorn's
    own shutdown would close them with 1012."""
