"""The security suite: every attack gets its status code and changes no score (real processes).

The api runs with an issuer and audience configured, a catalog of its own and a low per-user rate
limit (a burst of 20 that refills one request per 100 s: no test's requests wait that long, so how fast
the machine sends them never lets one more through); each test uses fresh users.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.worlds import topic_ends
from scoreboard.domain import ticket_tokens as tickets
from scoreboard.domain.ticket_tokens import Ticket, TicketKeyring
from testkit.system import System
from testkit.waits import wait_until
from tests.support.attacker import (
    Caller,
    assert_problem,
    tampered_payload,
    tampered_signature,
    unsigned,
)
from tests.support.suite import running_system
from tests.support.topic_reader import records_since
from tests.support.utc_day import clear_of_utc_midnight

pytestmark = pytest.mark.e2e
ISSUER, AUDIENCE = "https://issuer.scoreboard.test", "scoreboard-api"
REFILL_PER_SECOND = 0.01
"""The user bucket's refill. At 0.5/s a machine that needed over 2 s for the burst test's requests had a
token refilled meanwhile: a 21st start, or its closing win-match, could pass (fewer 429s than asserted)."""
CATALOG = """
version = "security-suite.1"
[limits]
max_points_per_hour = 1000000
max_points_per_day = 1000000
max_open_tickets = 1000
[actions.win-match]
points = 100
daily_cap = 1000
[actions.boss-fight]
points = 250
requires_ticket = true
min_duration_seconds = 1
daily_cap = 1000
[actions.raid]
points = 70
requires_ticket = true
daily_cap = 1000
[actions.cool]
points = 10
cooldown_seconds = 60
[actions.capped]
points = 1
daily_cap = 2
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    catalog = tmp_path_factory.mktemp("catalog") / "actions.toml"
    catalog.write_text(CATALOG)
    with running_system({
        "SCOREBOARD_JWT_ISSUER": ISSUER, "SCOREBOARD_JWT_AUDIENCE": AUDIENCE,
        "SCOREBOARD_ACTIONS_FILE": str(catalog),
        "SCOREBOARD_RATE_USER_BURST": "20", "SCOREBOARD_RATE_USER_PER_SECOND": str(REFILL_PER_SECOND),
    }) as system:
        yield system


@pytest.fixture(scope="module")
def caller(secured: System) -> Caller:
    return Caller(secured.api_url, secured.env["SCOREBOARD_JWT_SECRET"], issuer=ISSUER, audience=AUDIENCE)


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_unscored(caller: Caller, *users: str) -> None:
    caller.settle()
    for user in users:
        assert caller.score(user) is None, f"{user} got a score"


def rsa_token(caller: Caller, sub: str) -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(caller.claims(sub), private, algorithm="RS256")


