"""A quick end-to-end run of the cheat simulation returns every key of its result, the same for a seed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bench import simulation
from bench.simulation.core import DetectionKit


@dataclass(frozen=True)
class Observation:
    partition: int
    offset: int
    user_id: str
    action_id: str
    points: int
    at_us: int
    score_after: int
    first_seen_us: int
    client_hash: str = ""
    device_hash: str = ""
    ticket_started_at_us: int = 0


@dataclass(frozen=True)
class Flag:
    user_id: str
    detector: str
    at_us: int
    hold_from_us: int
    shadow: bool
    evidence: dict[str, Any] = field(default_factory=dict)


class ScoreLine:
    """A stand-in detector: shadow-flags a user at 1,500 points, flags them at 3,000."""

    def observe(self, observation: Any) -> list[Flag]:
        found = []
        if observation.score_after >= 1500:
            found.append(Flag(observation.user_id, "shadow-line", observation.at_us, observation.at_us, True))
        if observation.score_after >= 3000:
            found.append(Flag(observation.user_id, "line", observation.at_us, observation.at_us, False))
        return found


STAND_IN = DetectionKit(Observation, ScoreLine, "stand-in")
KEYS = {"model", "strategies", "honest", "flags", "events", "answers", "detector_cost", "targets", "per_seed",
        "wall_seconds"}
ROW = {"fast", "accounts", "flagged", "time_to_flag_s", "points_before_flag", "points_never_flagged",
       "points_held", "best_rank", "ever_in_top10", "accounts_in_top10", "by_detector"}


def test_a_quick_run_reports_every_strategy_and_the_honest_rates() -> None:
    """Six strategies with every figure, honest groups with their bounds, JSON-able, and a table."""
    found = simulation.run(quick=True, kit=STAND_IN)
    assert set(found) == KEYS
    assert set(found["strategies"]) == {"max_rate_farmer", "hammering_farmer", "slow_farmer", "ticket_hoarder",
                                        "swarm", "perfect_timing", "replayer"}
    assert all(set(row) == ROW for row in found["strategies"].values())
    assert set(found["honest"]["groups"]) == {"regular", "nat", "grinder", "newcomer"}
    assert found["flags"]["by_detector"]["line"]["bots"] > 0
    assert found["events"]["records"] == found["detector_cost"]["observations"]
    assert found["model"]["detection"]["source"] == "stand-in"
    json.dumps(found)
    table = simulation.render(found)
    assert "| max_rate_farmer (fast) |" in table and "95% upper bound" in table


def test_the_same_seed_gives_the_same_result() -> None:
    """Everything but the wall time and the detectors' measured cost repeats exactly."""
    def stable(result: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in result.items() if k not in ("wall_seconds", "detector_cost")}
    assert stable(simulation.run(quick=True, kit=STAND_IN)) == stable(simulation.run(quick=True, kit=STAND_IN))


def test_the_quick_run_drives_the_stream_apps_detectors() -> None:
    """With the real ``scoreboard.domain.detection`` and the catalog's table, every key is there."""
    found = simulation.run(quick=True)
    assert set(found) == KEYS
    assert found["model"]["detection"]["source"].startswith("scoreboard.domain.detect")
    assert found["detector_cost"]["mean_us_per_observe"] > 0
