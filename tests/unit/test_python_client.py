"""The Python client (clients/python) against scripted answers: the same Idempotency-Key on every
retry, Retry-After honoured within a bounded time on a fake clock (nothing really sleeps), typed
errors, and a subscription that resumes after a reconnect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from tests.support.python_client import (
    KEY_FORMAT,
    AsyncScoreboardClient,
    ProblemError,
    RetriesExhausted,
    RetryPolicy,
    ScoreboardClient,
    SubscriptionRefused,
    parse_retry_after,
    subscribe,
)

API = "http://api.test"
RECEIPT = {"event_id": "0b6f8a52-8a0e-5c1e-9d4a-3f1f3e0c2a11", "status": "accepted", "action_id": "win-match",
           "points": 100}


def problem(status: int, slug: str, retry_after: int | None = None) -> httpx.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    body = {"type": f"https://scoreboard.example/problems/{slug}", "title": slug.replace("-", " "),
            "status": status, "detail": f"because {slug}"}
    return httpx.Response(status, json=body, headers=headers | {"content-type": "application/problem+json"})


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Script:
    """Answers requests in order from a list of responses or exceptions; records every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]


def client(script: Script, time: FakeTime, retry: Any = None, token: str | None = "tok") -> Any:
    kwargs: dict[str, Any] = {"retry": retry} if retry is not None else {}
    return ScoreboardClient(API, token, transport=httpx.MockTransport(script), sleep=time.sleep, clock=time.clock,
                            **kwargs)


def test_complete_retries_every_transient_failure_with_the_same_generated_key() -> None:
    time = FakeTime()
    script = Script(httpx.ConnectError("refused"), problem(409, "request-in-progress", retry_after=1),
                    problem(429, "rate-limited", retry_after=2), problem(503, "dependency-unavailable", retry_after=3),
                    httpx.ReadTimeout("no answer"), httpx.Response(202, json=RECEIPT))
    receipt = client(script, time).complete("win-match")
    assert receipt == RECEIPT
    keys = script.keys()
    assert len(keys) == 6 and len(set(keys)) == 1
    assert keys[0] is not None and KEY_FORMAT.fullmatch(keys[0])
    assert [r.headers["authorization"] for r in script.requests] == ["Bearer tok"] * 6
    assert script.requests[0].url.path == "/v1/actions/win-match/complete"
    assert time.sleeps[1:4] == [1.0, 2.0, 3.0]  # Retry-After, to the second
    assert 0 < time.sleeps[0] <= 0.2 and 0 < time.sleeps[4] <= 5.0  # backoff where none was given


def test_each_call_gets_its_own_key_and_a_given_key_is_used_as_is() -> None:
    time = FakeTime()
    script = Script(*(httpx.Response(202, json=RECEIPT) for _ in range(3)))
    scoreboard = client(script, time)
    scoreboard.complete("win-match")
    scoreboard.complete("win-match")
    scoreboard.complete("boss-fight", ticket="t-1", key="order-42:attempt")
    first, second, third = script.keys()
    assert first != second and third == "order-42:attempt"
    assert json.loads(script.requests[2].content) == {"ticket": "t-1"}
    assert script.requests[0].content == b""
    with pytest.raises(ValueError):
        scoreboard.complete("win-match", key="short")
    assert len(script.requests) == 3


def test_a_refusal_whose_retry_after_passes_the_time_budget_is_raised_as_the_problem() -> None:
    time = FakeTime()
    script = Script(*(problem(429, "cooldown", retry_after=20) for _ in range(5)))
    with pytest.raises(ProblemError) as raised:
        client(script, time, retry=RetryPolicy(total_s=30)).complete("win-match", key="fixed-key-1")
    assert len(script.requests) == 2 and time.sleeps == [20.0]  # a second 20 s wait would end after 30 s
    error = raised.value
    assert (error.status, error.slug, error.retry_after, error.key, error.attempts) == (
        429, "cooldown", 20.0, "fixed-key-1", 2)


def test_retries_stop_after_the_attempt_budget() -> None:
    time = FakeTime()
    script = Script(*(httpx.ConnectError("refused") for _ in range(10)))
    with pytest.raises(RetriesExhausted) as raised:
        client(script, time, retry=RetryPolicy(max_attempts=4)).complete("win-match")
    assert len(script.requests) == 4 and len(time.sleeps) == 3
    assert isinstance(raised.value.last, httpx.ConnectError) and raised.value.attempts == 4


