"""One action from POST to live push, through the real api, worker and gateway processes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from testkit.system import System
from testkit.waits import wait_until
from tests.support.client import ApiClient
from tests.support.suite import TEST_CATALOG, running_system
from tests.support.utc_day import clear_of_utc_midnight

pytestmark = pytest.mark.e2e


GRAND = 10**12  # far above anything other tests sharing the actions topic at the same time could score


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Real processes; the catalog adds a huge-points action so our three users are the top 3."""
    catalog = tmp_path_factory.mktemp("catalog") / "actions.toml"
    catalog.write_text(TEST_CATALOG.read_text() + f'\n[actions.grand-prize]\npoints = {GRAND}\ndaily_cap = 1000\n')
    with running_system({"SCOREBOARD_ACTIONS_FILE": str(catalog)}) as running:
        yield running


@pytest.fixture(scope="module")
def api(system: System) -> ApiClient:
    return ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])


def ws_url(system: System, board: str) -> str:
    return system.gateway_url.replace("http://", "ws://") + f"/v1/leaderboards/{board}/ws"


def receive_until(ws: Any, predicate: Any, timeout_s: float = 30) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame.get("type") in ("snapshot", "update") and predicate(frame):
            return dict(frame)
    raise AssertionError("no matching frame in time")


def test_actions_of_three_users_show_in_the_right_order_over_http_and_websocket(
    system: System, api: ApiClient
) -> None:
    """grand-prize x3, x2, x1 for three new users: they rank c > b > a on HTTP and in a pushed frame."""
    clear_of_utc_midnight()  # the daily board read at the end is the day of the actions
    run = uuid.uuid4().hex[:6]
    a, b, c = f"a-{run}", f"b-{run}", f"c-{run}"
    with connect(ws_url(system, "global")) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
        assert snapshot["type"] == "snapshot" and snapshot["board"] == "global"
        for user, times in ((a, 1), (b, 2), (c, 3)):
            for _ in range(times):
                response = api.complete(user, "grand-prize")
                assert response.status_code == 202, response.text
                assert response.json()["points"] == GRAND

        def ours(frame: dict[str, Any]) -> list[str]:
            return [e["user_id"] for e in frame["entries"] if e["user_id"] in (a, b, c)]

        frame = receive_until(ws, lambda f: ours(f) == [c, b, a])
        assert frame["version"] > snapshot["version"]
        scores = {e["user_id"]: e["score"] for e in frame["entries"]}
        assert (scores[c], scores[b], scores[a]) == (3 * GRAND, 2 * GRAND, GRAND)

    top = api.board("global")
    assert [(e["rank"], e["user_id"]) for e in top["entries"][:3]] == [(1, c), (2, b), (3, a)], top
    ranked = api.rank(b) or {}
    assert {k: ranked.get(k) for k in ("board", "user_id", "rank", "score")} == {
        "board": "global", "user_id": b, "rank": 2, "score": 2 * GRAND}
    daily = api.rank(c, board="daily")
    assert daily is not None and daily["board"].startswith("daily:") and daily["rank"] == 1


def test_the_same_idempotency_key_posted_twice_counts_once(system: System, api: ApiClient) -> None:
    """Both answers carry the same event_id; the score grows by one action's points only."""
    user, key = f"idem-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex}"
    first = api.complete(user, "complete-level", key=key)
    second = api.complete(user, "complete-level", key=key)
    assert first.status_code == 202 and second.status_code in (200, 202)
    assert first.json()["event_id"] == second.json()["event_id"]
    assert wait_until(lambda: api.rank(user), what="user ranked")["score"] == 50
    third = api.complete(user, "complete-level")
    assert third.status_code == 202
    wait_until(lambda: (api.rank(user) or {}).get("score") == 100, what="second distinct action counted")


def test_readiness_reports_every_dependency(system: System) -> None:
    """/readyz of api and gateway answer 200 with each dependency ok; /healthz answers 200."""
    body = httpx.get(system.api_url + "/readyz").json()
    assert body == {"status": "ready", "checks": {"kafka": "ok", "postgres": "ok", "redis": "ok"}}
    assert httpx.get(system.gateway_url + "/readyz").status_code == 200
    assert httpx.get(system.gateway_url + "/healthz").json() == {"status": "ok"}


