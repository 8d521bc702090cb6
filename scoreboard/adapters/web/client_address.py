"""The client's address behind trusted proxies, for per-client limits in the api and the gateway.

``X-Forwarded-For`` is a list each proxy appends its socket peer to, so only its right end is
written by proxies we run; anything further left may be whatever the client sent. The client is
therefore the right-most hop that is not one of our proxies (``SCOREBOARD_TRUSTED_PROXIES``), and the
header is read at all only when the socket peer itself is one of them. A hop that is not an IP
address stops the walk at the last trusted hop: the limit then falls on the proxy (stricter), never
on a name the client chose (which it could change at will).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import Scope

from scoreboard.domain.errors import ConfigurationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"
"""The address of a connection without a socket peer (e.g. a Unix socket): one shared bucket."""
_MAX_HOP_TEXT = 64  # an IPv6 address with a zone and port fits; longer text is not an address


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose connections are our own proxies (empty: trust none, use the socket peer)."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, cidrs: Iterable[str], setting: str = "SCOREBOARD_TRUSTED_PROXIES") -> TrustedProxies:
        """``10.0.0.0/8``, ``fd00::/8`` or a single address; a bad entry refuses to start, naming it."""
        networks: list[Network] = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError as exc:
                raise ConfigurationError(f"{setting}: {cidr!r} is not an IP network (e.g. 10.0.0.0/8)") from exc
        return cls(tuple(networks))

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


NO_PROXIES = TrustedProxies()


def parse_hop(text: str) -> Address | None:
    """One hop as a proxy writes it: ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]:443``.

    IPv4-mapped IPv6 (``::ffff:1.2.3.4``, what a dual-stack socket reports) is the IPv4 address.
    Anything else (``unknown``, a name, junk) is None.
    """
    hop = text.strip()
    if not hop or len(hop) > _MAX_HOP_TEXT:
        return None
    if hop.startswith("["):
        hop, bracket, port = hop[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and _is_port(port[1:]))):
            return None
    elif hop.count(":") == 1:  # IPv4 with a port; bare IPv6 has at least two colons
        hop, _, port = hop.partition(":")
        if not _is_port(port):
            return None
    try:
        address = ipaddress.ip_address(hop)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and int(text) <= 65535


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies) -> str:
    """The client's address: the socket ``peer`` as reported, or, when the peer is a trusted proxy, the
    right-most ``X-Forwarded-For`` hop that is not trusted, in canonical form (``forwarded_for``: the
    header's values in the order received; a header sent twice is one list). When every hop is
    trusted, the left-most one (a request from inside our own network)."""
    if not peer:
        return UNKNOWN
    current = parse_hop(peer) if trusted.networks else None
    if current is None or not trusted.trusts(current):
        return peer  # not behind a proxy of ours (or no IP peer at all): the socket peer, as reported
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for text in reversed(hops):
        hop = parse_hop(text)
        if hop is None:
            break  # a trusted proxy never writes this: what is left of it is the client's own text
        current = hop
        if not trusted.trusts(hop):
            break
    return str(current)


def client_address_of(scope: Scope, trusted: TrustedProxies) -> str:
    """:func:`client_address` of an ASGI HTTP or WebSocket scope."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    forwarded = [value.decode("latin-1") for name, value in scope.get("headers", ())
                 if name == b"x-forwarded-for"] if trusted.networks else []
    return client_address(peer, forwarded, trusted)
