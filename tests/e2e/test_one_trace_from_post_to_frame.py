"""One action, one trace: from the api's POST through the worker to the gateway's push, across the three
real processes, exported over OTLP/HTTP to a receiver in the test process."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from websockets.sync.client import connect

from testkit.waits import wait_until
from tests.support.client import ApiClient
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.suite import running_system

pytestmark = pytest.mark.e2e

COMPLETE_SPAN = "POST /v1/actions/{action_id}/complete"


def receive_update_with(ws: Any, user: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame.get("type") == "update" and any(e["user_id"] == user for e in frame["entries"]):
            return dict(frame)
    raise AssertionError(f"no update with {user} in time")


def print_trace(spans: list[ReceivedSpan]) -> None:
    print(f"\ntrace {spans[0].trace_id}")
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = span.parent_span_id or "-"
        board = span.attributes.get("scoreboard.board", "")
        print(f"  {span.service:<8} {span.name:<40} span {span.span_id} parent {parent:<16} {board}")


def test_one_action_is_one_trace_from_the_post_through_the_worker_to_the_pushed_frame() -> None:
    """The api's request span, the worker's span for the event and the gateway's span for pushing the
    version it changed share one trace id and form the chain api -> worker -> gateway."""
    user = f"traced-{uuid.uuid4().hex[:8]}"
    with OtlpReceiver() as receiver, running_system({"SCOREBOARD_OTLP_ENDPOINT": receiver.url,
                                                     "OTEL_BSP_SCHEDULE_DELAY": "100"}) as system:
        api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
        with connect(system.board_ws("global")) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
            response = api.complete(user, "win-match")
            assert response.status_code == 202, response.text
            frame = receive_update_with(ws, user)
        request_id = response.headers["X-Request-ID"]

        def the_trace() -> list[ReceivedSpan] | None:
            spans = receiver.spans()
            roots = [s for s in spans if s.name == COMPLETE_SPAN
                     and s.attributes.get("scoreboard.request_id") == request_id]
            if not roots:
                return None
            trace = [s for s in spans if s.trace_id == roots[0].trace_id]
            pushed = [s for s in trace if s.service == "gateway"
                      and s.attributes.get("scoreboard.board_version") == str(frame["version"])]
            return trace if pushed and {s.service for s in trace} >= {"api", "worker", "gateway"} else None

        trace = wait_until(the_trace, timeout_s=30, interval_s=0.1, what="spans of api, worker and gateway")

    print_trace(trace)
    by_id = {s.span_id: s for s in trace}
    request = next(s for s in trace if s.name == COMPLETE_SPAN)
    assert request.service == "api" and request.parent_span_id == ""
    push = next(s for s in trace if s.service == "gateway"
                and s.attributes.get("scoreboard.board_version") == str(frame["version"]))
    chain = [push]
    while chain[-1].parent_span_id:
        chain.append(by_id[chain[-1].parent_span_id])
    services = [s.service for s in reversed(chain)]
    assert services == ["api", "api", "worker", "gateway"], [(s.service, s.name) for s in reversed(chain)]
    assert [s.name for s in reversed(chain)] == [
        COMPLETE_SPAN, "send scoreboard.actions.v1", "process scoreboard.actions.v1", "push leaderboard"]
    worker = chain[1]
    assert worker.attributes["scoreboard.user_id"] == user
    assert worker.attributes["scoreboard.outcome"] == "accepted"
