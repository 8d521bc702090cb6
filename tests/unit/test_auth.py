"""JWT validation: the allow-list, required claims, and the cache of verified tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from scoreboard.adapters.auth import (
    VERIFIED_CACHE_SECONDS,
    AuthError,
    TokenVerifier,
    mint_token,
)
from scoreboard.adapters.jwks import StaticKey
from scoreboard.domain.errors import ConfigurationError
from scoreboard.settings import Settings

SECRET = "s" * 40
ISSUER, AUDIENCE = "https://idp.example", "scoreboard"


def verifier(**overrides: object) -> TokenVerifier:
    settings = Settings(**({"jwt_secret": SECRET, "jwt_algorithms": ("HS256",)} | overrides))  # type: ignore[arg-type]
    return TokenVerifier.from_settings(settings)


def test_a_minted_token_verifies_with_its_subject_and_roles() -> None:
    """The dev token of the stack is accepted and carries sub and roles."""
    principal = verifier().verify(mint_token(SECRET, "alice", roles=("admin",)))
    assert principal.user_id == "alice" and principal.is_admin


def test_alg_none_is_refused() -> None:
    """An unsigned token is never accepted."""
    claims = {"sub": "a", "iat": int(time.time()), "exp": int(time.time()) + 60}
    token = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        verifier().verify(token)


@pytest.mark.parametrize("relative", [
    {"sub": "a", "iat": -7200, "exp": -3600},
    {"iat": 0, "exp": 60},
    {"sub": "a", "exp": 60},
    {"sub": "a", "iat": 0, "exp": 600, "nbf": 300},
])
def test_expired_unsubjected_unissued_or_not_yet_valid_tokens_are_refused(relative: dict[str, int]) -> None:
    """exp, sub and iat are required; nbf is honoured (times relative to now, taken when the test runs)."""
    now = int(time.time())
    claims = {name: value if name == "sub" else now + int(value) for name, value in relative.items()}
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


def keypair(kind: str) -> tuple[Any, str]:
    """A private key and its public half as PEM text."""
    private: Any = {"rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
                    "ec": lambda: ec.generate_private_key(ec.SECP256R1()),
                    "ed": ed25519.Ed25519PrivateKey.generate}[kind]()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, pem


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE} | extra


def key_file_verifier(path: Path, **overrides: object) -> TokenVerifier:
    """A verifier with a PEM public key, configured as the start-up rules require (issuer and audience)."""
    return verifier(**({"jwt_secret": "", "jwt_public_key_file": str(path), "jwt_issuer": ISSUER,
                        "jwt_audience": AUDIENCE} | overrides))


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa", "RS256"), ("ec", "ES256"), ("ed", "EdDSA")])
def test_a_public_key_file_verifies_tokens_of_its_algorithm(tmp_path: Path, kind: str, algorithm: str) -> None:
    """RS256, ES256 and EdDSA tokens verify against a PEM public key file."""
    private, pem = keypair(kind)
    (tmp_path / "key.pem").write_text(pem)
    verify = key_file_verifier(tmp_path / "key.pem", jwt_algorithms=(algorithm,))
    assert verify.verify(jwt.encode(claims(), private, algorithm=algorithm)).user_id == "alice"


def test_hmac_signed_with_the_public_key_is_refused(tmp_path: Path) -> None:
    """Key confusion: an HS256 token whose secret is the server's public key PEM never verifies."""
    _, pem = keypair("rsa")
    (tmp_path / "key.pem").write_text(pem)
    verify = key_file_verifier(tmp_path / "key.pem", jwt_algorithms=("RS256",))
    forged = hmac_token_signed_with(pem.encode(), claims())
    with pytest.raises(AuthError, match="algorithm is not allowed"):
        verify.verify(forged)


