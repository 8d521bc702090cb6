"""RFC 9457 problem details: every error answer is ``application/problem+json`` with a stable type."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)
TYPE_BASE = "https://scoreboard.example/problems/"
_TITLES = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type", 422: "unprocessable",
    429: "rate-limited", 500: "internal", 503: "unavailable",
}


class Problem(Exception):
    """Raised by handlers; rendered as a problem+json response."""

    def __init__(self, status: int, slug: str, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, slug: str, detail: str, *, instance: str = "",
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": slug.replace("-", " "),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json",
                    headers=headers)


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.slug, exc.detail, instance=request.url.path,
                            headers=exc.headers, **exc.extra)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    slug = _TITLES.get(exc.status_code, "error")
    return problem_response(exc.status_code, slug, str(exc.detail), instance=request.url.path,
                            headers=dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal", "internal error; it has been logged", instance=request.url.path)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    Problem: on_problem,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
