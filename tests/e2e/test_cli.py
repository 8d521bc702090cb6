"""``scoreboard admin`` and ``scoreboard events tail`` as an operator runs them, against the real api,
worker and gateway processes: a ban takes the user off the board, an adjustment moves the score, a
problem exits non-zero with its title, and the tail prints decoded records as JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest

from scoreboard.domain.topics import ACTIONS
from testkit.system import System
from testkit.waits import wait_until
from tests.support.client import ApiClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(system: System) -> ApiClient:
    return ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])


def scoreboard(system: System, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """``scoreboard <args>`` with the system's environment (its JWT secret) and its api's URL."""
    env = system.env | {"SCOREBOARD_API_URL": system.api_url}
    return subprocess.run([sys.executable, "-m", "scoreboard.cli", *args], env=env_over_os(env),
                          capture_output=True, text=True, timeout=timeout_s)


def env_over_os(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SCOREBOARD_ADMIN_TOKEN"} | env


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def score_of(api: ApiClient, user: str) -> int | None:
    ranked = api.rank(user)
    return None if ranked is None else int(ranked["score"])


def on_the_board(api: ApiClient, user: str) -> int:
    """Complete one action for a new user and wait until it is ranked; its score."""
    assert api.complete(user, "complete-level").status_code == 202
    return wait_until(lambda: score_of(api, user), what=f"{user} ranked")


def test_admin_ban_takes_the_user_off_the_board_and_unban_puts_them_back(system: System, api: ApiClient) -> None:
    user = fresh("cli-ban")
    on_the_board(api, user)
    banned = scoreboard(system, "admin", "ban", user, "--reason", "cheating", "--as", fresh("root"))
    assert banned.returncode == 0, banned.stderr
    answer = json.loads(banned.stdout)
    assert answer["status"] == "accepted" and answer["event_id"]
    assert "retry with --key" in banned.stderr
    wait_until(lambda: api.rank(user) is None, what=f"{user} off the board after the ban")
    unbanned = scoreboard(system, "admin", "unban", user, "--reason", "appeal won")
    assert unbanned.returncode == 0, unbanned.stderr
    wait_until(lambda: score_of(api, user), what=f"{user} back on the board after the unban")


def test_admin_flag_then_approve_holds_and_releases_the_users_points(system: System, api: ApiClient) -> None:
    user = fresh("cli-flag")
    before = on_the_board(api, user)
    flagged = scoreboard(system, "admin", "flag", user, "--reason", "player report")
    assert flagged.returncode == 0, flagged.stderr
    wait_until(lambda: api.rank(user) is None, what=f"{user} off the board under review")
    approved = scoreboard(system, "admin", "approve", user, "--reason", "checked the replay")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["decision"] == "approve"
    wait_until(lambda: score_of(api, user) == before, what=f"{user} back on the board after the approval")
    again = scoreboard(system, "admin", "reject", user, "--reason", "no pending review now")
    assert again.returncode == 1 and "no pending review" in again.stderr


def test_admin_adjust_moves_the_score_once_per_key(system: System, api: ApiClient) -> None:
    user, key = fresh("cli-adjust"), f"cli-{uuid.uuid4().hex}"
    before = on_the_board(api, user)
    args = ("admin", "adjust", user, "--delta", "1234", "--reason", "refund of a bugged match", "--key", key)
    first = scoreboard(system, *args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["status"] == "accepted"
    wait_until(lambda: score_of(api, user) == before + 1234, what=f"{user} at {before + 1234}")
    retried = scoreboard(system, *args)
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout) == {"event_id": json.loads(first.stdout)["event_id"], "status": "duplicate"}
    assert score_of(api, user) == before + 1234


def test_a_refused_command_exits_non_zero_with_the_problem(system: System, api: ApiClient) -> None:
    user = fresh("cli-refused")
    not_admin = scoreboard(system, "admin", "ban", user, "--reason", "x", "--token", api.token(fresh("user")))
    assert not_admin.returncode == 1
    assert "403 forbidden" in not_admin.stderr and "admin role" in not_admin.stderr
    assert json.loads(not_admin.stdout)["status"] == 403
    zero = scoreboard(system, "admin", "adjust", user, "--delta", "0", "--reason", "nothing")
    assert zero.returncode == 1 and "422" in zero.stderr and "must not be 0" in zero.stderr


def test_events_tail_from_the_beginning_prints_decoded_json_lines(system: System, api: ApiClient) -> None:
    on_the_board(api, fresh("cli-tail"))  # at least one record on the topic, whatever ran before
    tailed = scoreboard(system, "events", "tail", ACTIONS, "--from-beginning", "--max", "3", "--idle-timeout", "20")
    assert tailed.returncode == 0, tailed.stderr
    lines = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert len(lines) == 3
    for record in lines:
        assert record["topic"] == ACTIONS and record["offset"] >= 0 and record["timestamp"] > 0
        assert set(record) >= {"key", "partition", "headers", "event", "time"}
        assert "type" in record["event"] or "undecodable" in record["event"]


def test_events_tail_follows_new_records(system: System, api: ApiClient) -> None:
    """From the end (the default): an action completed while the tail runs shows up, decoded."""
    user = fresh("cli-follow")
    env = env_over_os(system.env)
    tail = subprocess.Popen([sys.executable, "-m", "scoreboard.cli", "events", "tail", ACTIONS],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: seen.extend(json.loads(line) for line in tail.stdout or ()),
                              daemon=True)
    reader.start()
    try:
        def ours() -> dict[str, Any] | None:
            found = [r for r in list(seen) if r["key"] == user]
            if found:
                return found[0]
            assert tail.poll() is None, tail.stderr.read() if tail.stderr else ""
            assert api.complete(user, "daily-login").status_code == 202  # until the tail has started
            return None

        record = wait_until(ours, timeout_s=60, interval_s=1.0, what=f"a record of {user} in the tail")
    finally:
        tail.terminate()
        tail.wait(timeout=20)
    assert record["event"]["type"] == "ActionCompleted" and record["event"]["user_id"] == user
    assert record["headers"]["ce_type"] == "scoreboard.ActionCompleted.v1"
