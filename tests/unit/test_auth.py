"""JWT validation: the allow-list and required claims."""

from __future__ import annotations

import time

import jwt
import pytest

from scoreboard.auth import AuthError, TokenVerifier, mint_token
from scoreboard.errors import ConfigurationError
from scoreboard.settings import Settings

SECRET = "s" * 40


def verifier(**overrides: object) -> TokenVerifier:
    settings = Settings(**({"jwt_secret": SECRET, "jwt_algorithms": ("HS256",)} | overrides))  # type: ignore[arg-type]
    return TokenVerifier.from_settings(settings)


def test_a_minted_token_verifies_with_its_subject_and_roles() -> None:
    """The dev token of the stack is accepted and carries sub and roles."""
    principal = verifier().verify(mint_token(SECRET, "alice", roles=("admin",)))
    assert principal.user_id == "alice" and principal.is_admin


def test_alg_none_is_refused() -> None:
    """An unsigned token is never accepted."""
    token = jwt.encode({"sub": "a", "iat": int(time.time()), "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(AuthError):
        verifier().verify(token)


@pytest.mark.parametrize("claims", [
    {"sub": "a", "iat": 0, "exp": 1},
    {"iat": int(time.time()), "exp": int(time.time()) + 60},
    {"sub": "a", "exp": int(time.time()) + 60},
    {"sub": "a", "iat": int(time.time()), "exp": int(time.time()) + 600, "nbf": int(time.time()) + 300},
])
def test_expired_unsubjected_unissued_or_not_yet_valid_tokens_are_refused(claims: dict[str, object]) -> None:
    """exp, sub and iat are required; nbf is honoured."""
    with pytest.raises(AuthError):
        verifier().verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_a_token_signed_with_another_secret_is_refused() -> None:
    """A tampered signature fails."""
    with pytest.raises(AuthError):
        verifier().verify(mint_token("x" * 40, "alice"))


def test_a_header_carrying_its_own_key_is_refused() -> None:
    """jwk/jku/x5u/x5c headers are refused even when the signature is valid."""
    now = int(time.time())
    token = jwt.encode({"sub": "a", "iat": now, "exp": now + 60}, SECRET, algorithm="HS256",
                       headers={"jku": "http://127.0.0.1/keys"})
    with pytest.raises(AuthError):
        verifier().verify(token)


def test_a_short_hmac_secret_refuses_to_start() -> None:
    """Secrets under 256 bits are a configuration error."""
    with pytest.raises(ConfigurationError):
        verifier(jwt_secret="short")


def test_without_any_key_the_verifier_refuses_to_start() -> None:
    """No secret has a default."""
    with pytest.raises(ConfigurationError):
        verifier(jwt_secret="")
