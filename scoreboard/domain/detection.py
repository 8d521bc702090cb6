"""Streaming cheat detectors: pure, deterministic from the log, O(log n) per accepted action.

The worker feeds ``PartitionDetectors.observe`` every accepted action of one partition in log order and
gets back the flags it raises (at most one per detector, about the acting user). Time is event time only:
the detectors' clock is the latest ``at_us`` seen; an action more than ``max_lateness_seconds`` (60) behind
it is ignored, an earlier one is judged at the clock. Every decision reads only actions within
``DetectionConfig.horizon_us`` (3 h 2 min with the defaults) of the clock, and state is evicted by event
time, so memory is bounded and a restart that replays the last ``horizon_us`` of the partition into a
fresh instance raises exactly the flags the old one would have. A shadow-mode detector's flags carry
``shadow=True`` (flag only, hold nothing). Knobs come from the catalog's ``[detection.<name>]`` tables.

**velocity** — a user's points in a sliding window (``window_seconds`` 3600, in ``bucket_seconds`` 60
buckets) against the same figure for every user active in the partition's window, kept in a log-bucket
histogram (1% resolution, O(log n) per action). Robust modified z = 0.6745·(x − median)/MAD; when MAD is
0 (most users earn the same), the scale falls back to the nearest upper percentile that differs from the
median: (p90 − median)/1.2816, (p95 − median)/1.6449, (p99 − median)/2.3263, else 5% of the median. A
user is an *outlier* at an action when the partition has ``min_population`` (30) active users, the user
has at least ``min_points`` (600) points and ``min_events`` (6) actions in the window, ranks above the
``quantile`` (0.99) of the others and z ≥ ``cutoff`` (3.5). It *flags* only when that is sustained: the
user was already an outlier ``sustain_seconds`` (3600) ago, was one at every action since, and at least
``sustain_events`` (4) times. Relative to the population, so a population-wide surge (everyone doubles)
changes nothing; a quiet partition never judges; an intense session of an honest player ends before it
lasts. The population's figures are computed once per bucket. hold_from = start of the window (or of
the outlier run, if earlier).

**regularity** — per (user, action), the last ``max_samples`` (24) gaps between actions within
``lookback_seconds`` (3 h), and separately the completion durations (at − ticket start) of ticketed
actions. Coefficient of variation r = σ/μ (exact integer sums) and Kim & Jo's burstiness corrected for
n events, A_n = (√(n+1)·r − √(n−1)) / ((√(n+1) − 2)·r + √(n−1)): −1 periodic, 0 Poisson, > 0 bursty.
Flags when A_n ≤ ``max_burstiness`` (−0.9, about CV < 0.065) over at least ``min_samples`` (12) gaps or
``min_durations`` (10) durations: a script waiting the cooldown plus a few seconds of jitter (CV ~0.01).
Human gaps (log-normal, Weibull, or the cooldown plus the time to play again) have CV well above 0.15.
A script adding large random noise passes (deliberately left to the other detectors and to review).
hold_from = the time of the first action of the first gap (durations: the first ticket's start).

**swarm** — accounts first seen within ``new_account_seconds`` (24 h), grouped by client hash and,
separately, by device hash. An action lands in the cell (action, ``lockstep_seconds`` slot of 5 s); two
accounts that shared at least ``min_co_actions`` (5) cells are *lockstep partners*. Flags an account with
at least ``min_accounts`` − 1 partners (4 accounts in all; per partition, since a swarm of 50 is spread
over all partitions by user hash). Established accounts never enter a group, and one address alone never
flags: the many honest players behind a carrier NAT or a school meet in the same 5 s slot by chance now
and then, but not the same pairs again and again. Cells expire after ``lookback_seconds`` (3 h); a cell
counts at most 64 accounts. hold_from = the account's first_seen_us.

**rank-jump** — the all-time scores (``score_after``) of users active within ``active_seconds`` (3 h)
in a histogram; per user, their score at the start of the last ``jump_seconds`` (30 min). Flags a user
whose score then was below the median of the active users and who is now in the top ``top_n`` (10)
(scores within 1% count as tied), once the partition has ``min_population`` (100) active users and the
user gained at least ``min_gain`` (0) points. Slow climbers and users already high never flag; a young
partition (few users) does not judge. hold_from = the user's first action within the jump window.
"""

from scoreboard.domain.detectors import (
    DetectionConfig,
    Flag,
    Observation,
    PartitionDetectors,
    RankJumpConfig,
    RegularityConfig,
    SwarmConfig,
    VelocityConfig,
)

__all__ = ["DetectionConfig", "Flag", "Observation", "PartitionDetectors", "RankJumpConfig", "RegularityConfig",
           "SwarmConfig", "VelocityConfig"]
