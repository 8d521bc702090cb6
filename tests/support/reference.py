"""A deliberately simple reference model of the boards, to compare the real pipeline against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scoreboard.domain.boards import boards_for
from scoreboard.domain.events import (
    ActionCompleted,
    LogEvent,
    ScoreAdjusted,
    UserBanned,
    UserUnbanned,
)
from scoreboard.domain.scoring import Standing, rank_order


@dataclass
class Reference:
    scores: dict[str, dict[str, int]] = field(default_factory=dict)     # board -> user -> score
    reached: dict[str, dict[str, int]] = field(default_factory=dict)    # board -> user -> time
    banned: set[str] = field(default_factory=set)
    nonces: set[tuple[str, str]] = field(default_factory=set)
    counted: int = 0

    def apply(self, events: Iterable[LogEvent]) -> Reference:
        """Events in log order per user (the order of one Kafka partition)."""
        for event in events:
            if isinstance(event, UserBanned):
                self.banned.add(event.user_id)
                continue
            if isinstance(event, UserUnbanned):
                self.banned.discard(event.user_id)
                continue
            if not isinstance(event, (ActionCompleted, ScoreAdjusted)):
                raise NotImplementedError(f"the reference model knows no {type(event).__name__}")
            nonce = event.nonce if isinstance(event, ActionCompleted) else "admin/" + event.nonce
            if (event.user_id, nonce) in self.nonces:
                continue
            if isinstance(event, ActionCompleted) and event.user_id in self.banned:
                continue
            points = event.points if isinstance(event, ActionCompleted) else event.delta
            total = self.scores.get("global", {}).get(event.user_id, 0)
            if isinstance(event, ScoreAdjusted) and points < 0 and total + points < 0:
                continue
            self.nonces.add((event.user_id, nonce))
            self.counted += 1
            for board in boards_for(event.occurred_at_us):
                board_scores = self.scores.setdefault(board, {})
                board_scores[event.user_id] = board_scores.get(event.user_id, 0) + points
                reached = self.reached.setdefault(board, {})
                if points or event.user_id not in reached:
                    reached[event.user_id] = event.occurred_at_us
        return self

    @property
    def users(self) -> set[str]:
        return set(self.scores.get("global", {})) | self.banned

    def visible_scores(self, board: str) -> dict[str, int]:
        return {u: s for u, s in self.scores.get(board, {}).items() if u not in self.banned}

    def top(self, board: str, n: int = 10**9) -> list[tuple[str, int]]:
        standings = {
            user: Standing(score, 0, self.reached[board][user], user not in self.banned)
            for user, score in self.scores.get(board, {}).items()
        }
        return [(user, s.score) for user, s in rank_order(standings)[:n]]
