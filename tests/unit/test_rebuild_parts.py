"""The rebuild-parts harness times ``apply_log`` over an in-memory ledger; that ledger must judge a log
cut into batches exactly as one batch over the whole log does, or its timings are of something else."""

from __future__ import annotations

from bench.rebuild_parts import MemoryLedger
from bench.system import LOAD_TEST_CATALOG
from scoreboard.domain.catalog import load_catalogs
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.policy import Judge
from scoreboard.domain.records import Known, Positioned
from scoreboard.domain.scoring import apply_log

AT = 1_764_540_000_000_000


def _log(count: int) -> list[Positioned]:
    return [Positioned(ActionCompleted(f"e{i}", f"u{i % 7}", "win-match", f"n{i}", 100, "load-test.1", AT + i),
                       i % 3, i // 3) for i in range(count)]


def test_batches_over_the_memory_ledger_end_where_one_batch_does() -> None:
    """Standings, usage and entries after 5 batches through ``MemoryLedger`` equal one ``apply_log`` of the log."""
    judge = Judge(load_catalogs(str(LOAD_TEST_CATALOG)), 10**15)
    log = _log(100)
    whole = apply_log(log, Known(), 0, judge)
    memory = MemoryLedger(judge)
    accepted = []
    for start in range(0, len(log), 20):
        batch = log[start:start + 20]
        outcome = apply_log(batch, memory.known(batch), 0, judge, memory.partition_detectors(batch))
        memory.absorb(outcome)
        accepted += outcome.accepted
    assert memory.standings == whole.changed
    assert memory.usage == whole.usage
    assert memory.next_offsets == whole.next_offsets
    assert accepted == whole.accepted
