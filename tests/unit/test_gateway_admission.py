"""Per-client-address admission in the gateway: a cap on open subscriptions and a connect rate, on
WebSocket (close 1013) and SSE (429 problem+json), counted under the address behind trusted proxies;
Origin-less clients are admitted and counted like everyone else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Literal

import pytest
from starlette.requests import HTTPConnection
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.bootstrap import create_app
from gateway.connect_rate import ConnectRate
from gateway.hub import BoardState
from gateway.push import admit
from gateway.services import GatewayServices
from scoreboard.settings import Settings
from tests.support.gateway_fakes import FakeClock, gateway_services

ORIGIN = "https://scores.example"
SETTINGS = Settings(allowed_origins=(ORIGIN,), heartbeat_seconds=5, gateway_catch_up_wait_seconds=0.2,
                    trusted_proxies=("10.0.0.0/8",), gateway_max_connections_per_ip=2,
                    gateway_connects_per_ip_per_second=1, gateway_connects_per_ip_burst=100)
PROXY = ("10.0.0.1", 40000)
"""Every test request comes through this ingress; X-Forwarded-For names the client."""


def serving(settings: Settings) -> tuple[GatewayServices, TestClient]:
    services = gateway_services(settings)
    services.hub.publish(BoardState("global", 7, ((1, "alice", 70),)))
    services.feed.caught_up.set()
    return services, TestClient(create_app(services), client=PROXY)


@pytest.fixture
def gateway() -> Iterator[tuple[GatewayServices, TestClient]]:
    services, client = serving(SETTINGS)
    with client:
        yield services, client


def from_(address: str, **extra: str) -> dict[str, str]:
    return {"x-forwarded-for": f"198.51.100.200, {address}"} | extra


def refused(client: TestClient, headers: dict[str, str]) -> tuple[int, str]:
    with client.websocket_connect("/v1/leaderboards/global/ws", headers=headers) as ws, \
            pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    return closed.value.code, closed.value.reason


def test_one_address_holds_at_most_its_cap_while_others_still_get_in(
        gateway: tuple[GatewayServices, TestClient]) -> None:
    """Cap 2: the third WebSocket of 203.0.113.7 closes with 1013 and its SSE is a 429 problem with
    Retry-After; another address connects; once one closes, the first address may connect again."""
    services, client = gateway
    with ExitStack() as open_sockets:
        first = open_sockets.enter_context(client.websocket_connect("/v1/leaderboards/global/ws",
                                                                    headers=from_("203.0.113.7")))
        open_sockets.enter_context(client.websocket_connect("/v1/leaderboards/global/ws",
                                                            headers=from_("203.0.113.7", origin=ORIGIN)))
        assert json.loads(first.receive_text())["type"] == "snapshot"
        code, reason = refused(client, from_("203.0.113.7"))
        assert (code, "holds 2 subscriptions" in reason) == (1013, True)
        response = client.get("/v1/leaderboards/global/events", headers=from_("203.0.113.7"))
        assert (response.status_code, response.headers["content-type"]) == (429, "application/problem+json")
        assert response.headers["retry-after"] == "5"
        assert response.json()["type"].endswith("/too-many-client-connections")
        with client.websocket_connect("/v1/leaderboards/global/ws", headers=from_("192.0.2.44")) as other:
            assert json.loads(other.receive_text())["type"] == "snapshot"
        assert services.hub.connection_count("203.0.113.7") == 2
    with client.websocket_connect("/v1/leaderboards/global/ws", headers=from_("203.0.113.7")) as again:
        assert json.loads(again.receive_text())["type"] == "snapshot"


def test_clients_without_origin_are_admitted_and_counted_under_their_address(
        gateway: tuple[GatewayServices, TestClient]) -> None:
    """Non-browser clients send no Origin: they connect, and their subscriptions fill the same per-address
    cap, so a browser on that address is refused once they hold it."""
    services, client = gateway
    with client.websocket_connect("/v1/leaderboards/global/ws", headers=from_("203.0.113.9")) as ws, \
            client.stream("GET", "/v1/leaderboards/global/events", headers=from_("203.0.113.9")) as sse:
        assert json.loads(ws.receive_text())["type"] == "snapshot"
        assert sse.status_code == 200
        assert services.hub.connection_count("203.0.113.9") == 2
        assert refused(client, from_("203.0.113.9", origin=ORIGIN))[0] == 1013


def test_a_forwarded_for_header_from_an_untrusted_peer_does_not_escape_the_cap() -> None:
    """Without trusted proxies, every X-Forwarded-For a client invents is ignored: one peer, one cap."""
    services, client = serving(Settings(gateway_max_connections_per_ip=1, heartbeat_seconds=5))
    with client, client.websocket_connect("/v1/leaderboards/global/ws", headers=from_("203.0.113.1")) as ws:
        ws.receive_text()
        assert refused(client, from_("203.0.113.2"))[0] == 1013
        assert services.hub.connection_count(PROXY[0]) == 1


def test_connects_beyond_an_address_rate_are_refused_until_its_bucket_refills() -> None:
    """1 connect/s with a burst of 3: the fourth within the same second is 1013 / a 429 with Retry-After;
    another address is not affected; a second later the address connects again."""
    clock = FakeClock(1_795_000_000_000_000)
    services, client = serving(SETTINGS.model_copy(update={"gateway_connects_per_ip_burst": 3}))
    services.clock = clock
    with client:
        for _ in range(3):
            with client.websocket_connect("/v1/leaderboards/global/ws", headers=from_("203.0.113.5")) as ws:
                ws.receive_text()
        code, reason = refused(client, from_("203.0.113.5"))
        assert (code, reason) == (1013, "too many connects from this address; retry in 1s")
        response = client.get("/v1/leaderboards/global/events", headers=from_("203.0.113.5"))
        assert (response.status_code, response.headers["retry-after"]) == (429, "1")
        assert response.json()["type"].endswith("/rate-limited")
        with client.websocket_connect("/v1/leaderboards/global/ws", headers=from_("192.0.2.8")) as other:
            other.receive_text()
        clock.now += 1_000_000
        with client.websocket_connect("/v1/leaderboards/global/ws", headers=from_("203.0.113.5")) as again:
            assert json.loads(again.receive_text())["type"] == "snapshot"


class ObservedEvent(asyncio.Event):
    """An event that tells when somebody started waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = asyncio.Event()

    async def wait(self) -> Literal[True]:
        self.waited.set()
        return await super().wait()


