"""uvicorn's WebSocket protocol (the sans-I/O ``websockets`` one), plus a way for the push endpoint to
write ready-made frames to the socket: the ASGI scope's extension ``RAW_FRAMES`` holds the connection.

Everything else (handshake, inbound frames and their size limit, ping/pong, keepalive, close) stays
uvicorn's. A frame written this way must be a whole server frame (unmasked, not compressed: RFC 7692
lets a server send any message uncompressed); writes are whole frames on one event loop, so they
never interleave with the library's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

CLOSE_GOING_AWAY = 1001
"""How every open socket closes when the gateway stops (RFC 6455: "a server going down"); the client
reconnects, to another process or replica, and resumes."""
GOING_AWAY_REASON = "server shutting down"

RAW_FRAMES = "scoreboard.raw_frames"
"""The scope extension: ``{"socket": <RawFrameSocket>}``."""


class RawFrameSocket(Protocol):
    def frames_writable(self) -> bool:
        """Open, accepted, not closing, and the write buffer under its high-water mark."""
        ...

    def write_frame(self, frame: bytes) -> None:
        """Write a whole server frame; only when ``frames_writable()``."""
        ...

    def frame_writer(self) -> Callable[[bytes], None]:
        """``write_frame`` without the Python call in between (the transport's own ``write``), for the
        hub's write pass over thousands of sockets; the same rule: only when ``frames_writable()``."""
        ...


class PushWebSocketProtocol(WebSocketsSansIOProtocol):
    # uvicorn pauses and resumes through ``self.writable`` (an asyncio.Event); the flag mirrors it so
    # that the per-socket check of the hub's write pass reads a plain attribute
    writes_paused = False

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][RAW_FRAMES] = {"socket": self}

    def pause_writing(self) -> None:
        self.writes_paused = True
        super().pause_writing()

    def resume_writing(self) -> None:
        self.writes_paused = False
        super().resume_writing()

    def shutdown(self) -> None:
        """uvicorn's shutdown closes an open socket with 1012 (service restart). The push endpoint closes
        its sockets with 1001 when the stop signal arrives, but uvicorn's main loop may reach this
        first (it polls its exit flag while the endpoints' tasks wait their turn), so the socket closes
        here with the same 1001, whichever runs first."""
        if not self.handshake_complete or self.close_sent:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": CLOSE_GOING_AWAY})
        self.conn.send_close(CLOSE_GOING_AWAY, GOING_AWAY_REASON)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.writes_paused = False  # as uvicorn sets ``writable``; ``disconnected`` stops the writes
        super().connection_lost(exc)

    def frames_writable(self) -> bool:
        return (self.handshake_complete and not self.close_sent and not self.disconnected and not self.writes_paused
                and self.conn.state is State.OPEN and not self.transport.is_closing())

    def write_frame(self, frame: bytes) -> None:
        self.transport.write(frame)

    def frame_writer(self) -> Callable[[bytes], None]:
        return self.transport.write
