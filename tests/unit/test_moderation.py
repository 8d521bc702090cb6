"""Reviews, holds, decisions and purges in the pure core (over the in-memory ledger)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from scoreboard.domain.boards import boards_for
from scoreboard.domain.detection import Flag, Observation
from scoreboard.domain.events import ActionCompleted, ActionsPurged, LogEvent, ReviewDecided, UserFlagged
from scoreboard.domain.records import COUNTED, HELD, VOIDED
from scoreboard.domain.scoring import Positioned, rank_order
from tests.support.memory_ledger import MemoryLedger

DAY = 1_795_996_800_000_000  # 2026-11-30T00:00:00Z
S = 1_000_000


def act(user: str, nonce: str, at: int, points: int = 10, action_id: str = "win-match") -> ActionCompleted:
    return ActionCompleted(f"{user}/{nonce}", user, action_id, nonce, points, "v1", at)


def flag(user: str, at: int) -> UserFlagged:
    return UserFlagged(f"flag/{user}/{at}", user, "manual", '{"summary": "report"}', at, False, "mod", -1, -1, at)


def decide(user: str, decision: str, at: int) -> ReviewDecided:
    return ReviewDecided(f"decide/{user}/{at}", user, decision, "mod", "checked", at)


def purge(action_id: str, start: int, until: int, users: tuple[str, ...] = ()) -> ActionsPurged:
    return ActionsPurged(f"purge/{action_id}/{start}", "p1", action_id, start, until, users, "mod", "exploit", until)


class Log:
    """One partition's log, applied to a ledger in batches of a chosen size."""

    def __init__(self, ledger: MemoryLedger | None = None) -> None:
        self.ledger = ledger or MemoryLedger()
        self.events: list[LogEvent] = []

    def apply(self, *events: LogEvent) -> None:
        start = len(self.events)
        self.events.extend(events)
        self.ledger.apply_batch_sync([Positioned(e, 0, start + i) for i, e in enumerate(events)])

    def board(self, board: str = "global") -> dict[str, int]:
        return self.ledger.visible_scores(board)

    def states(self, user: str) -> list[str]:
        return [e.state for e in sorted(self.ledger.entries.values(), key=lambda e: e.offset) if e.user_id == user]


def test_a_flagged_user_is_hidden_on_every_board_and_new_points_are_held() -> None:
    """Like a ban, a holding review hides the user; actions accepted while it is pending are held."""
    log = Log()
    log.apply(act("bot", "a", DAY + S), act("honest", "a", DAY + S, 5))
    log.apply(flag("bot", DAY + 2 * S), act("bot", "b", DAY + 3 * S))
    daily = boards_for(DAY)[1]
    assert log.board() == {"honest": 5} and log.board(daily) == {"honest": 5}
    assert log.states("bot") == [COUNTED, HELD]
    assert log.ledger.standings[("global", "bot")].score == 10  # the held 10 are not on the board


def test_approve_releases_the_held_points_at_their_original_times() -> None:
    """Ties rank by who reached the score first: the held action's time, not the decision's."""
    log = Log()
    log.apply(flag("early", DAY), act("early", "a", DAY + S, 10), act("late", "a", DAY + 5 * S, 10))
    log.apply(decide("early", "approve", DAY + 60 * S))
    assert log.board() == {"early": 10, "late": 10}
    ranked = [user for user, _ in rank_order({u: s for (b, u), s in log.ledger.standings.items() if b == "global"})]
    assert ranked == ["early", "late"]
    assert log.states("early") == [COUNTED]


def test_reject_voids_the_held_points_and_the_evidence_window() -> None:
    """Points since the review's hold_from are voided; points before it stay; the user is shown again."""
    log = Log()
    log.apply(act("bot", "old", DAY, 7))
    log.apply(UserFlagged("f1", "bot", "velocity", "{}", DAY + 10 * S, False, "worker", 0, 1, DAY + 20 * S))
    log.apply(act("bot", "new", DAY + 30 * S, 100))
    log.apply(decide("bot", "reject", DAY + 40 * S))
    assert log.board() == {"bot": 7}
    assert log.states("bot") == [COUNTED, VOIDED]


def test_reject_takes_back_counted_points_inside_the_evidence_window() -> None:
    log = Log()
    log.apply(act("bot", "a", DAY, 7), act("bot", "b", DAY + 15 * S, 50))
    log.apply(UserFlagged("f1", "bot", "velocity", "{}", DAY + 10 * S, False, "worker", 0, 1, DAY + 20 * S))
    log.apply(decide("bot", "reject", DAY + 40 * S))
    assert log.board() == {"bot": 7}
    assert log.states("bot") == [COUNTED, VOIDED]


def test_a_decision_without_a_pending_review_is_rejected_and_changes_nothing() -> None:
    log = Log()
    log.apply(act("u", "a", DAY))
    log.apply(decide("u", "approve", DAY + S))
    rejected = list(log.ledger.rejections.values())
    assert [r.reason.split(":")[0] for r in rejected] == ["review"]
    assert log.board() == {"u": 10}


