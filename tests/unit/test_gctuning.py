"""GC tuning: the batch-job context restores the thresholds it found; the service setting freezes
what exists and raises only the young generation's threshold."""

from __future__ import annotations

import gc

from scoreboard.runtime.gctuning import (
    YOUNG_THRESHOLD,
    collect_less_often,
    fewer_collections,
)


def test_fewer_collections_raises_the_young_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    assert gc.get_threshold() == before


def test_collect_less_often_freezes_the_start_up_heap_and_keeps_the_older_thresholds() -> None:
    before = gc.get_threshold()
    try:
        collect_less_often()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
