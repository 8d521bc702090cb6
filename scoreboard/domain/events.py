"""Domain events: frozen, versioned records. Codecs live in ``scoreboard.adapters.codec``, not here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionCompleted:
    event_id: str
    user_id: str
    action_id: str
    nonce: str
    points: int
    catalog_version: str
    occurred_at_us: int
    request_id: str = ""
    version: int = 1


@dataclass(frozen=True)
class ScoreAdjusted:
    event_id: str
    user_id: str
    delta: int
    reason: str
    admin_id: str
    nonce: str
    occurred_at_us: int
    version: int = 1


@dataclass(frozen=True)
class UserBanned:
    event_id: str
    user_id: str
    reason: str
    admin_id: str
    occurred_at_us: int
    version: int = 1


@dataclass(frozen=True)
class UserUnbanned:
    event_id: str
    user_id: str
    reason: str
    admin_id: str
    occurred_at_us: int
    version: int = 1


@dataclass(frozen=True)
class ScoreChanged:
    event_id: str
    user_id: str
    action_id: str
    points: int
    total: int
    occurred_at_us: int
    version: int = 1


@dataclass(frozen=True)
class BoardEntry:
    rank: int
    user_id: str
    score: int


@dataclass(frozen=True)
class LeaderboardChanged:
    board: str
    board_version: int
    entries: tuple[BoardEntry, ...]
    changed_at_us: int
    version: int = 1

    def to_json(self) -> dict[str, object]:
        """The shape pushed to browsers and answered over HTTP."""
        return {
            "board": self.board,
            "version": self.board_version,
            "entries": [
                {"rank": e.rank, "user_id": e.user_id, "score": e.score} for e in self.entries
            ],
        }


@dataclass(frozen=True)
class RejectedAction:
    event_id: str
    user_id: str
    reason: str
    source_partition: int
    source_offset: int
    rejected_at_us: int
    version: int = 1


LogEvent = ActionCompleted | ScoreAdjusted | UserBanned | UserUnbanned
"""What the actions topic (the source of truth) carries."""

Event = LogEvent | ScoreChanged | LeaderboardChanged | RejectedAction
