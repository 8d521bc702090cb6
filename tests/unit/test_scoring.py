"""The pure scoring core: dedup, replays, bans, adjustments, standings and tie order."""

from __future__ import annotations

from scoreboard.domain.events import (
    ActionCompleted,
    ScoreAdjusted,
    UserBanned,
    UserUnbanned,
)
from scoreboard.domain.scoring import (
    INT64_MAX,
    Known,
    LedgerEntry,
    Positioned,
    Standing,
    UserStatus,
    apply_log,
    rank_order,
)

DAY = 1_795_996_800_000_000  # 2026-11-30T00:00:00Z, a Monday
NOW = DAY + 10**9


def action(user: str, nonce: str, points: int = 10, at: int = DAY, event_id: str | None = None) -> ActionCompleted:
    return ActionCompleted(event_id or f"{user}/{nonce}", user, "win-match", nonce, points, "v1", at)


def adjust(user: str, delta: int, nonce: str = "adj-1", at: int = DAY) -> ScoreAdjusted:
    return ScoreAdjusted(f"adj/{user}/{nonce}", user, delta, "support ticket 42", "root", nonce, at)


def batch(*events: object, start: int = 0) -> list[Positioned]:
    return [Positioned(e, 0, start + offset) for offset, e in enumerate(events)]  # type: ignore[arg-type]


def test_each_user_nonce_counts_once_within_a_batch() -> None:
    """A second action with the same (user, nonce) is a duplicate, whatever its event id."""
    outcome = apply_log(batch(action("a", "n1"), action("a", "n1", event_id="other")), Known(), NOW)
    assert [e.event_id for e in outcome.accepted] == ["a/n1"]
    assert len(outcome.duplicates) == 1
    assert outcome.changed[("global", "a")] == Standing(10, 1, DAY)
    assert outcome.next_offsets == {0: 2}


def test_the_same_nonce_of_another_user_counts() -> None:
    """Nonces are scoped by user."""
    assert len(apply_log(batch(action("a", "n1"), action("b", "n1")), Known(), NOW).accepted) == 2


def test_an_event_at_an_applied_log_position_is_a_replay_that_changes_nothing() -> None:
    """After a crash the batch comes again: positions below next_offset are replays."""
    outcome = apply_log(batch(action("a", "n1"), action("a", "n2")), Known(next_offsets={0: 1}), NOW)
    assert [p.offset for p in outcome.replayed] == [0]
    assert [e.nonce for e in outcome.accepted] == ["n2"]


def test_a_recorded_nonce_at_a_new_position_is_a_duplicate() -> None:
    """A client retry that was produced twice is dropped, not re-counted."""
    known = Known(entries={("a", "n1"): LedgerEntry("a/n1", "a", "n1", "win-match", 10, "v1", DAY, 0, 0, 10)},
                  next_offsets={0: 1})
    outcome = apply_log(batch(action("a", "n1"), start=1), known, NOW)
    assert outcome.duplicates and not outcome.accepted and not outcome.score_changes()


def test_standings_accumulate_per_board_with_seq_and_reached_at() -> None:
    """Every accepted action adds its points on global, daily and weekly, bumping seq."""
    later = DAY + 5_000_000
    outcome = apply_log(batch(action("a", "n1", 10), action("a", "n2", -3, at=later)),
                        Known(standings={("global", "a"): Standing(100, 7, 1)}), NOW)
    assert outcome.changed[("global", "a")] == Standing(107, 9, later)
    assert outcome.changed[("daily:2026-11-30", "a")] == Standing(7, 2, later)
    assert outcome.changed[("weekly:2026-W49", "a")] == Standing(7, 2, later)
    assert [c.total for c in outcome.score_changes()] == [110, 107]


def test_a_banned_users_actions_are_rejected_until_the_unban() -> None:
    """Ban hides every board of the user; actions while banned are rejected; unban shows them again."""
    known = Known(standings={("global", "m"): Standing(50, 1, 1), ("daily:2026-11-01", "m"): Standing(50, 1, 1)},
                  boards_of_user={"m": frozenset({"global", "daily:2026-11-01"})})
    outcome = apply_log(batch(
        UserBanned("b1", "m", "bot", "root", DAY), action("m", "n1"),
        UserUnbanned("u1", "m", "appeal", "root", DAY + 1), action("m", "n2"),
    ), known, NOW)
    assert [r.reason for r in outcome.rejected] == ["banned: the user is banned"]
    assert [e.nonce for e in outcome.accepted] == ["n2"]
    assert outcome.changed[("daily:2026-11-01", "m")] == Standing(50, 3, 1, True)
    assert outcome.changed[("global", "m")] == Standing(60, 4, DAY, True)
    assert outcome.statuses["m"] == UserStatus(False, "u1", DAY + 1, "appeal")
    assert [(c.event_id, c.banned, c.offset) for c in outcome.status_changes] == [("b1", True, 0), ("u1", False, 2)]


def test_a_ban_leaves_the_user_hidden_on_every_board_it_had() -> None:
    """Standings stay (scores are kept) but are not visible while banned."""
    known = Known(standings={("global", "m"): Standing(50, 4, 1)}, boards_of_user={"m": frozenset({"global"})})
    outcome = apply_log(batch(UserBanned("b1", "m", "bot", "root", DAY)), known, NOW)
    assert outcome.changed == {("global", "m"): Standing(50, 5, 1, False)}


def test_an_adjustment_may_lower_a_score_but_not_below_zero() -> None:
    """-30 from 50 is applied; a further -30 is rejected and recorded."""
    known = Known(standings={("global", "a"): Standing(50, 1, 1)})
    outcome = apply_log(batch(adjust("a", -30, "k1"), adjust("a", -30, "k2")), known, NOW)
    assert [(e.action_id, e.points, e.total_after) for e in outcome.accepted] == [("adjustment", -30, 20)]
    assert outcome.accepted[0].nonce == "admin/k1"
    assert [r.reason for r in outcome.rejected] == ["negative-score: the adjustment would take the score below zero"]


def test_an_admin_key_cannot_be_pre_empted_by_a_user_nonce() -> None:
    """Ledger nonces of adjustments carry a prefix no Idempotency-Key can contain."""
    outcome = apply_log(batch(action("a", "admin:k1"), adjust("a", 5, "k1")), Known(), NOW)
    assert len(outcome.accepted) == 2


def test_a_change_past_int64_is_rejected_not_wrapped() -> None:
    """Postgres bigint would overflow: the event is rejected and the score is unchanged."""
    known = Known(standings={("global", "a"): Standing(INT64_MAX - 5, 1, 1)})
    outcome = apply_log(batch(action("a", "n1", points=10)), known, NOW)
    assert [r.reason for r in outcome.rejected] == ["overflow: the score would leave the int64 range"]
    assert outcome.changed == {}


def test_equal_scores_rank_by_who_reached_the_score_first() -> None:
    """Ties: earlier reached_at ranks higher; then user id in descending byte order; hidden users drop."""
    order = rank_order({
        "late": Standing(50, 1, 300), "early": Standing(50, 1, 100), "top": Standing(60, 1, 999),
        "b": Standing(10, 1, 5), "a": Standing(10, 1, 5), "banned": Standing(99, 1, 1, False),
    })
    assert [user for user, _ in order] == ["top", "early", "late", "b", "a"]
