"""The api's first pages in memory: which versions the cache keeps, when it may answer, the hot read
in front of the router, and the validators and 304s of ``GET /v1/leaderboards/{board}`` on both the
memory and the Redis path."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from producer_api.board_cache import BoardCache, entity_tag, page_body
from producer_api.board_feed import BoardFeed, check_once
from producer_api.hot_reads import HotReads, first_page_limit
from producer_api.queries import REDIS, Sourced
from producer_api.query_routes import get_leaderboard
from projections.pages import Page
from projections.ranking import BoardIncomplete
from scoreboard.adapters import codec
from scoreboard.domain.events import BoardEntry, LeaderboardChanged
from testkit.waits import wait_until_async
from tests.support.gateway_fakes import CHANGE_KEYRING, FakeClock, Record, ScriptedConsumer, consumers_from

NOW = 1_795_000_000_000_000  # 2026-11-18, a Wednesday
TODAY = "daily:2026-11-18"
DAY = 86_400_000_000


def top(n: int, lead: int = 1000) -> tuple[BoardEntry, ...]:
    return tuple(BoardEntry(i + 1, f"u{i}", lead - i) for i in range(n))


def ready_cache(board: str = "global", version: int = 5, total: int = 42, n: int = 10) -> BoardCache:
    """A cache that caught up, holds ``board`` at ``version`` and had it vouched for by Redis just now."""
    cache = BoardCache(top_n=10)
    cache.ready = True
    assert cache.offer(board, version, top(n), NOW)
    cache.confirm(board, version, total, NOW)
    return cache


def test_the_cache_keeps_the_highest_version_of_a_board() -> None:
    """v5 then v7 is taken; v6 and v7 again are ignored; the answer is v7's entries."""
    cache = ready_cache(version=5)
    assert cache.offer("global", 7, top(10, lead=7000), NOW)
    assert not cache.offer("global", 6, top(10, lead=6000), NOW)
    assert not cache.offer("global", 7, top(10, lead=1), NOW)
    cache.confirm("global", 7, 42, NOW)
    answer = cache.answer("global", 3, NOW)
    assert answer is not None and answer.etag == '"7.42"'
    assert json.loads(answer.body)["entries"][0] == {"rank": 1, "user_id": "u0", "score": 7000}


def test_a_cached_answer_is_byte_for_byte_the_redis_paths_answer() -> None:
    """Same board state, same bytes and same entity tag, whichever path builds it."""
    answer = ready_cache(version=5, total=42).answer("global", 4, NOW)
    assert answer is not None
    assert answer.body == page_body("global", 5, 42, REDIS, top(4))
    assert answer.etag == entity_tag(5, 42)


def test_only_limits_up_to_the_top_n_are_answered_from_memory() -> None:
    """limit 1..10 from memory (fewer entries when the board is smaller); 11 is not."""
    cache = ready_cache(n=3)
    assert all(cache.answer("global", limit, NOW) is not None for limit in range(1, 11))
    assert len(json.loads(cache.answer("global", 10, NOW).body)["entries"]) == 3  # type: ignore[union-attr]
    assert cache.answer("global", 11, NOW) is None


def test_memory_does_not_answer_before_the_feed_caught_up_or_without_a_recent_redis_check() -> None:
    """Not ready, never checked, a failed check, a check too old: every one falls back (None)."""
    cache = ready_cache()
    cache.ready = False
    assert cache.answer("global", 10, NOW) is None
    unchecked = BoardCache(top_n=10)
    unchecked.ready = True
    unchecked.offer("global", 5, top(10), NOW)
    assert unchecked.answer("global", 10, NOW) is None
    failed = ready_cache()
    failed.check_failed("global")
    assert failed.answer("global", 10, NOW) is None
    old = ready_cache()
    assert old.answer("global", 10, NOW + old.max_check_age_us) is not None
    assert old.answer("global", 10, NOW + old.max_check_age_us + 1) is None


def test_memory_does_not_answer_a_version_older_than_redis_had() -> None:
    """Redis reports v9 while the feed gave v5: Redis answers until the feed brings v9 or later."""
    cache = ready_cache(version=5)
    cache.confirm("global", 9, 42, NOW)
    assert cache.answer("global", 10, NOW) is None
    cache.offer("global", 9, top(10), NOW)
    assert cache.answer("global", 10, NOW) is not None


