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
    client_hash: str = ""
    """Keyed hash of the client's address (``scoreboard.domain.evidence``; "" when unknown): evidence
    for the detectors, never the address itself."""
    device_hash: str = ""
    """Keyed hash of the optional ``X-Device-ID`` header ("" when absent)."""
    ticket_started_at_us: int = 0
    """For a ticketed action, when its ticket was issued (0 otherwise)."""
    refused_before: int = 0
    """How many of the user's attempts the api refused (rate limit, cooldown, cap, budget) since their
    previous accepted action, within the hour (evidence for the ``prober`` detector)."""
    version: int = 2


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


@dataclass(frozen=True)
class UserFlagged:
    """A user was put under review: by a detector of the worker (``flagged_by`` "worker", an audit
    record: the worker decides it again from the log) or by a moderator (``detector`` "manual", signed
    by the api: a command). ``evidence_json`` is the detector's evidence as a JSON object."""

    event_id: str
    user_id: str
    detector: str
    evidence_json: str
    hold_from_us: int
    shadow: bool
    flagged_by: str
    source_partition: int
    source_offset: int
    occurred_at_us: int
    version: int = 1


@dataclass(frozen=True)
class PointsHeld:
    """An accepted action of a user under review: in the ledger, not on the public boards (audit)."""

    event_id: str
    user_id: str
    action_event_id: str
    action_id: str
    points: int
    held_total: int
    occurred_at_us: int
    version: int = 1


@dataclass(frozen=True)
class ReviewDecided:
    """A moderator's decision on a user under review: ``approve`` releases the held points at their
    original times, ``reject`` voids them and the points of the evidence window."""

    event_id: str
    user_id: str
    decision: str
    by: str
    reason: str
    occurred_at_us: int
    version: int = 1


@dataclass(frozen=True)
class ActionsPurged:
    """A moderator voided every entry of one action within [from_us, until_us) (of ``user_ids`` only,
    when any are listed). One copy per partition of the actions topic, all with the same ``purge_id``;
    each partition's worker voids the entries of its own users."""

    event_id: str
    purge_id: str
    action_id: str
    from_us: int
    until_us: int
    user_ids: tuple[str, ...]
    by: str
    reason: str
    occurred_at_us: int
    version: int = 1

    @property
    def user_id(self) -> str:
        """The record key of every copy (no single user: ``purge:<purge_id>``)."""
        return f"purge:{self.purge_id}"


REVIEW_DECISIONS = ("approve", "reject")

LogEvent = ActionCompleted | ScoreAdjusted | UserBanned | UserUnbanned | UserFlagged | ReviewDecided | ActionsPurged
"""What the actions topic (the source of truth) carries, as commands."""

AuditEvent = UserFlagged | PointsHeld
"""What the worker itself writes on the actions topic for the audit trail (signed with its key)."""

Event = LogEvent | PointsHeld | ScoreChanged | LeaderboardChanged | RejectedAction