def test_every_process_exposes_prometheus_metrics_of_the_work_done(system: System, api: ApiClient) -> None:
    """After actions: the api counts requests and Kafka acks, the worker events and batches, the
    gateway its subscriptions and pushes."""
    user = f"metrics-{uuid.uuid4().hex[:8]}"
    assert api.complete(user, "daily-login").status_code == 202
    wait_until(lambda: api.rank(user), what="counted")
    worker = next(p for p in system.processes if p.role == "worker")
    texts = {name: httpx.get(url + "/metrics") for name, url in
             (("api", system.api_url), ("worker", worker.url), ("gateway", system.gateway_url))}
    assert all(r.status_code == 200 and r.headers["content-type"].startswith("text/plain") for r in texts.values())
    assert 'scoreboard_http_requests_total{method="POST",route="/v1/actions/{action_id}/complete",status="202"}' \
        in texts["api"].text
    assert "scoreboard_kafka_produce_seconds_count" in texts["api"].text
    assert 'scoreboard_worker_events_total{outcome="accepted"}' in texts["worker"].text
    assert "scoreboard_worker_batch_seconds_count" in texts["worker"].text
    assert "scoreboard_gateway_connections" in texts["gateway"].text
    assert "scoreboard_gateway_push_seconds" in texts["gateway"].text
    for text in texts.values():  # and what any Python process exposes
        assert "process_cpu_seconds_total" in text.text and "python_gc_objects_collected_total" in text.text
    wait_until(lambda: re.search(r'^scoreboard_worker_consumer_lag\{partition="\d+"\} 0\.0$',
                                 httpx.get(worker.url + "/metrics").text, re.MULTILINE),
               what="the lag timer reports the worker's partitions caught up")


def test_a_request_id_is_echoed_and_reaches_the_workers_batch_line(system: System, api: ApiClient) -> None:
    """The api answers with the client's X-Request-ID (a generated one without it), and the worker logs
    it with the batch that scored the action: one id from the client to the worker's log."""
    user, given = f"trace-{uuid.uuid4().hex[:8]}", f"trace-{uuid.uuid4().hex}"
    response = api.complete(user, "daily-login", headers={"X-Request-ID": given})
    assert response.status_code == 202 and response.headers["x-request-id"] == given
    assert re.fullmatch(r"[0-9a-f]{32}", httpx.get(system.api_url + "/v1/actions").headers["x-request-id"])
    worker = next(p for p in system.processes if p.role == "worker")

    def batch_line() -> dict[str, Any] | None:
        for line in worker.log_path.read_text(errors="replace").splitlines():
            if given in line:
                found: dict[str, Any] = json.loads(line)
                return found
        return None

    line = wait_until(batch_line, what="the worker's batch line with the request id")
    assert line["msg"] == "batch" and given in line["request_ids"] and line["process"] == "worker"


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer not-a-jwt", "Idempotency-Key": "abcdefgh1"}, 401),
])
def test_unauthenticated_completion_is_a_401_problem(system: System, headers: dict[str, str], status: int) -> None:
    """Without a valid token the api answers problem+json and records nothing."""
    response = httpx.post(system.api_url + "/v1/actions/win-match/complete", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


def test_bad_input_gets_a_clear_4xx_and_changes_no_score(system: System, api: ApiClient) -> None:
    """Unknown action 404, bad key 422, non-JSON body 415, oversized 413; the user stays unranked."""
    user = f"bad-{uuid.uuid4().hex[:8]}"
    assert api.complete(user, "no-such-action").status_code == 404
    assert api.complete(user, "report-abuse-penalty").status_code == 409
    assert api.complete(user, "win-match", key="short").status_code == 422
    assert api.complete(user, "win-match", content=b"points=5",
                        headers={"Content-Type": "text/plain"}).status_code == 415
    assert api.complete(user, "win-match", content=b"{" + b" " * 10_000 + b"}",
                        headers={"Content-Type": "application/json"}).status_code == 413
    assert api.complete(user, "win-match", content=b"{not json",
                        headers={"Content-Type": "application/json"}).status_code == 400
    assert httpx.get(system.api_url + "/v1/leaderboards/monthly").status_code == 404
    assert httpx.get(system.api_url + "/v1/leaderboards/global", params={"limit": 0}).status_code == 422
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    assert api.complete(probe, "daily-login").status_code == 202
    wait_until(lambda: api.rank(probe), what="probe counted")  # the pipeline has caught up
    assert api.rank(user) is None
