"""What a WebSocket client may send: small JSON frames, ``resume`` and ``ping``, at a bounded rate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_INBOUND_BYTES = 1024


@dataclass(frozen=True)
class Resume:
    version: int


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Invalid:
    """Answered with an error frame; the connection stays open."""

    detail: str


@dataclass(frozen=True)
class Violation:
    """Closes the connection with 1008 (policy violation)."""

    reason: str


Inbound = Resume | Ping | Invalid | Violation


def parse_frame(text: str | None, data: bytes | None) -> Inbound:
    if data is not None:
        return Violation("binary frames are not accepted")
    text = text or ""
    if len(text.encode()) > MAX_INBOUND_BYTES:
        return Violation(f"frame larger than {MAX_INBOUND_BYTES} bytes")
    try:
        frame = json.loads(text)
    except ValueError:
        return Invalid("frames must be JSON objects")
    if not isinstance(frame, dict):
        return Invalid("frames must be JSON objects")
    kind = frame.get("type")
    version = frame.get("version")
    if kind == "resume":
        # bool is an int in Python; a version is a real integer.
        if isinstance(version, int) and not isinstance(version, bool):
            return Resume(version)
        return Invalid("resume needs an integer version")
    if kind == "ping":
        return Ping()
    return Invalid("unknown frame type")


class FrameLimiter:
    """Token bucket: ``rate`` frames per second on average, bursts up to ``rate`` frames."""

    def __init__(self, rate: float, now: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = max(rate, 1.0)
        self._tokens = self._capacity
        self._now = now
        self._last = now()

    def allow(self) -> bool:
        current = self._now()
        self._tokens = min(self._capacity, self._tokens + (current - self._last) * self._rate)
        self._last = current
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
