"""A minimal, cheap HTTP client for the measurements: one keep-alive HTTP/1.1 connection that POSTs.

Thousands of requests per second come from one asyncio process, so the client does no more than
write a request and read the status line, the Content-Length and the body.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


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
