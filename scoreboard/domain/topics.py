"""The Kafka topics of the contract, with their partition counts and policies."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIONS = "scoreboard.actions.v1"
SCORE_CHANGES = "scoreboard.score-changes.v1"
LEADERBOARD_CHANGES = "scoreboard.leaderboard-changes.v1"
REJECTED = "scoreboard.rejected.v1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


TOPICS = (
    TopicSpec(ACTIONS, 6, {"retention.ms": "-1", "min.insync.replicas": "1"}),
    TopicSpec(SCORE_CHANGES, 6, {"retention.ms": "-1"}),
    TopicSpec(LEADERBOARD_CHANGES, 3, {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
    TopicSpec(REJECTED, 6, {"retention.ms": "-1"}),
)
