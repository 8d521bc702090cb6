"""Several gateway processes on one port (``scoreboard gateway --processes N``).

Each process binds its own listening socket with ``SO_REUSEPORT``, so the kernel spreads new
connections over them, and each runs the whole gateway: its own feed tailing the changes topic, its
own hub, its own caps (``SCOREBOARD_GATEWAY_MAX_CONNECTIONS`` and the per-address ones count per
process). The first process forks the others before anything else is built, forwards its stop
signal to them and waits for them; a child also stops when the first process dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket

PR_SET_PDEATHSIG = 1
LISTEN_BACKLOG = 2048  # uvicorn's default


def fork_children(count: int) -> list[int] | None:
    """Fork ``count - 1`` copies of this process: their pids in the parent, None in a child."""
    children: list[int] = []
    for _ in range(count - 1):
        pid = os.fork()
        if pid == 0:
            _stop_with_parent()
            return None
        children.append(pid)
    return children


def _stop_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


def signal_children(children: list[int], sig: int) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def reap(children: list[int]) -> None:
    """Wait for every child (after the parent's server stopped and forwarded its signal)."""
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