def test_the_caps_are_checked_again_after_waiting_for_the_feed_to_catch_up() -> None:
    """A connection that waited for the board history is refused if its address filled the cap meanwhile."""
    async def scenario() -> str | None:
        services = gateway_services(Settings(gateway_max_connections_per_ip=1, gateway_catch_up_wait_seconds=5))
        connection = HTTPConnection({"type": "http", "path": "/v1/leaderboards/global/events", "headers": [],
                                     "path_params": {"board": "global"}, "app": create_app(services)})
        services.feed.caught_up = caught_up = ObservedEvent()
        waiting = asyncio.create_task(admit(connection, "203.0.113.3"))
        await caught_up.waited.wait()  # the connection passed the first check and waits for the feed
        services.hub.subscribe("global", "203.0.113.3")  # the address's other connection got in
        services.feed.caught_up.set()
        refusal = await waiting
        return refusal.slug if refusal else None

    assert asyncio.run(scenario()) == "too-many-client-connections"


def test_the_connect_rate_forgets_addresses_whose_bucket_refilled() -> None:
    """Many addresses seen once do not accumulate: full buckets are dropped as new ones come."""
    rate, now = ConnectRate(per_second=10, burst=2), 0
    for n in range(5000):
        assert rate.take(f"198.18.{n // 256}.{n % 256}", now) == 0
        now += 10_000  # 10 ms apart: each bucket is full again 100 ms after its connect
    assert rate.tracked() < 2048
    assert ConnectRate(per_second=0, burst=0).take("anyone", 0) == 0  # 0 switches the rate off
