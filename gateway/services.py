"""The gateway's parts as the endpoints find them (``app.state.services``); built by
``gateway.bootstrap.build_services``, by tests with fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.connect_rate import ConnectRate
from gateway.feed import Feed
from gateway.hub import Hub
from scoreboard.adapters.web.client_address import TrustedProxies
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
    connect_rate: ConnectRate = field(init=False)
    """Per client address, from SCOREBOARD_GATEWAY_CONNECTS_PER_IP_PER_SECOND / _BURST."""
    trusted_proxies: TrustedProxies = field(init=False)
    """SCOREBOARD_TRUSTED_PROXIES: whose X-Forwarded-For names the client address."""

    def __post_init__(self) -> None:
        self.connect_rate = ConnectRate(self.settings.gateway_connects_per_ip_per_second,
                                        self.settings.gateway_connects_per_ip_burst)
        self.trusted_proxies = TrustedProxies.parse(self.settings.trusted_proxies)
