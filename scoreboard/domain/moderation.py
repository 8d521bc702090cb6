"""Reviews, holds, decisions and purges: what the moderation events do to the ledger, in log order.

- A detector's flag (``scoreboard.domain.detection``) on an accepted action puts the user under
  review. Unless the detector runs in shadow mode, the review *holds*: the user is hidden on every
  board (as a ban hides), and each action accepted while it is pending is a ``held`` ledger entry,
  off the boards. A pending holding review is not raised again; a shadow one can be superseded by a
  holding flag; after an approval the detectors leave the user alone for ``REFLAG_GRACE_US``.
- A moderator's ``UserFlagged`` (detector ``manual``) does the same from the moment it was written.
- ``ReviewDecided`` approve releases the held entries at their original times (each board's tie time
  becomes the entry's time, as if it had counted then); reject voids the held entries and the counted
  entries since the review's ``hold_from_us`` (the evidence window). Either way the user is shown
  again (unless banned).
- ``ActionsPurged`` voids the counted and held entries of one action in a time window (of the listed
  users only, if any) on this partition; every other entry is untouched.

All of it is a function of the log (plus the detectors' configuration), so a rebuild reproduces it.
Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from scoreboard.domain.batch_state import BatchState
from scoreboard.domain.boards import boards_for
from scoreboard.domain.detection import Flag
from scoreboard.domain.events import REVIEW_DECISIONS, ActionsPurged, ReviewDecided, UserFlagged
from scoreboard.domain.records import (
    ADJUSTMENT_ACTION,
    APPROVED,
    COUNTED,
    HELD,
    PENDING,
    REJECTED,
    VOIDED,
    BatchOutcome,
    BoardUser,
    LedgerEntry,
    Positioned,
    Review,
    Standing,
)

REFLAG_GRACE_US = 86_400_000_000
WORKER = "worker"
MAX_HOLD_LOOKBACK_US = 2 * 86_400_000_000
"""How far before its flag a review's ``hold_from_us`` may reach (the detectors' evidence windows:
a swarm account's first day, the tireless window, ...; a moderator's flag holds from itself)."""


def flag_event_id(partition: int, offset: int, detector: str) -> str:
    """The id of the audit record of a detector's flag: one per (log position, detector)."""
    return f"flag/{partition}/{offset}/{detector}"


def raise_flags(state: BatchState, flags: Sequence[Flag], item: Positioned) -> None:
    """Put the user under review for the first flag that changes anything (holding flags first)."""
    for flag in sorted(flags, key=lambda f: (f.shadow, f.detector)):
        current = state.review(flag.user_id)
        if current is not None and current.state == PENDING and (current.holding or flag.shadow):
            continue
        if current is not None and current.state == APPROVED and flag.at_us < current.decided_at_us + REFLAG_GRACE_US:
            continue
        review = Review(flag_event_id(item.partition, item.offset, flag.detector), flag.user_id, flag.detector,
                        PENDING, flag.shadow, flag.at_us, min(flag.hold_from_us, flag.at_us),
                        json.dumps(flag.evidence, sort_keys=True, separators=(",", ":")), WORKER,
                        item.partition, item.offset)
        state.set_review(review)
        state.outcome.new_flags.append(review)
        if review.holding:
            state.show_or_hide(flag.user_id)
            state.outcome.conceal.add(flag.user_id)
        return


def flag_by_hand(state: BatchState, event: UserFlagged, item: Positioned) -> str | None:
    """A moderator's flag; the rejection reason if it changes nothing."""
    current = state.review(event.user_id)
    if current is not None and current.holding:
        return "review: the user is already under a review that holds points"
    state.set_review(Review(event.event_id, event.user_id, event.detector or "manual", PENDING, event.shadow,
                            event.occurred_at_us, min(event.hold_from_us or event.occurred_at_us, event.occurred_at_us),
                            event.evidence_json or "{}", event.flagged_by, item.partition, item.offset))
    state.show_or_hide(event.user_id)
    return None


