"""The abuse scenario's pure parts (bench/abuse/tally.py): counting answers, planning the mixed farm,
partitions, summaries."""

from __future__ import annotations

import json
import zlib

from bench.abuse import tally


def answer(code: int, **body: object) -> tuple[int, bytes]:
    return code, json.dumps(body).encode()


def test_status_counts_are_keyed_by_text_and_sorted_for_json() -> None:
    """0 stands for a request that got no answer at all."""
    assert tally.status_counts([429, 202, 202, 0]) == {"0": 1, "202": 2, "429": 1}
    assert json.loads(json.dumps(tally.status_counts([]))) == {}


def test_only_new_acceptances_count_points_and_unknown_fields_are_ignored() -> None:
    """A duplicate, a refusal, a body that is not JSON and a 2xx without points add nothing or 0."""
    answers = [
        answer(202, event_id="a", status="accepted", points=100, future_field={"x": 1}),
        answer(200, event_id="a", status="duplicate", points=100),
        answer(429, type="rate-limited", title="Too Many Requests"),
        (502, b"<html>bad gateway</html>"),
        answer(202, status="accepted"),
    ]
    assert tally.accepted_points(answers) == [100, 0]
    assert tally.problem_counts(answers) == {"429 rate-limited": 1, "502 -": 1}


def test_farm_summary_reports_what_was_sent_answered_and_counted() -> None:
    answers = [answer(202, status="accepted", points=100)] * 3 + [answer(429, type="rate-limited")] * 2
    found = tally.summarise_farm(answers, 0.5, {"score": 300, "rank": 2, "caught_up": True})
    assert found == {"requests": 5, "seconds": 0.5, "statuses": {"202": 3, "429": 2}, "accepted": 3,
                     "acknowledged_points": 300, "score": 300, "rank": 2, "points_per_second": 600.0,
                     "caught_up": True}
    unread = tally.summarise_farm([], 0.0, {"score": None}, requests=7)
    assert unread["requests"] == 7 and unread["points_per_second"] is None and unread["rank"] is None
    json.dumps(found)


def test_positive_actions_skip_disabled_penalties_and_malformed_entries() -> None:
    catalog = {"catalog_version": "v", "actions": [
        {"action_id": "win-match", "points": 100, "enabled": True, "cooldown_seconds": 300},
        {"action_id": "boss-fight", "points": 250, "requires_ticket": True},
        {"action_id": "penalty", "points": -30, "enabled": True},
        {"action_id": "retired", "points": 10, "enabled": False},
        {"points": 5},
        "nonsense",
    ]}
    assert tally.positive_actions(catalog) == [
        {"action_id": "win-match", "points": 100, "requires_ticket": False},
        {"action_id": "boss-fight", "points": 250, "requires_ticket": True},
    ]
    assert tally.positive_actions(None) == [] and tally.positive_actions({"actions": "x"}) == []


def test_mix_plan_shares_the_budget_and_a_ticketed_action_pays_a_start_per_completion() -> None:
    actions: list[dict[str, object]] = [{"action_id": "a"}, {"action_id": "b"},
                                        {"action_id": "t", "requires_ticket": True}]
    assert tally.mix_plan(actions, 1000) == {"a": 334, "b": 333, "t": 166}
    assert tally.mix_plan([], 1000) == {} and tally.mix_plan(actions, 0) == {}


def test_partition_is_librdkafkas_crc32_and_neighbours_share_it() -> None:
    assert tally.partition_for("user-1", 6) == zlib.crc32(b"user-1") % 6
    names = tally.users_on_partition("nb", 4, 6, 5)
    assert len(set(names)) == 5 and all(tally.partition_for(n, 6) == 4 for n in names)


def test_counted_actions_fit_the_score_growth_in_order() -> None:
    """The growth is matched against the acknowledged points in order; never more than were acked."""
    assert tally.counted_actions(1000, 1300, [100, 100, 100]) == 3
    assert tally.counted_actions(1000, 1250, [100, 100, 100]) == 2
    assert tally.counted_actions(1000, 1000, [100]) == 0
    assert tally.counted_actions(0, 10**12, [100, 100]) == 2
    assert tally.counted_actions(500, 400, [100]) == 0


def test_log_findings_count_each_record_once_preferring_json_lines() -> None:
    """The worker writes each record as JSON and again as a plain Faust line."""
    text = "\n".join([
        json.dumps({"level": "info", "msg": "batch"}),
        json.dumps({"level": "error", "msg": "unexpected failure in a batch; exiting before any commit",
                    "exc": "Traceback (most recent call last):\n  ...\nUniqueViolation"}),
        "Traceback (most recent call last):",
        "[2026-11-30 14:49:00,000] [1] [ERROR] something",
        "{not json",
    ])
    assert tally.log_findings(text) == {"error_lines": 1, "tracebacks": 1, "crash_exits_logged": 1}
    plain = "\n".join(line for line in text.splitlines() if not line.startswith("{"))
    assert tally.log_findings(plain) == {"error_lines": 1, "tracebacks": 1, "crash_exits_logged": 0}
    assert tally.log_findings("") == {"error_lines": 0, "tracebacks": 0, "crash_exits_logged": 0}


def test_summary_line_names_each_attack_and_survives_missing_or_failed_parts() -> None:
    result = {
        "farming": {"single": {"requests": 1000, "seconds": 0.6, "accepted": 528, "score": 52800, "rank": 1},
                    "mixed": {"score": 10250}},
        "burst": {"limited": 0, "requests": 400},
        "tickets": {"issued": 50, "requests": 50},
        "forged": {"counted": True, "score": 10**12},
        "admin_key_reuse": {"error": "RuntimeError: boom"},
    }
    line = tally.summary_line(result)
    assert line.startswith("abuse: farming 1,000 req in 0.6 s -> 528 accepted, score 52,800 (rank 1)")
    assert "burst 0/400 got 429" in line and "tickets 50/50 issued" in line
    assert "forged counted=true (score 1,000,000,000,000)" in line
    assert "admin_key_reuse failed: RuntimeError: boom" in line
    assert tally.summary_line({"burst": {}}) == "abuse: burst ?/? got 429"
