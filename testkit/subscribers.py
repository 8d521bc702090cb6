"""Subscribers of a board's push streams, cheap enough for thousands in one asyncio process.

The WebSocket client is an ``asyncio.Protocol`` that only timestamps raw text frames (decoded later,
never while a benchmark's clock runs) and answers pings; server frames are unmasked (RFC 6455). The
benchmark reads its ``texts`` directly. The tests follow a board with a ``Subscriber``, which decodes
those texts into board frames on demand, fed by ``follow_websocket`` or ``follow_sse``. And a raw
socket that completes the handshake and then stops reading (``open_stalled_websocket``) stands for a
stalled client, read at last with ``read_text_frames``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
NORMAL_CLOSURES = (1000, 1001)
"""Close codes that end a subscription without an error (normal closure, going away)."""
NO_STATUS = 1005
"""The close code of a close frame without one (RFC 6455 7.1.5)."""


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask), used for pongs."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def parse_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Remove complete server frames from ``buffer``; (opcode, payload) each. Keeps a partial tail."""
    frames: list[tuple[int, bytes]] = []
    offset = 0
    while len(buffer) - offset >= 2:
        opcode, length = buffer[offset] & 0x0F, buffer[offset + 1] & 0x7F
        header = 2
        if length == 126:
            if len(buffer) - offset < 4:
                break
            length, header = struct.unpack_from(">H", buffer, offset + 2)[0], 4
        elif length == 127:
            if len(buffer) - offset < 10:
                break
            length, header = struct.unpack_from(">Q", buffer, offset + 2)[0], 10
        if len(buffer) - offset < header + length:
            break
        frames.append((opcode, bytes(buffer[offset + header:offset + header + length])))
        offset += header + length
    del buffer[:offset]
    return frames


