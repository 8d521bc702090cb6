"""Property: any interleaving of actions, duplicates, adjustments, bans and window boundaries, cut
into any batches and replayed after any crash, gives the boards of a simple reference model."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import (
    ActionCompleted,
    LogEvent,
    ScoreAdjusted,
    UserBanned,
    UserUnbanned,
)
from scoreboard.domain.scoring import Positioned, Standing, rank_order
from tests.support.memory_ledger import MemoryLedger
from tests.support.reference import Reference

# Around a Sunday midnight UTC: the daily and the ISO weekly windows both roll over inside the range.
MIDNIGHT = to_micros(datetime(2026, 11, 30, tzinfo=UTC))
USERS = ["ann", "bob", "cyd", "dee"]

times = st.integers(min_value=MIDNIGHT - 3_000_000, max_value=MIDNIGHT + 3_000_000)
nonces = st.sampled_from([f"n{i}" for i in range(12)])


@st.composite
def log_events(draw: st.DrawFn) -> LogEvent:
    user = draw(st.sampled_from(USERS))
    at = draw(times)
    kind = draw(st.sampled_from(["action", "action", "action", "adjust", "ban", "unban"]))
    nonce = draw(nonces)
    event_id = draw(st.sampled_from(["same", "fresh"]))
    eid = f"{user}/{nonce}" if event_id == "same" else f"{user}/{nonce}/{draw(st.integers(0, 10**6))}"
    if kind == "action":
        return ActionCompleted(eid, user, "a", nonce, draw(st.integers(-50, 200)), "v", at)
    if kind == "adjust":
        return ScoreAdjusted(eid, user, draw(st.integers(-300, 300)), "r", "admin", nonce, at)
    if kind == "ban":
        return UserBanned(eid, user, "r", "admin", at)
    return UserUnbanned(eid, user, "r", "admin", at)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(log_events(), max_size=60), cuts=st.lists(st.integers(1, 8), min_size=1, max_size=30),
       crash_after=st.sets(st.integers(0, 30), max_size=5))
def test_batches_and_crash_replays_give_the_reference_boards(
    events: list[LogEvent], cuts: list[int], crash_after: set[int]
) -> None:
    """Cut the log into batches; after some batches 'crash' and replay the batch before continuing."""
    reference = Reference().apply(events)
    ledger = MemoryLedger()
    log = [Positioned(e, 0, offset) for offset, e in enumerate(events)]
    position, batch_no, cut_index = 0, 0, 0
    while position < len(log):
        size = cuts[cut_index % len(cuts)]
        cut_index += 1
        batch = log[position:position + size]
        ledger.apply_batch_sync(batch)
        if batch_no in crash_after:
            replay = ledger.apply_batch_sync(batch)  # the offsets were not committed: it comes again
            assert not replay.accepted and not replay.changed and len(replay.replayed) == len(batch)
        position += size
        batch_no += 1
    for board in reference.scores:
        assert ledger.visible_scores(board) == reference.visible_scores(board), board
        live = {u: s for (b, u), s in ledger.standings.items() if b == board}
        assert [(u, s.score) for u, s in rank_order(live)] == reference.top(board), board


def test_rank_order_agrees_with_sorting_by_score_then_time_then_reverse_user() -> None:
    """The tie order is total: equal score and time fall back to user id, descending."""
    standings = {"a": Standing(5, 1, 1), "b": Standing(5, 1, 1), "c": Standing(5, 1, 0)}
    assert [u for u, _ in rank_order(standings)] == ["c", "b", "a"]
