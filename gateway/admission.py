"""Who may subscribe: a known board, an allowed Origin, room under the connection caps (the gateway's
and the client address's), and a client address that does not connect too often.

A client without an ``Origin`` header is admitted: browsers always send one on WebSocket (and on
cross-site fetches), so its absence means a non-browser client, which the Origin check cannot
protect anyway. Such clients are held by the same per-address caps as everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.connect_rate import ConnectRate
from gateway.hub import Hub
from scoreboard.domain import boards
from scoreboard.domain.clock import Clock
from scoreboard.settings import Settings

CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013


@dataclass(frozen=True)
class Refusal:
    """The same refusal, as a WebSocket close code or an HTTP problem."""

    close_code: int
    status: int
    slug: str
    detail: str
    retry_after_s: int | None = None


def origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    """An Origin must be in SCOREBOARD_ALLOWED_ORIGINS; without that setting, only the same host."""
    if origin is None:
        return True  # not a browser; a browser always sends Origin on WebSocket and cross-site fetches
    if allowed:
        return "*" in allowed or origin.rstrip("/") in allowed
    return urlsplit(origin).netloc == host


def check(name: str, origin: str | None, host: str, settings: Settings, hub: Hub, clock: Clock,
          client: str = "") -> Refusal | None:
    """The refusal for a subscription of ``client`` (its address) to board ``name``, or None."""
    try:
        boards.resolve(name, clock.now_us())
    except boards.UnknownBoard:
        return Refusal(CLOSE_POLICY, 404, "unknown-board",
                       f"no board {name!r}; use global, daily, weekly, daily:YYYY-MM-DD or weekly:YYYY-Www")
    if not origin_allowed(origin, host, settings.allowed_origins):
        return Refusal(CLOSE_POLICY, 403, "origin-not-allowed", "this Origin may not subscribe")
    if hub.connection_count() >= settings.gateway_max_connections:
        return Refusal(CLOSE_TRY_AGAIN, 503, "too-many-connections",
                       "the gateway is at capacity; try again later", retry_after_s=5)
    per_client = settings.gateway_max_connections_per_ip
    if per_client > 0 and hub.connection_count(client) >= per_client:
        return Refusal(CLOSE_TRY_AGAIN, 429, "too-many-client-connections",
                       f"this address holds {per_client} subscriptions already; close one first",
                       retry_after_s=5)
    return None


def take_connect(rate: ConnectRate, client: str, clock: Clock) -> Refusal | None:
    """Count a connect of ``client`` against its rate (``SCOREBOARD_GATEWAY_CONNECTS_PER_IP_*``)."""
    wait_s = rate.take(client, clock.now_us())
    if wait_s:
        return Refusal(CLOSE_TRY_AGAIN, 429, "rate-limited",
                       f"too many connects from this address; retry in {wait_s}s", retry_after_s=wait_s)
    return None


CATCHING_UP = Refusal(CLOSE_TRY_AGAIN, 503, "catching-up",
                      "the gateway is still reading the board history; try again shortly", retry_after_s=2)
