"""The pure scoring core: dedup decisions, standings and tie order."""

from __future__ import annotations

from scoreboard.events import ActionCompleted
from scoreboard.scoring import LedgerEntry, Positioned, Standing, apply_actions, rank_order

DAY = 1_795_996_800_000_000  # 2026-11-30T00:00:00Z, a Monday


def action(user: str, nonce: str, points: int = 10, at: int = DAY, event_id: str | None = None) -> ActionCompleted:
    return ActionCompleted(event_id or f"{user}/{nonce}", user, "win-match", nonce, points, "v1", at)


def batch(*events: ActionCompleted) -> list[Positioned]:
    return [Positioned(e, 0, offset) for offset, e in enumerate(events)]


def test_each_user_nonce_counts_once_within_a_batch() -> None:
    """A second action with the same (user, nonce) and another event id is a duplicate."""
    outcome = apply_actions(batch(action("a", "n1"), action("a", "n1", event_id="other")), {}, {})
    assert [e.event_id for e in outcome.accepted] == ["a/n1"]
    assert len(outcome.duplicates) == 1
    assert outcome.changed[("global", "a")] == Standing(10, 1, DAY)


def test_the_same_nonce_of_another_user_counts() -> None:
    """Nonces are scoped by user."""
    outcome = apply_actions(batch(action("a", "n1"), action("b", "n1")), {}, {})
    assert len(outcome.accepted) == 2


def test_a_known_event_id_is_a_replay_that_changes_nothing_but_is_re_emitted() -> None:
    """After a crash the batch comes again: the ledger entry is re-emitted with its recorded total."""
    known = {("a", "n1"): LedgerEntry("a/n1", "a", "n1", "win-match", 10, "v1", DAY, 0, 0, 10)}
    outcome = apply_actions(batch(action("a", "n1")), known, {("global", "a"): Standing(10, 1, DAY)})
    assert outcome.accepted == [] and outcome.changed == {}
    assert [c.total for c in outcome.score_changes()] == [10]
    assert ("global", "a") in outcome.replay_touched


def test_a_known_nonce_with_another_event_id_is_dropped_as_duplicate() -> None:
    """A different event reusing a recorded nonce is not counted nor re-emitted."""
    known = {("a", "n1"): LedgerEntry("a/n1", "a", "n1", "win-match", 10, "v1", DAY, 0, 0, 10)}
    outcome = apply_actions(batch(action("a", "n1", event_id="new")), known, {})
    assert outcome.duplicates and not outcome.score_changes()


def test_standings_accumulate_per_board_with_seq_and_reached_at() -> None:
    """Every accepted action adds its points on global, daily and weekly, bumping seq."""
    later = DAY + 5_000_000
    outcome = apply_actions(batch(action("a", "n1", 10), action("a", "n2", -3, at=later)),
                            {}, {("global", "a"): Standing(100, 7, 1)})
    assert outcome.changed[("global", "a")] == Standing(107, 9, later)
    assert outcome.changed[("daily:2026-11-30", "a")] == Standing(7, 2, later)
    assert outcome.changed[("weekly:2026-W49", "a")] == Standing(7, 2, later)
    assert [c.total for c in outcome.score_changes()] == [110, 107]


def test_equal_scores_rank_by_who_reached_the_score_first() -> None:
    """Ties: earlier reached_at ranks higher; then user id in descending byte order."""
    order = rank_order({
        "late": Standing(50, 1, 300), "early": Standing(50, 1, 100), "top": Standing(60, 1, 999),
        "b": Standing(10, 1, 5), "a": Standing(10, 1, 5),
    })
    assert [user for user, _ in order] == ["top", "early", "late", "b", "a"]
