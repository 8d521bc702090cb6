"""A small HTTP client for the api as a user of it would call it."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import httpx

from scoreboard.adapters.auth import mint_token
from testkit.waits import wait_until
from tests.support.thread_clients import ThreadClients

MAX_PREFER_WAIT_S = 10
"""The most ``Prefer: wait=N`` the api honours (``producer_api.visibility.MAX_WAIT_SECONDS``)."""


class ApiClient:
    def __init__(self, base_url: str, jwt_secret: str) -> None:
        self.base_url = base_url
        self._secret = jwt_secret
        self._clients = ThreadClients(base_url, timeout_s=15)

    @property
    def http(self) -> httpx.Client:
        """This thread's client (tests call from thread pools)."""
        return self._clients.get()

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


class Completes(Protocol):
    def complete(self, user: str, action: str, *, key: str, headers: dict[str, str]) -> httpx.Response: ...


def complete_until_decided(client: Completes, user: str, action: str, timeout_s: float = 120,
                           wait_s: int = MAX_PREFER_WAIT_S) -> tuple[httpx.Response, httpx.Response]:
    """Complete ``action`` with ``Prefer: wait``; while the answer says the wait ran out first (outcome
    ``pending``: the worker had not decided yet, as on a loaded machine), ask again with the same key
    (a duplicate, which waits for the same event). The first answer and the first one with the worker's
    decision (``visible``, ``rejected``, ``held``, ``voided``).

    How long the worker takes is the machine's; what a test checks is the answer once it decided."""
    key = f"k-{uuid.uuid4().hex}"
    headers = {"Prefer": f"wait={wait_s}"}
    first = client.complete(user, action, key=key, headers=headers)

    def decided(answer: httpx.Response) -> httpx.Response | None:
        return None if answer.status_code in (200, 202) and answer.json().get("outcome") == "pending" else answer

    if decided(first) is not None:
        return first, first
    final = wait_until(lambda: decided(client.complete(user, action, key=key, headers=headers)),
                       timeout_s=timeout_s, interval_s=0, what=f"the worker's decision on {user}'s {action}")
    return first, final