def test_only_live_boards_are_held_and_the_rollover_drops_yesterdays() -> None:
    """Today's daily is held; a past daily is refused; after midnight today's daily is gone."""
    cache = ready_cache(board=TODAY)
    assert not cache.offer("daily:2026-11-17", 5, top(10), NOW)
    assert cache.answer(TODAY, 10, NOW) is not None
    tomorrow = (NOW // DAY + 1) * DAY
    cache.confirm(TODAY, 5, 42, tomorrow)
    assert cache.answer(TODAY, 10, tomorrow) is None
    assert TODAY not in cache.to_check(tomorrow) and cache.version_of(TODAY) == 0


def test_a_new_total_changes_the_answer_and_its_entity_tag() -> None:
    """A user joining below the top N changes total, not the version: the tag follows the body."""
    cache = ready_cache(total=42)
    cache.confirm("global", 5, 43, NOW)
    answer = cache.answer("global", 10, NOW)
    assert answer is not None and answer.etag == '"5.43"' and json.loads(answer.body)["total"] == 43


def change(version: int, board: str = "global") -> bytes:
    return codec.encode(LeaderboardChanged(board, version, top(10, lead=version), version))


async def fed(records: list[bytes | Record], cache: BoardCache) -> BoardFeed:
    feed = BoardFeed(consumers_from([ScriptedConsumer(records)]), cache, CHANGE_KEYRING, FakeClock(NOW))
    task = asyncio.create_task(feed.run())
    try:
        async def caught_up() -> bool:
            return feed.caught_up.is_set()
        await wait_until_async(caught_up, timeout_s=10, interval_s=0.01, what="the feed caught up")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return feed


def test_the_feed_takes_signed_changes_and_rejects_unsigned_and_older_ones() -> None:
    """An unsigned v10**15 and a later, older v3 never reach the cache: it holds the signed v4."""
    cache = BoardCache(top_n=10)
    feed = asyncio.run(fed([Record(change(10**15)), change(2), change(4), change(3)], cache))
    assert feed.forged == 1
    assert cache.version_of("global") == 4


@dataclass
class FakePages:
    """Redis' answer to the checks: a page per board, or an exception."""

    pages: dict[str, Page | Exception]
    asked: list[str] = field(default_factory=list)

    async def page(self, board: str, limit: int, offset: int, *, complete: bool = False) -> Page:
        self.asked.append(board)
        found = self.pages.get(board, BoardIncomplete())
        if isinstance(found, Exception):
            raise found
        return found


def test_the_check_vouches_for_live_boards_and_a_failed_one_stops_memory_answers() -> None:
    """Every live board is read; after a good check memory answers with Redis' total; after an
    incomplete board, or with the feed disconnected, it does not."""
    cache = BoardCache(top_n=10)
    cache.offer("global", 5, top(10), NOW)
    feed = SimpleNamespace(caught_up=asyncio.Event(), connected=True)
    feed.caught_up.set()
    pages = FakePages({"global": Page(5, 77, top(10))})
    asyncio.run(check_once(cache, feed, pages, FakeClock(NOW)))  # type: ignore[arg-type]
    assert sorted(pages.asked) == ["daily:2026-11-18", "global", "weekly:2026-W47"]
    answer = cache.answer("global", 10, NOW)
    assert answer is not None and json.loads(answer.body)["total"] == 77
    pages.pages["global"] = BoardIncomplete()
    asyncio.run(check_once(cache, feed, pages, FakeClock(NOW)))  # type: ignore[arg-type]
    assert cache.answer("global", 10, NOW) is None
    feed.connected = False
    pages.pages["global"] = Page(5, 77, top(10))
    asyncio.run(check_once(cache, feed, pages, FakeClock(NOW)))  # type: ignore[arg-type]
    assert cache.answer("global", 10, NOW) is None  # a broken feed: Redis answers


def test_a_newer_version_redis_answers_without_a_change_record_replaces_the_feeds() -> None:
    """A repair rewrote the board (v9, no change record): memory answers v9's page as Redis would."""
    cache = BoardCache(top_n=10)
    cache.offer("global", 5, top(10), NOW)
    feed = SimpleNamespace(caught_up=asyncio.Event(), connected=True)
    feed.caught_up.set()
    pages = FakePages({"global": Page(9, 50, top(10, lead=9000))})
    asyncio.run(check_once(cache, feed, pages, FakeClock(NOW)))  # type: ignore[arg-type]
    answer = cache.answer("global", 2, NOW)
    assert answer is not None and answer.body == page_body("global", 9, 50, REDIS, top(2, lead=9000))


@dataclass
class FakeQueries:
    page_of: Page
    calls: int = 0

    async def page(self, board: str, limit: int, offset: int, as_of: int | None = None) -> Sourced[Page]:
        self.calls += 1
        return Sourced(self.page_of, REDIS)


def client(cache: BoardCache, queries: FakeQueries) -> TestClient:
    app = Starlette(routes=[Route("/v1/leaderboards/{board}", get_leaderboard, methods=["GET"])])
    app.state.services = SimpleNamespace(board_cache=cache, queries=queries, clock=FakeClock(NOW))
    return TestClient(app)


def test_the_first_page_comes_from_memory_and_a_matching_etag_gets_a_bodiless_304() -> None:
    """limit 10 from memory with ETag and no-cache; If-None-Match of that tag: 304, no Redis read."""
    queries = FakeQueries(Page(5, 42, top(10)))
    http = client(ready_cache(version=5, total=42), queries)
    first = http.get("/v1/leaderboards/global?limit=10")
    assert (first.status_code, first.headers["etag"], first.headers["x-cache"]) == (200, '"5.42"', "hit")
    assert first.headers["cache-control"] == "no-cache"
    assert first.json()["entries"][9] == {"rank": 10, "user_id": "u9", "score": 991}
    again = http.get("/v1/leaderboards/global?limit=10", headers={"If-None-Match": 'W/"1.1", "5.42"'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", '"5.42"')
    assert queries.calls == 0


def test_reads_memory_cannot_answer_go_to_redis_with_the_same_validator_for_the_same_state() -> None:
    """offset 1, limit 11 and an unseen board read Redis; within the top N the tag is the same as memory's."""
    queries = FakeQueries(Page(5, 42, top(10)))
    http = client(ready_cache(version=5, total=42), queries)
    deeper = http.get("/v1/leaderboards/global?limit=11")
    assert queries.calls == 1 and deeper.headers["x-cache"] == "miss"
    assert "etag" not in deeper.headers  # beyond the top N the version says nothing
    unseen = http.get(f"/v1/leaderboards/{TODAY}?limit=10")
    assert (queries.calls, unseen.headers["x-cache"], unseen.headers["etag"]) == (2, "miss", '"5.42"')
    same = http.get(f"/v1/leaderboards/{TODAY}?limit=10", headers={"If-None-Match": '"5.42"'})
    assert (same.status_code, queries.calls) == (304, 3)
    window = http.get("/v1/leaderboards/global?limit=9&offset=1")
    assert (window.headers["x-cache"], queries.calls) == ("miss", 4)


@pytest.mark.parametrize(("query", "limit"), [
    (b"", 10), (b"limit=10", 10), (b"limit=3&offset=0", 3), (b"offset=0", 10), (b"limit=10", 10),
    (b"limit=11", None), (b"limit=0", None), (b"limit=05", None), (b"offset=1", None), (b"limit=x", None),
    (b"limit=3&limit=4", None), (b"as_of=2026-11-18T00:00:00Z", None), (b"limit=3&cursor=a", None), (b"&&", None),
])
def test_only_first_page_queries_within_the_top_n_are_taken_by_the_hot_read(query: bytes, limit: int | None) -> None:
    """limit 1..N with offset 0 (or absent); anything else, valid or not, is left to the ordinary route."""
    assert first_page_limit(query, 10) == limit


def hot_client(cache: BoardCache) -> tuple[TestClient, list[str]]:
    """The hot read in front of a stand-in for the rest of the app, which records what reached it."""
    passed: list[str] = []

    async def rest(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(f"{scope['path']}?{scope['query_string'].decode()}")
        await Response(b"ordinary", status_code=299)(scope, receive, send)

    route = Route("/v1/leaderboards/{board}", get_leaderboard, methods=["GET"])
    hot = HotReads(rest, route, Starlette(), cache, FakeClock(NOW), lambda app: app)
    return TestClient(hot), passed


def test_the_hot_read_answers_memorys_first_pages_and_passes_everything_else_on() -> None:
    """global's first page from memory (a 304 on a matching tag); a deeper page, a board memory does
    not hold, an unknown board, another route and a POST reach the rest of the app."""
    http, passed = hot_client(ready_cache(version=5, total=42))
    first = http.get("/v1/leaderboards/global?limit=2")
    assert (first.status_code, first.headers["etag"], first.headers["x-cache"]) == (200, '"5.42"', "hit")
    assert first.content == page_body("global", 5, 42, REDIS, top(2))
    assert first.headers["cache-control"] == "no-cache" and first.headers["content-type"] == "application/json"
    same = http.get("/v1/leaderboards/global", headers={"If-None-Match": '"5.42"'})
    assert (same.status_code, same.content) == (304, b"")
    for path in ("/v1/leaderboards/global?limit=11", "/v1/leaderboards/daily", "/v1/leaderboards/nope",
                 "/v1/leaderboards/global/users/u1"):
        assert http.get(path).status_code == 299
    assert http.post("/v1/leaderboards/global").status_code == 299
    assert passed == ["/v1/leaderboards/global?limit=11", "/v1/leaderboards/daily?", "/v1/leaderboards/nope?",
                      "/v1/leaderboards/global/users/u1?", "/v1/leaderboards/global?"]
