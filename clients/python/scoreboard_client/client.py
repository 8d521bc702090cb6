"""``ScoreboardClient`` (blocking, on httpx) and ``AsyncScoreboardClient`` (asyncio): post actions with
automatic Idempotency-Keys and safe retries, read boards, subscribe to live updates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, cast
from urllib.parse import quote

import httpx

from .errors import ProblemError
from .models import Around, Board, BoardFrame, Me, Receipt, Ticket, UserRank
from .retrying import DEFAULT_RETRY, NO_RETRY, RETRYABLE_TRANSPORT, Attempts, RetryPolicy, checked_key
from .subscribe import subscribe

USER_AGENT = "scoreboard-client-python/0.1"


def _segment(value: str) -> str:
    return quote(value, safe=":")


def _complete_request(action_id: str, ticket: str | None, key: str | None) -> tuple[str, str, dict[str, Any] | None]:
    body = {"ticket": ticket} if ticket is not None else None
    return f"/v1/actions/{_segment(action_id)}/complete", checked_key(key), body


class _Common:
    def __init__(self, api_url: str, token: str | None, gateway_url: str | None, retry: RetryPolicy) -> None:
        self.api_url = api_url.rstrip("/")
        self.gateway_url = gateway_url.rstrip("/") if gateway_url else None
        self.token = token
        self.retry = retry

    def _headers(self, key: str | None, auth: bool) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
        if auth:
            if not self.token:
                raise ValueError("this call needs a token: ScoreboardClient(api_url, token)")
            headers["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def subscribe(self, board: str = "global", *, since: int | None = None) -> AsyncGenerator[BoardFrame, None]:
        """Live top 10 of ``board`` over the gateway's WebSocket: a snapshot, then each newer version;
        reconnects with backoff and resumes from the last version it yielded. See ``subscribe``."""
        if not self.gateway_url:
            raise ValueError("subscribing needs the gateway: pass gateway_url=")
        return subscribe(self.gateway_url, board, since=since)


def _unless_unranked(error: ProblemError) -> None:
    """Re-raise ``error`` unless it says the user has no score on the board."""
    if error.status != 404 or error.slug != "user-not-ranked":
        raise error


class ScoreboardClient(_Common):
    """Blocking client. ``token`` is the user's JWT (needed for ``start``, ``complete`` and ``me``)."""

    def __init__(self, api_url: str, token: str | None = None, *, gateway_url: str | None = None,
                 retry: RetryPolicy = DEFAULT_RETRY, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(api_url, token, gateway_url, retry)
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout_s, transport=transport)
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ScoreboardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, key: str | None = None, auth: bool = False,
              body: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
              retry: RetryPolicy | None = None) -> Any:
        attempts = Attempts(retry or self.retry, self._clock, key or "")
        headers = self._headers(key, auth)
        while True:
            try:
                response = self._http.request(method, path, headers=headers, json=body, params=params)
            except RETRYABLE_TRANSPORT as exc:
                self._sleep(attempts.wait_after(exc))
                continue
            wait = attempts.judge(response)
            if wait is None:
                return response.json()
            self._sleep(wait)

    def complete(self, action_id: str, *, ticket: str | None = None, key: str | None = None) -> Receipt:
        """Complete ``action_id``; with ``key`` None a fresh Idempotency-Key is made. Connection errors,
        409 request-in-progress, 429 and 503 are retried with the same key (honouring Retry-After), so
        the action counts once; other refusals raise ``ProblemError``, running out ``RetriesExhausted``."""
        path, key, body = _complete_request(action_id, ticket, key)
        return cast(Receipt, self._call("POST", path, key=key, auth=True, body=body))

    def start(self, action_id: str) -> Ticket:
        """A ticket for an action that needs one. Not retried: each start opens a new ticket."""
        return cast(Ticket, self._call("POST", f"/v1/actions/{_segment(action_id)}/start", auth=True,
                                       retry=NO_RETRY))

    def board(self, board: str = "global", limit: int = 10, offset: int = 0) -> Board:
        return cast(Board, self._call("GET", f"/v1/leaderboards/{_segment(board)}",
                                      params={"limit": limit, "offset": offset}))

    def rank(self, board: str, user_id: str) -> UserRank | None:
        """The user's rank on ``board``, None when the user has no score there."""
        try:
            return cast(UserRank, self._call("GET", f"/v1/leaderboards/{_segment(board)}/users/{_segment(user_id)}"))
        except ProblemError as error:
            _unless_unranked(error)
            return None

    def around(self, board: str, user_id: str, radius: int = 5) -> Around | None:
        """The entries ``radius`` ranks above and below the user; None when the user has no score there."""
        try:
            return cast(Around, self._call("GET", f"/v1/leaderboards/{_segment(board)}/users/"
                                           f"{_segment(user_id)}/around", params={"radius": radius}))
        except ProblemError as error:
            _unless_unranked(error)
            return None

    def me(self) -> Me:
        return cast(Me, self._call("GET", "/v1/me", auth=True))


class AsyncScoreboardClient(_Common):
    """The asyncio twin of ``ScoreboardClient``: the same methods, awaited."""

    def __init__(self, api_url: str, token: str | None = None, *, gateway_url: str | None = None,
                 retry: RetryPolicy = DEFAULT_RETRY, timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(api_url, token, gateway_url, retry)
        self._http = httpx.AsyncClient(base_url=self.api_url, timeout=timeout_s, transport=transport)
        self._sleep = sleep
        self._clock = clock

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncScoreboardClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, *, key: str | None = None, auth: bool = False,
                    body: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                    retry: RetryPolicy | None = None) -> Any:
        attempts = Attempts(retry or self.retry, self._clock, key or "")
        headers = self._headers(key, auth)
        while True:
            try:
                response = await self._http.request(method, path, headers=headers, json=body, params=params)
            except RETRYABLE_TRANSPORT as exc:
                await self._sleep(attempts.wait_after(exc))
                continue
            wait = attempts.judge(response)
            if wait is None:
                return response.json()
            await self._sleep(wait)

    async def complete(self, action_id: str, *, ticket: str | None = None, key: str | None = None) -> Receipt:
        """See ``ScoreboardClient.complete``."""
        path, key, body = _complete_request(action_id, ticket, key)
        return cast(Receipt, await self._call("POST", path, key=key, auth=True, body=body))

    async def start(self, action_id: str) -> Ticket:
        return cast(Ticket, await self._call("POST", f"/v1/actions/{_segment(action_id)}/start", auth=True,
                                             retry=NO_RETRY))

    async def board(self, board: str = "global", limit: int = 10, offset: int = 0) -> Board:
        return cast(Board, await self._call("GET", f"/v1/leaderboards/{_segment(board)}",
                                            params={"limit": limit, "offset": offset}))

    async def rank(self, board: str, user_id: str) -> UserRank | None:
        try:
            return cast(UserRank, await self._call(
                "GET", f"/v1/leaderboards/{_segment(board)}/users/{_segment(user_id)}"))
        except ProblemError as error:
            _unless_unranked(error)
            return None

    async def around(self, board: str, user_id: str, radius: int = 5) -> Around | None:
        try:
            return cast(Around, await self._call("GET", f"/v1/leaderboards/{_segment(board)}/users/"
                                                 f"{_segment(user_id)}/around", params={"radius": radius}))
        except ProblemError as error:
            _unless_unranked(error)
            return None

    async def me(self) -> Me:
        return cast(Me, await self._call("GET", "/v1/me", auth=True))
