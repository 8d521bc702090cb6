"""Ports for processes started side by side come from below the ephemeral range, once each."""

from __future__ import annotations

import socket

from devstack.ports import _below_ephemeral, free_port


def test_free_ports_are_outside_the_ephemeral_range_unique_and_bindable() -> None:
    """An outgoing connection can never take them, this process never hands one out twice, and each binds."""
    allowed = _below_ephemeral()
    ports = [free_port() for _ in range(50)]
    assert all(port in allowed for port in ports)
    assert len(set(ports)) == len(ports)
    for port in ports[:5]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
