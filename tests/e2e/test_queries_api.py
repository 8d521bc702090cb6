"""The read api on the real stack: pages, ties, ranks, around, me, history, as_of, read-your-writes,
and reads that keep answering while a flushed Redis is repaired from Postgres."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from devstack.worlds import World
from scoreboard.domain.boards import daily_id, weekly_id
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import LogEvent, UserBanned
from testkit.system import System
from testkit.waits import wait_until
from tests.support.client import MAX_PREFER_WAIT_S, ApiClient, complete_until_decided
from tests.support.inspect import redis_order
from tests.support.suite import running_system
from tests.support.utc_day import clear_of_utc_midnight
from tests.support.workload import action, produce

pytestmark = pytest.mark.e2e
SECOND = 1_000_000


def rfc3339(micros: int) -> str:
    return datetime.fromtimestamp(micros / SECOND, tz=UTC).isoformat().replace("+00:00", "Z")




def flush_world_redis(world: World) -> None:
    """Flush only this world's Redis db, keeping its claim so no concurrent run takes the db meanwhile."""
    client = redis.Redis.from_url(world.redis_url)
    with client.pipeline(transaction=True) as pipe:
        pipe.flushdb()
        pipe.set("test:world-claim", world.name)
        pipe.execute()


@dataclass(frozen=True)
class TiedDay:
    """Actions on a past day of their own: a and b reach 100 at the same microsecond, c a second later,
    d reaches 100 last (50 + 50); a zero-point action of a does not move a's tie time; c is banned
    at the end."""

    board: str
    week: str
    t0: int
    a: str
    b: str
    c: str
    d: str


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    """The suite's system with the per-client limit of ``as_of`` and history reads lifted: these tests
    (one client, 127.0.0.1) poll history and read many past boards in a row."""
    with running_system({"SCOREBOARD_RATE_HISTORY_PER_SECOND": "0"}) as running:
        yield running


@pytest.fixture(scope="module")
def api(system: System) -> ApiClient:
    return ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])


@pytest.fixture(scope="module")
def tied(system: System, api: ApiClient) -> TiedDay:
    rng = random.Random(uuid.uuid4().int)
    day = date(2001, 1, 1) + timedelta(days=rng.randrange(6000))
    t0 = to_micros(datetime(day.year, day.month, day.day, 10, tzinfo=UTC))
    run = uuid.uuid4().hex[:6]
    a, b, c, d = (f"tie-{run}-{x}" for x in "abcd")
    events: list[LogEvent] = [
        action(a, 100, t0), action(b, 100, t0), action(c, 100, t0 + SECOND), action(d, 50, t0 + 2 * SECOND),
        action(a, 0, t0 + 3 * SECOND), action(d, 50, t0 + 4 * SECOND),
        UserBanned(str(uuid.uuid4()), c, "cheating", "root", t0 + 5 * SECOND),
    ]
    asyncio.run(produce(system.world.kafka_bootstrap, events))
    board = daily_id(day)
    settled = [(1, b, 100), (2, a, 100), (3, d, 100)]
    wait_until(lambda: users(api.board(board)) == settled, what="the tied day counted, c banned")
    return TiedDay(board, weekly_id(day), t0, a, b, c, d)


def users(body: dict[str, Any]) -> list[tuple[int, str, int]]:
    return [(e["rank"], e["user_id"], e["score"]) for e in body["entries"]]


def test_equal_scores_rank_by_who_reached_them_first_then_user_id(api: ApiClient, tied: TiedDay) -> None:
    """a and b tie on score and time: b (higher user id bytes) first; then d; banned c is hidden."""
    page = api.board(tied.board, limit=10)
    assert users(page) == [(1, tied.b, 100), (2, tied.a, 100), (3, tied.d, 100)]
    assert page["total"] == 3 and page["board"] == tied.board and page["version"] > 0
    assert users(api.board(tied.board, limit=1, offset=2)) == [(3, tied.d, 100)]
    assert api.board(tied.board, offset=3)["entries"] == []
    assert api.rank(tied.a, tied.board) == {"board": tied.board, "user_id": tied.a, "rank": 2, "score": 100,
                                            "percentile": 66.67, "total": 3}
    assert api.rank(tied.c, tied.board) is None  # banned: not ranked
    assert users(api.board(tied.week)) == users(page)


