"""TCP port checks on the loopback interface."""

from __future__ import annotations

import errno
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


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel just found free (for processes started side by side)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
