"""Crash injection for the crash tests: die (as ``kill -9`` would) at named points of a batch.

Off unless ``SCOREBOARD_CHAOS_PLAN`` lists crash points, e.g.
``after_ledger_commit,after_redis_write,after_kafka_publish``. The plan is worked through in order
across restarts: each crash first appends its point to ``SCOREBOARD_CHAOS_LOG``, and the next
process skips the points the log already holds. So a test knows exactly which crash points it hit.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

STAGES = ("after_ledger_commit", "after_redis_write", "after_kafka_publish")


@dataclass
class CrashPlan:
    plan: list[str] = field(default_factory=list)
    log_path: str = ""

    @classmethod
    def from_env(cls) -> CrashPlan:
        raw = os.environ.get("SCOREBOARD_CHAOS_PLAN", "")
        plan = [stage.strip() for stage in raw.split(",") if stage.strip()]
        unknown = set(plan) - set(STAGES)
        if unknown:
            raise ValueError(f"SCOREBOARD_CHAOS_PLAN has unknown crash points {sorted(unknown)}")
        return cls(plan, os.environ.get("SCOREBOARD_CHAOS_LOG", ""))

    def next_crash(self) -> str | None:
        if not self.plan:
            return None
        log = Path(self.log_path)
        done = Counter(log.read_text().split()) if log.exists() else Counter[str]()
        for stage in self.plan:
            if done[stage] > 0:
                done[stage] -= 1
            else:
                return stage
        return None

    def point(self, stage: str) -> None:
        if self.plan and self.next_crash() == stage:
            with open(self.log_path, "a") as log:
                log.write(stage + "\n")
            os._exit(137)
