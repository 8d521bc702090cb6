"""Server-sent events for a ``BoardStream``: ``event: leaderboard``, ``id: <version>``, ``data: <JSON>``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.stream import BoardStream, Push

log = logging.getLogger(__name__)
RETRY_MS = 1000
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_EVENT_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only (str.isdigit also takes "²" and "١"); < 2**63


def parse_last_event_id(raw: str | None) -> int | None:
    """The board version a reconnecting client holds, from ``Last-Event-ID``. Anything but an id this
    gateway sends (a version: up to 18 ASCII digits) is treated as absent: the header only echoes
    the last ``id:`` the client saw, and SSE has no way to refuse one, so the client simply gets a
    fresh snapshot."""
    if raw is None:
        return None
    text = raw.strip(" \t")
    return int(text) if _EVENT_ID.fullmatch(text) else None


HEARTBEAT = b": heartbeat\n\n"


def render_event(push: Push) -> bytes:
    """The event's bytes: built once per version and kind, shared by every client."""
    if push.state is None:
        return HEARTBEAT
    return push.state.sse_event(push.kind)


class EventStreamResponse(Response):
    """A response that owns its stream: it closes the subscription however the request ends, and
    drops a client that takes no event within ``send_timeout_s``."""

    media_type = "text/event-stream"

    def __init__(self, stream: BoardStream, send_timeout_s: float,
                 going_away: asyncio.Event | None = None) -> None:
        self._going_away = going_away or asyncio.Event()
        self.status_code = 200
        self.background = None
        self.init_headers(HEADERS)
        self._stream = stream
        self._send_timeout_s = send_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            pushing = asyncio.create_task(self._push(send))
            leaving = asyncio.create_task(_until_disconnect(receive))
            stopping = asyncio.create_task(self._going_away.wait())  # the client reconnects elsewhere
            await asyncio.wait({pushing, leaving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (pushing, leaving, stopping):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        finally:
            self._stream.close()

    async def _push(self, send: Send) -> None:
        try:
            await self._send(send, f"retry: {RETRY_MS}\n\n".encode())
            while True:
                await self._send(send, render_event(await self._stream.next()))
        except TimeoutError:
            log.info("dropping an SSE client that took no event for %.0fs", self._send_timeout_s)
        except OSError:
            pass  # the client left

    async def _send(self, send: Send, chunk: bytes) -> None:
        message = {"type": "http.response.body", "body": chunk, "more_body": True}
        await asyncio.wait_for(send(message), self._send_timeout_s)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
