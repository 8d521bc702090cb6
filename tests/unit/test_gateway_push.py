"""The push endpoints in process: admission refusals, inbound limits, SSE resume and heartbeats."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.bootstrap import create_app
from gateway.hub import BoardState
from gateway.services import GatewayServices
from gateway.sse import parse_last_event_id
from scoreboard.settings import Settings
from tests.support.gateway_fakes import gateway_services

SETTINGS = Settings(allowed_origins=("https://scores.example",), heartbeat_seconds=0.2,
                    gateway_max_connections=2, gateway_catch_up_wait_seconds=0.2)


@pytest.fixture
def services() -> GatewayServices:
    found = gateway_services(SETTINGS)
    found.hub.publish(BoardState("global", 7, ((1, "alice", 70),)))
    return found


@pytest.fixture
def client(services: GatewayServices) -> Iterator[TestClient]:
    services.feed.caught_up.set()
    with TestClient(create_app(services)) as test_client:
        yield test_client


def close_code(client: TestClient, path: str, **headers: str) -> tuple[int, str]:
    with client.websocket_connect(path, headers=headers) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    return closed.value.code, closed.value.reason


def test_unknown_board_and_foreign_origin_are_closed_with_1008_and_a_reason(client: TestClient) -> None:
    """The handshake succeeds so the client can read why: policy violation, with a reason."""
    code, reason = close_code(client, "/v1/leaderboards/monthly/ws")
    assert (code, "no board 'monthly'" in reason) == (1008, True)
    assert close_code(client, "/v1/leaderboards/global/ws", origin="https://evil.example") == (
        1008, "this Origin may not subscribe")


def test_the_connection_cap_answers_1013_on_websocket_and_503_on_sse(client: TestClient) -> None:
    """With the cap at 2 and two clients connected, a third gets 1013 / a 503 problem with Retry-After."""
    with client.websocket_connect("/v1/leaderboards/global/ws") as first, \
            client.websocket_connect("/v1/leaderboards/global/ws",
                                     headers={"origin": "https://scores.example"}) as second:
        assert json.loads(first.receive_text())["type"] == "snapshot"
        assert json.loads(second.receive_text())["type"] == "snapshot"
        assert close_code(client, "/v1/leaderboards/global/ws")[0] == 1013
        response = client.get("/v1/leaderboards/global/events")
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "application/problem+json"


def test_sse_refusals_are_problems(client: TestClient) -> None:
    """Unknown board 404, foreign Origin 403."""
    assert client.get("/v1/leaderboards/monthly/events").status_code == 404
    assert client.get("/v1/leaderboards/global/events",
                      headers={"origin": "https://evil.example"}).status_code == 403


def test_a_gateway_still_reading_history_refuses_with_try_again(services: GatewayServices) -> None:
    """Before the feed caught up, a snapshot would be stale: 1013 / 503 instead."""
    with TestClient(create_app(services)) as client:
        assert close_code(client, "/v1/leaderboards/global/ws")[0] == 1013
        assert client.get("/v1/leaderboards/global/events").json()["type"].endswith("/catching-up")


def test_oversized_and_too_frequent_inbound_frames_close_with_1008(client: TestClient) -> None:
    """A 2 KiB frame closes the socket; so do more than 20 frames within a second."""
    with client.websocket_connect("/v1/leaderboards/global/ws") as ws:
        ws.receive_text()
        ws.send_text(json.dumps({"type": "ping", "pad": "x" * 2048}))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()
        assert closed.value.code == 1008
    with client.websocket_connect("/v1/leaderboards/global/ws") as ws:
        ws.receive_text()
        for _ in range(25):
            ws.send_text('{"type":"ping"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()
        assert (closed.value.code, closed.value.reason) == (1008, "more inbound frames per second than allowed")


def test_websocket_sends_a_snapshot_heartbeats_and_answers_ping_and_bad_frames(client: TestClient) -> None:
    """snapshot v7; then a heartbeat when idle; pong to ping; an error frame for junk."""
    with client.websocket_connect("/v1/leaderboards/global/ws") as ws:
        snapshot = json.loads(ws.receive_text())
        assert snapshot == {"type": "snapshot", "board": "global", "version": 7,
                            "entries": [{"rank": 1, "user_id": "alice", "score": 70}]}
        assert json.loads(ws.receive_text()) == {"type": "heartbeat"}
        ws.send_text('{"type":"ping"}')
        ws.send_text("junk")
        frames = [json.loads(ws.receive_text()) for _ in range(2)]
        assert {"type": "pong"} in frames
        assert {"type": "error", "detail": "frames must be JSON objects"} in frames


def test_sse_with_a_current_last_event_id_sends_no_snapshot_only_heartbeats(client: TestClient) -> None:
    """Last-Event-ID: 7 with latest v7: the first thing after retry is a heartbeat comment."""
    with client.stream("GET", "/v1/leaderboards/global/events", headers={"last-event-id": "7"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(lines) == ""
        assert next(lines) == ": heartbeat"


def test_sse_with_an_old_last_event_id_gets_the_current_state(client: TestClient) -> None:
    """Last-Event-ID: 3 with latest v7: the current state, id 7."""
    with client.stream("GET", "/v1/leaderboards/global/events", headers={"last-event-id": "3"}) as response:
        lines = response.iter_lines()
        event = [next(lines) for _ in range(5)][2:]
        assert event[0] == "event: leaderboard" and event[1] == "id: 7"
        assert json.loads(event[2].removeprefix("data: "))["version"] == 7



@pytest.mark.parametrize(("raw", "expected"), [
    ("7", 7), (" 42\t", 42), ("000", 0), ("9" * 18, int("9" * 18)),
    (None, None), ("", None), ("²", None), ("١٢", None), ("7²", None), ("-1", None), ("+7", None),
    ("1_000", None), ("0x10", None), ("1e3", None), ("9" * 19, None), ("9" * 5000, None), ("7 8", None),
])
def test_last_event_id_is_a_version_of_ascii_digits_or_absent(raw: str | None, expected: int | None) -> None:
    """str.isdigit() takes superscripts and other scripts' digits, which int() then refuses (a 500 before):
    only up to 18 ASCII digits are a version; anything else is treated as no id at all."""
    assert parse_last_event_id(raw) == expected


def test_sse_with_an_unusable_last_event_id_gets_a_fresh_snapshot(client: TestClient) -> None:
    """Last-Event-ID "²" (or junk) is ignored, as if absent: 200 and the current state, never a 500."""
    for junk in ("²".encode("latin-1"), b"not-a-version", b"9" * 40):
        with client.stream("GET", "/v1/leaderboards/global/events", headers={"last-event-id": junk}) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            event = [next(lines) for _ in range(5)][2:]
            assert event[:2] == ["event: leaderboard", "id: 7"]
