"""The route that carries the load, ``POST /v1/actions/{action_id}/complete``, served in front of
Starlette's middleware stack and router; every other request goes to the Starlette app unchanged.

The hot route reuses the same parts: the route's own matcher, so path parameters, the metrics label
and ``request.app`` are the same; the same metrics and client-IP middleware; the same endpoint; and
the same exception handlers, looked up along the exception's MRO as Starlette does. It skips
ServerErrorMiddleware, ExceptionMiddleware, matching the other routes, and ``request_response``'s
second exception wrapper. Why and what it saves: docs/adr/0006-hot-route-before-the-framework.md; the
measurements are step 9 of "What changed, in order, each measured" in docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request, Exception], Awaitable[Response]]
_KNOWN_PATHS = 1024
"""Distinct paths whose match is remembered (matched once); beyond that they are matched on every request."""


class HotRoute:
    def __init__(self, app: Starlette, route: Route, handlers: Mapping[Any, Handler],
                 wrap: Callable[[ASGIApp], ASGIApp], outer: Callable[[ASGIApp], ASGIApp] | None = None,
                 hot_outer: Callable[[ASGIApp], ASGIApp] | None = None) -> None:
        """``wrap`` puts the middleware the hot route keeps around its endpoint; ``outer``, if given, is
        middleware around everything, the hot route and the whole Starlette app (its error middleware
        included), e.g. one that must also see the 500s. ``hot_outer``, if given, is the part of
        ``outer`` that acts on the hot route's requests (the rest passes them on untouched): the hot
        route is then picked first and served through ``hot_outer`` alone, one layer fewer per call."""
        self._app = app
        self._route = route
        self._endpoint: Callable[[Request], Awaitable[Response]] = route.endpoint
        self._handlers = handlers
        self._hot = wrap(self._handle)
        self._entry: ASGIApp = outer(self._dispatch) if outer is not None else self._dispatch
        self._hot_entry: ASGIApp | None = hot_outer(self._hot) if hot_outer is not None else None
        self._matched: dict[tuple[str, str], dict[str, Any] | None] = {}
        """(path, root path) of a POST -> the route's path parameters, None if the route does not match it."""

    @property
    def app(self) -> Starlette:
        """The Starlette app that answers everything but the hot route."""
        return self._app

    @property
    def state(self) -> State:
        return self._app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._hot_entry is not None and self._takes(scope):
            await self._hot_entry(scope, receive, send)
            return
        await self._entry(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._takes(scope):
            await self._hot(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _takes(self, scope: Scope) -> bool:
        """Whether the hot route serves this request; if so, the scope now says so as Starlette's
        router would have left it (app, endpoint, path parameters, route)."""
        if scope["type"] == "http" and scope["method"] == "POST":
            params = self._path_params(scope)
            if params is not None:
                scope["app"] = self._app
                scope["endpoint"] = self._endpoint
                scope["path_params"] = params
                scope["route"] = self._route
                return True
        return False

    def _path_params(self, scope: Scope) -> dict[str, Any] | None:
        """The path parameters ``self._route.matches`` gives a POST it fully matches (a fresh dict), else
        None; remembered per path, as the match of a POST depends on its path alone (and on path
        parameters an outer router set, which then skip the memory)."""
        if "path_params" in scope:
            match, child_scope = self._route.matches(scope)
            return dict(child_scope["path_params"]) if match is Match.FULL else None
        key = (scope["path"], scope.get("root_path", ""))
        if key in self._matched:
            params = self._matched[key]
        else:
            match, child_scope = self._route.matches(scope)
            params = child_scope["path_params"] if match is Match.FULL else None
            if len(self._matched) < _KNOWN_PATHS:
                self._matched[key] = params
        return dict(params) if params is not None else None

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._endpoint(request)
        except Exception as exc:  # noqa: BLE001 - mapped exactly as the Starlette app maps it
            response = await self._handler_for(exc)(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler:
        for kind in type(exc).__mro__:
            if kind in self._handlers:
                return self._handlers[kind]
        raise exc  # unreachable while Exception itself has a handler
