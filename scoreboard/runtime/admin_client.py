"""A small HTTP client of the api's admin endpoints, behind ``scoreboard admin``.

Standard library only (``urllib.request``): the production image has no HTTP client library. Each call
sends the admin's bearer token and an ``Idempotency-Key`` (the caller's, or a new uuid4 the caller can
pass again to retry safely) and returns the api's JSON answer; an error answer (RFC 9457 problem) or an
unreachable api raises ``AdminError`` with the problem's ``title`` and ``detail``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from scoreboard.adapters.auth import mint_token
from scoreboard.domain.errors import ConfigurationError, ScoreboardError
from scoreboard.settings import PREFIX, Settings

TIMEOUT_SECONDS = 30.0


class AdminError(ScoreboardError):
    """The api refused the command (a problem answer) or could not be reached."""

    def __init__(self, message: str, *, status: int = 0, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}


@dataclass(frozen=True)
class AdminAnswer:
    status: int
    body: dict[str, Any]
    idempotency_key: str


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def problem_message(status: int, body: dict[str, Any], fallback: str = "") -> str:
    """``<status> <title>: <detail>`` of a problem answer (whatever of it is there)."""
    title = str(body.get("title") or fallback or "error")
    detail = str(body.get("detail") or "")
    return f"{status} {title}: {detail}" if detail else f"{status} {title}"


@dataclass(frozen=True)
class AdminClient:
    api_url: str
    token: str = field(repr=False)
    timeout_seconds: float = TIMEOUT_SECONDS

    def adjust(self, user_id: str, delta: int, reason: str, key: str | None = None) -> AdminAnswer:
        return self._post(user_id, "adjustments", {"delta": delta, "reason": reason}, key)

    def ban(self, user_id: str, reason: str, key: str | None = None) -> AdminAnswer:
        return self._post(user_id, "ban", {"reason": reason}, key)

    def unban(self, user_id: str, reason: str, key: str | None = None) -> AdminAnswer:
        return self._post(user_id, "unban", {"reason": reason}, key)

    def flag(self, user_id: str, reason: str) -> AdminAnswer:
        """Put the user under review by hand (``docs/anti-cheat.md``)."""
        return self._post(user_id, "flag", {"reason": reason}, None)

    def decide(self, user_id: str, decision: str, reason: str) -> AdminAnswer:
        """Approve or reject the user's pending review."""
        url = f"{self.api_url.rstrip('/')}/v1/admin/reviews/{quote(user_id, safe='')}/decision"
        return self._send(url, {"decision": decision, "reason": reason}, None)

    def url_of(self, user_id: str, verb: str) -> str:
        return f"{self.api_url.rstrip('/')}/v1/admin/users/{quote(user_id, safe='')}/{verb}"

    def _post(self, user_id: str, verb: str, body: dict[str, Any], key: str | None) -> AdminAnswer:
        return self._send(self.url_of(user_id, verb), body, key)

    def _send(self, url: str, body: dict[str, Any], key: str | None) -> AdminAnswer:
        key = key or new_idempotency_key()
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                     "Accept": "application/json", "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                return AdminAnswer(response.status, _json_object(response.read()), key)
        except urllib.error.HTTPError as exc:
            problem = _json_object(exc.read())
            raise AdminError(problem_message(exc.code, problem, str(exc.reason)), status=exc.code,
                             body=problem) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AdminError(f"cannot reach the api at {self.api_url}: {reason}") from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {"detail": raw[:500].decode("utf-8", "replace")}
    return parsed if isinstance(parsed, dict) else {"answer": parsed}


def admin_token(explicit: str, environ: Mapping[str, str], settings: Settings, admin_id: str,
                ttl_seconds: int = 300) -> str:
    """The bearer token of ``scoreboard admin``: ``--token``, else ``SCOREBOARD_ADMIN_TOKEN``, else one
    minted for ``admin_id`` with the admin role and the stack's ``SCOREBOARD_JWT_SECRET``."""
    token = explicit or environ.get(PREFIX + "ADMIN_TOKEN", "")
    if token:
        return token
    if not settings.jwt_secret:
        raise ConfigurationError(
            f"no admin token: pass --token, export {PREFIX}ADMIN_TOKEN, or set {PREFIX}JWT_SECRET "
            "(`scoreboard stack up` generates one) to mint one")
    return mint_token(settings.jwt_secret, admin_id, roles=("admin",), ttl_seconds=ttl_seconds,
                      issuer=settings.jwt_issuer, audience=settings.jwt_audience)
