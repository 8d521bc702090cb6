"""HTTP handlers of the reads: board pages, a user's place, around a user, my scores, history.

Errors: an unknown board name is a 404, a bad parameter a 422, a user absent from a board a 404,
someone else's history a 403. A valid board nobody scored on yet answers 200 with no entries.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from producer_api.board_cache import entity_tag, page_body
from producer_api.queries import REDIS, Sourced
from producer_api.routes import authenticate, int_param, services
from projections.history import HistoryEntry, Position, recent_rejections
from projections.pages import Page, Placement
from scoreboard.adapters.web.client_address import client_address_of
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain import boards
from scoreboard.domain.clock import to_datetime, to_micros
from scoreboard.domain.events import BoardEntry

log = logging.getLogger(__name__)
MAX_OFFSET = 10_000_000
MAX_RADIUS = 50
_CURSOR_PREFIX = "h1:"
_BIGINT = 1 << 63
_INVALID_AS_OF = "`as_of` must be an RFC 3339 date-time with an offset, e.g. 2026-11-27T18:30:00Z"
CACHE_CONTROL = "no-cache"
"""A live board changes at any moment, so a stored page is never fresh: a client or proxy may keep it,
but asks again each time (``If-None-Match``) and gets a bodiless 304 while the board is unchanged.
``max-age`` of even one second would let a cache hand out a top N the push already replaced."""


def rfc3339(micros: int) -> str:
    return to_datetime(micros).isoformat().replace("+00:00", "Z")


def as_of_param(request: Request, now_us: int) -> int | None:
    raw = request.query_params.get("as_of")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.upper())
        micros = to_micros(moment) if moment.tzinfo is not None else None
    except (ValueError, OverflowError) as exc:
        raise Problem(422, "invalid-parameter", _INVALID_AS_OF) from exc
    if micros is None:
        raise Problem(422, "invalid-parameter", _INVALID_AS_OF)
    if micros > now_us:
        raise Problem(422, "invalid-parameter", "`as_of` is in the future")
    return micros


def board_at(request: Request, moment_us: int) -> str:
    """The concrete board the path names at ``moment_us`` (``daily`` is the day of that moment)."""
    name = request.path_params["board"]
    try:
        return boards.resolve(name, moment_us)
    except boards.UnknownBoard as exc:
        raise Problem(404, "unknown-board",
                      f"no board {name!r}: use global, daily, weekly, daily:YYYY-MM-DD or weekly:YYYY-Www") from exc


async def within_ledger_read_limit(request: Request) -> None:
    """The per-client-IP bucket of the reads that run on the ledger pool (``as_of``, history): 429
    when spent. Best effort like the IP bucket: without Redis the read goes on, bounded by its pool."""
    found = services(request)
    address = client_address_of(request.scope, found.trusted_proxies)
    try:
        await found.limiter.enforce(found.history_bucket, address)
    except RedisError as exc:
        log.warning("history rate limit unavailable, letting %s through: %s", address, exc)


async def moment_and_board(request: Request) -> tuple[int | None, str]:
    now_us = services(request).clock.now_us()
    as_of = as_of_param(request, now_us)
    board = board_at(request, now_us if as_of is None else as_of)
    if as_of is not None:
        await within_ledger_read_limit(request)
    return as_of, board


def entry_json(entry: BoardEntry) -> dict[str, Any]:
    return {"rank": entry.rank, "user_id": entry.user_id, "score": entry.score}


def user_rank_json(board: str, placement: Placement) -> dict[str, Any]:
    entry, total = placement.entry, placement.total
    return {"board": board, "user_id": entry.user_id, "rank": entry.rank, "score": entry.score,
            "percentile": round(100 * (total - entry.rank + 1) / total, 2), "total": total}


def with_as_of(answer: dict[str, Any], as_of: int | None) -> dict[str, Any]:
    return answer | ({"as_of": rfc3339(as_of)} if as_of is not None else {})


def etag_matches(request: Request, etag: str) -> bool:
    """``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for this header) or is ``*``."""
    given = request.headers.get("if-none-match")
    if not given:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in given.split(",")}
    return etag in tags or "*" in tags


def validated(request: Request, body: bytes, etag: str, cache: str) -> Response:
    """The page with its validator, or a bodiless 304 when the client already holds this state.
    ``cache`` (the ``X-Cache`` header): ``hit`` from memory, ``miss`` from Redis."""
    headers = {"etag": etag, "cache-control": CACHE_CONTROL, "x-cache": cache}
    if etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def get_leaderboard(request: Request) -> Response:
    """A page of a board. The first page of a live board (``offset=0``, ``limit`` up to the top N, no
    ``as_of``) comes from memory when ``producer_api.board_cache`` may answer it; every page within the
    top N that Redis answers carries the same validator for the same state."""
    as_of, board = await moment_and_board(request)
    limit = int_param(request, "limit", 10, 1, 100)
    offset = int_param(request, "offset", 0, 0, MAX_OFFSET)
    found_services = services(request)
    cache = found_services.board_cache
    if as_of is None and offset == 0:
        cached = cache.answer(board, limit, found_services.clock.now_us())
        if cached is not None:
            return validated(request, cached.body, cached.etag, "hit")
    found: Sourced[Page] = await found_services.queries.page(board, limit, offset, as_of)
    page = found.value
    if as_of is None and found.source == REDIS and offset + limit <= cache.top_n:
        # Within the top N, version and total determine the whole answer (the version moves with every
        # change of the top N), so this validator is strong, and the same as the memory path's.
        return validated(request, page_body(board, page.version, page.total, REDIS, page.entries),
                         entity_tag(page.version, page.total), "miss")
    return JSONResponse(with_as_of({
        "board": board, "version": page.version, "total": page.total, "source": found.source,
        "entries": [entry_json(e) for e in page.entries],
    }, as_of), headers={"x-cache": "miss"})


async def placement_or_404(request: Request, radius: int) -> tuple[int | None, str, Sourced[Placement]]:
    as_of, board = await moment_and_board(request)
    user_id = request.path_params["user_id"]
    found = await services(request).queries.placement(board, user_id, radius, as_of)
    if found.value is None:
        raise Problem(404, "user-not-ranked", f"user {user_id!r} has no score on {board}")
    return as_of, board, Sourced(found.value, found.source)


async def get_user_rank(request: Request) -> Response:
    as_of, board, found = await placement_or_404(request, 0)
    return JSONResponse(with_as_of(user_rank_json(board, found.value), as_of))


async def get_around(request: Request) -> Response:
    radius = int_param(request, "radius", 5, 0, MAX_RADIUS)
    as_of, board, found = await placement_or_404(request, radius)
    placement = found.value
    return JSONResponse(with_as_of({
        "board": board, "version": placement.version, "total": placement.total, "source": found.source,
        "user": user_rank_json(board, placement), "entries": [entry_json(e) for e in placement.neighbours],
    }, as_of))


async def get_me(request: Request) -> Response:
    principal = await authenticate(request)
    found = services(request)
    now_us = found.clock.now_us()
    mine: dict[str, Any] = {}
    for alias in (boards.GLOBAL, "daily", "weekly"):
        board = boards.resolve(alias, now_us)
        placement = (await found.queries.placement(board, principal.user_id)).value
        mine[alias] = user_rank_json(board, placement) if placement is not None else None
    rejected = await recent_rejections(found.pool, principal.user_id)
    # Under a review that holds points the user is off the boards; they see their points as pending
    # (never the detector or its evidence: that would teach a script where the thresholds are).
    view = await found.reviews.of_user(principal.user_id)
    holding = view is not None and view.review.holding
    return JSONResponse({"user_id": principal.user_id, "boards": mine, "rejected": [
        {"event_id": r.event_id, "code": r.code, "reason": r.reason, "rejected_at": rfc3339(r.rejected_at_us)}
        for r in rejected],
        "held_points": view.held_points if view is not None and holding else 0,
        "review": {"status": "pending", "since": rfc3339(view.review.flagged_at_us), "score": view.score}
        if view is not None and holding else None})


def encode_cursor(position: Position) -> str:
    raw = _CURSOR_PREFIX + json.dumps(list(position))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError("unknown cursor version")
        at, row = json.loads(raw[len(_CURSOR_PREFIX):])
        if not all(type(v) is int and -_BIGINT <= v < _BIGINT for v in (at, row)):
            raise ValueError("not a position")
        return at, row
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
        raise Problem(422, "invalid-cursor", "`cursor` is not one this api handed out") from exc


def history_entry_json(entry: HistoryEntry) -> dict[str, Any]:
    return {"event_id": entry.event_id, "action_id": entry.action_id, "points": entry.points,
            "total_after": entry.total_after, "occurred_at": rfc3339(entry.occurred_at_us)}


async def get_history(request: Request) -> Response:
    principal = await authenticate(request)
    user_id = request.path_params["user_id"]
    if principal.user_id != user_id and not principal.is_admin:
        raise Problem(403, "forbidden", "a user's history is readable by that user and by admins only")
    limit = int_param(request, "limit", 20, 1, 100)
    cursor = request.query_params.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    await within_ledger_read_limit(request)
    page = await services(request).history.page(user_id, limit, after)
    return JSONResponse({
        "user_id": user_id,
        "entries": [history_entry_json(e) for e in page.entries],
        "next_cursor": encode_cursor(page.next) if page.next else None,
    })
