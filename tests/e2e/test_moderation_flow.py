"""Hold, approve, reject and purge end to end: api, worker, Postgres, Redis, the pushed board, /v1/me
and the moderation queue (issue 14)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from testkit.subscribers import open_stalled_websocket, read_text_frames
from testkit.system import System
from testkit.waits import wait_until
from tests.support.client import ApiClient, complete_until_decided
from tests.support.suite import running_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system() as running:
        yield running


@pytest.fixture(scope="module")
def api(system: System) -> ApiClient:
    return ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])


@pytest.fixture()
def board_socket(system: System) -> Iterator[socket.socket]:
    sock = open_stalled_websocket(system.board_ws("global"), receive_buffer=1 << 20)
    yield sock
    sock.close()


def fresh(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


class Moderator:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {api.token(fresh('mod'), roles=('admin',))}"}

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.api.http.post(path, headers=self.headers, json=body)

    def review(self, user: str, status: str = "all") -> dict[str, Any] | None:
        answer = self.api.http.get("/v1/admin/reviews", params={"status": status}, headers=self.headers)
        answer.raise_for_status()
        return next((r for r in answer.json()["reviews"] if r["user_id"] == user), None)


def me(api: ApiClient, user: str) -> dict[str, Any]:
    answer = api.http.get("/v1/me", headers={"Authorization": f"Bearer {api.token(user)}"})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def score_of(api: ApiClient, user: str) -> int | None:
    found = api.rank(user)
    return None if found is None else int(found["score"])


def counted(api: ApiClient, user: str, action: str = "test-30") -> None:
    first, answer = complete_until_decided(api, user, action)
    assert first.status_code == 202 and answer.json()["outcome"] == "visible", answer.text


def pushed(frames: list[dict[str, Any]], user: str) -> list[int | None]:
    """The user's score in each pushed frame (None: not in the top 10)."""
    return [next((e["score"] for e in f.get("entries", []) if e["user_id"] == user), None) for f in frames
            if f.get("type") in ("snapshot", "update")]


def test_a_flagged_user_is_held_off_the_board_and_approve_releases_the_points(
        api: ApiClient, board_socket: socket.socket) -> None:
    """Flag (by hand) -> gone from the board and from the push; a new action is held and shown as pending
    in /v1/me and in the queue; approve -> back with every point, pushed."""
    user, mod = fresh("flagged"), Moderator(api)
    counted(api, user)
    assert mod.post(f"/v1/admin/users/{user}/flag", {"reason": "player report"}).status_code == 202
    wait_until(lambda: score_of(api, user) is None, timeout_s=20, what="the flagged user left the board")
    first, held = complete_until_decided(api, user, "test-30")
    assert first.status_code == 202 and held.json()["outcome"] == "held", held.text
    assert me(api, user)["held_points"] == 30
    assert me(api, user)["review"]["status"] == "pending" and score_of(api, user) is None
    queued = mod.review(user, "pending")
    assert queued is not None and (queued["detector"], queued["held_points"], queued["held_actions"]) == (
        "manual", 30, 1)
    assert [a["state"] for a in queued["recent_actions"]] == ["held", "counted"]
    decided = mod.post(f"/v1/admin/reviews/{user}/decision", {"decision": "approve", "reason": "fine"})
    assert decided.status_code == 202, decided.text
    wait_until(lambda: score_of(api, user) == 60, timeout_s=20, what="the approved points are on the board")
    assert me(api, user)["held_points"] == 0 and me(api, user)["review"] is None
    frames = read_text_frames(board_socket, 20, until=lambda got: pushed(got, user)[-1:] == [60])
    scores = pushed(frames, user)
    assert None in scores and scores.index(None) < scores.index(60)  # hidden, then pushed back with all of it
    final = mod.review(user)
    assert final is not None and final["status"] == "approved" and final["decision"]["decision"] == "approve"


def test_reject_voids_the_held_points_and_the_user_returns_with_the_rest(api: ApiClient) -> None:
    user, mod = fresh("rejected"), Moderator(api)
    counted(api, user)
    assert mod.post(f"/v1/admin/users/{user}/flag", {"reason": "bot-like"}).status_code == 202
    wait_until(lambda: score_of(api, user) is None, timeout_s=20, what="the flagged user left the board")
    api.complete(user, "test-30")
    wait_until(lambda: me(api, user)["held_points"] == 30, timeout_s=20, what="the points are held")
    answer = mod.post(f"/v1/admin/reviews/{user}/decision", {"decision": "reject", "reason": "script"})
    assert answer.status_code == 202
    wait_until(lambda: score_of(api, user) == 30, timeout_s=20, what="back with only the points before the flag")
    assert me(api, user)["held_points"] == 0


def test_decisions_need_a_pending_review_a_moderator_and_a_valid_body(api: ApiClient) -> None:
    user, mod = fresh("nobody"), Moderator(api)
    path = f"/v1/admin/reviews/{user}/decision"
    assert mod.post(path, {"decision": "approve"}).status_code == 404
    assert mod.post(path, {"decision": "maybe"}).status_code == 422
    assert mod.post(path, {"decision": "reject"}).status_code == 422  # a rejection needs a reason
    assert mod.post(path, {"decision": "approve", "extra": 1}).status_code == 422
    user_token = {"Authorization": f"Bearer {api.token(user)}"}
    assert api.http.post(path, headers=user_token, json={"decision": "approve"}).status_code == 403
    assert api.http.get("/v1/admin/reviews", headers=user_token).status_code == 403
    assert api.http.get("/v1/admin/reviews", headers=mod.headers, params={"status": "x"}).status_code == 422


def test_the_queue_answers_304_while_it_is_unchanged(api: ApiClient) -> None:
    mod = Moderator(api)
    first = api.http.get("/v1/admin/reviews", headers=mod.headers)
    again = api.http.get("/v1/admin/reviews", headers=mod.headers | {"If-None-Match": first.headers["etag"]})
    assert first.status_code == 200 and again.status_code == 304


def test_a_purge_voids_one_action_in_a_window_and_leaves_honest_points(api: ApiClient, system: System) -> None:
    """Every partition gets the purge; the exploited action's points in the window go, the rest stay."""
    exploiter, honest, mod = fresh("exploiter"), fresh("honest"), Moderator(api)
    start = datetime.now(UTC) - timedelta(seconds=1)
    counted(api, exploiter, "test-20")
    counted(api, exploiter, "test-10")
    counted(api, honest, "test-10")
    until = datetime.now(UTC) + timedelta(seconds=1)
    answer = mod.post("/v1/admin/purges", {"action_id": "test-20", "from": start.isoformat(),
                                           "until": until.isoformat(), "reason": "duplication bug"})
    assert answer.status_code == 202 and answer.json()["partitions"] >= 1, answer.text
    wait_until(lambda: score_of(api, exploiter) == 10, timeout_s=20,
               what="the purged points are gone\n" + system.logs())
    assert score_of(api, honest) == 10
    bad = mod.post("/v1/admin/purges", {"action_id": "test-20", "from": "yesterday", "until": until.isoformat(),
                                        "reason": "x"})
    assert bad.status_code == 422