BAD_TOKENS: dict[str, Any] = {
    "alg-none": lambda c, u: unsigned(c.claims(u)),
    "alg-none-uppercase": lambda c, u: unsigned(c.claims(u)).replace("bm9uZ", "Tk9OR"),
    "rs256-from-an-attacker-key": rsa_token,
    "hs512-not-in-allow-list": lambda c, u: jwt.encode(c.claims(u), c.secret, algorithm="HS512"),
    "expired": lambda c, u: c.token(u, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
    "not-yet-valid": lambda c, u: c.token(u, nbf=int(time.time()) + 3600),
    "issued-in-the-future": lambda c, u: c.token(u, iat=int(time.time()) + 3600),
    "wrong-issuer": lambda c, u: c.token(u, iss="https://evil.test"),
    "no-issuer": lambda c, u: c.token(u, iss=None),
    "wrong-audience": lambda c, u: c.token(u, aud="another-api"),
    "missing-sub": lambda c, u: jwt.encode({k: v for k, v in c.claims(u).items() if k != "sub"}, c.secret,
                                           algorithm="HS256"),
    "missing-exp": lambda c, u: c.token(u, exp=None),
    "tampered-payload": lambda c, u: tampered_payload(c.token("mallory"), sub=u),
    "tampered-signature": lambda c, u: tampered_signature(c.token(u)),
    "signed-with-another-secret": lambda c, u: jwt.encode(c.claims(u), "x" * 40, algorithm="HS256"),
    "header-jku": lambda c, u: c.token(u, headers={"jku": "http://127.0.0.1:9/keys.json"}),
    "header-x5u": lambda c, u: c.token(u, headers={"x5u": "http://127.0.0.1:9/cert.pem"}),
    "header-jwk": lambda c, u: c.token(u, headers={"jwk": {"kty": "oct", "k": "YXR0YWNrZXI"}}),
    "header-x5c": lambda c, u: c.token(u, headers={"x5c": ["MIIB"]}),
    "garbage": lambda c, u: "not.a.jwt",
}


@pytest.mark.parametrize("attack", sorted(BAD_TOKENS))
def test_a_bad_token_is_a_401_problem_and_scores_nothing(caller: Caller, attack: str) -> None:
    """Each forged, expired, mis-addressed or self-keyed token is refused; the named user gains nothing."""
    victim = fresh(attack)
    response = caller.complete(victim, "win-match", token=BAD_TOKENS[attack](caller, victim))
    body = assert_problem(response, 401, "unauthorized")
    assert "WWW-Authenticate" in response.headers, body
    assert_unscored(caller, victim)


def test_a_good_token_passes_so_the_bad_ones_fail_for_their_flaw(caller: Caller) -> None:
    """Control: the same construction with nothing wrong is accepted and scored once."""
    user = fresh("control")
    assert caller.complete(user, "win-match").status_code == 202
    wait_until(lambda: caller.score(user) == 100, what="control scored")


def test_points_in_the_body_are_refused_and_the_score_stays_from_the_catalog(caller: Caller) -> None:
    """`points` (or a user id) in the body is an unknown field: 422, and nothing is recorded."""
    user, other = fresh("points"), fresh("other")
    for body in ({"points": 1_000_000}, {"ticket": "x", "points": 5}, {"user_id": other}):
        assert_problem(caller.complete(user, "win-match", json=body), 422, "unknown-field")
    assert_unscored(caller, user, other)


@pytest.mark.parametrize(("kwargs", "status", "slug"), [
    ({"content": b'{"ticket": "' + b"x" * 10_000 + b'"}', "headers": {"Content-Type": "application/json"}},
     413, "payload-too-large"),
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "malformed-json"),
    ({"content": b'{"ticket": "a", "ticket": "b"}', "headers": {"Content-Type": "application/json"}},
     400, "malformed-json"),
    ({"content": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 422, "invalid-body"),
    ({"content": b'{"ticket": 5}', "headers": {"Content-Type": "application/json"}}, 422, "invalid-body"),
    ({"content": b"points=5", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     415, "unsupported-media-type"),
    ({"content": b'{"ticket": NaN}', "headers": {"Content-Type": "application/json"}}, 400, "malformed-json"),
])
def test_oversized_and_malformed_bodies_are_clear_4xx(caller: Caller, kwargs: dict[str, Any], status: int,
                                                       slug: str) -> None:
    """Body cap 413, JSON only 415, strict schema 422, broken JSON 400; nothing recorded."""
    user = fresh("body")
    assert_problem(caller.complete(user, "win-match", **kwargs), status, slug)
    assert_unscored(caller, user)


def test_a_missing_or_malformed_idempotency_key_is_422(caller: Caller) -> None:
    """The key is required and has a fixed alphabet and length."""
    user = fresh("nokey")
    assert_problem(caller.complete(user, "win-match", key=None), 422, "invalid-idempotency-key")
    assert_problem(caller.complete(user, "win-match", key="short"), 422, "invalid-idempotency-key")
    assert_problem(caller.complete(user, "win-match", key="k" * 20 + " ;DROP"), 422, "invalid-idempotency-key")
    assert_unscored(caller, user)


def test_a_replayed_nonce_counts_once(caller: Caller) -> None:
    """Five sequential posts with one key: one event id, 202 then 200 duplicates, 100 points."""
    user, key = fresh("replay"), f"key-{uuid.uuid4().hex}"
    answers = [caller.complete(user, "win-match", key=key) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 200, 200, 200, 200]
    assert {a.json()["event_id"] for a in answers} == {answers[0].json()["event_id"]}
    assert [a.json()["status"] for a in answers[1:]] == ["duplicate"] * 4
    caller.settle()
    assert caller.score(user) == 100


def test_concurrent_duplicates_produce_one_event(caller: Caller, secured: System) -> None:
    """Ten simultaneous posts with one key all answer the same event id; the topic holds it once."""
    user, key = fresh("race"), f"key-{uuid.uuid4().hex}"
    since = topic_ends(secured.world.kafka_bootstrap)
    token = caller.token(user)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: caller.complete(user, "win-match", token=token, key=key), range(10)))
    assert all(a.status_code in (200, 202) for a in answers), [a.text for a in answers]
    assert sum(a.status_code == 202 for a in answers) == 1
    event_ids = {a.json()["event_id"] for a in answers}
    assert len(event_ids) == 1
    landed = [event for key_, event, _ in records_since(secured.world.kafka_bootstrap, since) if key_ == user]
    assert [e.event_id for e in landed] == list(event_ids)
    caller.settle()
    assert caller.score(user) == 100


