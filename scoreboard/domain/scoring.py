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
- an adjustment that would take the all-time score below zero, or any change past int64, is rejected;
- each accepted action is shown to the partition's detectors; a flag puts the user under review, and
  moderation events (a moderator's flag, a decision, a purge) apply as ``scoreboard.domain.moderation`` says.

A rejection's reason starts with a stable code (``banned``, ``cooldown``, ``cap``, ``budget``,
``points-mismatch``, ``time-skew``, ...) followed by ``: `` and a human detail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from scoreboard.domain.batch_state import ADMIN_NONCE_PREFIX, BatchState, ledger_nonce
from scoreboard.domain.boards import boards_for
from scoreboard.domain.detection import Flag, Observation
from scoreboard.domain.detectors.counters import HOURS_COUNTER, CounterDetection, prober_flag, tireless_flag
from scoreboard.domain.events import (
    ActionCompleted,
    ActionsPurged,
    ReviewDecided,
    ScoreAdjusted,
    UserBanned,
    UserFlagged,
    UserUnbanned,
)
from scoreboard.domain.moderation import decide, flag_by_hand, purge, raise_flags
from scoreboard.domain.policy import Judge, Usage, UsageKey
from scoreboard.domain.records import (
    ADJUSTMENT_ACTION,
    BatchOutcome,
    BoardUser,
    Known,
    LedgerEntry,
    Positioned,
    Rejection,
    Standing,
    StatusChange,
    UserStatus,
    score_changed,
)

__all__ = [
    "ADJUSTMENT", "ADMIN_NONCE_PREFIX", "INT64_MAX", "BatchOutcome", "BoardUser", "Detectors", "Known", "LedgerEntry",
    "Positioned", "Rejection", "Standing", "StatusChange", "UserStatus", "apply_log", "keys_needed",
    "ledger_nonce", "rank_order", "score_changed", "usage_needed",
]

INT64_MAX = (1 << 63) - 1
ADJUSTMENT = ADJUSTMENT_ACTION


class Detectors(Protocol):
    """One partition's detectors (``scoreboard.domain.detection.PartitionDetectors``)."""

    def observe(self, obs: Observation) -> list[Flag]: ...


def apply_log(batch: Sequence[Positioned], known: Known, now_us: int, judge: Judge | None = None,
              detectors: Mapping[int, Detectors] | None = None) -> BatchOutcome:
    """Decide, in log order, what each event of the batch does. Without a ``judge`` (unit tests of
    the ledger mechanics) the catalog's policy is not checked; without ``detectors`` (one per
    partition of the batch, fed every accepted action in log order) nobody is flagged."""
    outcome = BatchOutcome()
    state = BatchState(known, outcome)
    for item in batch:
        applied_until = state.next_offset(item.partition)
        if item.offset < applied_until:
            outcome.replayed.append(item)
            continue
        outcome.next_offsets[item.partition] = item.offset + 1
        state.position = (item.partition, item.offset)
        event = item.event
        skew = judge.check_time(event, item.broker_time_us) if judge else None
        if skew:
            state.reject(item, skew, now_us)
            continue
        if isinstance(event, (UserBanned, UserUnbanned)):
            state.set_banned(event, item, isinstance(event, UserBanned))
            continue
        if isinstance(event, (UserFlagged, ReviewDecided, ActionsPurged)):
            _moderate(state, event, item, now_us)
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
        before = state.standings(boards, event.user_id)
        if isinstance(event, ScoreAdjusted) and points < 0 and before[0].score + points < 0:
            state.reject(item, "negative-score: the adjustment would take the score below zero", now_us)
            continue
        if max(abs(standing.score + points) for standing in before) > INT64_MAX:
            state.reject(item, "overflow: the score would leave the int64 range", now_us)
            continue
        entry = state.add_points(event, item, points, boards, before)
        state.use(usage)
        if detectors is not None and isinstance(event, ActionCompleted):
            _detect(state, detectors[item.partition], event, entry, item, judge)
    return outcome


def _moderate(state: BatchState, event: UserFlagged | ReviewDecided | ActionsPurged, item: Positioned,
              now_us: int) -> None:
    reason: str | None = None
    if isinstance(event, UserFlagged):
        reason = flag_by_hand(state, event, item)
    elif isinstance(event, ReviewDecided):
        reason = decide(state, event)
    else:
        purge(state, event, item)
    if reason:
        state.reject(item, reason, now_us)


def _detect(state: BatchState, detectors: Detectors, event: ActionCompleted, entry: LedgerEntry,
            item: Positioned, judge: Judge | None) -> None:
    flags = list(detectors.observe(observation(entry, state.first_seen(event.user_id, event.occurred_at_us))))
    counters = judge.counter_detection if judge is not None else None
    if counters is not None:
        flags += counter_flags(counters, entry, state.usage_of((event.user_id, HOURS_COUNTER)))
    if flags:
        raise_flags(state, flags, item)


def counter_flags(config: CounterDetection, entry: LedgerEntry, hours: Usage | None) -> list[Flag]:
    """The ``prober`` and ``tireless`` flags an accepted action raises (``hours``: its usage counter after it)."""
    found = [prober_flag(config.prober, entry.refused_before, entry.occurred_at_us)]
    if hours is not None:
        found.append(tireless_flag(config.tireless, hours.window, hours.amount, entry.occurred_at_us))
    return [Flag(entry.user_id, f.detector, f.at_us, f.hold_from_us, f.shadow, f.evidence) for f in found if f]


def observation(entry: LedgerEntry, first_seen_us: int) -> Observation:
    """What the detectors see of an accepted action (live, and when the worker warms them from the ledger)."""
    return Observation(entry.partition, entry.offset, entry.user_id, entry.action_id, entry.points,
                       entry.occurred_at_us, entry.total_after, first_seen_us, entry.client_hash,
                       entry.device_hash, entry.ticket_started_at_us)


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
        if isinstance(event, ActionsPurged):
            continue  # the ledger adapter adds the boards of the entries a purge matches
        if isinstance(event, (UserBanned, UserUnbanned, UserFlagged, ReviewDecided)):
            whole_users.add(event.user_id)
        else:
            user_id = event.user_id
            for board in boards_for(event.occurred_at_us):
                keys.add((board, user_id))
    return keys, whole_users


def rank_order(standings: Mapping[str, Standing]) -> list[tuple[str, Standing]]:
    """Visible users in board order: higher score first, then who reached that score first, then user
    id in descending byte order (the order a Redis ZSET gives equal members, so both agree exactly)."""
    visible = [(user, s) for user, s in standings.items() if s.visible]
    by_user = sorted(visible, key=lambda item: item[0].encode(), reverse=True)
    return sorted(by_user, key=lambda item: (-item[1].score, item[1].reached_at_us))
