"""A small HTTP client for the api as a user of it would call it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from scoreboard.adapters.auth import mint_token


class ApiClient:
    def __init__(self, base_url: str, jwt_secret: str) -> None:
        self.base_url = base_url
        self._secret = jwt_secret
        self.http = httpx.Client(base_url=base_url, timeout=15)

    def token(self, user: str, roles: tuple[str, ...] = ()) -> str:
        return mint_token(self._secret, user, roles=roles)

    def complete(self, user: str, action: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}",
                   "Idempotency-Key": key or f"k-{uuid.uuid4().hex}"}
        headers.update(kwargs.pop("headers", {}))
        return self.http.post(f"/v1/actions/{action}/complete", headers=headers, **kwargs)

    def board(self, board: str = "global", **params: Any) -> dict[str, Any]:
        response = self.http.get(f"/v1/leaderboards/{board}", params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def rank(self, user: str, board: str = "global") -> dict[str, Any] | None:
        response = self.http.get(f"/v1/leaderboards/{board}/users/{user}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