def test_a_purge_voids_one_action_in_its_window_and_nothing_else() -> None:
    """Honest players and other actions are untouched; held entries of the action are voided too."""
    log = Log()
    log.apply(act("a", "1", DAY + S, 10, "exploit"), act("a", "2", DAY + S, 5, "win-match"),
              act("b", "1", DAY + 2 * S, 10, "exploit"), act("b", "2", DAY + 100 * S, 10, "exploit"))
    log.apply(flag("c", DAY + 3 * S), act("c", "1", DAY + 4 * S, 10, "exploit"))
    log.apply(purge("exploit", DAY, DAY + 50 * S))
    assert log.board() == {"a": 5, "b": 10}
    assert log.states("c") == [VOIDED]


def test_a_purge_of_listed_users_leaves_the_others() -> None:
    log = Log()
    log.apply(act("a", "1", DAY + S, 10, "exploit"), act("b", "1", DAY + S, 10, "exploit"))
    log.apply(purge("exploit", DAY, DAY + 50 * S, ("a",)))
    assert log.board() == {"a": 0, "b": 10}  # a purged user keeps their place at what remains


@dataclass
class FlagAt:
    """A stand-in detector: flags a user on their ``nth`` observation, holding from ``back`` earlier."""

    nth: int
    back: int = 0
    shadow: bool = False
    seen: dict[str, int] = field(default_factory=dict)

    def observe(self, obs: Observation) -> list[Flag]:
        self.seen[obs.user_id] = self.seen.get(obs.user_id, 0) + 1
        if obs.user_id.startswith("bot") and self.seen[obs.user_id] >= self.nth:
            return [Flag(obs.user_id, "velocity", obs.at_us, obs.at_us - self.back, self.shadow, {"summary": "fast"})]
        return []


def test_a_detector_flag_hides_the_user_mid_batch_and_holds_what_follows() -> None:
    ledger = MemoryLedger(detectors={0: FlagAt(nth=2)})
    log = Log(ledger)
    log.apply(*(act("bot", f"n{i}", DAY + i * S) for i in range(4)), act("honest", "n", DAY, 3))
    assert log.board() == {"honest": 3}
    assert log.states("bot") == [COUNTED, COUNTED, HELD, HELD]
    (review,) = [r for r in ledger.reviews.values() if r.user_id == "bot"]
    assert (review.detector, review.state, review.partition, review.offset) == ("velocity", "pending", 0, 1)


def test_a_shadow_flag_holds_nothing() -> None:
    ledger = MemoryLedger(detectors={0: FlagAt(nth=1, shadow=True)})
    log = Log(ledger)
    log.apply(act("bot", "a", DAY), act("bot", "b", DAY + 400 * S))
    assert log.board() == {"bot": 20}
    assert ledger.reviews["bot"].shadow and ledger.reviews["bot"].state == "pending"


def test_after_an_approval_the_detectors_leave_the_user_alone_for_a_day() -> None:
    ledger = MemoryLedger(detectors={0: FlagAt(nth=1)})
    log = Log(ledger)
    log.apply(act("bot", "a", DAY))
    log.apply(decide("bot", "approve", DAY + S))
    log.apply(act("bot", "b", DAY + 2 * S))
    assert log.board() == {"bot": 20}
    log.apply(act("bot", "c", DAY + 90_000 * S))
    assert ledger.reviews["bot"].state == "pending"


EVENTS = st.lists(st.sampled_from(["act-bot", "act-honest", "flag", "approve", "reject", "purge"]),
                  min_size=1, max_size=24)


def _script(names: Sequence[str]) -> list[LogEvent]:
    events: list[LogEvent] = []
    for i, name in enumerate(names):
        at = DAY + (i + 1) * S
        if name.startswith("act"):
            events.append(act(name[4:], f"n{i}", at, 10 + i, "exploit" if i % 3 == 0 else "win-match"))
        elif name == "flag":
            events.append(flag("bot", at))
        elif name == "purge":
            events.append(purge("exploit", DAY, at, ()))
        else:
            events.append(decide("bot", name, at))
    return events


@settings(max_examples=60, deadline=None)
@given(EVENTS, st.integers(min_value=1, max_value=6))
def test_any_batching_of_a_moderated_log_gives_the_same_boards_and_entries(names: list[str], size: int) -> None:
    """Rebuild equals live: the outcome is a function of the log, not of how it was cut into batches."""
    events = _script(names)
    one = MemoryLedger(detectors={0: FlagAt(nth=3, back=2 * S)})
    one.apply_batch_sync([Positioned(e, 0, i) for i, e in enumerate(events)])
    other = MemoryLedger(detectors={0: FlagAt(nth=3, back=2 * S)})
    positioned = [Positioned(e, 0, i) for i, e in enumerate(events)]
    for start in itertools.count(0, size):
        if start >= len(positioned):
            break
        other.apply_batch_sync(positioned[start:start + size])
    assert one.standings == other.standings
    assert one.entries == other.entries
    assert one.reviews == other.reviews


def test_the_copies_of_one_purge_on_several_partitions_each_void_their_own_entries() -> None:
    """One batch may hold the copies of a purge from every partition: each voids its partition's entries."""
    ledger = MemoryLedger()
    ledger.apply_batch_sync([Positioned(act("a", "1", DAY + S, 10, "exploit"), 0, 0),
                             Positioned(act("b", "1", DAY + S, 10, "exploit"), 1, 0)])
    copy = purge("exploit", DAY, DAY + 50 * S)
    ledger.apply_batch_sync([Positioned(copy, 0, 1), Positioned(copy, 1, 1)])
    assert ledger.visible_scores("global") == {"a": 0, "b": 0}
