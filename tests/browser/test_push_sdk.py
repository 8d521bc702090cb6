"""The TypeScript push client (clients/js, served as /static/scoreboard-push.js) in headless Chromium
against the real api, worker and gateway: resume after a gateway restart with versions that never go
back, no retries after a 1008 close, a reconnect on heartbeat timeout, and the SSE fallback."""

from __future__ import annotations

import uuid
from itertools import pairwise

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from testkit.system import System, wait_ready
from tests.support.client import ApiClient

pytestmark = pytest.mark.e2e

# Loads the SDK into the page and subscribes; everything it reports lands in window.t.
# `wsMode`: "record" counts WebSocket constructions and records sent frames; "broken" points every
# WebSocket at a path the gateway does not serve (the handshake fails, as behind a proxy without
# WebSocket support).
SUBSCRIBE = """async ([board, options, wsMode]) => {
  const { subscribe } = await import('/static/scoreboard-push.js');
  const t = { frames: [], statuses: [], sent: [], sockets: 0 };
  window.t = t;
  class Recording extends WebSocket {
    constructor(url) {
      super(wsMode === 'broken' ? url.replace(/\\/ws$/, '/no-such-endpoint') : url);
      t.sockets += 1;
    }
    send(data) { t.sent.push(JSON.parse(data)); super.send(data); }
  }
  const keep = (f) => { t.frames.push(f); t.last = f; };
  t.sub = subscribe(board, { ...options, WebSocket: Recording, onSnapshot: keep, onUpdate: keep,
                             onStatus: (info) => t.statuses.push(info) });
}"""


def open_sdk(browser: Browser, system: System, board: str, ws_mode: str = "record", **options: object) -> Page:
    page = browser.new_page()
    page.goto(system.gateway_url + "/static/scoreboard-push.js")  # any same-origin document will do
    page.evaluate(SUBSCRIBE, [board, options, ws_mode])
    return page


def score_of(user: str) -> str:
    return f"(window.t.last?.entries ?? []).find((e) => e.user_id === {user!r})?.score"


def versions_only_increase(page: Page) -> None:
    frames = page.evaluate("window.t.frames.map((f) => [f.board, f.version])")
    for (board_a, a), (board_b, b) in pairwise(frames):
        assert board_a != board_b or b > a, frames


def test_the_client_resumes_after_a_gateway_restart(system: System, browser: Browser) -> None:
    api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
    user = f"sdk-{uuid.uuid4().hex[:6]}"
    # No SSE fallback here: how many WebSocket attempts fail while the gateway restarts depends on
    # timing, and this test is about the WebSocket's resume frame.
    page = open_sdk(browser, system, "global", backoffMaxMs=2000, sseFallbackAfter=0)
    page.wait_for_function("window.t.sub.status === 'live' && window.t.frames.length > 0", timeout=15_000)
    assert page.evaluate("window.t.frames[0].type") == "snapshot"

    assert api.complete(user, "win-match").status_code == 202
    page.wait_for_function(f"{score_of(user)} === 100", timeout=15_000)
    before_restart = page.evaluate("window.t.sub.version")

    gateway = next(p for p in system.processes if p.role == "gateway")
    gateway.stop()
    page.wait_for_function("window.t.sub.status === 'reconnecting'", timeout=15_000)
    wait_ready(system.start("gateway"))
    page.wait_for_function("window.t.sub.status === 'live' && window.t.sent.some((f) => f.type === 'resume')",
                           timeout=30_000)
    resumes = page.evaluate("window.t.sent.filter((f) => f.type === 'resume')")
    assert resumes[0] == {"type": "resume", "version": before_restart}

    assert api.complete(user, "win-match").status_code == 202  # pushed through the new gateway
    page.wait_for_function(f"{score_of(user)} === 200", timeout=15_000)
    assert page.evaluate("window.t.sub.version") > before_restart
    versions_only_increase(page)
    assert page.evaluate("window.t.statuses.every((s) => s.status !== 'stopped')")
    page.evaluate("window.t.sub.close()")
    assert page.evaluate("window.t.sub.status") == "closed"
    page.close()


def test_a_policy_violation_close_stops_retrying(system: System, browser: Browser) -> None:
    """The gateway closes an unknown board with 1008: the client reports it and never reconnects."""
    page = open_sdk(browser, system, "no-such-board", backoffInitialMs=20, backoffMaxMs=50)
    page.wait_for_function("window.t.sub.status === 'stopped'", timeout=15_000)
    stopped = page.evaluate("window.t.statuses.at(-1)")
    assert stopped["code"] == 1008 and stopped["transport"] == "websocket", stopped
    # With a 20-50 ms backoff a retrying client would open a second socket within a fraction of this.
    with pytest.raises(PlaywrightTimeout):
        page.wait_for_function("window.t.sockets > 1 || window.t.sub.status !== 'stopped'", timeout=2_000)
    assert page.evaluate("window.t.sockets") == 1
    page.close()


def test_a_silent_connection_is_replaced_after_the_heartbeat_timeout(system: System, browser: Browser) -> None:
    """No frame within heartbeatTimeoutMs (the gateway's heartbeat comes after 15 s, pings are off):
    the client drops the socket, reconnects and resumes from the version it holds."""
    page = open_sdk(browser, system, "global", heartbeatTimeoutMs=1_500, pingAfterMs=0, backoffMaxMs=200,
                    sseFallbackAfter=0)
    page.wait_for_function("window.t.sub.status === 'live' && window.t.frames.length > 0", timeout=15_000)
    page.wait_for_function("window.t.statuses.some((s) => s.reason === 'heartbeat timeout')", timeout=10_000)
    page.wait_for_function("window.t.sockets >= 2 && window.t.sent.some((f) => f.type === 'resume')",
                           timeout=10_000)
    assert page.evaluate("window.t.sent.find((f) => f.type === 'resume').version") == page.evaluate(
        "window.t.frames[0].version")
    page.evaluate("window.t.sub.close()")
    page.close()


def test_the_client_falls_back_to_sse_when_websockets_cannot_connect(system: System, browser: Browser) -> None:
    api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
    user = f"sse-{uuid.uuid4().hex[:6]}"
    page = open_sdk(browser, system, "global", "broken", sseFallbackAfter=2, backoffInitialMs=20,
                    backoffMaxMs=100)
    page.wait_for_function("window.t.sub.transport === 'sse' && window.t.frames.length > 0", timeout=15_000)
    assert page.evaluate("window.t.sockets") == 2
    assert api.complete(user, "win-match").status_code == 202
    page.wait_for_function(f"{score_of(user)} === 100", timeout=15_000)
    assert page.evaluate("window.t.sub.status") == "live"
    versions_only_increase(page)
    page.evaluate("window.t.sub.close()")
    page.close()
