"""The benchmark's outputs: the JSON contract, the wrk line, the ratios and targets, the docs section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report, results
from bench.load import parse_wrk_output, result_from
from testkit.subscribers import parse_frames


def sample() -> dict[str, Any]:
    load = {"rps": 1000.0, "p50_ms": 1.0, "p99_ms": 5.0, "p999_ms": 9.0, "errors": 0}
    return {
        "ingest": load | {"rps": 2000.0},
        "baseline_bare": load | {"rps": 3000.0},
        "baseline_seed": load | {"rps": 500.0},
        "e2e": {"rate": 500, "p50_ms": 40.0, "p99_ms": 120.0, "p999_ms": 180.0},
        "e2e_1000": {"rate": 1000, "p50_ms": 40.0, "p99_ms": 90.0, "p999_ms": 180.0},
        "kafka_roundtrip": {"rate": 500, "p50_ms": 2.0, "p99_ms": 5.0, "p999_ms": 9.0},
        "fanout": [{"clients": 1000, "p50_ms": 50.0, "p99_ms": 70.0, "missed_frames": 0},
                   {"clients": 5000, "p50_ms": 400.0, "p99_ms": 1200.0, "missed_frames": 0},
                   {"clients": 10000, "p50_ms": 300.0, "p99_ms": 450.0, "missed_frames": 0}],
        "rebuild": {"events": 1_000_000, "events_per_s": 55_000},
        "machine": {"cores": 2, "memory_mb": 1024, "versions": {"python": "3.11"}},
    }


def test_ratios_and_targets_are_judged_from_one_run() -> None:
    """2000/3000 and 2000/500; the 5,000-client fan-out target fails at 1.2 s and the others pass."""
    found = sample()
    found["ratios"] = results.ratios(found)
    assert found["ratios"] == {"ingest_over_bare": 0.667, "ingest_over_seed": 4.0}
    verdicts = {t["target"]: t["met"] for t in results.targets(found)}
    assert verdicts["fan-out p99 <= 150 ms at 5,000 clients"] is False
    assert all(met for name, met in verdicts.items() if "5,000" not in name)


def test_the_floor_baseline_is_reported_as_a_row_and_as_ratios_to_bare_and_from_ingest(tmp_path: Path) -> None:
    """baseline_floor at 1,500 req/s: 0.5 x bare, and ingest 1.333 x the floor; absent, no floor ratios."""
    found = sample() | {"baseline_floor": sample()["ingest"] | {"rps": 1500.0, "requests": 22_500,
                                                                "seconds": 15.0, "server_cpu_s": 9.0}}
    found["ratios"] = results.ratios(found)
    assert found["ratios"]["floor_over_bare"] == 0.5 and found["ratios"]["ingest_over_floor"] == 1.333
    text = report.render(found, plot=None)
    assert "| baseline_floor | 1,500.0 req/s |" in text and "baseline_floor / baseline_bare = **0.500**" in text
    assert "- baseline_floor: 22,500 requests in 15.0 s" in text
    assert "floor_over_bare" not in results.ratios(sample())


def test_a_complete_result_misses_no_key_and_a_partial_one_names_what_is_missing() -> None:
    """The stable keys of issue 8 are checked by path."""
    found = sample() | {"ratios": {}}
    assert results.missing_keys(found) == []
    del found["e2e"]["p999_ms"], found["fanout"][1]["p99_ms"]
    assert results.missing_keys(found) == ["e2e.p999_ms", "fanout[1].p99_ms"]


def test_written_json_has_null_for_what_was_not_measured(tmp_path: Path) -> None:
    """NaN is not JSON."""
    found = sample() | {"ratios": results.ratios(sample() | {"baseline_seed": {"rps": 0.0}})}
    written = json.loads(results.write(found, tmp_path / "latest.json").read_text())
    assert written["ratios"]["ingest_over_seed"] is None and written["rebuild"]["events"] == 1_000_000


def test_wrk_line_becomes_a_load_result_counting_non_2xx_and_socket_errors() -> None:
    """Accepted rate excludes errors; latencies come in microseconds."""
    line = ('noise\nBENCH_JSON {"requests": 1000, "duration_us": 2000000, "non2xx": 3, "connect": 0, "read": 1, '
            '"write": 0, "timeout": 0, "p50_us": 1500.0, "p99_us": 9000.0, "p999_us": 12000.0, "max_us": 20000.0}\n')
    result = result_from(parse_wrk_output(line))
    assert result.errors == 4 and result.rps == 498.0
    assert (result.p50_ms, result.p99_ms, result.p999_ms) == (1.5, 9.0, 12.0)


def test_docs_section_is_replaced_between_its_markers_and_the_rest_kept(tmp_path: Path) -> None:
    """Hand-written text around the generated section survives a re-run."""
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nintro\n\n{report.BEGIN}\nold\n{report.END}\n\n## Profile\nkept\n")
    found = sample() | {"ratios": results.ratios(sample())}
    text = report.update_doc(found, doc).read_text()
    assert "old" not in text and "intro" in text and "## Profile\nkept" in text
    assert "| ingest | 2,000.0 req/s |" in text and "**not met**" in text and "bench-latency.png" in text


def test_server_frames_are_cut_from_a_stream_and_a_partial_tail_kept() -> None:
    """Short and 16-bit lengths; an incomplete frame stays in the buffer."""
    long_payload = b"x" * 300
    sixteen_bit = b"\x81\x7e" + len(long_payload).to_bytes(2, "big") + long_payload
    stream = bytearray(b"\x81\x02hi" + sixteen_bit + b"\x81\x05ab")
    assert parse_frames(stream) == [(1, b"hi"), (1, long_payload)]
    assert stream == bytearray(b"\x81\x05ab")


def test_a_fanout_row_with_stages_lists_them_p50_and_p99_and_one_without_lists_none() -> None:
    """``stages_ms`` of the fan-out scenario: each known stage once, with the update count."""
    found = sample()
    stage = {"produced": 8.0, "received_last": 14.0, "first_write": 16.0, "last_write": 104.0, "arrival": 106.0,
             "read": 112.0}
    found["fanout"][1] |= {"updates": 100, "stages_ms": {"updates": 100, "p50": stage,
                                                         "p99": {k: v * 2 for k, v in stage.items()}}}
    text = report.render(found, plot=None)
    assert ("Stages, p50 / p99 ms from the change over 100 updates: handed to Kafka by the worker 8.0 / 16.0, "
            "read by the last gateway process 14.0 / 28.0, first socket written 16.0 / 32.0, last socket written "
            "104.0 / 208.0, last client's kernel arrival 106.0 / 212.0, last client's read 112.0 / 224.0.") in text
    assert text.count("Stages, p50 / p99") == 1
