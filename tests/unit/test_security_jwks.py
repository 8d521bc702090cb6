"""JWKS keys: rotation by kid against a tiny local JWKS server, bounded refetching, no foreign keys."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest

from scoreboard.adapters.auth import AuthError, TokenVerifier
from scoreboard.settings import Settings
from tests.support.jwks_server import AUDIENCE, ISSUER, JwksServer, rsa_key, running_jwks_server, token


@pytest.fixture()
def jwks() -> Iterator[JwksServer]:
    with running_jwks_server() as server:
        yield server


def verifier(url: str, min_refresh: float = 0.0) -> TokenVerifier:
    return TokenVerifier.from_settings(Settings(jwks_url=url, jwt_algorithms=("RS256",), jwt_issuer=ISSUER,
                                                jwt_audience=AUDIENCE, jwks_min_refresh_seconds=min_refresh))


def test_keys_rotate_by_kid_without_a_restart(jwks: JwksServer) -> None:
    """A token of a newly published kid verifies after one refetch; the cached kid needs none."""
    old, new = rsa_key(), rsa_key()
    jwks.publish(("k1", old))
    verify = verifier(jwks.url)
    assert verify.verify(token(old, "k1")).user_id == "alice"
    assert verify.verify(token(old, "k1", sub="bob")).user_id == "bob"
    assert jwks.fetches == 1
    jwks.publish(("k1", old), ("k2", new))
    assert verify.verify(token(new, "k2")).user_id == "alice"
    assert jwks.fetches == 2


def test_unknown_kids_refetch_at_a_bounded_rate(jwks: JwksServer) -> None:
    """Fifty tokens with made-up kids cause at most one extra fetch inside the refresh interval."""
    signer = rsa_key()
    jwks.publish(("k1", signer))
    verify = verifier(jwks.url, min_refresh=60)
    verify.verify(token(signer, "k1"))
    for n in range(50):
        with pytest.raises(AuthError, match="unknown key id"):
            verify.verify(token(signer, f"made-up-{n}"))
    assert jwks.fetches == 1


def test_a_token_signed_by_a_key_outside_the_set_is_refused(jwks: JwksServer) -> None:
    """An attacker's key with a published kid fails the signature check."""
    jwks.publish(("k1", rsa_key()))
    with pytest.raises(AuthError, match="invalid token"):
        verifier(jwks.url).verify(token(rsa_key(), "k1"))


def test_symmetric_keys_in_the_set_are_ignored(jwks: JwksServer) -> None:
    """An `oct` key in a JWKS is never used, so a token cannot pick HMAC with a published secret."""
    jwks.document = {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}
    now = int(time.time())
    forged = jwt.encode({"sub": "a", "iat": now, "exp": now + 60}, "secret-secret-secret-secret-secret",
                        algorithm="HS256", headers={"kid": "h"})
    with pytest.raises(AuthError):
        verifier(jwks.url).verify(forged)


def test_a_token_without_kid_is_refused_with_a_jwks(jwks: JwksServer) -> None:
    """Rotation needs the kid: a JWKS verifier refuses tokens that do not name their key."""
    signer = rsa_key()
    jwks.publish(("k1", signer))
    now = int(time.time())
    with pytest.raises(AuthError, match="kid"):
        verifier(jwks.url).verify(jwt.encode({"sub": "a", "iat": now, "exp": now + 60}, signer, algorithm="RS256"))
