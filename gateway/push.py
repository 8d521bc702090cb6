"""WebSocket and SSE endpoints: a snapshot first, then one frame per newer version, conflated."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.hub import BoardState, Subscription
from scoreboard import boards
from scoreboard.web.problems import Problem

if TYPE_CHECKING:
    from gateway.bootstrap import GatewayServices

CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
MAX_INBOUND_BYTES = 1024


def services(conn: HTTPConnection) -> GatewayServices:
    found: GatewayServices = conn.app.state.services
    return found


def origin_allowed(conn: HTTPConnection) -> bool:
    """An Origin must be in SCOREBOARD_ALLOWED_ORIGINS; without that setting, only the same host."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True  # not a browser
    allowed = services(conn).settings.allowed_origins
    if allowed:
        return "*" in allowed or origin in allowed
    return urlsplit(origin).netloc == conn.headers.get("host", "")


def resolve_board(conn: HTTPConnection) -> str | None:
    try:
        return boards.resolve(conn.path_params["board"], services(conn).clock.now_us())
    except boards.UnknownBoard:
        return None


async def websocket_endpoint(ws: WebSocket) -> None:
    svc = services(ws)
    board = resolve_board(ws)
    if board is None or not origin_allowed(ws):
        await ws.close(code=CLOSE_POLICY, reason="unknown board" if board is None else "origin not allowed")
        return
    if svc.hub.connection_count() >= svc.settings.gateway_max_connections:
        await ws.close(code=CLOSE_TRY_AGAIN, reason="too many connections; try again later")
        return
    await ws.accept()
    subscription = svc.hub.subscribe(board)
    try:
        await _send(ws, svc.hub.latest(board), "snapshot", subscription)
        receiver = asyncio.create_task(_receive(ws, subscription, svc))
        try:
            while not receiver.done():
                state = await subscription.next(timeout_s=svc.settings.heartbeat_seconds)
                if receiver.done():
                    break
                if state is None:
                    await ws.send_text('{"type":"heartbeat"}')
                else:
                    await ws.send_text(json.dumps(state.frame("update")))
        finally:
            receiver.cancel()
            with contextlib.suppress(BaseException):
                await receiver
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        svc.hub.unsubscribe(subscription)


async def _send(ws: WebSocket, state: BoardState, kind: str, subscription: Subscription) -> None:
    subscription.sent_version = max(subscription.sent_version, state.version)
    await ws.send_text(json.dumps(state.frame(kind)))


async def _receive(ws: WebSocket, subscription: Subscription, svc: GatewayServices) -> None:
    """Inbound frames: ``resume`` with a version, ``ping``; anything else closes with 1008."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text") or ""
        if len(text) > MAX_INBOUND_BYTES or message.get("bytes"):
            await ws.close(code=CLOSE_POLICY, reason="frame too large or binary")
            return
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            await ws.send_text('{"type":"error","detail":"frames must be JSON objects"}')
            continue
        if frame.get("type") == "resume" and isinstance(frame.get("version"), int):
            latest = svc.hub.latest(subscription.board)
            if latest.version > frame["version"]:
                subscription.sent_version = frame["version"]
                subscription.offer(latest)
            else:
                subscription.sent_version = max(subscription.sent_version, frame["version"])
        elif frame.get("type") == "ping":
            await ws.send_text('{"type":"pong"}')
        else:
            await ws.send_text('{"type":"error","detail":"unknown frame type"}')


async def sse_endpoint(request: Request) -> Response:
    svc = services(request)
    board = resolve_board(request)
    if board is None:
        raise Problem(404, "unknown-board", f"no board {request.path_params['board']!r}")
    if not origin_allowed(request):
        raise Problem(403, "origin-not-allowed", "this Origin may not subscribe")
    if svc.hub.connection_count() >= svc.settings.gateway_max_connections:
        raise Problem(503, "too-many-connections", "the gateway is at capacity; try again later",
                      headers={"Retry-After": "5"})
    last_seen = request.headers.get("last-event-id", "")
    subscription = svc.hub.subscribe(board)
    if last_seen.isdigit():
        subscription.sent_version = int(last_seen)
    subscription.offer(svc.hub.latest(board))

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 1000\n\n"
            first = True
            while True:
                state = await subscription.next(timeout_s=svc.settings.heartbeat_seconds)
                if state is None:
                    yield ": heartbeat\n\n"
                    continue
                frame = json.dumps(state.frame("snapshot" if first else "update"))
                first = False
                yield f"event: leaderboard\nid: {state.version}\ndata: {frame}\n\n"
        finally:
            svc.hub.unsubscribe(subscription)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
