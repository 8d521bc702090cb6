"""Match acknowledged actions to the pushed frames that first show them (pure, unit-tested).

A user's k-th acknowledged action is visible once a frame shows that user with a score of at least
the sum of the points of their first k actions (each user posts sequentially, so log order is ack
order; conflated or batched frames show several actions at once, and each is counted at that frame).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Ack:
    user: str
    expected_score: int
    at: float  # time.time() when the 2xx answer was read


@dataclass(frozen=True)
class Frame:
    at: float
    version: int
    scores: dict[str, int]


def decode_frames(texts: Iterable[tuple[float, bytes]]) -> list[Frame]:
    """Board frames (snapshot/update) out of raw WebSocket texts; others (heartbeats, errors) skipped."""
    frames = []
    for at, payload in texts:
        try:
            body = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(body, dict) or body.get("type") not in ("snapshot", "update"):
            continue
        scores = {e["user_id"]: int(e["score"]) for e in body.get("entries", [])}
        frames.append(Frame(at, int(body.get("version", 0)), scores))
    return frames


def visible_latencies(acks: Sequence[Ack], frames: Sequence[Frame]) -> tuple[list[float], int]:
    """Milliseconds from each ack to the first frame showing it, and how many acks no frame showed.

    A frame can arrive a hair before the poster has read its own 2xx (same process, two sockets);
    that is counted as 0 ms.
    """
    matches, missing = match_acks(acks, frames)
    return [max(0.0, (frame.at - ack.at) * 1000) for ack, frame in matches], missing


def match_acks(acks: Sequence[Ack], frames: Sequence[Frame]) -> tuple[list[tuple[Ack, Frame]], int]:
    """Each ack paired with the first frame (by arrival) showing it, and how many acks no frame showed."""
    pending: dict[str, list[Ack]] = {}
    for ack in sorted(acks, key=lambda a: a.expected_score):
        pending.setdefault(ack.user, []).append(ack)
    position = dict.fromkeys(pending, 0)
    matches: list[tuple[Ack, Frame]] = []
    for frame in sorted(frames, key=lambda f: f.at):
        for user, score in frame.scores.items():
            queue = pending.get(user)
            if queue is None:
                continue
            index = position[user]
            while index < len(queue) and queue[index].expected_score <= score:
                matches.append((queue[index], frame))
                index += 1
            position[user] = index
    missing = sum(len(queue) - position[user] for user, queue in pending.items())
    return matches, missing


def stage_latencies(matches: Iterable[tuple[Ack, Frame]]) -> tuple[list[float], list[float]]:
    """Each matched ack's latency split at the board version of its frame, which the worker sets to the
    wall-clock microsecond of the batch that changed the top N (``projections.ranking``): milliseconds
    from the ack to that change (consume, batching, waiting for the batch before), and from the change
    to the frame (ledger, Redis, publish, gateway). Negative parts (clock steps, a version bumped past
    the clock) count as 0."""
    to_change: list[float] = []
    to_frame: list[float] = []
    for ack, frame in matches:
        changed = frame.version / 1_000_000
        to_change.append(max(0.0, (changed - ack.at) * 1000))
        to_frame.append(max(0.0, (frame.at - changed) * 1000))
    return to_change, to_frame
