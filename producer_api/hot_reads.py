"""The read that carries the load, the first page of a live board, answered in front of Starlette's
router when memory holds it (``producer_api.board_cache``); every other request passes on unchanged.

What it keeps: the route's own matcher (path parameters, the metrics label, ``request.app``), the same
metrics and client-IP middleware (``wrap``), the same validators and ``Cache-Control`` as
``query_routes.get_leaderboard``. What it skips: ServerErrorMiddleware, ExceptionMiddleware, the router,
``Request``, query parsing for each request (the few query strings clients send are parsed once), and
the ``Response`` object (the answer is two ready ASGI messages). Anything memory cannot answer, and any
request it does not recognise, takes the ordinary route (``query_routes.get_leaderboard``). A request
is judged once, on arrival; the client-IP bucket then runs before the answer is sent, as on any route. The same
idea as the completion's hot route: docs/adr/0006-hot-route-before-the-framework.md.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from producer_api.board_cache import BoardCache, Cached
from producer_api.query_routes import CACHE_CONTROL
from scoreboard.domain import boards
from scoreboard.domain.clock import Clock

PREFIX = "/v1/leaderboards/"
_DEFAULT_LIMIT = 10
_CACHED = "scoreboard.cached_page"
_KNOWN_QUERIES = 256
"""Distinct query strings remembered (parsed once); beyond that they are parsed on every request."""


def first_page_limit(query: bytes, top_n: int) -> int | None:
    """The ``limit`` of a query memory may answer (only ``limit`` up to ``top_n`` and ``offset=0``);
    None for anything else, which the ordinary route then judges (and refuses if invalid)."""
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return None
    found = dict(pairs)
    if len(found) != len(pairs) or not set(found) <= {"limit", "offset"} or found.get("offset", "0") != "0":
        return None
    raw = found.get("limit", str(_DEFAULT_LIMIT))
    if not raw.isdigit() or raw != str(int(raw)):
        return None
    limit = int(raw)
    return limit if 1 <= limit <= top_n else None


class HotReads:
    def __init__(self, app: ASGIApp, route: Route, starlette: ASGIApp, cache: BoardCache, clock: Clock,
                 wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        """``app``: what answers everything else (the completion's hot route, then Starlette); ``route``:
        the board route; ``starlette``: the app the scope names (``request.app``); ``wrap``: the
        middleware the hot read keeps."""
        self._app = app
        self._route = route
        self._starlette = starlette
        self._cache = cache
        self._clock = clock
        self._hot = wrap(self._answer)
        self._limits: dict[bytes, int | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith(PREFIX):
            cached = self._lookup(scope)
            if cached is not None:
                match, child_scope = self._route.matches(scope)
                if match is Match.FULL:
                    scope["app"] = self._starlette
                    scope.update(child_scope)
                    scope["route"] = self._route
                    scope[_CACHED] = cached
                    await self._hot(scope, receive, send)
                    return
        await self._app(scope, receive, send)

    def _lookup(self, scope: Scope) -> Cached | None:
        query: bytes = scope["query_string"]
        if query in self._limits:
            limit = self._limits[query]
        else:
            limit = first_page_limit(query, self._cache.top_n)
            if len(self._limits) < _KNOWN_QUERIES:
                self._limits[query] = limit
        if limit is None:
            return None
        now_us = self._clock.now_us()
        try:
            board = boards.resolve(scope["path"][len(PREFIX):], now_us)
        except boards.UnknownBoard:
            return None
        return self._cache.answer(board, limit, now_us)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The answer found before the middleware ran: what memory held when the request arrived, as
        # any answer already on its way is (the client-IP bucket's Redis call took a moment since).
        cached: Cached = scope.pop(_CACHED)
        etag = cached.etag.encode()
        headers = [(b"etag", etag), (b"cache-control", CACHE_CONTROL.encode()), (b"x-cache", b"hit")]
        if _names(scope, etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(cached.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})


def _names(scope: Scope, etag: bytes) -> bool:
    """``If-None-Match`` names ``etag`` (weak comparison) or is ``*``."""
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            tags = {tag.strip().removeprefix(b"W/") for tag in value.split(b",")}
            return etag in tags or b"*" in tags
    return False
