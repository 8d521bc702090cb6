"""JWT validation (and dev-token minting) with a strict algorithm allow-list.

Rules: ``none`` is never accepted; HMAC algorithms are refused when the configured key is
asymmetric and vice versa (the algorithms a key may use follow from the key's type, never from the
token); headers that try to bring their own key (``jku``, ``x5u``, ``jwk``, ``x5c``) are refused;
``sub``, ``exp`` and ``iat`` are required, ``nbf`` is honoured, ``iss``/``aud`` are checked when
configured. Keys: an HMAC secret (>= 256 bits), a PEM public key file, or a JWKS URL (see
``scoreboard.adapters.jwks``). With a public key or a JWKS, issuer and audience must be configured:
an identity provider signs the tokens of all its applications with the same keys, so without them a
token it minted for another application (roles included) would be accepted here.

A client sends the same token with every request, so a verified token is remembered (by its exact
text, never by its claims) with the window its ``nbf``/``exp`` allow, for at most
``VERIFIED_CACHE_SECONDS``; after that it is verified in full again, so a key withdrawn from the
JWKS stops working within that bound. Only successes are remembered, in a bounded cache that
threads share (verification with a JWKS runs in worker threads), under a lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from scoreboard.adapters.jwks import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    JwksKeys,
    KeyNotFound,
    KeySource,
    StaticKey,
)
from scoreboard.domain.errors import ConfigurationError, ScoreboardError
from scoreboard.settings import Settings

FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c")
MIN_HMAC_SECRET_BYTES = 32
VERIFIED_CACHE_SIZE = 16_384
VERIFIED_CACHE_SECONDS = 60.0
__all__ = ["ASYMMETRIC_ALGORITHMS", "HMAC_ALGORITHMS", "AuthError", "Principal", "TokenVerifier", "mint_token"]


class AuthError(ScoreboardError):
    """The bearer token is missing, malformed or not acceptable."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenVerifier:
    def __init__(
        self,
        *,
        algorithms: tuple[str, ...],
        keys: KeySource,
        issuer: str = "",
        audience: str = "",
        leeway_seconds: int = 30,
        clock: Callable[[], float] = time.time,
        cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        self._algorithms = algorithms
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._clock = clock
        self._cache_size = max(1, cache_size)
        self._verified: dict[str, tuple[Principal, float, float, float]] = {}
        """token -> (principal, valid from, valid until, verify again at), oldest first."""
        self._verified_lock = threading.Lock()

    @property
    def blocking(self) -> bool:
        """True when verifying may fetch keys over the network (run it in a thread)."""
        return self._keys.blocking

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        algorithms = tuple(a for a in settings.jwt_algorithms if a)
        if not algorithms:
            raise ConfigurationError("SCOREBOARD_JWT_ALGORITHMS is empty")
        if any(a.lower() == "none" for a in algorithms):
            raise ConfigurationError("SCOREBOARD_JWT_ALGORITHMS must not contain `none`")
        unknown = set(algorithms) - HMAC_ALGORITHMS - ASYMMETRIC_ALGORITHMS
        if unknown:
            raise ConfigurationError(f"SCOREBOARD_JWT_ALGORITHMS has unsupported {sorted(unknown)}")
        settings.require_jwt_key()
        configured = [bool(settings.jwt_secret), bool(settings.jwt_public_key_file), bool(settings.jwks_url)]
        if sum(configured) > 1:
            raise ConfigurationError("set only one of SCOREBOARD_JWT_SECRET, SCOREBOARD_JWT_PUBLIC_KEY_FILE "
                                     "and SCOREBOARD_JWKS_URL")
        keys: KeySource
        if settings.jwt_public_key_file or settings.jwks_url:
            _require_issuer_and_audience(settings)
            if set(algorithms) & HMAC_ALGORITHMS:
                raise ConfigurationError("an asymmetric key is configured: HMAC algorithms are not allowed")
            if settings.jwks_url:
                keys = JwksKeys(settings.jwks_url, algorithms, cache_seconds=settings.jwks_cache_seconds,
                                min_refresh_seconds=settings.jwks_min_refresh_seconds)
            else:
                keys = StaticKey.public_key_file(settings.jwt_public_key_file, algorithms)
        else:
            if set(algorithms) - HMAC_ALGORITHMS:
                raise ConfigurationError("an HMAC secret is configured: only HS* algorithms are allowed")
            if len(settings.jwt_secret.encode()) < MIN_HMAC_SECRET_BYTES:
                raise ConfigurationError("SCOREBOARD_JWT_SECRET must be at least 256 bits (32 bytes)")
            keys = StaticKey(settings.jwt_secret, algorithms)
        return cls(
            algorithms=algorithms,
            keys=keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
        )

    def verify(self, token: str) -> Principal:
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, valid_from, valid_until, again_at = remembered
            if now >= valid_until:
                raise AuthError("token expired")
            if now >= valid_from and now < again_at:
                return principal
            with self._verified_lock:
                self._verified.pop(token, None)
        principal, claims = self._verify_in_full(token)
        self._remember(token, principal, claims, now)
        return principal

    def _remember(self, token: str, principal: Principal, claims: dict[str, Any], now: float) -> None:
        nbf = claims.get("nbf")
        valid_from = float(nbf) - self._leeway if isinstance(nbf, (int, float)) else float("-inf")
        valid_until = float(claims["exp"]) + self._leeway
        with self._verified_lock:  # two threads may evict the same oldest token
            while len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (principal, valid_from, valid_until, now + VERIFIED_CACHE_SECONDS)

    def _verify_in_full(self, token: str) -> tuple[Principal, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        if any(name in header for name in FORBIDDEN_HEADERS):
            raise AuthError("token header carries its own key reference")
        if header.get("alg") not in self._algorithms:
            raise AuthError("token algorithm is not allowed")
        try:
            key, key_algorithms = self._keys.key_for(header)
        except KeyNotFound as exc:
            raise AuthError(str(exc)) from exc
        if header["alg"] not in key_algorithms:
            raise AuthError("token algorithm does not fit the verification key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                issuer=self._issuer or None,
                audience=self._audience or None,
                leeway=self._leeway,
                options={"require": ["sub", "exp", "iat"], "verify_aud": bool(self._audience)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("token not yet valid") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 128 or not subject.isprintable():
            raise AuthError("token subject is missing or invalid")
        roles = claims.get("roles", [])
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthError("token roles claim must be a list of strings")
        return Principal(user_id=subject, roles=frozenset(roles)), claims


def _require_issuer_and_audience(settings: Settings) -> None:
    missing = [name for name, value in (("SCOREBOARD_JWT_ISSUER", settings.jwt_issuer),
                                        ("SCOREBOARD_JWT_AUDIENCE", settings.jwt_audience)) if not value]
    if missing:
        source = "SCOREBOARD_JWKS_URL" if settings.jwks_url else "SCOREBOARD_JWT_PUBLIC_KEY_FILE"
        raise ConfigurationError(
            f"{source} is set but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not: an identity "
            "provider signs every application's tokens with the same keys, so without both checks a token it "
            "minted for another application (roles included) would be accepted here. Set them to the `iss` and "
            "`aud` your provider puts in this api's tokens")


def mint_token(
    secret: str,
    subject: str,
    *,
    roles: tuple[str, ...] = (),
    ttl_seconds: int = 3600,
    issuer: str = "",
    audience: str = "",
    algorithm: str = "HS256",
) -> str:
    """A development token signed with the stack's HMAC secret."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex}
    if roles:
        claims["roles"] = list(roles)
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=algorithm)