def hmac_token_signed_with(secret: bytes, payload: dict[str, object]) -> str:
    """pyjwt refuses PEM text as an HMAC secret, so sign the HS256 token by hand as an attacker would."""
    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(json.dumps(payload).encode())
    return (signing_input + b"." + b64(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()


@pytest.mark.parametrize("overrides", [
    {"jwt_algorithms": ("HS256", "RS256")},
    {"jwt_algorithms": ("ES256",)},
    {"jwt_algorithms": ("none",)},
])
def test_unsafe_algorithm_configurations_refuse_to_start(tmp_path: Path, overrides: dict[str, Any]) -> None:
    """HMAC next to a public key, an algorithm the key cannot use, or `none`: a clear configuration error."""
    _, pem = keypair("rsa")
    (tmp_path / "key.pem").write_text(pem)
    with pytest.raises(ConfigurationError):
        key_file_verifier(tmp_path / "key.pem", **overrides)


@pytest.mark.parametrize(("source", "given", "named"), [
    ("jwks_url", {}, "SCOREBOARD_JWT_ISSUER and SCOREBOARD_JWT_AUDIENCE are not"),
    ("jwks_url", {"jwt_issuer": ISSUER}, "SCOREBOARD_JWT_AUDIENCE is not"),
    ("jwt_public_key_file", {"jwt_audience": AUDIENCE}, "SCOREBOARD_JWT_ISSUER is not"),
])
def test_an_asymmetric_key_or_jwks_without_issuer_and_audience_refuses_to_start(
        tmp_path: Path, source: str, given: dict[str, str], named: str) -> None:
    """The identity provider's keys sign every application's tokens: without iss and aud checks, a token
    minted for another application (with its roles) would be accepted, so the api does not start."""
    _, pem = keypair("rsa")
    (tmp_path / "key.pem").write_text(pem)
    key = {"jwks_url": "https://idp.example/.well-known/jwks.json",
           "jwt_public_key_file": str(tmp_path / "key.pem")}[source]
    with pytest.raises(ConfigurationError, match=named) as refused:
        verifier(**({"jwt_secret": "", "jwt_algorithms": ("RS256",), source: key} | given))
    assert "another application" in str(refused.value)


def test_a_token_of_the_same_provider_for_another_audience_is_refused(tmp_path: Path) -> None:
    """Same key, same issuer, admin role, but minted for another application: 401."""
    private, pem = keypair("rsa")
    (tmp_path / "key.pem").write_text(pem)
    verify = key_file_verifier(tmp_path / "key.pem", jwt_algorithms=("RS256",))
    for foreign in (claims(aud="billing", roles=["admin"]), claims(iss="https://other-idp.example"),
                    {name: value for name, value in claims().items() if name != "aud"}):
        with pytest.raises(AuthError):
            verify.verify(jwt.encode(foreign, private, algorithm="RS256"))


@pytest.mark.parametrize("settings", [
    {"jwt_issuer": "https://issuer.example", "jwt_audience": "scoreboard"},
])
def test_issuer_and_audience_are_checked_when_configured(settings: dict[str, str]) -> None:
    """Wrong iss or aud is refused; the right ones pass."""
    verify = verifier(**settings)
    good = claims(iss="https://issuer.example", aud="scoreboard")
    assert verify.verify(jwt.encode(good, SECRET, algorithm="HS256")).user_id == "alice"
    missing = {name: value for name, value in good.items() if name not in ("iss", "aud")}
    for bad in (good | {"iss": "https://evil.example"}, good | {"aud": "other"}, missing):
        with pytest.raises(AuthError):
            verify.verify(jwt.encode(bad, SECRET, algorithm="HS256"))


def test_leeway_accepts_a_token_that_just_expired() -> None:
    """A token expired 10 s ago passes with the default 30 s leeway and fails with none."""
    token = jwt.encode(claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256")
    assert verifier().verify(token).user_id == "alice"
    with pytest.raises(AuthError, match="expired"):
        verifier(jwt_leeway_seconds=0).verify(token)


class CountingKeys(StaticKey):
    """The static HMAC key, counting how often a full verification asked for it."""

    def __init__(self) -> None:
        super().__init__(SECRET, ("HS256",))
        self.lookups = 0

    def key_for(self, header: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
        self.lookups += 1
        return super().key_for(header)


def remembering_verifier(now: list[float], cache_size: int = 16_384) -> tuple[TokenVerifier, CountingKeys]:
    keys = CountingKeys()
    return TokenVerifier(algorithms=("HS256",), keys=keys, leeway_seconds=5, clock=lambda: now[0],
                         cache_size=cache_size), keys


def test_a_verified_token_is_remembered_within_its_validity_and_for_a_bounded_time() -> None:
    """The same token again is answered without a full verification, until VERIFIED_CACHE_SECONDS."""
    now = [time.time()]
    verify, keys = remembering_verifier(now)
    token = mint_token(SECRET, "alice", ttl_seconds=3600)
    for _ in range(3):
        assert verify.verify(token).user_id == "alice"
    assert keys.lookups == 1
    now[0] += VERIFIED_CACHE_SECONDS + 1  # a key withdrawn meanwhile would be noticed now
    assert verify.verify(token).user_id == "alice"
    assert keys.lookups == 2


def test_a_remembered_token_still_expires_on_time() -> None:
    """exp (plus leeway) is checked on every use, cached or not."""
    now = [time.time()]
    verify, _ = remembering_verifier(now)
    token = mint_token(SECRET, "alice", ttl_seconds=30)
    assert verify.verify(token).user_id == "alice"
    now[0] += 30 + 5 + 1
    with pytest.raises(AuthError, match="expired"):
        verify.verify(token)


def test_only_verified_tokens_are_remembered_and_a_tampered_copy_is_not_one_of_them() -> None:
    now = [time.time()]
    verify, keys = remembering_verifier(now)
    token = mint_token(SECRET, "alice")
    verify.verify(token)
    header, _, signature = token.split(".")
    forged_payload = base64.urlsafe_b64encode(json.dumps(
        {"sub": "mallory", "iat": int(now[0]), "exp": int(now[0]) + 60}).encode()).rstrip(b"=").decode()
    for _attempt in range(2):
        with pytest.raises(AuthError):
            verify.verify(f"{header}.{forged_payload}.{signature}")
    assert keys.lookups == 3  # each forged attempt was verified in full, and refused


def test_threads_evicting_and_refreshing_the_same_tokens_never_fail() -> None:
    """Verification runs in worker threads with a JWKS: 8 threads cycling through 64 tokens on a cache of
    4 (every insert evicts, often the same oldest token twice) and past the re-verify time (every hit
    drops its entry) all verify every token, and the cache stays within its bound."""
    now = [time.time()]
    verify, _ = remembering_verifier(now, cache_size=4)
    tokens = [mint_token(SECRET, f"user-{i}") for i in range(64)]
    start, failures = threading.Barrier(8), []

    def hammer(offset: int) -> None:
        start.wait()
        try:
            for round_ in range(20):
                for i in range(len(tokens)):
                    token = tokens[(i + offset) % len(tokens)]
                    assert verify.verify(token).user_id == f"user-{(i + offset) % len(tokens)}"
                if offset == 0 and round_ % 5 == 4:
                    now[0] += VERIFIED_CACHE_SECONDS + 1  # remembered entries must be verified again
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is the test's failure
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to meet the race if there is one
    try:
        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert len(verify._verified) <= 4
