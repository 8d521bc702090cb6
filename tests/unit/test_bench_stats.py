"""The benchmark's arithmetic: percentiles and the matching of acks to pushed frames."""

from __future__ import annotations

import json
import math

import pytest

from bench.fanout.latency import Update, arrivals, last_client_latencies
from bench.matching import Ack, Frame, decode_frames, match_acks, stage_latencies, visible_latencies
from bench.stats import latency_summary, percentile


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    """p50 of 1..4 is 2.5, p0 and p100 are the extremes, p99.9 of 1..1000 is 999.001."""
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([5, 1], 0) == 1 and percentile([5, 1], 100) == 5
    assert percentile(list(range(1, 1001)), 99.9) == pytest.approx(999.001)


def test_percentile_of_nothing_is_nan_and_out_of_range_is_refused() -> None:
    """An empty sample is reported as not measured; a percentile outside 0..100 is a bug."""
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_has_the_stable_keys() -> None:
    """p50_ms, p99_ms and p999_ms, rounded to hundredths."""
    assert latency_summary([1.0, 2.0, 3.0]) == {"p50_ms": 2.0, "p99_ms": 2.98, "p999_ms": 3.0}


def test_an_ack_counts_at_the_first_frame_that_shows_its_score() -> None:
    """Conflated frames settle several acks at once; a frame before the ack was read counts as 0 ms."""
    acks = [Ack("a", 100, 10.000), Ack("a", 200, 10.010), Ack("b", 100, 10.020)]
    frames = [Frame(10.005, 1, {"a": 50}), Frame(10.050, 2, {"a": 200, "b": 0}), Frame(10.015, 3, {"b": 100})]
    latencies, missing = visible_latencies(acks, frames)
    assert sorted(latencies) == pytest.approx([0.0, 40.0, 50.0])
    assert missing == 0


def test_acks_no_frame_showed_are_counted_missing() -> None:
    """Frames of other users or lower scores never settle an ack."""
    latencies, missing = visible_latencies([Ack("a", 300, 1.0)], [Frame(2.0, 1, {"a": 200, "z": 900})])
    assert latencies == [] and missing == 1


def test_an_acks_latency_splits_at_the_board_version_of_its_frame() -> None:
    """The frame's version is the worker's change time in microseconds: ack -> change, change -> frame;
    a version ahead of the ack or behind the frame counts 0 for that part."""
    acks = [Ack("a", 100, 10.000), Ack("b", 100, 10.020)]
    frames = [Frame(10.050, 10_030_000, {"a": 100}), Frame(10.060, 10_070_000, {"b": 100})]
    matches, missing = match_acks(acks, frames)
    assert missing == 0 and [(a.user, f.version) for a, f in matches] == [("a", 10_030_000), ("b", 10_070_000)]
    to_change, to_frame = stage_latencies(matches)
    assert to_change == pytest.approx([30.0, 50.0])
    assert to_frame == pytest.approx([20.0, 0.0])


def test_decode_frames_keeps_board_frames_only() -> None:
    """Snapshots and updates are frames; heartbeats and garbage are skipped."""
    board = {"type": "update", "board": "global", "version": 7, "entries": [{"rank": 1, "user_id": "a", "score": 5}]}
    texts = [(1.0, json.dumps(board).encode()), (2.0, b'{"type": "heartbeat"}'), (3.0, b"not json")]
    assert decode_frames(texts) == [Frame(1.0, 7, {"a": 5})]


def test_fanout_latency_is_the_last_healthy_client_from_the_change() -> None:
    """Per update, the slowest client's frame minus the change time (the board version, in us)."""
    def text(at: float, version: int, score: int) -> tuple[float, bytes]:
        return at, json.dumps({"type": "update", "version": version,
                               "entries": [{"rank": 1, "user_id": "hot", "score": score}]}).encode()
    updates = [Update(100, 9.99), Update(200, 19.99)]
    fast = arrivals([text(10.01, 10_000_000, 100), text(20.02, 20_000_000, 200)], "hot", updates)
    slow = arrivals([text(10.05, 10_000_000, 100)], "hot", updates)  # missed the second update
    from_change, from_ack, every, missing = last_client_latencies([fast, slow], updates)
    assert from_change == pytest.approx([50.0, 20.0])
    assert from_ack == pytest.approx([60.0, 30.0])
    assert sorted(every) == pytest.approx([10.0, 20.0, 50.0])
    assert missing == 1
