"""The shapes of the api's answers (see the api's ``GET /openapi.json``), as typed dictionaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict


class Entry(TypedDict):
    rank: int
    user_id: str
    score: int


class Ticket(TypedDict):
    ticket: str
    expires_at: str
    not_before: str


class Receipt(TypedDict):
    event_id: str
    status: Literal["accepted", "duplicate"]
    action_id: str
    points: int
    visible: NotRequired[bool]
    outcome: NotRequired[str]
    rejection: NotRequired[dict[str, str]]


class Board(TypedDict):
    board: str
    version: int
    total: int
    source: str
    entries: list[Entry]
    as_of: NotRequired[str]


class UserRank(TypedDict):
    board: str
    user_id: str
    rank: int
    score: int
    percentile: float
    total: int
    as_of: NotRequired[str]


class Around(TypedDict):
    board: str
    version: int
    total: int
    source: str
    user: UserRank
    entries: list[Entry]
    as_of: NotRequired[str]


class Me(TypedDict):
    user_id: str
    boards: dict[str, UserRank | None]
    rejected: list[dict[str, str]]


@dataclass(frozen=True)
class BoardFrame:
    """A pushed top 10: ``kind`` is ``snapshot`` (first on each connection, and after a daily or weekly
    window rolled over) or ``update``. ``version`` only grows within one ``board`` id."""

    kind: Literal["snapshot", "update"]
    board: str
    version: int
    entries: list[Entry]
    raw: dict[str, Any] = field(repr=False, compare=False)
