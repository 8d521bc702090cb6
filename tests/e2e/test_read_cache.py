"""The api's in-memory first pages on the real stack: a change reaches the cached read, the entity tag
follows the board's state, a matching If-None-Match gets a 304, and a board the cache does not hold
is answered by Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from scoreboard.domain.boards import daily_id
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import LogEvent, ScoreAdjusted
from testkit.system import System
from testkit.waits import wait_until
from tests.support.suite import running_system
from tests.support.workload import action, produce

pytestmark = pytest.mark.e2e
LEAD = 10**13
"""Far above any head start another session's run grants (10⁹), so the user tops the shared stack's
global board of this world whatever else its worker reads."""


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system() as running:
        yield running


def adjust(system: System, user: str, delta: int) -> None:
    now_us = to_micros(datetime.now(UTC))
    event: LogEvent = ScoreAdjusted(str(uuid.uuid4()), user, delta, "read cache test", "root",
                                    f"adj-{uuid.uuid4().hex}", now_us)
    asyncio.run(produce(system.world.kafka_bootstrap, [event]))


def cached_top(http: httpx.Client, user: str, score: int) -> httpx.Response | None:
    """The global top 10 once memory answers it with ``user`` at ``score``."""
    answer = http.get("/v1/leaderboards/global", params={"limit": 10})
    entries = answer.json()["entries"] if answer.status_code == 200 else []
    shown = any(e["user_id"] == user and e["score"] == score for e in entries)
    return answer if shown and answer.headers.get("x-cache") == "hit" else None


def test_a_score_change_reaches_the_cached_top_and_the_entity_tag_follows_the_version(system: System) -> None:
    """The adjusted user shows in the memory answer; If-None-Match of its tag is a bodiless 304; the
    next change gives a new version and tag, and the old tag then gets the full page."""
    user = f"cache-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=system.api_url, timeout=10) as http:
        adjust(system, user, LEAD)
        first = wait_until(lambda: cached_top(http, user, LEAD), timeout_s=30,
                           what="the adjusted user in the global top 10 answered from memory")
        etag, version = first.headers["etag"], first.json()["version"]
        assert first.headers["cache-control"] == "no-cache"
        assert etag.startswith(f'"{version}.')

        def not_modified() -> httpx.Response | None:
            current = http.get("/v1/leaderboards/global", params={"limit": 10})
            again = http.get("/v1/leaderboards/global", params={"limit": 10},
                             headers={"If-None-Match": current.headers["etag"]})
            return again if again.status_code == 304 else None  # another change may land in between
        unchanged = wait_until(not_modified, timeout_s=30, what="a 304 for the current tag")
        assert unchanged.content == b"" and unchanged.headers["x-cache"] == "hit"

        adjust(system, user, 1)
        second = wait_until(lambda: cached_top(http, user, LEAD + 1), timeout_s=30,
                            what="the second adjustment in the cached top 10")
        assert second.json()["version"] > version and second.headers["etag"] != etag
        stale = http.get("/v1/leaderboards/global", params={"limit": 10}, headers={"If-None-Match": etag})
        assert stale.status_code == 200 and any(e["user_id"] == user for e in stale.json()["entries"])


def test_a_board_the_cache_does_not_hold_is_answered_by_redis_with_its_validator(system: System) -> None:
    """A past day's board is never held: Redis answers it (X-Cache miss), with a tag of its version and
    total, and If-None-Match of that tag is a 304 from the Redis path."""
    day = date(2001, 1, 1) + timedelta(days=uuid.uuid4().int % 6000)
    at = to_micros(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
    user = f"past-{uuid.uuid4().hex[:8]}"
    asyncio.run(produce(system.world.kafka_bootstrap, [action(user, 100, at)]))
    board = daily_id(day)
    with httpx.Client(base_url=system.api_url, timeout=10) as http:
        def from_redis() -> httpx.Response | None:
            answer = http.get(f"/v1/leaderboards/{board}", params={"limit": 10})
            body = answer.json()
            return answer if body["source"] == "redis" and [e["user_id"] for e in body["entries"]] == [user] else None
        found = wait_until(from_redis, timeout_s=30, what="the past day's board in Redis")
        body = found.json()
        assert found.headers["x-cache"] == "miss"
        assert found.headers["etag"] == f'"{body["version"]}.{body["total"]}"'
        again = http.get(f"/v1/leaderboards/{board}", params={"limit": 10},
                         headers={"If-None-Match": found.headers["etag"]})
        assert (again.status_code, again.headers["x-cache"]) == (304, "miss")
