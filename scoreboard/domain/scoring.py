"""The pure scoring core: what one batch of log events does to the ledger, standings and bans.

No I/O here. The ledger adapter loads what the batch needs to know (the log positions already
applied, the nonces already recorded, the standings and ban states it touches), calls
:func:`apply_log`, and writes the outcome in one transaction.

Rules, in log order:
- an event at a log position already applied is a *replay* (a crash came between the Postgres commit
  and the offset commit): it changes nothing and its downstream effects are sent again;
- an action or adjustment whose (user_id, nonce) is recorded is a *duplicate*: dropped;
- an event whose recorded time is far from the broker's timestamp is rejected (``time-skew``);
- an action is judged against the catalog's policy (``scoreboard.domain.policy``: catalog version, points,
  cooldown, daily cap, points budget) from the usage counters the ledger keeps;
- an action of a banned user is rejected; a ban hides the user on every board, an unban shows them;
- an adjustment that would take the all-time score below zero, or any change past int64, is rejected.

A rejection's reason starts with a stable code (``banned``, ``cooldown``, ``cap``, ``budget``,
``points-mismatch``, ``time-skew``, ...) followed by ``: `` and a human detail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from scoreboard.domain.boards import boards_for
from scoreboard.domain.events import (
    ActionCompleted,
    LogEvent,
    ScoreAdjusted,
    ScoreChanged,
    UserBanned,
    UserUnbanned,
)
from scoreboard.domain.policy import Judge, Usage, UsageKey

INT64_MAX = (1 << 63) - 1
ADJUSTMENT = "adjustment"
ADMIN_NONCE_PREFIX = "admin/"  # '/' is not allowed in an Idempotency-Key: users cannot pre-empt it


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
    """An accepted action or adjustment as the ledger keeps it."""

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


@dataclass(frozen=True)
class Standing:
    """A user's score on one board. ``seq`` counts the changes applied, so stale writes can be refused;
    ``reached_at_us`` is when the user reached this score, the tie-breaker (earlier ranks higher);
    ``visible`` is False while the user is banned."""

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


@dataclass
class BatchOutcome:
    accepted: list[LedgerEntry] = field(default_factory=list)
    duplicates: list[LogEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    changed: dict[BoardUser, Standing] = field(default_factory=dict)
    statuses: dict[str, UserStatus] = field(default_factory=dict)
    status_changes: list[StatusChange] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    replayed: list[Positioned] = field(default_factory=list)
    usage: dict[UsageKey, Usage] = field(default_factory=dict)

    def score_changes(self, entries: Sequence[LedgerEntry] = ()) -> list[ScoreChanged]:
        """ScoreChanged for the accepted entries (and ``entries``, e.g. replayed ones), in log order."""
        ordered = sorted([*self.accepted, *entries], key=lambda e: (e.partition, e.offset))
        return [score_changed(e) for e in ordered]


def score_changed(entry: LedgerEntry) -> ScoreChanged:
    return ScoreChanged(event_id=entry.event_id, user_id=entry.user_id, action_id=entry.action_id,
                        points=entry.points, total=entry.total_after, occurred_at_us=entry.occurred_at_us)


def ledger_nonce(event: ActionCompleted | ScoreAdjusted) -> str:
    return event.nonce if isinstance(event, ActionCompleted) else ADMIN_NONCE_PREFIX + event.nonce


def apply_log(batch: Sequence[Positioned], known: Known, now_us: int, judge: Judge | None = None) -> BatchOutcome:
    """Decide, in log order, what each event of the batch does. Without a ``judge`` (unit tests of
    the ledger mechanics) the catalog's policy is not checked."""
    outcome = BatchOutcome()
    state = _State(known, outcome)
    for item in batch:
        applied_until = state.next_offset(item.partition)
        if item.offset < applied_until:
            outcome.replayed.append(item)
            continue
        outcome.next_offsets[item.partition] = item.offset + 1
        event = item.event
        skew = judge.check_time(event, item.broker_time_us) if judge else None
        if skew:
            state.reject(item, skew, now_us)
            continue
        if isinstance(event, (UserBanned, UserUnbanned)):
            state.set_banned(event, item, isinstance(event, UserBanned))
            continue
        key = (event.user_id, ledger_nonce(event))
        if key in state.entries:
            outcome.duplicates.append(event)
            continue
        usage: dict[UsageKey, Usage] = {}
        if isinstance(event, ActionCompleted):
            if state.is_banned(event.user_id):
                state.reject(item, "banned: the user is banned", now_us)
                continue
            if judge is not None:
                verdict = judge.judge(event, state.usage_of)
                if verdict.reason:
                    state.reject(item, verdict.reason, now_us)
                    continue
                usage = verdict.usage
        points = event.points if isinstance(event, ActionCompleted) else event.delta
        boards = boards_for(event.occurred_at_us)  # GLOBAL first
        before = [state.standing(board, event.user_id) for board in boards]
        if isinstance(event, ScoreAdjusted) and points < 0 and before[0].score + points < 0:
            state.reject(item, "negative-score: the adjustment would take the score below zero", now_us)
            continue
        if any(abs(standing.score + points) > INT64_MAX for standing in before):
            state.reject(item, "overflow: the score would leave the int64 range", now_us)
            continue
        state.add_points(event, item, points, boards, before)
        state.use(usage)
    return outcome


