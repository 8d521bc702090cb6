"""Admin endpoints: adjustments, bans and unbans land on the actions topic; only admins may call them."""

from __future__ import annotations

import uuid

import pytest

from devstack.worlds import topic_ends
from scoreboard.domain.events import ScoreAdjusted, UserBanned, UserUnbanned
from scoreboard.domain.topics import ACTIONS
from testkit.system import System
from tests.support.attacker import Caller, assert_problem
from tests.support.topic_reader import records_since

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def caller(system: System) -> Caller:
    return Caller(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_an_adjustment_is_appended_once_keyed_by_the_user(caller: Caller, system: System) -> None:
    """202 with an event id; the ScoreAdjusted on the topic carries delta, reason, admin and the key as nonce."""
    admin, user, key = fresh("admin"), fresh("target"), f"adj-{uuid.uuid4().hex}"
    token = caller.token(admin, roles=("admin",))
    since = topic_ends(system.world.kafka_bootstrap)
    path = f"/v1/admin/users/{user}/adjustments"
    first = caller.post(path, token, key=key, json={"delta": -40, "reason": "refund of a bugged match"})
    assert first.status_code == 202, first.text
    assert first.json() == {"event_id": first.json()["event_id"], "status": "accepted"}
    again = caller.post(path, token, key=key, json={"delta": -40, "reason": "refund of a bugged match"})
    assert again.status_code == 200 and again.json() == {"event_id": first.json()["event_id"], "status": "duplicate"}
    landed = [(k, e, h) for k, e, h in records_since(system.world.kafka_bootstrap, since) if k == user]
    assert len(landed) == 1
    _, event, headers = landed[0]
    assert isinstance(event, ScoreAdjusted)
    assert (event.event_id, event.user_id, event.delta, event.reason, event.admin_id, event.nonce) == (
        first.json()["event_id"], user, -40, "refund of a bugged match", admin, key)
    assert headers["ce_type"] == b"scoreboard.ScoreAdjusted.v1" and headers["ce_id"] == event.event_id.encode()


def test_ban_and_unban_are_appended_in_order(caller: Caller, system: System) -> None:
    """Ban then unban: two events for the user on the actions topic, in that order."""
    admin, user = fresh("admin"), fresh("banned")
    token = caller.token(admin, roles=("admin",))
    since = topic_ends(system.world.kafka_bootstrap)
    banned = caller.post(f"/v1/admin/users/{user}/ban", token, key=None, json={"reason": "cheating"})
    unbanned = caller.post(f"/v1/admin/users/{user}/unban", token, key=None, json={"reason": "appeal won"})
    assert banned.status_code == unbanned.status_code == 202, (banned.text, unbanned.text)
    events = [e for k, e, _ in records_since(system.world.kafka_bootstrap, since, ACTIONS) if k == user]
    assert [type(e) for e in events] == [UserBanned, UserUnbanned]
    assert [e.event_id for e in events] == [banned.json()["event_id"], unbanned.json()["event_id"]]
    assert events[0].reason == "cheating" and events[0].admin_id == admin


def test_a_ban_with_an_idempotency_key_is_appended_once(caller: Caller, system: System) -> None:
    """Ban and unban take an optional key; a retry with it answers the same event id."""
    token, user, key = caller.token(fresh("admin"), roles=("admin",)), fresh("banned"), f"ban-{uuid.uuid4().hex}"
    since = topic_ends(system.world.kafka_bootstrap)
    answers = [caller.post(f"/v1/admin/users/{user}/ban", token, key=key, json={"reason": "spam"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 200, 200]
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert len([k for k, _, _ in records_since(system.world.kafka_bootstrap, since) if k == user]) == 1
    assert_problem(caller.post(f"/v1/admin/users/{user}/unban", token, key=key, json={"reason": "spam"}),
                   422, "idempotency-key-reused")


@pytest.mark.parametrize(("body", "key", "status", "slug"), [
    ({"delta": 5, "reason": "x"}, None, 422, "invalid-idempotency-key"),
    ({"delta": 0, "reason": "nothing"}, "", 422, "invalid-body"),
    ({"delta": 5}, "", 422, "invalid-body"),
    ({"delta": "5", "reason": "x"}, "", 422, "invalid-body"),
    ({"delta": 10**12, "reason": "x"}, "", 422, "invalid-body"),
    ({"delta": 5, "reason": "x", "points": 5}, "", 422, "unknown-field"),
    (None, "", 422, "invalid-body"),
])
def test_bad_adjustments_are_refused(caller: Caller, system: System, body: object, key: str | None, status: int,
                                     slug: str) -> None:
    """Missing key, zero/huge/non-integer delta, missing reason, unknown fields, no body: 422, nothing appended."""
    user = fresh("target")
    since = topic_ends(system.world.kafka_bootstrap)
    response = caller.post(f"/v1/admin/users/{user}/adjustments", caller.token(fresh("admin"), roles=("admin",)),
                           key=key, json=body)
    assert_problem(response, status, slug)
    assert not [k for k, _, _ in records_since(system.world.kafka_bootstrap, since) if k == user]


def test_an_admin_cannot_adjust_their_own_score(caller: Caller) -> None:
    """Separation of duties: self-adjustment is 403."""
    admin = fresh("admin")
    response = caller.post(f"/v1/admin/users/{admin}/adjustments", caller.token(admin, roles=("admin",)),
                           json={"delta": 100, "reason": "me"})
    assert_problem(response, 403, "self-adjustment")


def test_without_the_admin_role_every_admin_endpoint_is_403(caller: Caller) -> None:
    """Roles come from the token's `roles` claim; a token without admin is forbidden, one without auth 401."""
    user = fresh("target")
    for verb, body in (("adjustments", {"delta": 1, "reason": "x"}), ("ban", {"reason": "x"}),
                       ("unban", {"reason": "x"})):
        path = f"/v1/admin/users/{user}/{verb}"
        assert_problem(caller.post(path, caller.token(fresh("user"), roles=("moderator",)), json=body), 403)
        assert_problem(caller.post(path, None, json=body), 401)
