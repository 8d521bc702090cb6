"""What the abuse scenario sends: its plan (how many requests each attack makes, how long it waits) and
the shape of the api requests its attacks send (a completion, a ticketed action's start)."""

from __future__ import annotations

import json
from dataclasses import dataclass

FARM_ACTION = "win-match"
TICKET_ACTION = "boss-fight"
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class AbusePlan:
    farm_requests: int = 1000
    connections: int = 32
    burst_requests: int = 400
    burst_seconds: float = 1.0
    ticket_starts: int = 50
    forged_points: int = 10**12
    reuse_neighbours: int = 5
    reuse_actions_per_user: int = 3
    reuse_window_s: float = 30.0
    settle_timeout_s: float = 60.0
    ticket_wait_max_s: float = 65.0
    """The mixed farm waits for its tickets' minimum duration up to this long (the seconds include it)."""


Request = tuple[str, dict[str, str], bytes]
"""An api request as ``System.storm`` sends it: path, headers, body."""


def complete_request(action_id: str, token: str, key: str, ticket: str | None = None) -> Request:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    body = b""
    if ticket is not None:
        headers |= JSON_HEADERS
        body = json.dumps({"ticket": ticket}).encode()
    return f"/v1/actions/{action_id}/complete", headers, body


def start_request(action_id: str, token: str) -> Request:
    return f"/v1/actions/{action_id}/start", {"Authorization": f"Bearer {token}"} | JSON_HEADERS, b"{}"