def test_a_reused_key_for_another_action_is_refused(caller: Caller) -> None:
    """One key, one request: the same key on another action is 422, not a second event."""
    user, key = fresh("reuse"), f"key-{uuid.uuid4().hex}"
    assert caller.complete(user, "win-match", key=key).status_code == 202
    assert_problem(caller.complete(user, "capped", key=key), 422, "idempotency-key-reused")
    caller.settle()
    assert caller.score(user) == 100


def mint_ticket(secret: str, user: str, action: str, *, issued_ago_s: float, lifetime_s: float) -> str:
    now = time.time_ns() // 1000
    issued = now - int(issued_ago_s * 1e6)
    return tickets.issue(TicketKeyring(secret), Ticket(tickets.new_ticket_id(), user, action, issued,
                                                       issued + int(lifetime_s * 1e6)))


def test_a_ticketed_action_completes_once_with_its_ticket(caller: Caller) -> None:
    """start -> wait min_duration -> complete scores 250; the ticket replayed under a new key is 409."""
    user = fresh("ticket")
    started = caller.start(user, "boss-fight")
    assert started.status_code == 201, started.text
    ticket = started.json()["ticket"]
    assert set(started.json()) >= {"ticket", "expires_at"}
    assert_problem(caller.complete(user, "boss-fight", json={"ticket": ticket}), 409, "ticket-too-early")
    not_before = datetime.fromisoformat(started.json()["not_before"]).timestamp()
    wait_until(lambda: time.time() >= not_before, interval_s=0.01, what="the ticket's not_before (server clock)")
    key = f"key-{uuid.uuid4().hex}"
    done = caller.complete(user, "boss-fight", key=key, json={"ticket": ticket})
    assert done.status_code == 202, done.text
    again = caller.complete(user, "boss-fight", key=key, json={"ticket": ticket})
    assert again.status_code == 200 and again.json()["event_id"] == done.json()["event_id"]
    assert_problem(caller.complete(user, "boss-fight", json={"ticket": ticket}), 409, "ticket-used")
    caller.settle()
    assert caller.score(user) == 250


