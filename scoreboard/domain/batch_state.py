"""What one batch has decided so far, over what the ledger knew before it (``records.Known``): the
working state of ``scoring.apply_log``. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from scoreboard.domain.events import ActionCompleted, ScoreAdjusted, ScoreChanged, UserBanned, UserUnbanned
from scoreboard.domain.policy import Usage, UsageKey
from scoreboard.domain.records import (
    ADJUSTMENT_ACTION,
    COUNTED,
    HELD,
    BatchOutcome,
    BoardUser,
    Known,
    LedgerEntry,
    Positioned,
    Rejection,
    Review,
    Standing,
    StatusChange,
    UserStatus,
)

ADMIN_NONCE_PREFIX = "admin/"  # '/' is not allowed in an Idempotency-Key: users cannot pre-empt it


def ledger_nonce(event: ActionCompleted | ScoreAdjusted) -> str:
    return event.nonce if isinstance(event, ActionCompleted) else ADMIN_NONCE_PREFIX + event.nonce


class BatchState:
    def __init__(self, known: Known, outcome: BatchOutcome) -> None:
        self._known = known
        self._outcome = outcome
        self.entries: dict[tuple[str, str], LedgerEntry] = dict(known.entries)
        self._standings: dict[BoardUser, Standing] = dict(known.standings)
        self.position = (0, 0)
        """The (partition, offset) of the event being applied."""

    @property
    def known(self) -> Known:
        return self._known

    @property
    def outcome(self) -> BatchOutcome:
        return self._outcome

    def usage_of(self, key: UsageKey) -> Usage | None:
        return self._outcome.usage.get(key) or self._known.usage.get(key)

    def use(self, usage: Mapping[UsageKey, Usage]) -> None:
        self._outcome.usage.update(usage)

    def next_offset(self, partition: int) -> int:
        return self._outcome.next_offsets.get(partition, self._known.next_offsets.get(partition, 0))

    def is_banned(self, user_id: str) -> bool:
        status = self._outcome.statuses.get(user_id) or self._known.statuses.get(user_id)
        return status is not None and status.banned

    def review(self, user_id: str) -> Review | None:
        return self._outcome.reviews.get(user_id) or self._known.reviews.get(user_id)

    def is_holding(self, user_id: str) -> bool:
        review = self.review(user_id)
        return review is not None and review.holding

    def visible(self, user_id: str) -> bool:
        return not self.is_banned(user_id) and not self.is_holding(user_id)

    def first_seen(self, user_id: str, at_us: int) -> int:
        """When the user's first action was accepted; ``at_us`` is recorded as it for a new user."""
        seen = self._outcome.first_seen.get(user_id, self._known.first_seen.get(user_id))
        if seen is None:
            self._outcome.first_seen[user_id] = seen = at_us
        return seen

    def standing(self, board: str, user_id: str) -> Standing:
        return self._standings.get((board, user_id)) or Standing(0, 0, 0, self.visible(user_id))

    def standings(self, boards: Sequence[str], user_id: str) -> list[Standing]:
        """``standing`` on each of ``boards`` (a user new to several of them gets one fresh standing)."""
        found = self._standings
        result: list[Standing] = []
        fresh: Standing | None = None
        for board in boards:
            standing = found.get((board, user_id))
            if standing is None:
                if fresh is None:
                    fresh = Standing(0, 0, 0, self.visible(user_id))
                standing = fresh
            result.append(standing)
        return result

    def write(self, board: str, user_id: str, standing: Standing) -> None:
        self._standings[(board, user_id)] = standing
        self._outcome.changed[(board, user_id)] = standing

    def boards_of(self, user_id: str) -> list[str]:
        """Every board of the user the batch knows: loaded whole, or touched by the batch."""
        boards = set(self._known.boards_of_user.get(user_id, frozenset()))
        boards.update(b for b, u in self._standings if u == user_id)
        return sorted(boards)

    def show_or_hide(self, user_id: str) -> None:
        """Write the user's visibility (not banned, not under a holding review) on every board known."""
        visible = self.visible(user_id)
        for board in self.boards_of(user_id):
            before = self.standing(board, user_id)
            if before.visible != visible:
                self.write(board, user_id, replace(before, seq=before.seq + 1, visible=visible))

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
        self.show_or_hide(event.user_id)

    def add_points(self, event: ActionCompleted | ScoreAdjusted, item: Positioned, points: int,
                   boards: Sequence[str], standings: Sequence[Standing]) -> LedgerEntry:
        """Record the entry; add ``points`` on ``boards`` (GLOBAL first), whose current ``standings`` the
        caller read, unless the user is under a holding review: then the entry is held."""
        user_id = event.user_id
        held = isinstance(event, ActionCompleted) and self.is_holding(user_id)
        total_after = standings[0].score + (0 if held else points)
        if not held:
            mine, changed, at = self._standings, self._outcome.changed, event.occurred_at_us
            for board, before in zip(boards, standings, strict=True):  # ``write``, inlined: the replay's hot loop
                # Zero points leave the score, so the time it was reached, unchanged (unless it is new).
                reached = at if points or before.seq == 0 else before.reached_at_us
                mine[(board, user_id)] = changed[(board, user_id)] = Standing(
                    before.score + points, before.seq + 1, reached, before.visible)
        nonce = ledger_nonce(event)
        completed = event if isinstance(event, ActionCompleted) else None
        entry = LedgerEntry(
            event_id=event.event_id,
            user_id=event.user_id,
            nonce=nonce,
            action_id=completed.action_id if completed else ADJUSTMENT_ACTION,
            points=points,
            catalog_version=completed.catalog_version if completed else "",
            occurred_at_us=event.occurred_at_us,
            partition=item.partition,
            offset=item.offset,
            total_after=total_after,
            state=HELD if held else COUNTED,
            client_hash=completed.client_hash if completed else "",
            device_hash=completed.device_hash if completed else "",
            ticket_started_at_us=completed.ticket_started_at_us if completed else 0,
            refused_before=completed.refused_before if completed else 0,
        )
        self.entries[(event.user_id, nonce)] = entry
        self._outcome.accepted.append(entry)
        return entry

    def move_points(self, entry: LedgerEntry, points: int, boards: Sequence[str], *, event_id: str,
                    reached_at_us: int | None) -> None:
        """Add ``points`` (negative to take away) of an earlier entry on ``boards`` (GLOBAL first) and
        note the score change; ``reached_at_us`` None keeps each board's tie time."""
        total = 0
        for board in boards:
            before = self.standing(board, entry.user_id)
            reached = before.reached_at_us if reached_at_us is None else max(before.reached_at_us, reached_at_us)
            after = Standing(before.score + points, before.seq + 1, reached, before.visible)
            self.write(board, entry.user_id, after)
            if board == boards[0]:
                total = after.score
        self._outcome.moderated.append((*self.position, ScoreChanged(event_id=event_id, user_id=entry.user_id,
                                                    action_id=entry.action_id, points=points, total=total,
                                                    occurred_at_us=entry.occurred_at_us)))

    def set_entry_state(self, entry: LedgerEntry, state: str) -> None:
        key = (entry.user_id, entry.nonce)
        self.entries[key] = replace(entry, state=state)
        for i, accepted in enumerate(self._outcome.accepted):
            if (accepted.user_id, accepted.nonce) == key:
                self._outcome.accepted[i] = replace(accepted, state=state)
                return
        self._outcome.entry_states[key] = state

    def set_review(self, review: Review) -> None:
        self._outcome.reviews[review.user_id] = review