@pytest.mark.parametrize(("status", "slug"), [(422, "unprocessable"), (403, "banned"), (409, "ticket-used"),
                                              (404, "unknown-action"), (401, "unauthorized")])
def test_other_refusals_raise_a_typed_problem_at_once(status: int, slug: str) -> None:
    time = FakeTime()
    script = Script(problem(status, slug))
    with pytest.raises(ProblemError) as raised:
        client(script, time).complete("win-match")
    error = raised.value
    assert (error.status, error.slug, error.title, error.detail) == (status, slug, slug.replace("-", " "),
                                                                      f"because {slug}")
    assert error.type == f"https://scoreboard.example/problems/{slug}" and error.problem["status"] == status
    assert len(script.requests) == 1 and time.sleeps == []


def test_a_body_that_is_not_a_problem_still_raises_a_problem_error() -> None:
    script = Script(httpx.Response(400, text="<html>bad gateway config</html>"))
    with pytest.raises(ProblemError) as raised:
        client(script, FakeTime()).board("global")
    assert raised.value.status == 400 and raised.value.type == "about:blank"


def test_start_is_not_retried_since_each_start_opens_a_ticket() -> None:
    time = FakeTime()
    script = Script(problem(503, "dependency-unavailable", retry_after=1))
    with pytest.raises(ProblemError):
        client(script, time).start("boss-fight")
    assert len(script.requests) == 1 and script.requests[0].url.path == "/v1/actions/boss-fight/start"
    ticket = {"ticket": "abc", "expires_at": "2026-11-30T10:00:00Z", "not_before": "2026-11-30T09:01:00Z"}
    assert client(Script(httpx.Response(201, json=ticket)), time).start("boss-fight") == ticket


def test_reads_use_the_documented_paths_and_an_unranked_user_is_none() -> None:
    time = FakeTime()
    board = {"board": "global", "version": 7, "total": 1, "source": "redis",
             "entries": [{"rank": 1, "user_id": "bob", "score": 5}]}
    rank = {"board": "global", "user_id": "bob", "rank": 1, "score": 5, "percentile": 100.0, "total": 1}
    script = Script(problem(503, "dependency-unavailable", retry_after=1), httpx.Response(200, json=board),
                    httpx.Response(200, json=rank), problem(404, "user-not-ranked"),
                    httpx.Response(200, json={"board": "global", "user": rank, "entries": []}),
                    httpx.Response(200, json={"user_id": "bob", "boards": {}, "rejected": []}),
                    problem(404, "unknown-board"))
    scoreboard = client(script, time)
    assert scoreboard.board("global", limit=5, offset=10) == board
    assert scoreboard.rank("global", "bob") == rank
    assert scoreboard.rank("daily:2026-11-30", "nobody") is None
    assert scoreboard.around("weekly", "bob", radius=2)["user"] == rank
    assert scoreboard.me()["user_id"] == "bob"
    with pytest.raises(ProblemError, match="unknown-board"):
        scoreboard.rank("monthly", "bob")
    urls = [str(r.url) for r in script.requests]
    assert urls == [f"{API}/v1/leaderboards/global?limit=5&offset=10"] * 2 + [
        f"{API}/v1/leaderboards/global/users/bob", f"{API}/v1/leaderboards/daily:2026-11-30/users/nobody",
        f"{API}/v1/leaderboards/weekly/users/bob/around?radius=2", f"{API}/v1/me",
        f"{API}/v1/leaderboards/monthly/users/bob"]
    assert "authorization" not in script.requests[1].headers and script.requests[5].headers["authorization"]
    assert time.sleeps == [1.0]