def handshake(host: str, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


@dataclass(eq=False)
class WebSocketReader(asyncio.Protocol):
    """Records ``(time.time(), payload)`` of every text frame; one timestamp per read from the socket."""

    host: str
    path: str
    texts: list[tuple[float, bytes]] = field(default_factory=list)
    on_read: Callable[[], None] | None = None
    """Called after every read once upgraded (a ``Subscriber`` wakes its waiters); the benchmark leaves
    it unset and polls ``texts``."""
    opened: asyncio.Future[bool] | None = None
    finished: asyncio.Future[None] | None = None
    """Done when the connection is gone."""
    closed: bool = False
    close_code: int | None = None
    """The code of the server's close frame; None while open, or when the connection just dropped."""
    _transport: asyncio.Transport | None = None
    _head: bytes = b""
    _upgraded: bool = False
    _buffer: bytearray = field(default_factory=bytearray)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's TCP transport is not a subclass
        self._transport.write(handshake(self.host, self.path))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self._upgraded and not self._buffer and self._one_text_frame(now, data):
            return
        if not self._upgraded:
            self._head += data
            if b"\r\n\r\n" not in self._head:
                return
            head, _, rest = self._head.partition(b"\r\n\r\n")
            self._upgraded = head.startswith(b"HTTP/1.1 101")
            if self.opened is not None and not self.opened.done():
                self.opened.set_result(self._upgraded)
            if not self._upgraded:
                self.close()
                return
            data = rest
        self._buffer += data
        for opcode, payload in parse_frames(self._buffer):
            if opcode == OP_TEXT:
                self.texts.append((now, payload))
            elif opcode == OP_PING and self._transport is not None:
                self._transport.write(masked_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else NO_STATUS
                self.close()
        if self.on_read is not None:
            self.on_read()

    def _one_text_frame(self, now: float, data: bytes) -> bool:
        """The common read, taken without the buffer: exactly one whole unfragmented text frame
        (FIN + text opcode, unmasked, a 7- or 16-bit length). False (nothing done) for anything else."""
        size = len(data)
        if size < 2 or data[0] != 0x80 | OP_TEXT:
            return False
        length = data[1]
        if length < 126:
            header = 2
        elif length == 126 and size >= 4:
            length, header = (data[2] << 8) | data[3], 4
        else:
            return False
        if size != header + length:
            return False
        self.texts.append((now, data[header:]))
        if self.on_read is not None:
            self.on_read()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.opened is not None and not self.opened.done():
            self.opened.set_result(False)
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


async def open_reader(url: str, timeout_s: float = 30, *, texts: list[tuple[float, bytes]] | None = None,
                      on_read: Callable[[], None] | None = None) -> WebSocketReader:
    """A ``WebSocketReader`` on ``url`` once the server accepted the upgrade (ConnectionError if not)."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    reader = WebSocketReader(parts.netloc, parts.path, [] if texts is None else texts, on_read)
    reader.opened, reader.finished = loop.create_future(), loop.create_future()
    try:
        await asyncio.wait_for(loop.create_connection(lambda: reader, parts.hostname or "127.0.0.1",
                                                      parts.port or 80), timeout_s)
        if not await asyncio.wait_for(reader.opened, timeout_s):
            raise ConnectionError(f"WebSocket upgrade refused at {url}")
    except BaseException:
        reader.close()
        raise
    return reader


def open_stalled_websocket(url: str, receive_buffer: int = 1024) -> socket.socket:
    """A WebSocket handshake on a socket with a tiny receive window; the caller then never reads."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect: sets the window
    sock.settimeout(10)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    sock.sendall(handshake(parts.netloc, parts.path))
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)  # byte by byte: leave every frame after the handshake unread
        if not chunk:
            raise ConnectionError(f"handshake closed: {answer!r}")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake refused: {answer!r}")
    return sock


def read_text_frames(sock: socket.socket, timeout_s: float,
                     until: Callable[[list[dict[str, Any]]], bool] | None = None) -> list[dict[str, Any]]:
    """Read a raw WebSocket's text frames (JSON) at last. With ``until``: until it holds for the frames
    so far (``timeout_s`` is then a deadline, and missing it an AssertionError); without: until the
    socket is quiet for ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    buffer = bytearray()
    frames: list[dict[str, Any]] = []
    while until is None or not until(frames):
        left = deadline - time.monotonic() if until is not None else timeout_s
        if left <= 0:
            raise AssertionError(f"the frames read within {timeout_s}s do not satisfy the condition: "
                                 f"{[f.get('version') for f in frames][-5:]} (last versions)")
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            if until is None:
                break
            continue
        if not chunk:
            if until is None:
                break
            raise AssertionError("the socket closed before the condition held")
        buffer += chunk
        frames += [json.loads(payload) for opcode, payload in parse_frames(buffer) if opcode == OP_TEXT]
    return frames


@dataclass(frozen=True)
class Received:
    """A board frame (snapshot or update) as one subscriber got it."""

    kind: str
    version: int
    board: str
    entries: tuple[tuple[int, str, int], ...]
    at: float  # time.time() of the read that brought it


def board_frame(at: float, payload: bytes) -> Received | None:
    """The board frame in a pushed text, or None for the others (heartbeats, pongs, errors)."""
    body = json.loads(payload)
    if body.get("type") not in ("snapshot", "update"):
        return None
    entries = tuple((e["rank"], e["user_id"], e["score"]) for e in body["entries"])
    return Received(body["type"], body["version"], body["board"], entries, at)


@dataclass
class Subscriber:
    """One named subscription: the texts it was pushed, decoded into board frames when asked for."""

    name: str
    texts: list[tuple[float, bytes]] = field(default_factory=list)
    error: BaseException | None = None
    got_snapshot: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the first board frame is in."""
    _frames: list[Received] = field(default_factory=list, repr=False)
    _decoded: int = field(default=0, repr=False)

    @property
    def frames(self) -> list[Received]:
        fresh = self.texts[self._decoded:]
        self._decoded += len(fresh)
        self._frames += [f for f in (board_frame(at, payload) for at, payload in fresh) if f is not None]
        return self._frames

    def notice(self) -> None:
        """Wake the waiters of ``got_snapshot`` once a board frame is in (the readers call it per read)."""
        if not self.got_snapshot.is_set() and self.frames:
            self.got_snapshot.set()

    @property
    def versions(self) -> list[int]:
        return [f.version for f in self.frames]

    def first_with(self, user: str) -> Received | None:
        return next((f for f in self.frames if any(u == user for _, u, _ in f.entries)), None)


async def follow_websocket(url: str, subscriber: Subscriber, open_timeout_s: float = 60) -> None:
    """Record ``subscriber``'s frames until cancelled. Failing to connect, or a close by the server
    other than a normal one, is kept as ``subscriber.error``."""
    reader: WebSocketReader | None = None
    try:
        reader = await open_reader(url, open_timeout_s, texts=subscriber.texts, on_read=subscriber.notice)
        assert reader.finished is not None
        await reader.finished
        if reader.close_code not in NORMAL_CLOSURES:
            raise ConnectionError(f"the WebSocket ended with close code {reader.close_code} (None: no close frame)")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported by the test through subscriber.error
        subscriber.error = exc
    finally:
        if reader is not None:
            reader.close()


async def follow_sse(client: httpx.AsyncClient, url: str, subscriber: Subscriber,
                     last_event_id: int | None = None) -> None:
    """Record ``data:`` frames until cancelled; a failure is kept as ``subscriber.error``."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    try:
        async with client.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    subscriber.texts.append((time.time(), line.removeprefix("data: ").encode()))
                    subscriber.notice()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001
        subscriber.error = exc
