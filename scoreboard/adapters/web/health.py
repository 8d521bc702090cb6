"""``/healthz`` (the process is alive) and ``/readyz`` (every dependency really answers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Check = Callable[[], Awaitable[bool]]


class Health:
    def __init__(self, checks: dict[str, Check], timeout_s: float = 2.0) -> None:
        self._checks = checks
        self._timeout = timeout_s

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        results = await asyncio.gather(*(self._run(check) for check in self._checks.values()))
        report = {name: "ok" if ok else "unavailable" for name, ok in zip(self._checks, results, strict=True)}
        ready = all(results)
        return JSONResponse({"status": "ready" if ready else "unavailable", "checks": report},
                            status_code=200 if ready else 503)

    async def _run(self, check: Check) -> bool:
        try:
            return await asyncio.wait_for(check(), self._timeout)
        except Exception:
            return False