def test_the_async_twin_retries_with_the_same_key_too() -> None:
    time = FakeTime()
    script = Script(httpx.ConnectError("refused"), problem(503, "dependency-unavailable", retry_after=2),
                    httpx.Response(200, json=RECEIPT | {"status": "duplicate"}))

    async def scenario() -> Any:
        async with AsyncScoreboardClient(API, "tok", transport=httpx.MockTransport(script), sleep=time.asleep,
                                         clock=time.clock) as scoreboard:
            receipt = await scoreboard.complete("win-match")
            with pytest.raises(ProblemError):
                script.answers.append(problem(422, "unprocessable"))
                await scoreboard.board("global")
            return receipt

    assert asyncio.run(scenario())["status"] == "duplicate"
    keys = script.keys()
    assert len(set(keys[:3])) == 1 and keys[0] is not None and time.sleeps[1] == 2.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Mon, 30 Nov 2026 12:00:05 GMT", lambda: now) == 5.0
    assert parse_retry_after("Mon, 30 Nov 2026 11:00:00 GMT", lambda: now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- subscribe -------------------------------------------------------------------------------------------


def frame(kind: str, version: int, board: str = "global") -> str:
    return json.dumps({"type": kind, "board": board, "version": version,
                       "entries": [{"rank": 1, "user_id": "bob", "score": version}]})


class FakeSocket:
    """One scripted connection: its frames, then a close (or an endless wait)."""

    def __init__(self, frames: list[str], close: Exception | None) -> None:
        self.frames = frames
        self.close = close
        self.sent: list[dict[str, Any]] = []

    async def __aenter__(self) -> FakeSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def recv(self) -> str:
        if self.frames:
            return self.frames.pop(0)
        if self.close is not None:
            raise self.close
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def closed(code: int, reason: str = "") -> ConnectionClosed:
    return ConnectionClosed(Close(code, reason), None)


def connector(sockets: list[FakeSocket], urls: list[str]) -> Callable[[str], FakeSocket]:
    def open_socket(url: str) -> FakeSocket:
        urls.append(url)
        answer = sockets.pop(0)
        return answer
    return open_socket


def test_subscribe_resumes_after_a_drop_and_never_repeats_a_version() -> None:
    first = FakeSocket([frame("snapshot", 3), '{"type":"heartbeat"}', frame("update", 5)], closed(1001, "bye"))
    refused = FakeSocket([], closed(1013, "too many"))
    second = FakeSocket([frame("snapshot", 5), frame("update", 4), frame("update", 8)], None)
    urls: list[str] = []
    sleeps: list[float] = []

    async def nap(seconds: float) -> None:
        sleeps.append(seconds)

    async def scenario() -> list[tuple[str, int]]:
        got: list[tuple[str, int]] = []
        frames = subscribe("http://gw.test:8001", "global", connector=connector([first, refused, second], urls),
                           sleep=nap)
        async for item in frames:
            got.append((item.kind, item.version))
            if len(got) == 3:
                break
        await frames.aclose()
        return got

    assert asyncio.run(scenario()) == [("snapshot", 3), ("update", 5), ("update", 8)]
    assert urls == ["ws://gw.test:8001/v1/leaderboards/global/ws"] * 3
    assert first.sent == [] and refused.sent == second.sent == [{"type": "resume", "version": 5}]
    assert len(sleeps) == 2 and sleeps[1] >= sleeps[0]  # the backoff grows while connecting fails


def test_subscribe_gives_up_on_a_policy_close() -> None:
    urls: list[str] = []

    async def scenario() -> None:
        async for _ in subscribe("http://gw.test", "nope", connector=connector(
                [FakeSocket([], closed(1008, "unknown board"))], urls)):
            raise AssertionError("no frame expected")

    with pytest.raises(SubscriptionRefused) as raised:
        asyncio.run(scenario())
    assert raised.value.code == 1008 and "unknown board" in str(raised.value)


def test_subscribe_gives_up_on_a_handshake_refused_with_a_4xx_but_retries_a_5xx() -> None:
    attempts: list[int] = []

    def refusing(url: str) -> FakeSocket:
        status = 503 if not attempts else 404
        attempts.append(status)
        raise InvalidStatus(Response(status, "no", Headers()))

    async def nap(seconds: float) -> None:
        return None

    async def scenario() -> None:
        async for _ in subscribe("http://gw.test", "global", connector=refusing, sleep=nap):
            raise AssertionError("no frame expected")

    with pytest.raises(SubscriptionRefused) as raised:
        asyncio.run(scenario())
    assert raised.value.code == 404 and attempts == [503, 404]
