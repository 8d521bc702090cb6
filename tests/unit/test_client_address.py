"""The client address behind trusted proxies: the right-most untrusted X-Forwarded-For hop, read only
when the socket peer is a trusted proxy; and the api's per-IP limit counts requests under it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from producer_api.bootstrap import SERVER_OPTIONS
from producer_api.ratelimit import Bucket, ClientIpLimit, RateLimiter, Verdict
from scoreboard.adapters.web.client_address import (
    NO_PROXIES,
    TrustedProxies,
    client_address,
    client_address_of,
    parse_hop,
)
from scoreboard.domain.errors import ConfigurationError

INGRESS = TrustedProxies.parse(["10.0.0.0/8", "fd00::/8"])


def test_without_trusted_proxies_the_socket_peer_is_the_client_whatever_the_header_says() -> None:
    """The default trusts no one: X-Forwarded-For is ignored entirely."""
    assert client_address("203.0.113.7", ["198.51.100.1"], NO_PROXIES) == "203.0.113.7"
    assert client_address("10.0.0.5", ["198.51.100.1"], NO_PROXIES) == "10.0.0.5"


def test_a_peer_outside_the_trusted_networks_cannot_name_another_client() -> None:
    """A client connecting directly (past the ingress) and sending X-Forwarded-For is still itself."""
    assert client_address("203.0.113.7", ["198.51.100.1"], INGRESS) == "203.0.113.7"


def test_spoofed_leftmost_entries_are_ignored() -> None:
    """The client sent ``1.1.1.1, 2.2.2.2``; the ingress appended the real peer: that one counts."""
    assert client_address("10.0.0.5", ["1.1.1.1, 2.2.2.2, 203.0.113.7"], INGRESS) == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_hop() -> None:
    """CDN edge -> ingress -> sidecar: every 10/8 hop is skipped, from the right; also across two headers."""
    assert client_address("10.0.0.9", ["6.6.6.6, 203.0.113.7, 10.1.1.1, 10.2.2.2"], INGRESS) == "203.0.113.7"
    assert client_address("10.0.0.9", ["6.6.6.6, 203.0.113.7", "10.1.1.1"], INGRESS) == "203.0.113.7"


def test_a_client_spoofing_a_trusted_address_on_the_left_still_gets_its_own() -> None:
    """Claiming to be ``10.9.9.9`` does not help: the hop the ingress appended is to its right."""
    assert client_address("10.0.0.5", ["10.9.9.9, 203.0.113.7"], INGRESS) == "203.0.113.7"


def test_when_every_hop_is_trusted_the_leftmost_is_the_client() -> None:
    """A request from inside our own network (a probe behind the ingress)."""
    assert client_address("10.0.0.5", ["10.3.3.3, 10.4.4.4"], INGRESS) == "10.3.3.3"
    assert client_address("10.0.0.5", [], INGRESS) == "10.0.0.5"


def test_ipv6_hops_and_peers_are_understood_in_any_common_spelling() -> None:
    """Bracketed with a port, bare, uppercase; the answer is canonical; an IPv4-mapped peer is IPv4."""
    assert client_address("fd00::1", ["2001:DB8::7"], INGRESS) == "2001:db8::7"
    assert client_address("fd00::1", ["[2001:db8::7]:443, fd00::2"], INGRESS) == "2001:db8::7"
    assert client_address("::ffff:10.0.0.5", ["203.0.113.7:51000"], INGRESS) == "203.0.113.7"
    assert client_address("10.0.0.5", ["2001:db8::7, fd12::1"], INGRESS) == "2001:db8::7"


@pytest.mark.parametrize("junk", ["unknown", "", "evil.example", "1.2.3.4.5", "300.1.1.1", "1.2.3.4:http",
                                  "[2001:db8::1", "[2001:db8::1]443", "1.2.3.4:99999", "²", "١.١.١.١", "x" * 200,
                                  "1.1.1.1;drop"])
def test_a_malformed_hop_stops_the_walk_at_the_last_trusted_hop(junk: str) -> None:
    """No trusted proxy writes such a hop, so it and what is left of it are the client's: the limit
    falls on the nearest trusted hop instead (stricter), never on text the client could vary."""
    assert parse_hop(junk) is None
    assert client_address("10.0.0.5", [f"198.51.100.1, {junk}"], INGRESS) == "10.0.0.5"
    assert client_address("10.0.0.5", [f"198.51.100.1, {junk}, 10.7.7.7"], INGRESS) == "10.7.7.7"


def test_a_bad_trusted_proxies_setting_refuses_to_start_naming_the_entry() -> None:
    with pytest.raises(ConfigurationError, match="'10.0.0.0/33'"):
        TrustedProxies.parse(["10.0.0.0/8", "10.0.0.0/33"])


def test_the_asgi_scope_reads_every_x_forwarded_for_header_in_order() -> None:
    """A header sent twice is one list (RFC 9110), first line first."""
    scope = {"type": "http", "client": ("10.0.0.5", 40000),
             "headers": [(b"x-forwarded-for", b"1.1.1.1"), (b"host", b"api"), (b"x-forwarded-for", b"203.0.113.7")]}
    assert client_address_of(scope, INGRESS) == "203.0.113.7"
    assert client_address_of(scope, NO_PROXIES) == "10.0.0.5"
    assert client_address_of({"type": "http", "headers": []}, INGRESS) == "unknown"


class RecordingLimiter(RateLimiter):
    """Allows everything and records whom each take was for."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def take(self, bucket: Bucket, subject: str, cost: int = 1) -> Verdict:
        self.subjects.append(subject)
        return Verdict(True, bucket.burst, bucket.burst, 0, 0)


def test_the_api_per_ip_limit_counts_the_forwarded_client_behind_a_trusted_ingress() -> None:
    """Through the ingress: the client's address; straight from outside with a forged header: the peer."""
    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True})

    limiter = RecordingLimiter()
    app = Starlette(routes=[Route("/v1/x", ok)], middleware=[
        Middleware(ClientIpLimit, limiter=limiter, bucket=Bucket("ip", 1, 1), trusted=INGRESS)])

    async def get_from(peer: str) -> None:
        transport = httpx.ASGITransport(app=app, client=(peer, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            response = await http.get("/v1/x", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
            assert response.status_code == 200

    asyncio.run(get_from("10.0.0.5"))
    asyncio.run(get_from("198.51.100.9"))
    assert limiter.subjects == ["203.0.113.7", "198.51.100.9"]


def test_uvicorn_does_not_pick_the_api_client_from_forwarded_headers_itself() -> None:
    """uvicorn trusts X-Forwarded-For from loopback by default: off, so the setting above is the only trust."""
    assert SERVER_OPTIONS["proxy_headers"] is False
