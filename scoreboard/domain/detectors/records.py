"""What the detectors read (one accepted action) and what they raise (a flag with its evidence)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    """One accepted action of one Kafka partition, fed in log (offset) order."""

    partition: int
    offset: int
    user_id: str
    action_id: str
    points: int
    at_us: int                      # server time recorded in the event (µs since epoch, UTC)
    score_after: int                # the user's all-time score after this action
    first_seen_us: int              # the user's first accepted action ever (== at_us for a new user)
    client_hash: str = ""           # keyed hash of the client address ("" = unknown)
    device_hash: str = ""           # keyed hash of the optional device id header ("" = none)
    ticket_started_at_us: int = 0   # ticketed actions: when the ticket was issued (0 = not ticketed)


@dataclass(frozen=True)
class Flag:
    """One detector's suspicion about one user. ``evidence`` is JSON-serialisable and always holds
    ``summary``, ``window_seconds``, ``user``, ``population`` and ``threshold``."""

    user_id: str
    detector: str                   # "velocity" | "regularity" | "swarm" | "rank-jump"
    at_us: int                      # time of the observation that raised it
    hold_from_us: int               # start of the evidence window: the points since then are suspect
    shadow: bool                    # the detector runs in shadow mode (flag only, hold nothing)
    evidence: dict[str, object]
