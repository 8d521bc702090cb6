"""Minimal, cheap clients for the measurements: a WebSocket reader and a keep-alive HTTP/1.1 poster.

Thousands of subscribers share one process, so the client side must cost as little as possible:
an ``asyncio.Protocol`` that only timestamps raw text frames (decoded after the measured window),
answers pings, and never parses JSON while the clock runs. Server frames are unmasked (RFC 6455).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


def _masked(opcode: int, payload: bytes) -> bytes:
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
    opened: asyncio.Future[bool] | None = None
    closed: bool = False
    _transport: asyncio.Transport | None = None
    _head: bytes = b""
    _upgraded: bool = False
    _buffer: bytearray = field(default_factory=bytearray)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(handshake(self.host, self.path))

    def data_received(self, data: bytes) -> None:
        now = time.time()
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
                self._transport.write(_masked(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.opened is not None and not self.opened.done():
            self.opened.set_result(False)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


async def open_reader(url: str, timeout_s: float = 30) -> WebSocketReader:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    reader = WebSocketReader(parts.netloc, parts.path)
    reader.opened = loop.create_future()
    await asyncio.wait_for(loop.create_connection(lambda: reader, parts.hostname or "127.0.0.1", parts.port or 80), timeout_s)
    if not await asyncio.wait_for(reader.opened, timeout_s):
        raise ConnectionError(f"WebSocket upgrade refused at {url}")
    return reader


def open_stalled(url: str, receive_buffer: int = 1024) -> socket.socket:
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


class HttpPoster:
    """One keep-alive HTTP/1.1 connection sending POSTs, one at a time; reconnects once when the server
    closed it while idle (uvicorn's keep-alive timeout), which is safe: every POST has an Idempotency-Key."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._hostname, self._port, self._host = parts.hostname, parts.port, parts.netloc
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @classmethod
    async def connect(cls, base_url: str) -> HttpPoster:
        poster = cls(base_url)
        await poster._open()
        return poster

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._hostname, self._port)

    async def post(self, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self._host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        try:
            return await self._exchange(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            await self._open()
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self._reader.readexactly(length) if length else b""
        return status, answer

    async def close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass
        self._writer = None
