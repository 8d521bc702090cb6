"""Async push subscribers for tests: WebSocket and SSE clients that record every board frame, and a
raw client that stops reading after its handshake (a stalled reader with a tiny receive buffer)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets


@dataclass(frozen=True)
class Received:
    kind: str
    version: int
    board: str
    entries: tuple[tuple[int, str, int], ...]
    at: float  # time.monotonic() when it arrived


@dataclass
class Subscriber:
    name: str
    frames: list[Received] = field(default_factory=list)
    error: BaseException | None = None
    got_snapshot: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, frame: dict[str, Any]) -> None:
        if frame.get("type") not in ("snapshot", "update"):
            return
        entries = tuple((e["rank"], e["user_id"], e["score"]) for e in frame["entries"])
        self.frames.append(Received(frame["type"], frame["version"], frame["board"], entries, time.monotonic()))
        self.got_snapshot.set()

    @property
    def versions(self) -> list[int]:
        return [f.version for f in self.frames]

    def first_with(self, user: str) -> Received | None:
        return next((f for f in self.frames if any(u == user for _, u, _ in f.entries)), None)


async def follow_websocket(url: str, subscriber: Subscriber) -> None:
    """Record frames until cancelled."""
    try:
        async with websockets.connect(url, open_timeout=60, close_timeout=1) as ws:
            async for message in ws:
                subscriber.record(json.loads(message))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported by the test through subscriber.error
        subscriber.error = exc


async def follow_sse(client: httpx.AsyncClient, url: str, subscriber: Subscriber,
                     last_event_id: int | None = None) -> None:
    """Record ``data:`` frames until cancelled."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    try:
        async with client.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    subscriber.record(json.loads(line.removeprefix("data: ")))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001
        subscriber.error = exc


def open_stalled_websocket(url: str, receive_buffer: int = 1024) -> socket.socket:
    """A WebSocket handshake on a socket with a tiny receive buffer; the caller then never reads."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect: sets the window
    sock.settimeout(10)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)  # byte by byte: leave every frame after the handshake unread
        if not chunk:
            raise AssertionError(f"handshake closed: {answer!r}")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise AssertionError(f"handshake refused: {answer!r}")
    return sock


def read_websocket_text_frames(sock: socket.socket, timeout_s: float,
                               until: Callable[[list[dict[str, Any]]], bool] | None = None) -> list[dict[str, Any]]:
    """Drain a raw socket's unmasked server frames (text only). With ``until``: read until it holds for
    the frames so far (``timeout_s`` is then a deadline, and missing it an AssertionError); without:
    until the socket is quiet for ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    data = b""
    frames: list[dict[str, Any]] = []
    offset = 0
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
        data += chunk
        offset = _parse_text_frames(data, offset, frames)
    return frames


def _parse_text_frames(data: bytes, offset: int, frames: list[dict[str, Any]]) -> int:
    """Append the complete text frames in ``data`` from ``offset``; returns where the next one starts."""
    while offset + 2 <= len(data):
        opcode, length = data[offset] & 0x0F, data[offset + 1] & 0x7F
        header = 2
        if length == 126:
            if offset + 4 > len(data):
                break
            length, header = int.from_bytes(data[offset + 2:offset + 4], "big"), 4
        elif length == 127:
            if offset + 10 > len(data):
                break
            length, header = int.from_bytes(data[offset + 2:offset + 10], "big"), 10
        if offset + header + length > len(data):
            break
        if opcode == 1:
            frames.append(json.loads(data[offset + header:offset + header + length]))
        offset += header + length
    return offset
