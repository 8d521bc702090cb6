"""The push endpoints: WebSocket ``/v1/leaderboards/{board}/ws`` and SSE ``.../events``.

Both admit the same way (board, Origin, caps, the client address's connect rate, gateway caught
up), then stream a ``BoardStream``. Refusals on the WebSocket are sent after the handshake as a close
code with a reason, so a client (a browser too) can read them: 1008 policy (unknown board, Origin,
bad inbound frames), 1013 try again later (caps, connect rate, catching up). SSE refusals are
problem+json (404, 403, 429 per client address and 503 for the gateway, with Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway import admission
from gateway.hub import BoardState, FrameSink, websocket_text_frame
from gateway.inbound import FrameLimiter, Invalid, Ping, Resume, Violation, parse_frame
from gateway.sse import EventStreamResponse, parse_last_event_id
from gateway.stream import BoardStream, Push
from gateway.wsserver import CLOSE_GOING_AWAY, GOING_AWAY_REASON, RAW_FRAMES, RawFrameSocket
from scoreboard.adapters.web.client_address import client_address_of
from scoreboard.adapters.web.problems import Problem

if TYPE_CHECKING:
    from gateway.services import GatewayServices

log = logging.getLogger(__name__)


def services(conn: HTTPConnection) -> GatewayServices:
    found: GatewayServices = conn.app.state.services
    return found


def client_of(conn: HTTPConnection) -> str:
    """The address the per-client caps count ``conn`` under (behind trusted proxies, the forwarded one)."""
    return client_address_of(conn.scope, services(conn).trusted_proxies)


async def admit(conn: HTTPConnection, client: str) -> admission.Refusal | None:
    """None when ``conn`` may subscribe now. The caller subscribes before its next await, so no other
    connection can pass the caps between this check and the subscription."""
    svc = services(conn)

    def check() -> admission.Refusal | None:
        return admission.check(conn.path_params["board"], conn.headers.get("origin"),
                               conn.headers.get("host", ""), svc.settings, svc.hub, svc.clock, client)

    refusal = check() or admission.take_connect(svc.connect_rate, client, svc.clock)
    if refusal is None and not svc.feed.caught_up.is_set():
        # A snapshot before the history is read would show an old or empty board.
        try:
            await asyncio.wait_for(svc.feed.caught_up.wait(), svc.settings.gateway_catch_up_wait_seconds)
        except TimeoutError:
            return admission.CATCHING_UP
        refusal = check()  # others may have been let in meanwhile
    return refusal


def _open_stream(conn: HTTPConnection, client: str, last_seen: int | None = None,
                 sink: FrameSink | None = None) -> BoardStream:
    svc = services(conn)
    return BoardStream(svc.hub, conn.path_params["board"], svc.clock, svc.settings.heartbeat_seconds,
                       last_seen=last_seen, client=client, sink=sink)


HEARTBEAT = '{"type":"heartbeat"}'
HEARTBEAT_FRAME = websocket_text_frame(HEARTBEAT.encode())


def render_frame(push: Push) -> str:
    if push.state is None:
        return HEARTBEAT
    return push.state.frame_text(push.kind)


def encoded_frame(push: Push) -> bytes:
    """``render_frame`` as a whole WebSocket frame, the same bytes object for every client."""
    if push.state is None:
        return HEARTBEAT_FRAME
    return push.state.websocket_frame(push.kind)


def raw_socket(ws: WebSocket) -> RawFrameSocket | None:
    """The connection, when the server lets the endpoint write frames itself (``gateway.wsserver``)."""
    found = ws.scope.get("extensions", {}).get(RAW_FRAMES)
    return found.get("socket") if isinstance(found, dict) else None


class SocketSink:
    """The ``FrameSink`` of one WebSocket: the hub writes the shared encoded update to it."""

    def __init__(self, socket: RawFrameSocket) -> None:
        self.writable = socket.frames_writable
        self._write = socket.frame_writer()

    def send_update(self, state: BoardState) -> None:
        self._write(state.update_frame)


def observe_written(observe_push: Callable[[float], None]) -> Callable[[BoardState, int], None]:
    """For ``Hub.on_written``: one sample per board version and write pass, the time from the change
    until the pass wrote it to its last socket (the sockets of one pass get it within that time)."""
    def observe(state: BoardState, count: int) -> None:
        observe_push(max(0.0, time.time() - state.changed_at_us / 1e6))
    return observe


async def websocket_endpoint(ws: WebSocket) -> None:
    client = client_of(ws)
    refusal = await admit(ws, client)
    if refusal is not None:
        await ws.accept()
        await ws.close(code=refusal.close_code, reason=refusal.detail[:120])
        return
    settings = services(ws).settings
    socket = raw_socket(ws)
    sink = SocketSink(socket) if socket is not None else None
    # subscribed before any await, so the cap check above cannot be raced
    stream = _open_stream(ws, client, sink=sink)
    try:
        await ws.accept()
        sender = asyncio.create_task(_send_frames(ws, stream, settings.gateway_send_timeout_seconds,
                                                  services(ws).observe_push, socket))
        receiver = asyncio.create_task(
            _receive_frames(ws, stream, FrameLimiter(settings.gateway_max_inbound_frames_per_second)))
        leaving = asyncio.create_task(services(ws).going_away.wait())
        await asyncio.wait({sender, receiver, leaving}, return_when=asyncio.FIRST_COMPLETED)
        if leaving.done():
            with contextlib.suppress(BaseException):
                await ws.close(code=CLOSE_GOING_AWAY, reason=GOING_AWAY_REASON)
        for task in (sender, receiver, leaving):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    finally:
        stream.close()


async def _send_frames(ws: WebSocket, stream: BoardStream, send_timeout_s: float,
                       observe_push: Callable[[float], None] | None = None,
                       socket: RawFrameSocket | None = None) -> None:
    """Each connection sends on its own task: a client that does not read only ever stalls itself.
    A socket that drains takes the shared encoded frame at once; otherwise the send waits, up to
    ``send_timeout_s``, and the hub keeps only the newest state meanwhile."""
    try:
        while True:
            push = await stream.next()
            if socket is not None and socket.frames_writable():
                socket.write_frame(encoded_frame(push))
            else:
                await asyncio.wait_for(ws.send_text(render_frame(push)), send_timeout_s)
            if observe_push is not None and push.state is not None and push.kind == "update":
                observe_push(max(0.0, time.time() - push.state.changed_at_us / 1e6))
    except TimeoutError:
        log.info("dropping a WebSocket client that took no frame for %.0fs", send_timeout_s)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client left


async def _receive_frames(ws: WebSocket, stream: BoardStream, limiter: FrameLimiter) -> None:
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = parse_frame(message.get("text"), message.get("bytes"))
            if not limiter.allow():
                frame = Violation("more inbound frames per second than allowed")
            if isinstance(frame, Violation):
                await ws.close(code=admission.CLOSE_POLICY, reason=frame.reason)
                return
            if isinstance(frame, Resume):
                stream.resume(frame.version)
            elif isinstance(frame, Ping):
                await ws.send_text('{"type":"pong"}')
            elif isinstance(frame, Invalid):
                await ws.send_text(json.dumps({"type": "error", "detail": frame.detail}))
    except (WebSocketDisconnect, RuntimeError, OSError):
        return


async def sse_endpoint(request: Request) -> Response:
    client = client_of(request)
    refusal = await admit(request, client)
    if refusal is not None:
        headers = {"Retry-After": str(refusal.retry_after_s)} if refusal.retry_after_s else None
        raise Problem(refusal.status, refusal.slug, refusal.detail, headers=headers)
    stream = _open_stream(request, client, parse_last_event_id(request.headers.get("last-event-id")))
    return EventStreamResponse(stream, services(request).settings.gateway_send_timeout_seconds,
                               services(request).going_away)