class _State:
    def __init__(self, known: Known, outcome: BatchOutcome) -> None:
        self._known = known
        self._outcome = outcome
        self.entries: dict[tuple[str, str], LedgerEntry] = dict(known.entries)
        self._standings: dict[BoardUser, Standing] = dict(known.standings)

    def usage_of(self, key: UsageKey) -> Usage | None:
        return self._outcome.usage.get(key) or self._known.usage.get(key)

    def use(self, usage: Mapping[UsageKey, Usage]) -> None:
        self._outcome.usage.update(usage)

    def next_offset(self, partition: int) -> int:
        return self._outcome.next_offsets.get(partition, self._known.next_offsets.get(partition, 0))

    def is_banned(self, user_id: str) -> bool:
        status = self._outcome.statuses.get(user_id) or self._known.statuses.get(user_id)
        return status is not None and status.banned

    def standing(self, board: str, user_id: str) -> Standing:
        return self._standings.get((board, user_id)) or Standing(0, 0, 0, not self.is_banned(user_id))

    def _write(self, board: str, user_id: str, standing: Standing) -> None:
        self._standings[(board, user_id)] = standing
        self._outcome.changed[(board, user_id)] = standing

    def reject(self, item: Positioned, reason: str, now_us: int) -> None:
        self._outcome.rejected.append(
            Rejection(item.event.event_id, item.event.user_id, reason, item.partition, item.offset, now_us))

    def set_banned(self, event: UserBanned | UserUnbanned, item: Positioned, banned: bool) -> None:
        if self.is_banned(event.user_id) == banned:
            return  # banning a banned user (or unbanning a free one) changes nothing
        self._outcome.statuses[event.user_id] = UserStatus(banned, event.event_id, event.occurred_at_us,
                                                           event.reason)
        self._outcome.status_changes.append(StatusChange(event.event_id, event.user_id, banned,
                                                         event.occurred_at_us, event.reason,
                                                         item.partition, item.offset))
        boards = set(self._known.boards_of_user.get(event.user_id, frozenset()))
        boards.update(b for b, u in self._standings if u == event.user_id)
        for board in sorted(boards):
            before = self.standing(board, event.user_id)
            self._write(board, event.user_id, replace(before, seq=before.seq + 1, visible=not banned))

    def add_points(self, event: ActionCompleted | ScoreAdjusted, item: Positioned, points: int,
                   boards: Sequence[str], standings: Sequence[Standing]) -> None:
        """Add ``points`` on ``boards`` (GLOBAL first), whose current ``standings`` the caller read."""
        total_after = standings[0].score + points
        for board, before in zip(boards, standings, strict=True):
            # Zero points leave the score, so the time it was reached, unchanged (unless it is new).
            reached = event.occurred_at_us if points or before.seq == 0 else before.reached_at_us
            self._write(board, event.user_id, Standing(before.score + points, before.seq + 1, reached, before.visible))
        nonce = ledger_nonce(event)
        entry = LedgerEntry(
            event_id=event.event_id,
            user_id=event.user_id,
            nonce=nonce,
            action_id=event.action_id if isinstance(event, ActionCompleted) else ADJUSTMENT,
            points=points,
            catalog_version=event.catalog_version if isinstance(event, ActionCompleted) else "",
            occurred_at_us=event.occurred_at_us,
            partition=item.partition,
            offset=item.offset,
            total_after=total_after,
        )
        self.entries[(event.user_id, nonce)] = entry
        self._outcome.accepted.append(entry)


def usage_needed(batch: Sequence[Positioned], judge: Judge) -> set[UsageKey]:
    """The usage counters judging the batch reads."""
    return {key for item in batch for key in judge.usage_keys(item.event)}


def keys_needed(batch: Sequence[Positioned], judge: Judge | None = None) -> tuple[set[BoardUser], set[str]]:
    """The (board, user) standings a batch reads, and the users whose every board it may touch.
    Events the ``judge`` will reject for their time are skipped (their time may name no day at all)."""
    keys: set[BoardUser] = set()
    whole_users: set[str] = set()
    for item in batch:
        event = item.event
        if judge is not None and judge.check_time(event, item.broker_time_us):
            continue
        if isinstance(event, (UserBanned, UserUnbanned)):
            whole_users.add(event.user_id)
        else:
            keys.update((board, event.user_id) for board in boards_for(event.occurred_at_us))
    return keys, whole_users


def rank_order(standings: Mapping[str, Standing]) -> list[tuple[str, Standing]]:
    """Visible users in board order: higher score first, then who reached that score first, then user
    id in descending byte order (the order a Redis ZSET gives equal members, so both agree exactly)."""
    visible = [(user, s) for user, s in standings.items() if s.visible]
    by_user = sorted(visible, key=lambda item: item[0].encode(), reverse=True)
    return sorted(by_user, key=lambda item: (-item[1].score, item[1].reached_at_us))
