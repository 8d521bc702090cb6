"""The detectors are deterministic from the log: a restart that replays only the last ``horizon_us`` of a
partition into a fresh instance raises exactly the flags the old instance would have raised."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from scoreboard.domain.detection import (
    DetectionConfig,
    Flag,
    Observation,
    PartitionDetectors,
    RankJumpConfig,
    RegularityConfig,
    SwarmConfig,
    VelocityConfig,
)

SECOND = 1_000_000
START = 1_796_000_000 * SECOND

# Tiny windows and low bars, so that short streams cross many horizons and every detector fires often.
TINY = DetectionConfig(
    velocity=VelocityConfig(window_seconds=60, bucket_seconds=10, cutoff=0.5, quantile=0.5, min_population=3,
                            min_points=10, min_events=2, sustain_seconds=20, sustain_events=1),
    regularity=RegularityConfig(max_burstiness=-0.3, min_samples=3, max_samples=5, min_durations=3,
                                lookback_seconds=120),
    swarm=SwarmConfig(new_account_seconds=900, lockstep_seconds=10, min_accounts=2, min_co_actions=2,
                      lookback_seconds=300),
    rank_jump=RankJumpConfig(top_n=2, jump_seconds=30, active_seconds=90, bucket_seconds=10, min_population=4),
    max_lateness_seconds=5,
)


@st.composite
def streams(draw: st.DrawFn) -> list[Observation]:
    """Accepted actions in log order: mostly forward in time, sometimes a little (or a lot) late."""
    size = draw(st.integers(1, 120))
    steps = draw(st.lists(st.sampled_from([0, 1, 2, 3, 5, 8, 13, 30, 90, -2, -4, -9]), min_size=size,
                          max_size=size))
    picks = draw(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2), st.integers(1, 120),
                                    st.integers(0, 2), st.booleans()), min_size=size, max_size=size))
    return build(steps, picks)


def build(steps: list[int], picks: list[tuple[int, int, int, int, bool]]) -> list[Observation]:
    scores: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    at = START
    stream = []
    for offset, (step, (who, action, points, hashed, ticketed)) in enumerate(zip(steps, picks, strict=True)):
        at = max(at + step * SECOND, START)
        user = f"u{who}-{offset // 100}"  # a new cast of seven users every 100 actions
        scores[user] = scores.get(user, (who * 37) % 150) + points
        # even-numbered users are old accounts; odd ones are new from their first action
        first_seen.setdefault(user, at if who % 2 else START - 10**6 * SECOND)
        stream.append(Observation(
            partition=3, offset=offset, user_id=user, action_id=f"a{action}", points=points, at_us=at,
            score_after=scores[user], first_seen_us=first_seen[user],
            client_hash=["", "nat", "home"][hashed], device_hash="dev" if hashed == 2 else "",
            ticket_started_at_us=at - (20 + points % 3) * SECOND if ticketed else 0))
    return stream


def flags_on(detectors: PartitionDetectors, stream: list[Observation]) -> list[Flag]:
    return [flag for obs in stream for flag in detectors.observe(obs)]


def restart_at(stream: list[Observation], cut: int, config: DetectionConfig) -> tuple[list[Flag], list[Flag]]:
    """The flags on ``stream[cut:]`` of one instance fed everything, and of a fresh one fed the tail."""
    whole = PartitionDetectors(config)
    flags_on(whole, stream[:cut])
    expected = flags_on(whole, stream[cut:])
    latest = max((obs.at_us for obs in stream[:cut]), default=0)
    tail = [obs for obs in stream[:cut] if obs.at_us > latest - config.horizon_us]
    fresh = PartitionDetectors(config)
    flags_on(fresh, tail)
    return expected, flags_on(fresh, stream[cut:])


@settings(max_examples=400, deadline=None)
@given(stream=streams(), data=st.data())
def test_a_fresh_instance_fed_the_horizon_raises_the_same_flags(stream: list[Observation],
                                                                 data: st.DataObject) -> None:
    """Cut anywhere: replaying the last horizon_us into a fresh instance, then the rest, changes no flag."""
    cut = data.draw(st.integers(0, len(stream)))
    expected, replayed = restart_at(stream, cut, TINY)
    assert replayed == expected


def random_stream(seed: int, size: int) -> list[Observation]:
    rng = random.Random(seed)
    steps = [rng.choice([0, 1, 2, 3, 5, 8, 13, 30, -2]) for _ in range(size)]
    picks = [(rng.randrange(7), rng.randrange(3), rng.randint(1, 120), rng.randrange(3), rng.random() < 0.3)
             for _ in range(size)]
    for i in range(1, size):  # now and then a new account echoes the previous action at once (a swarm)
        if rng.random() < 0.2:
            steps[i] = 0
            picks[i] = (rng.choice([1, 3, 5]), picks[i - 1][1], picks[i][2], 1, False)
    return build(steps, picks)


def test_the_restart_property_is_exercised_by_every_detector() -> None:
    """The tiny configuration raises flags of all four kinds on such streams, so the property has teeth."""
    stream = random_stream(7, 3000)
    raised = {flag.detector for flag in flags_on(PartitionDetectors(TINY), stream)}
    assert raised == {"velocity", "regularity", "swarm", "rank-jump"}
    for cut in (500, 1500, 2500):
        expected, replayed = restart_at(stream, cut, TINY)
        assert expected and replayed == expected


def test_the_shipped_defaults_are_restartable_on_a_long_stream() -> None:
    """The default knobs (horizon about 3 h) keep the property over a day of sparse synthetic actions."""
    stream = random_stream(11, 3000)
    stretched = [Observation(o.partition, o.offset, o.user_id, o.action_id, o.points,
                             START + (o.at_us - START) * 30, o.score_after, o.first_seen_us)
                 for o in stream]
    expected, replayed = restart_at(stretched, 2000, DetectionConfig())
    assert replayed == expected


def test_every_flag_carries_json_serialisable_evidence_with_the_common_fields() -> None:
    """Evidence survives json.dumps and always holds summary, window, user, population and threshold."""
    flags = flags_on(PartitionDetectors(TINY), random_stream(3, 2000))
    assert flags
    for flag in flags:
        assert json.loads(json.dumps(flag.evidence)) == flag.evidence
        assert {"summary", "window_seconds", "user", "population", "threshold"} <= set(flag.evidence)
        assert isinstance(flag.evidence["summary"], str) and flag.evidence["summary"]
        assert flag.hold_from_us <= flag.at_us


def test_memory_stays_bounded_by_event_time() -> None:
    """After a long stream, what the detectors hold is what the last horizon needs, not the whole history."""
    detectors = PartitionDetectors(TINY)
    stream = random_stream(5, 20_000)
    flags_on(detectors, stream)
    quiet_user_later = Observation(3, 99_999, "late", "a0", 1, stream[-1].at_us + 10 * TINY.horizon_us, 1,
                                   stream[-1].at_us)
    detectors.observe(quiet_user_later)
    held = repr([vars(detector) for detector in detectors._detectors])
    assert "u1-0" in repr([o.user_id for o in stream]) and "'u1-0'" not in held
    assert all(f"'u{who}-{epoch}'" not in held for who in range(7) for epoch in range(199))
