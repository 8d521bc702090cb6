"""The plain records the scoring core reads and decides: log positions, ledger entries, standings,
user statuses, reviews, and one batch's outcome. No behaviour beyond small derived properties."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scoreboard.domain.events import LogEvent, ScoreChanged
from scoreboard.domain.policy import Usage, UsageKey

COUNTED, HELD, VOIDED = "counted", "held", "voided"
"""A ledger entry's state: on the boards; accepted but held for review (not on the public boards);
voided by a moderator (a rejected review or a purge). An entry's ``total_after`` never changes."""

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
"""A review's state."""

ADJUSTMENT_ACTION = "adjustment"
"""The ``action_id`` of an admin adjustment's ledger entry."""


@dataclass(frozen=True)
class Positioned:
    """An event with the place in the log it was read from."""

    event: LogEvent
    partition: int
    offset: int
    broker_time_us: int = 0
    """The record's Kafka timestamp (0: unknown, not judged on it)."""


@dataclass(frozen=True)
class LedgerEntry:
    """An accepted action or adjustment as the ledger keeps it. ``total_after`` is the user's counted
    all-time score after it was accepted (a held entry leaves it unchanged)."""

    event_id: str
    user_id: str
    nonce: str
    action_id: str
    points: int
    catalog_version: str
    occurred_at_us: int
    partition: int
    offset: int
    total_after: int
    state: str = COUNTED
    client_hash: str = ""
    device_hash: str = ""
    ticket_started_at_us: int = 0
    refused_before: int = 0


ENTRY_FIELDS = ("event_id", "user_id", "nonce", "action_id", "points", "catalog_version", "occurred_at_us",
                "partition", "offset", "total_after", "state", "client_hash", "device_hash", "ticket_started_at_us",
                "refused_before")
"""``LedgerEntry``'s fields in order (the ledger table's columns, ``partition``/``offset`` as ``kafka_*``)."""


@dataclass(frozen=True)
class Standing:
    """A user's score on one board. ``seq`` counts the changes applied, so stale writes can be refused;
    ``reached_at_us`` is when the user reached this score, the tie-breaker (earlier ranks higher);
    ``visible`` is False while the user is banned or under a review that holds points."""

    score: int
    seq: int
    reached_at_us: int
    visible: bool = True


@dataclass(frozen=True)
class UserStatus:
    banned: bool
    event_id: str
    changed_at_us: int
    reason: str


@dataclass(frozen=True)
class StatusChange:
    """One ban or unban that changed a user's status, for the point-in-time history."""

    event_id: str
    user_id: str
    banned: bool
    changed_at_us: int
    reason: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Review:
    """A user's latest review: raised by a detector (or a moderator), decided by a moderator."""

    flag_event_id: str
    user_id: str
    detector: str
    state: str
    shadow: bool
    flagged_at_us: int
    hold_from_us: int
    evidence_json: str
    flagged_by: str
    partition: int
    """Where the action (or the manual flag) that raised it sits in the log."""
    offset: int
    decided_by: str = ""
    decided_reason: str = ""
    decided_at_us: int = 0
    decision_event_id: str = ""

    @property
    def holding(self) -> bool:
        """Pending and not in shadow mode: the user is off the public boards and new points are held."""
        return self.state == PENDING and not self.shadow


@dataclass(frozen=True)
class Rejection:
    event_id: str
    user_id: str
    reason: str
    partition: int
    offset: int
    rejected_at_us: int


BoardUser = tuple[str, str]


@dataclass(frozen=True)
class Known:
    """What the ledger already holds for a batch."""

    next_offsets: Mapping[int, int] = field(default_factory=dict)
    entries: Mapping[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    standings: Mapping[BoardUser, Standing] = field(default_factory=dict)
    statuses: Mapping[str, UserStatus] = field(default_factory=dict)
    boards_of_user: Mapping[str, frozenset[str]] = field(default_factory=dict)
    usage: Mapping[UsageKey, Usage] = field(default_factory=dict)
    reviews: Mapping[str, Review] = field(default_factory=dict)
    """The latest review of each user of the batch."""
    first_seen: Mapping[str, int] = field(default_factory=dict)
    """When each user of the batch had their first action accepted (absent: never)."""
    reviewed_entries: Mapping[str, Sequence[LedgerEntry]] = field(default_factory=dict)
    """For each user the batch decides a review of: their held entries and their counted entries since
    the review's ``hold_from_us`` (what approve releases and reject voids)."""
    purge_matches: Mapping[tuple[int, str], Sequence[LedgerEntry]] = field(default_factory=dict)
    """For each purge of the batch, by (partition, event id) (every partition holds a copy of one purge):
    the counted and held entries of that partition it matches."""


@dataclass
class BatchOutcome:
    accepted: list[LedgerEntry] = field(default_factory=list)
    """New entries, counted or held."""
    duplicates: list[LogEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    changed: dict[BoardUser, Standing] = field(default_factory=dict)
    statuses: dict[str, UserStatus] = field(default_factory=dict)
    status_changes: list[StatusChange] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    replayed: list[Positioned] = field(default_factory=list)
    usage: dict[UsageKey, Usage] = field(default_factory=dict)
    reviews: dict[str, Review] = field(default_factory=dict)
    """Reviews raised or decided in this batch (the latest per user)."""
    new_flags: list[Review] = field(default_factory=list)
    """Reviews a detector raised in this batch, in log order (for the audit records)."""
    first_seen: dict[str, int] = field(default_factory=dict)
    entry_states: dict[tuple[str, str], str] = field(default_factory=dict)
    """New states of entries accepted before this batch, by (user_id, nonce)."""
    moderated: list[tuple[int, int, ScoreChanged]] = field(default_factory=list)
    """Score changes of decisions and purges, with the log position (partition, offset) of the
    decision or purge: released entries (their own event id) and voided ones (``<event id>/void``,
    negative points), in the order they were applied."""
    conceal: set[str] = field(default_factory=set)
    """Users a detector put under a holding review: every board of theirs must hide them (the ledger
    adapter loads the boards the batch did not, and calls ``scoring.conceal``)."""

    def score_changes(self, entries: Sequence[LedgerEntry] = ()) -> list[ScoreChanged]:
        """ScoreChanged for the counted accepted entries (and ``entries``, e.g. replayed ones), in log
        order, then the moderation changes."""
        ordered = sorted((e for e in [*self.accepted, *entries] if e.state == COUNTED),
                         key=lambda e: (e.partition, e.offset))
        return [*(score_changed(e) for e in ordered), *(change for _, _, change in self.moderated)]

    @property
    def held(self) -> list[LedgerEntry]:
        return [e for e in self.accepted if e.state == HELD]


def score_changed(entry: LedgerEntry) -> ScoreChanged:
    return ScoreChanged(event_id=entry.event_id, user_id=entry.user_id, action_id=entry.action_id,
                        points=entry.points, total=entry.total_after, occurred_at_us=entry.occurred_at_us)