def test_around_a_user_lists_the_neighbours_within_the_radius(system: System, api: ApiClient,
                                                              tied: TiedDay) -> None:
    """radius 1 around a (rank 2): ranks 1..3; around an unranked user: 404."""
    url = f"/v1/leaderboards/{tied.board}/users/{tied.a}/around"
    body = api.http.get(url, params={"radius": 1}).json()
    assert body["user"]["rank"] == 2 and [e["rank"] for e in body["entries"]] == [1, 2, 3]
    assert [e["rank"] for e in api.http.get(url, params={"radius": 0}).json()["entries"]] == [2]
    assert len(api.http.get(url).json()["entries"]) == 3  # default radius 5, clipped to the board
    assert api.http.get(f"/v1/leaderboards/{tied.board}/users/nobody-{uuid.uuid4().hex}/around").status_code == 404


def test_as_of_answers_the_board_as_it_stood_then(api: ApiClient, tied: TiedDay) -> None:
    """Before the first event: empty; between events: d at 50 and c still shown (banned only later);
    after the ban: c hidden; at now: the live board. ``daily`` names the day of the moment."""
    before = api.board(tied.board, as_of=rfc3339(tied.t0 - 1))
    assert before["entries"] == [] and before["total"] == 0 and before["source"] == "ledger"
    between = api.board("daily", as_of=rfc3339(tied.t0 + 2 * SECOND + SECOND // 2))
    assert between["board"] == tied.board
    assert users(between) == [(1, tied.b, 100), (2, tied.a, 100), (3, tied.c, 100), (4, tied.d, 50)]
    at_first = api.board(tied.board, as_of=rfc3339(tied.t0))
    assert users(at_first) == [(1, tied.b, 100), (2, tied.a, 100)]
    after_ban = api.board(tied.board, as_of=rfc3339(tied.t0 + 6 * SECOND))
    assert users(after_ban) == users(api.board(tied.board))
    now = api.board(tied.board, as_of=datetime.now(UTC).isoformat())
    assert users(now) == users(api.board(tied.board))
    rank = api.http.get(f"/v1/leaderboards/{tied.board}/users/{tied.d}",
                        params={"as_of": rfc3339(tied.t0 + 3 * SECOND)}).json()
    assert (rank["rank"], rank["score"], rank["total"]) == (4, 50, 4)


def test_a_valid_board_nobody_scored_on_is_empty_and_an_unknown_board_is_404(api: ApiClient) -> None:
    """daily:1950-06-01 answers 200 with no entries; monthly, daily:2026-13-01, weekly:2026-W60 are 404."""
    for board in ("daily:1950-06-01", "weekly:1950-W22"):
        body = api.board(board)
        assert (body["entries"], body["total"], body["board"]) == ([], 0, board)
    for board in ("monthly", "daily:2026-13-01", "weekly:2026-W60", "Global", "daily:26-11-27"):
        response = api.http.get(f"/v1/leaderboards/{board}")
        assert response.status_code == 404, board
        assert response.headers["content-type"] == "application/problem+json"
    assert api.http.get("/v1/leaderboards/daily:1950-06-01/users/nobody").status_code == 404


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/leaderboards/global", {"limit": 0}),
    ("/v1/leaderboards/global", {"limit": 101}),
    ("/v1/leaderboards/global", {"limit": "ten"}),
    ("/v1/leaderboards/global", {"offset": -1}),
    ("/v1/leaderboards/global", {"as_of": "yesterday"}),
    ("/v1/leaderboards/global", {"as_of": "2026-11-27T10:00:00"}),  # no offset
    ("/v1/leaderboards/global", {"as_of": "2999-01-01T00:00:00Z"}),  # the future
    ("/v1/leaderboards/global/users/x/around", {"radius": 51}),
    ("/v1/leaderboards/global/users/x/around", {"radius": -1}),
])
def test_bad_parameters_are_422_problems(api: ApiClient, path: str, params: dict[str, Any]) -> None:
    """Out-of-range or malformed limit, offset, radius and as_of get a 422 problem+json."""
    response = api.http.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_history_is_for_the_user_and_admins_only_and_pages_with_a_cursor(system: System,
                                                                          api: ApiClient) -> None:
    """Five entries in pages of two, newest first; B reading A's history is 403; an admin may; a bad
    cursor is 422; no token is 401."""
    user, other = f"hist-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    start = to_micros(datetime.now(UTC)) - 60 * SECOND
    events: list[LogEvent] = [action(user, 10 * (i + 1), start + i * SECOND) for i in range(5)]
    asyncio.run(produce(system.world.kafka_bootstrap, events))
    mine = {"Authorization": f"Bearer {api.token(user)}"}
    url = f"/v1/users/{user}/history"

    def entries() -> list[dict[str, Any]]:
        body = api.http.get(url, headers=mine, params={"limit": 100}).json()
        return list(body["entries"]) if len(body["entries"]) == 5 else []

    wait_until(entries, what="five history entries")
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = api.http.get(url, headers=mine, params=params).json()
        seen += body["entries"]
        cursor = body["next_cursor"]
    assert cursor is None
    assert [e["points"] for e in seen] == [50, 40, 30, 20, 10]
    assert [e["total_after"] for e in seen] == [150, 100, 60, 30, 10]
    assert seen[0]["occurred_at"] == rfc3339(start + 4 * SECOND)
    assert len({e["event_id"] for e in seen}) == 5
    forbidden = api.http.get(url, headers={"Authorization": f"Bearer {api.token(other)}"})
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == "application/problem+json"
    admin = api.http.get(url, headers={"Authorization": f"Bearer {api.token('root', roles=('admin',))}"})
    assert admin.status_code == 200 and len(admin.json()["entries"]) == 5
    assert api.http.get(url).status_code == 401
    assert api.http.get(url, headers=mine, params={"cursor": "not-a-cursor"}).status_code == 422


