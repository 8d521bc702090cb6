"""Verification keys for JWTs: a static key (HMAC secret or public key file) or a JWKS URL.

The JWKS source rotates by ``kid``: keys are cached for ``cache_seconds``; a token naming an unknown
``kid`` triggers a refetch, but at most once per ``min_refresh_seconds``, so a flood of made-up key
ids cannot turn the api into a load generator against the identity provider.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from scoreboard.domain.errors import (
    ConfigurationError,
    DependencyUnavailable,
    ScoreboardError,
)

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
EDDSA_ALGORITHMS = frozenset({"EdDSA"})
ASYMMETRIC_ALGORITHMS = RSA_ALGORITHMS | EC_ALGORITHMS | EDDSA_ALGORITHMS
_MAX_JWKS_BYTES = 512 * 1024


class KeyNotFound(ScoreboardError):
    """The token names a key this verifier does not have."""


class KeySetUnavailable(DependencyUnavailable):
    """The JWKS URL did not answer with a usable key set."""


class KeySource(Protocol):
    blocking: bool
    """True when ``key_for`` may do network I/O (callers then run it off the event loop)."""

    def key_for(self, header: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
        """The key that verifies a token with this header, and the algorithms that key may use."""
        ...


def algorithms_for_key(key: Any) -> frozenset[str]:
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return RSA_ALGORITHMS
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return EC_ALGORITHMS
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return EDDSA_ALGORITHMS
    return frozenset()


class StaticKey:
    blocking = False

    def __init__(self, key: Any, algorithms: tuple[str, ...]) -> None:
        self._key = key
        self._algorithms = algorithms

    def key_for(self, header: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
        return self._key, self._algorithms

    @classmethod
    def public_key_file(cls, path: str, allowed: tuple[str, ...]) -> StaticKey:
        try:
            key = load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"SCOREBOARD_JWT_PUBLIC_KEY_FILE {path}: not a PEM public key: {exc}") from exc
        usable = tuple(a for a in allowed if a in algorithms_for_key(key))
        if not usable:
            raise ConfigurationError(
                f"SCOREBOARD_JWT_PUBLIC_KEY_FILE holds a {type(key).__name__}, which none of "
                f"SCOREBOARD_JWT_ALGORITHMS {list(allowed)} can use")
        return cls(key, usable)


def fetch_url(url: str, timeout_s: float = 5.0) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked)
        body: bytes = response.read(_MAX_JWKS_BYTES + 1)
    if len(body) > _MAX_JWKS_BYTES:
        raise ValueError("key set too large")
    return body


class JwksKeys:
    """Keys from a JWKS URL, cached, refetched on an unknown ``kid`` at a bounded rate."""

    blocking = True

    def __init__(self, url: str, allowed: tuple[str, ...], *, cache_seconds: float = 300.0,
                 min_refresh_seconds: float = 10.0, fetch: Callable[[str], bytes] = fetch_url,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError("SCOREBOARD_JWKS_URL must be an http(s) URL")
        self._url = url
        self._allowed = allowed
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._fetch = fetch
        self._now = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[Any, tuple[str, ...]]] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self.fetches = 0

    def key_for(self, header: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise KeyNotFound("token header has no `kid`")
        with self._lock:
            stale = self._fetched_at is None or self._now() - self._fetched_at > self._cache_seconds
            if (stale or kid not in self._keys) and self._may_refresh():
                self._refresh()
            if kid in self._keys:
                return self._keys[kid]
            if self._fetched_at is None:
                raise KeySetUnavailable("the JWKS key set could not be fetched")
        raise KeyNotFound("token names an unknown key id")

    def _may_refresh(self) -> bool:
        return self._attempted_at is None or self._now() - self._attempted_at >= self._min_refresh

    def _refresh(self) -> None:
        self._attempted_at = self._now()
        self.fetches += 1
        try:
            document = json.loads(self._fetch(self._url))
            self._keys = self._parse(document)
        except (OSError, ValueError, jwt.PyJWTError):
            return  # keep serving the keys we have; the next refresh may work
        self._fetched_at = self._now()

    def _parse(self, document: Any) -> dict[str, tuple[Any, tuple[str, ...]]]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: dict[str, tuple[Any, tuple[str, ...]]] = {}
        for entry in document["keys"]:
            if not isinstance(entry, dict) or entry.get("kty") == "oct" or not entry.get("kid"):
                continue  # symmetric keys never belong in a public key set; rotation needs a kid
            if entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(entry).key
            except jwt.PyJWTError:
                continue
            usable = tuple(a for a in self._allowed if a in algorithms_for_key(key))
            if entry.get("alg"):
                usable = tuple(a for a in usable if a == entry["alg"])
            if usable:
                keys[str(entry["kid"])] = (key, usable)
        return keys
