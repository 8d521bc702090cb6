"""The api configured with a JWKS URL: RS256 tokens verify by kid, keys rotate live, unknown kids are 401."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from testkit.system import System
from testkit.waits import wait_until
from tests.support.attacker import Caller, assert_problem
from tests.support.jwks_server import AUDIENCE, ISSUER, JwksServer, rsa_key, running_jwks_server, token
from tests.support.suite import running_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    with running_jwks_server() as server:
        yield server


@pytest.fixture(scope="module")
def keyed(jwks: JwksServer) -> Iterator[tuple[System, object]]:
    signer = rsa_key()
    jwks.publish(("k1", signer))
    with running_system({
            "SCOREBOARD_JWT_SECRET": "", "SCOREBOARD_JWKS_URL": jwks.url, "SCOREBOARD_JWT_ALGORITHMS": "RS256,ES256",
            "SCOREBOARD_JWKS_MIN_REFRESH_SECONDS": "0",
            "SCOREBOARD_JWT_ISSUER": ISSUER, "SCOREBOARD_JWT_AUDIENCE": AUDIENCE}) as system:
        yield system, signer


def test_tokens_verify_by_kid_and_a_rotated_key_is_picked_up_live(keyed: tuple[System, object],
                                                                  jwks: JwksServer) -> None:
    """k1 works; after k2 is published, k2 tokens work without a restart; both users are scored."""
    system, signer = keyed
    caller = Caller(system.api_url, "unused-hmac-secret-of-at-least-32-bytes")
    first, second = f"jwks-{uuid.uuid4().hex[:8]}", f"jwks-{uuid.uuid4().hex[:8]}"
    assert caller.complete(first, "win-match", token=token(signer, "k1", sub=first)).status_code == 202
    rotated = rsa_key()
    jwks.publish(("k1", signer), ("k2", rotated))
    assert caller.complete(second, "win-match", token=token(rotated, "k2", sub=second)).status_code == 202
    wait_until(lambda: caller.score(first) == 100 and caller.score(second) == 100, what="both scored")


def test_unknown_kid_foreign_key_and_hmac_tokens_are_401(keyed: tuple[System, object]) -> None:
    """An unknown kid, an attacker's key under a known kid, and an HS256 token are all refused."""
    system, signer = keyed
    caller = Caller(system.api_url, "attacker-guess-of-a-secret-32-bytes-long")
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    for bad in (token(signer, "k-unknown", sub=victim), token(rsa_key(), "k1", sub=victim),
                caller.token(victim, headers={"kid": "k1"})):
        assert_problem(caller.complete(victim, "win-match", token=bad), 401, "unauthorized")
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    assert caller.complete(probe, "win-match", token=token(signer, "k1", sub=probe)).status_code == 202
    wait_until(lambda: caller.score(probe), what="probe counted")
    assert caller.score(victim) is None