def test_prefer_wait_answers_once_the_action_shows_and_me_has_it_at_once(api: ApiClient) -> None:
    """With ``Prefer: wait=10`` the 202 carries Preference-Applied, the answer once the worker applied
    the action says visible=true, and the very next reads (/v1/me, the user's rank) already show the
    action on global, daily and weekly."""
    clear_of_utc_midnight(margin_s=180)  # the day and week of the action are the ones /v1/me names
    user = f"ryw-{uuid.uuid4().hex[:8]}"
    first, response = complete_until_decided(api, user, "win-match")
    assert first.status_code == 202, first.text
    applied = f"wait={MAX_PREFER_WAIT_S}"
    assert first.headers["preference-applied"] == response.headers["preference-applied"] == applied
    assert response.json()["visible"] is True, response.text
    me = api.http.get("/v1/me", headers={"Authorization": f"Bearer {api.token(user)}"}).json()
    assert me["user_id"] == user
    assert {alias: (b or {}).get("score") for alias, b in me["boards"].items()} == {
        "global": 100, "daily": 100, "weekly": 100}
    assert me["boards"]["daily"]["board"].startswith("daily:")
    plain = api.complete(user, "complete-level")
    assert "preference-applied" not in plain.headers and "visible" not in plain.json()
    stranger = api.http.get("/v1/me", headers={"Authorization": f"Bearer {api.token('new-' + user)}"}).json()
    assert stranger["boards"] == {"global": None, "daily": None, "weekly": None}
    assert api.http.get("/v1/me").status_code == 401


def test_reads_keep_answering_while_a_flushed_redis_is_repaired(system: System, api: ApiClient,
                                                                 tied: TiedDay) -> None:
    """Flush the world's Redis during a stream of reads: every read answers 200 with the same board
    (from Postgres meanwhile), and the board comes back to Redis by itself, exactly."""
    expected = users(api.board(tied.board))
    assert api.board(tied.board)["source"] == "redis"
    answers: list[tuple[int, list[tuple[int, str, int]] | str, str]] = []
    stop = threading.Event()

    def read(http: httpx.Client) -> str:
        response = http.get(f"/v1/leaderboards/{tied.board}")
        body = response.json()
        source = str(body.get("source", ""))
        answers.append((response.status_code, users(body) if response.status_code == 200 else response.text,
                        source))
        return source

    def keep_reading() -> None:
        with httpx.Client(base_url=system.api_url, timeout=10) as http:
            while not stop.is_set():
                read(http)

    reader = threading.Thread(target=keep_reading)
    reader.start()
    try:
        wait_until(lambda: len(answers) > 20, what="reads before the flush")
        after_flush = len(answers)  # taken before the flush: a read the flush hit may land before it returns
        flush_world_redis(system.world)
        wait_until(lambda: read(api.http) == "redis" and len(answers) > after_flush + 20,
                   what="the board repaired into Redis, and reads after that")
    finally:
        stop.set()
        reader.join()
    assert {status for status, _, _ in answers} == {200}
    wrong = [(i, entries, source) for i, (_, entries, source) in enumerate(answers) if entries != expected]
    assert not wrong, (after_flush, len(answers), expected, wrong[:5])
    assert "postgres" in {source for _, _, source in answers[after_flush:]}
    ours = {tied.a, tied.b, tied.c, tied.d}
    assert [(u, s) for _, u, s in expected] == redis_order(system.world.redis_url, tied.board, ours)
    assert api.rank(tied.d, tied.board) == {"board": tied.board, "user_id": tied.d, "rank": 3, "score": 100,
                                            "percentile": 33.33, "total": 3}
