"""A WebSocket subscriber that keeps the kernel's arrival time of every frame beside the time it was read.

For benchmarks whose client shares the machine with the server (``bench/scenarios/fanout.py``): a
client process slow to read delays only the read time, so the two tell the server's delay from the
client's. Same wire handling as ``testkit.subscribers``' reader (its frame parser and handshake).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from testkit.subscribers import NO_STATUS, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, handshake, masked_frame, parse_frames

SO_TIMESTAMPNS = 35
"""Linux (asm-generic): the kernel stamps each received packet (CLOCK_REALTIME, a timespec); a TCP
``recvmsg`` returns the stamp of the last packet it read as ``SCM_TIMESTAMPNS`` (the same number)."""
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
TEXT_FRAME = 0x81
"""FIN + text opcode: a whole text frame from the server (unmasked)."""


@dataclass(eq=False)
class StampedReader:
    """A WebSocket subscriber for benchmarks whose client shares the machine with the server: each text
    frame is recorded with the time the kernel received it on this client's socket (``texts``), and
    with the time this process read it (``reads``), so a client process that is slow to read delays
    only the second. Reads with ``recvmsg`` on the event loop's reader callback; answers pings."""

    sock: socket.socket
    texts: list[tuple[float, bytes]] = field(default_factory=list)
    """(kernel arrival, payload) of every text frame."""
    reads: list[float] = field(default_factory=list)
    """``time.time()`` when this process read each frame of ``texts`` (same index)."""
    closed: bool = False
    close_code: int | None = None
    _buffer: bytearray = field(default_factory=bytearray)
    _loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop, rest: bytes, stamp: float) -> None:
        """Follow the socket after the upgrade; ``rest``: bytes read after the response head."""
        self._loop = loop
        if rest:
            self._received(rest, stamp, time.time())
        if not self.closed:
            loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(1 << 16, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        now = time.time()
        if not data:
            self.close()
            return
        stamp = _stamp(ancillary, now)
        if not self._buffer and len(data) >= 2 and data[0] == TEXT_FRAME:
            # the usual read: exactly one whole text frame (7- or 16-bit length), without the buffer
            size, header = data[1], 2
            if size == 126 and len(data) >= 4:
                size, header = (data[2] << 8) | data[3], 4
            elif size >= 126:  # a 64-bit length, a masked frame or a partial header: the general path
                size = -1
            if len(data) == header + size:
                self.texts.append((stamp, data[header:]))
                self.reads.append(now)
                return
        self._received(data, stamp, now)

    def _received(self, data: bytes, stamp: float, now: float) -> None:
        self._buffer += data
        for opcode, payload in parse_frames(self._buffer):
            if opcode == OP_TEXT:
                self.texts.append((stamp, payload))
                self.reads.append(now)
            elif opcode == OP_PING:
                with contextlib.suppress(OSError):
                    self.sock.send(masked_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else NO_STATUS
                self.close()
                return

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_reader(self.sock.fileno())
        self.sock.close()


def _stamp(ancillary: list[tuple[int, int, bytes]], default: float) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanos = _TIMESPEC.unpack_from(data)
            return float(seconds) + float(nanos) / 1e9
    return default


async def open_stamped_reader(url: str, timeout_s: float = 30) -> StampedReader:
    """A ``StampedReader`` on ``url`` once the server accepted the upgrade (ConnectionError if not)."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    reader = StampedReader(sock)
    try:
        async with asyncio.timeout(timeout_s):
            await loop.sock_connect(sock, (parts.hostname or "127.0.0.1", parts.port or 80))
            await loop.sock_sendall(sock, handshake(parts.netloc, parts.path))
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await loop.sock_recv(sock, 1 << 16)
                if not chunk:
                    raise ConnectionError(f"WebSocket handshake closed at {url}")
                head += chunk
        response, _, rest = head.partition(b"\r\n\r\n")
        if not response.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"WebSocket upgrade refused at {url}")
        reader.start(loop, rest, time.time())
    except BaseException:
        reader.close()
        raise
    return reader
