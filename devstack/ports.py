"""TCP port checks on the loopback interface."""

from __future__ import annotations

import errno
import random
import socket

from devstack.errors import StackError

LOOPBACK = "127.0.0.1"


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when ``host:port`` can be bound now (nothing listens, nothing else holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like the servers themselves: TIME_WAIT leftovers of a just-stopped service don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return not is_listening(host, port)


def choose_port(service: str, preferred: tuple[int, ...], fallback_start: int, span: int = 50) -> int:
    """The first free port of ``preferred``, else of ``fallback_start .. fallback_start+span``."""
    candidates: list[int] = [*preferred, *range(fallback_start, fallback_start + span)]
    for port in candidates:
        if is_free(port):
            return port
    raise StackError(
        f"{service}: no free port among {preferred} or {fallback_start}..{fallback_start + span}"
    )


def split_host_port(address: str, default_port: int) -> tuple[str, int]:
    """``"host:port"`` → ``(host, port)``; the first entry of a comma-separated list wins."""
    first = address.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host:
        return first, default_port
    return host.strip("[]"), int(port)


_HANDED_OUT: set[int] = set()
_EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"


def _below_ephemeral() -> range:
    """Ports under the kernel's ephemeral range (``ip_local_port_range``): never handed to an
    outgoing connection, so a port chosen here stays free until the process we start binds it."""
    try:
        with open(_EPHEMERAL_RANGE, encoding="ascii") as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(max(1024, low - 12000), low)


def free_port(host: str = LOOPBACK) -> int:
    """A free port for a process started side by side with others.

    A port the kernel picks for ``bind(0)`` comes from the ephemeral range, which every outgoing
    connection (a Kafka client, a database pool) also draws from: between our check and the child's
    bind, another process's connection could take it. So the port comes from below that range, at
    random, is checked free, and is never handed out twice by this process.
    """
    candidates = _below_ephemeral()
    for _ in range(200):
        port = random.choice(candidates)
        if port not in _HANDED_OUT and is_free(port, host):
            _HANDED_OUT.add(port)
            return port
    raise StackError(f"no free port in {candidates.start}..{candidates.stop - 1}")
