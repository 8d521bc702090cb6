"""The fan-out bench splits each update's latency into stages from the worker's and gateway's log lines."""

from __future__ import annotations

import json
from pathlib import Path

from bench.fanout.latency import Update
from bench.fanout.stages import STAGES, log_lines, stage_summary, update_stages

CHANGE_US = 1_700_000_000_000_000
CHANGE_S = CHANGE_US / 1e6


def test_each_update_gets_every_stage_from_the_batch_the_push_lines_and_the_clients() -> None:
    updates = [Update(10, CHANGE_S + 0.2, "ev-1")]
    reads = [[(CHANGE_S + 0.100, CHANGE_US)], [(CHANGE_S + 0.120, CHANGE_US)]]
    arrivals = [[(CHANGE_S + 0.095, CHANGE_US)], [(CHANGE_S + 0.110, CHANGE_US)]]
    batches = [{"msg": "batch", "event_ids": ["ev-0", "ev-1"], "stage_ms": [6.0, 2.0, 5.0]}]
    passes = [
        {"board": "global", "version": CHANGE_US, "pid": 1, "received_ms": 11.0, "first_write_ms": 13.0,
         "last_write_ms": 60.0, "gc_ms": 0.0},
        {"board": "global", "version": CHANGE_US, "pid": 2, "received_ms": 12.5, "first_write_ms": 14.0,
         "last_write_ms": 58.0, "gc_ms": 3.0},
        {"board": "daily", "version": CHANGE_US, "pid": 2, "received_ms": 99.0, "first_write_ms": 99.0,
         "last_write_ms": 99.0},
    ]
    (stages,) = update_stages(updates, reads, arrivals, batches, passes)
    assert stages == {"produced": 8.0, "worker_done": 13.0, "received_first": 11.0, "received_last": 12.5,
                      "first_write": 13.0, "last_write": 60.0, "gc": 3.0, "arrival": 110.0, "read": 120.0}
    summary = stage_summary([stages])
    assert summary["updates"] == 1 and summary["worst_update"] == stages
    assert set(summary["p99"]) == set(STAGES)


def test_an_update_without_log_lines_keeps_the_client_stages_and_is_not_counted_complete() -> None:
    updates = [Update(10, CHANGE_S, "ev-9"), Update(20, CHANGE_S, "ev-10")]
    reads = [[(CHANGE_S + 0.05, CHANGE_US), (float("nan"), 0)]]
    (first, second) = update_stages(updates, reads, reads, [], [])
    assert first == {"arrival": 50.0, "read": 50.0} and second == {}
    assert stage_summary([first, second])["updates"] == 0


def test_log_lines_takes_the_json_lines_with_that_message_only(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    log.write_text("\n".join([json.dumps({"msg": "push", "version": 1}), "not json \"msg\": \"push\"",
                              json.dumps({"msg": "pushed", "version": 2}), json.dumps({"msg": "push", "version": 3})]))
    assert [line["version"] for line in log_lines(log, "push")] == [1, 3]
    assert log_lines(tmp_path / "absent.log", "push") == []