def test_bad_tickets_are_refused_and_score_nothing(caller: Caller, secured: System) -> None:
    """Forged, tampered, foreign (user or action), expired, early and missing tickets all fail."""
    user, other = fresh("tk-user"), fresh("tk-other")
    secret = secured.env["SCOREBOARD_TICKET_SECRET"]
    good_for_other = caller.start(other, "boss-fight").json()["ticket"]
    raid_ticket = caller.start(user, "raid").json()["ticket"]
    forged = tickets.issue(TicketKeyring("f" * 40), Ticket(tickets.new_ticket_id(), user, "boss-fight", 0,
                                                           time.time_ns() // 1000 + 10**9))
    own = caller.start(user, "boss-fight").json()["ticket"]
    tampered = own[:-3] + ("AAA" if not own.endswith("AAA") else "BBB")
    expired = mint_ticket(secret, user, "boss-fight", issued_ago_s=7200, lifetime_s=3600)
    cases = [
        (forged, 422, "ticket-invalid"),
        (tampered, 422, "ticket-invalid"),
        ("v1.nokid.e30.AAAA", 422, "ticket-invalid"),
        (good_for_other, 403, "ticket-foreign"),
        (raid_ticket, 403, "ticket-foreign"),
        (expired, 422, "ticket-expired"),
        (own, 409, "ticket-too-early"),
    ]
    for ticket, status, slug in cases:
        assert_problem(caller.complete(user, "boss-fight", json={"ticket": ticket}), status, slug)
    assert_problem(caller.complete(user, "boss-fight"), 422, "ticket-required")
    assert_problem(caller.complete(user, "win-match", json={"ticket": own}), 422, "ticket-not-expected")
    assert_problem(caller.start(user, "win-match"), 409, "ticket-not-required")
    assert_problem(caller.start(user, "no-such-action"), 404, "unknown-action")
    assert_unscored(caller, user, other)


def test_cooldown_refuses_a_second_completion_but_not_a_retry(caller: Caller) -> None:
    """cooldown_seconds: a new key is 429 with Retry-After; the first key's retry is still a duplicate."""
    user, key = fresh("cool"), f"key-{uuid.uuid4().hex}"
    sent = time.monotonic()
    assert caller.complete(user, "cool", key=key).status_code == 202
    refused = caller.complete(user, "cool")
    assert_problem(refused, 429, "cooldown")
    elapsed_s = math.ceil(time.monotonic() - sent)  # the cooldown ran at most this long before the refusal
    assert 60 - elapsed_s <= int(refused.headers["Retry-After"]) <= 60  # the time left, rounded up
    assert caller.complete(user, "cool", key=key).status_code == 200
    caller.settle()
    assert caller.score(user) == 10


def test_the_daily_cap_counts_only_accepted_actions(caller: Caller) -> None:
    """daily_cap 2: two accepted, the third is 429 until midnight UTC; refused tries do not count."""
    clear_of_utc_midnight(margin_s=120)  # all three on one UTC day
    user = fresh("cap")
    assert_problem(caller.complete(user, "capped", json={"points": 9}), 422)  # refused: not counted
    assert [caller.complete(user, "capped").status_code for _ in range(2)] == [202, 202]
    refused = caller.complete(user, "capped")
    assert_problem(refused, 429, "daily-cap")
    assert int(refused.headers["Retry-After"]) >= 1
    caller.settle()
    assert caller.score(user) == 2


def test_a_burst_over_the_user_limit_gets_429_with_rate_limit_headers(caller: Caller) -> None:
    """Burst 20: the 21st request in a burst is 429 with Retry-After and RateLimit-* headers."""
    user = fresh("burst")
    answers = [caller.start(user, "raid") for _ in range(24)]
    assert [a.status_code for a in answers[:20]] == [201] * 20
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) >= 3
    body = assert_problem(limited[0], 429, "rate-limited")
    headers = limited[0].headers
    assert int(headers["Retry-After"]) >= 1 and headers["RateLimit-Limit"] == "20", body
    assert headers["RateLimit-Remaining"] == "0" and int(headers["RateLimit-Reset"]) >= 1
    assert_problem(caller.complete(user, "win-match"), 429, "rate-limited")
    assert_unscored(caller, user)


def test_a_user_cannot_use_admin_endpoints_on_another_user(caller: Caller, secured: System) -> None:
    """A non-admin token gets 403 on adjust, ban and unban of another user; nothing is appended."""
    mallory, victim = fresh("mallory"), fresh("victim")
    since = topic_ends(secured.world.kafka_bootstrap)
    token = caller.token(mallory, roles=("player",))
    base = f"/v1/admin/users/{victim}"
    for path, body in ((f"{base}/adjustments", {"delta": 1000, "reason": "x"}), (f"{base}/ban", {"reason": "x"}),
                       (f"{base}/unban", {"reason": "x"}), (f"/v1/admin/users/{mallory}/adjustments",
                                                            {"delta": 1000, "reason": "self"})):
        assert_problem(caller.post(path, token, json=body), 403, "forbidden")
    caller.settle()
    assert not [k for k, _, _ in records_since(secured.world.kafka_bootstrap, since) if k in (mallory, victim)]
    assert caller.score(victim) is None and caller.score(mallory) is None
