"""The simulation's measurements on tiny hand-made cases: the exact bound, burstiness, the public board
and the ever-in-top-10 tracking."""

from __future__ import annotations

import math

import pytest

from bench.simulation.agents import Account
from bench.simulation.board import Board
from bench.simulation.core import Applied, Review
from bench.simulation.metrics import AccountRecord, Recorder, SeedOutcome, summarise
from bench.simulation.stats import binomial_cdf, burstiness, clopper_pearson_upper
from scoreboard.domain.events import ActionCompleted

T0 = 1_796_601_600_000_000


def test_with_no_false_positive_the_bound_is_the_rule_of_three() -> None:
    """0 in n: 1 - 0.05^(1/n), about 3/n."""
    assert clopper_pearson_upper(0, 3000) == pytest.approx(1 - 0.05 ** (1 / 3000))
    assert clopper_pearson_upper(0, 3000) == pytest.approx(3 / 3000, rel=0.01)


def test_the_exact_bound_solves_the_binomial_tail() -> None:
    """1 in 10: the one-sided 95% bound is 0.3942 (P(X <= 1) = 0.05 there); 9 in 7,331 about 0.21%."""
    assert clopper_pearson_upper(1, 10) == pytest.approx(0.3942, abs=1e-4)
    assert binomial_cdf(1, 10, clopper_pearson_upper(1, 10)) == pytest.approx(0.05, abs=1e-6)
    assert 9 / 7331 < clopper_pearson_upper(9, 7331) < 0.0022
    assert clopper_pearson_upper(5, 5) == 1.0


def test_burstiness_is_minus_one_for_a_metronome_and_near_zero_for_poisson() -> None:
    """Periodic gaps, and exponential gaps (a Poisson process) over many events."""
    assert burstiness([90.0] * 50) == pytest.approx(-1.0)
    exponential = [-math.log(1 - (i + 0.5) / 2000) for i in range(2000)]
    value = burstiness(exponential)
    assert value is not None and abs(value) < 0.05
    assert burstiness([1.0, 2.0]) is None


def test_the_board_orders_by_score_then_by_who_reached_it_first() -> None:
    """Ties rank the earlier one higher; hiding a user moves everyone below up."""
    board = Board()
    board.show("a", 100, T0 + 2)
    board.show("b", 100, T0 + 1)
    assert board.show("c", 150, T0 + 3) == 1
    assert board.top(3) == ["c", "b", "a"]
    board.hide("c")
    assert board.rank("a") == 2 and board.rank("c") is None and len(board) == 2


def user(name: str, bot: bool) -> Account:
    return Account(name, "farmer" if bot else "regular", bot, f"ip:{name}", f"dev:{name}")


def event(name: str, points: int, at: int) -> ActionCompleted:
    return ActionCompleted(f"{name}/{at}", name, "win-match", f"n{at}", points, "v", at)


def recorder(accounts: list[Account]) -> Recorder:
    outcome = SeedOutcome(1, T0, T0 + 3_600_000_000, (T0, T0), {a.user_id: AccountRecord(a) for a in accounts})
    return Recorder(outcome)


def test_a_bot_is_in_the_top_10_when_its_own_action_or_a_hidden_user_above_puts_it_there() -> None:
    """Eleven honest users; a bot at rank 11 enters the top 10 when one of them is hidden by a review."""
    honest = [user(f"h{i:02d}", False) for i in range(11)]
    bot = user("bot", True)
    watch = recorder([*honest, bot])
    for i, h in enumerate(honest):
        watch.applied(event(h.user_id, 1000 + 10 * i, T0 + i), Applied(True, "counted", 1000 + 10 * i))
    watch.applied(event("bot", 500, T0 + 20), Applied(True, "counted", 500))
    record = watch.outcome.accounts["bot"]
    assert record.best_rank == 12 and record.top10_at_us < 0
    watch.applied(event("bot", 505, T0 + 21), Applied(True, "counted", 1005))
    assert record.best_rank == 11 and record.top10_at_us < 0
    flagged = Review("h05", "velocity", T0 + 30, True)
    watch.applied(event("h05", 10, T0 + 30), Applied(True, "counted", 1060, review=flagged))
    assert record.best_rank == 10 and record.top10_at_us == T0 + 30
    assert watch.outcome.accounts["h05"].flagged_at_us == T0 + 30


def test_a_bot_flagged_by_the_action_that_would_rank_it_first_never_shows() -> None:
    """The worker hides the user in the same batch that counted the action: it is never on the board."""
    honest = user("h", False)
    bot = user("bot", True)
    watch = recorder([honest, bot])
    watch.applied(event("h", 100, T0), Applied(True, "counted", 100))
    review = Review("bot", "velocity", T0 + 5, True)
    watch.applied(event("bot", 5000, T0 + 5), Applied(True, "counted", 5000, review=review))
    watch.applied(event("bot", 100, T0 + 6), Applied(True, "held", 5000))
    record = watch.outcome.accounts["bot"]
    assert record.top10_at_us < 0 and record.best_rank is None
    assert (record.points_counted, record.points_held) == (5000, 100)
    found = summarise([watch.outcome], fast=["farmer"])
    row = found["strategies"]["farmer"]
    assert row["ever_in_top10"] is False and row["flagged"] == 1 and row["points_before_flag"]["sum"] == 5000
    assert found["honest"]["flagged"] == 0 and found["flags"]["precision"] == 1.0