def decide(state: BatchState, event: ReviewDecided) -> str | None:
    """Apply a moderator's decision; the rejection reason if there is nothing to decide."""
    review = state.review(event.user_id)
    if review is None or review.state != PENDING:
        return "review: the user has no pending review"
    if event.decision not in REVIEW_DECISIONS:
        return f"review: unknown decision {event.decision!r}"
    for entry in _current(state, [*state.known.reviewed_entries.get(event.user_id, ()),
                                  *(e for e in state.outcome.accepted if e.user_id == event.user_id)]):
        if event.decision == "approve" and entry.state == HELD:
            state.move_points(entry, entry.points, boards_for(entry.occurred_at_us), event_id=entry.event_id,
                              reached_at_us=entry.occurred_at_us)
            state.set_entry_state(entry, COUNTED)
        elif event.decision == "reject" and entry.state == HELD:
            state.set_entry_state(entry, VOIDED)
        elif (event.decision == "reject" and entry.state == COUNTED and entry.action_id != ADJUSTMENT_ACTION
              and entry.occurred_at_us >= review.hold_from_us):
            _void(state, entry)
    state.set_review(replace(review, state=APPROVED if event.decision == "approve" else REJECTED,
                             decided_by=event.by, decided_reason=event.reason,
                             decided_at_us=event.occurred_at_us, decision_event_id=event.event_id))
    state.show_or_hide(event.user_id)
    return None


def purge(state: BatchState, event: ActionsPurged, item: Positioned) -> None:
    """Void the entries of this partition the purge matches."""
    in_batch = [e for e in state.outcome.accepted if e.partition == item.partition and purge_matches(event, e)]
    for entry in _current(state, [*state.known.purge_matches.get((item.partition, event.event_id), ()), *in_batch]):
        if not purge_matches(event, entry):
            continue
        if entry.state == COUNTED:
            _void(state, entry)
        elif entry.state == HELD:
            state.set_entry_state(entry, VOIDED)


def purge_matches(event: ActionsPurged, entry: LedgerEntry) -> bool:
    return (entry.action_id == event.action_id and event.from_us <= entry.occurred_at_us < event.until_us
            and (not event.user_ids or entry.user_id in event.user_ids))


def reviewed_since(batch: Sequence[Positioned], reviews: Mapping[str, Review]) -> dict[str, int]:
    """For each user the batch decides a review of: since when the ledger must hand in their counted
    entries (``Known.reviewed_entries``), whether the review was raised before the batch or in it."""
    deciding = {p.event.user_id for p in batch if isinstance(p.event, ReviewDecided)}
    first = min((p.event.occurred_at_us for p in batch), default=0)
    since: dict[str, int] = {}
    for user in sorted(deciding):
        review = reviews.get(user)
        earliest = first - MAX_HOLD_LOOKBACK_US
        since[user] = min(earliest, review.hold_from_us) if review is not None and review.state == PENDING else earliest
    return since


def conceal(outcome: BatchOutcome, standings: dict[BoardUser, Standing]) -> None:
    """Hide the users a detector put under a holding review on the boards the batch did not load
    (``standings``: every board of those users, as the ledger holds them)."""
    for (board, user_id), standing in sorted(standings.items()):
        review = outcome.reviews.get(user_id)
        if (user_id in outcome.conceal and review is not None and review.holding
                and (board, user_id) not in outcome.changed and standing.visible):
            outcome.changed[(board, user_id)] = replace(standing, seq=standing.seq + 1, visible=False)


def _void(state: BatchState, entry: LedgerEntry) -> None:
    state.move_points(entry, -entry.points, boards_for(entry.occurred_at_us), event_id=f"{entry.event_id}/void",
                      reached_at_us=None)
    state.set_entry_state(entry, VOIDED)


def _current(state: BatchState, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Each entry once, in its state as of now in the batch, in time order."""
    unique = {(e.user_id, e.nonce): state.entries.get((e.user_id, e.nonce), e) for e in entries}
    return sorted(unique.values(), key=lambda e: (e.occurred_at_us, e.partition, e.offset))
