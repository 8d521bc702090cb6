"""An HTTP caller of the api that can mint good tokens and every kind of bad one, for the security suite."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt

from scoreboard.adapters.web.problems import TYPE_BASE
from testkit.waits import wait_until
from tests.support.thread_clients import ThreadClients


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Caller:
    def __init__(self, api_url: str, jwt_secret: str, *, issuer: str = "", audience: str = "") -> None:
        self.secret = jwt_secret
        self.issuer = issuer
        self.audience = audience
        self._clients = ThreadClients(api_url, timeout_s=20)

    @property
    def http(self) -> httpx.Client:
        """This thread's client (tests call from thread pools)."""
        return self._clients.get()

    def claims(self, sub: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + 600}
        if self.issuer:
            claims["iss"] = self.issuer
        if self.audience:
            claims["aud"] = self.audience
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, sub: str, roles: tuple[str, ...] = (), headers: dict[str, Any] | None = None,
              **overrides: Any) -> str:
        claims = self.claims(sub, **overrides)
        if roles:
            claims["roles"] = list(roles)
        return jwt.encode(claims, self.secret, algorithm="HS256", headers=headers)

    def post(self, path: str, token: str | None, *, key: str | None = "", **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = key or f"k-{uuid.uuid4().hex}"
        return self.http.post(path, headers=headers, **kwargs)

    def complete(self, user: str, action: str, *, token: str | None = None, key: str | None = "",
                 **kwargs: Any) -> httpx.Response:
        return self.post(f"/v1/actions/{action}/complete", token or self.token(user), key=key, **kwargs)

    def start(self, user: str, action: str) -> httpx.Response:
        return self.post(f"/v1/actions/{action}/start", self.token(user), key=None)

    def score(self, user: str) -> int | None:
        response = self.http.get(f"/v1/leaderboards/global/users/{user}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return int(response.json()["score"])

    def settle(self) -> None:
        """Wait until the pipeline has processed everything sent so far (a fresh probe got counted)."""
        probe = f"probe-{uuid.uuid4().hex[:10]}"
        assert self.complete(probe, "win-match").status_code == 202
        wait_until(lambda: self.score(probe), timeout_s=60, what="probe action counted")


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    """An RFC 9457 answer with the expected status and stable type, and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith(TYPE_BASE), body
    if slug is not None:
        assert body["type"] == TYPE_BASE + slug, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def tampered_payload(token: str, **changes: Any) -> str:
    """Same header and signature, edited claims: what a client editing its own token would send."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return ".".join((header, b64(json.dumps(claims).encode()), signature))


def tampered_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return ".".join((header, payload, flipped))


def unsigned(claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}."
