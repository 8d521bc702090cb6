"""Live board frames over the gateway's WebSocket, with resume and reconnects."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .errors import ScoreboardError
from .models import BoardFrame, Entry

CLOSE_POLICY = 1008
"""Unknown board, Origin refused, or a bad frame of ours: reconnecting would not help."""


class SubscriptionRefused(ScoreboardError):
    """The gateway closed with a code that a reconnect cannot fix (1008: e.g. an unknown board), or the
    WebSocket handshake got an HTTP 4xx (``code`` is then that status)."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"the gateway refused the subscription ({code}): {reason}")


def ws_url(gateway_url: str, board: str) -> str:
    base = gateway_url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base.removeprefix("http")
    return f"{base}/v1/leaderboards/{quote(board, safe=':')}/ws"


def board_frame(frame: dict[str, Any]) -> BoardFrame | None:
    kind = frame.get("type")
    if kind not in ("snapshot", "update"):
        return None  # heartbeat, pong, error
    entries: list[Entry] = [{"rank": int(e["rank"]), "user_id": str(e["user_id"]), "score": int(e["score"])}
                            for e in frame.get("entries", [])]
    return BoardFrame("snapshot" if kind == "snapshot" else "update", str(frame["board"]), int(frame["version"]),
                      entries, frame)


Connector = Callable[[str], Any]
"""Opens a WebSocket: ``websockets.asyncio.client.connect`` unless a test gives another."""


async def subscribe(gateway_url: str, board: str = "global", *, since: int | None = None,
                    idle_timeout_s: float = 45.0, initial_backoff_s: float = 0.5, max_backoff_s: float = 10.0,
                    max_failures: int | None = None, open_timeout_s: float = 10.0,
                    connector: Connector | None = None,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> AsyncGenerator[BoardFrame, None]:
    """Yield ``board``'s pushed top 10 frames: a snapshot, then each newer version.

    On a dropped connection, a gateway restart (1001), a refusal for now (1013) or ``idle_timeout_s``
    without any frame (the gateway sends a heartbeat every 15 s) it reconnects after a backoff (doubling
    from ``initial_backoff_s`` to ``max_backoff_s``, with jitter) and sends ``resume`` with the last version
    it yielded, and it never yields a version at or below that one again for the same board id. ``since``
    starts as if that version had been seen. A 1008 close raises ``SubscriptionRefused``; more than
    ``max_failures`` consecutive failed connections (None: never give up) re-raise the last error.
    Stop by breaking out of the loop (or cancelling the task).
    """
    url = ws_url(gateway_url, board)
    open_ws = connector or (lambda target: connect(target, open_timeout=open_timeout_s, max_size=2 ** 20))
    seen_board: str | None = None
    seen_version = since
    failures = 0
    while True:
        try:
            async with open_ws(url) as ws:
                if seen_version is not None:
                    await ws.send(json.dumps({"type": "resume", "version": seen_version}))
                while True:
                    raw = await asyncio.wait_for(ws.recv(), idle_timeout_s)
                    frame = board_frame(json.loads(raw))
                    if frame is None:
                        continue
                    failures = 0
                    if (seen_version is not None and seen_board in (None, frame.board)
                            and frame.version <= seen_version):
                        continue  # held already (the snapshot that opens every connection, after a resume)
                    seen_board, seen_version = frame.board, frame.version
                    yield frame
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            if code == CLOSE_POLICY:
                raise SubscriptionRefused(code, closed.rcvd.reason if closed.rcvd else "") from closed
            error: Exception = closed
        except InvalidURI:
            raise
        except InvalidStatus as refused:
            status = refused.response.status_code
            if 400 <= status < 500 and status != 429:  # a wrong URL or a proxy's refusal: no retry helps
                raise SubscriptionRefused(status, f"HTTP {status} instead of a WebSocket") from refused
            error = refused
        except (OSError, TimeoutError, InvalidHandshake, ValueError) as exc:
            error = exc
        failures += 1
        if max_failures is not None and failures > max_failures:
            raise error
        backoff = min(max_backoff_s, initial_backoff_s * 2.0 ** (failures - 1))
        await sleep(backoff * random.uniform(0.5, 1.0))


__all__ = ["SubscriptionRefused", "board_frame", "subscribe", "ws_url"]
