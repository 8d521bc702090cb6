"""Each client's frames matched to the fanout's updates: when each update reached each client, the
latency of the last client to see it (from the change and from the ack), and the frames that never came
or came out of version order. Pure: the frames and updates are given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.matching import decode_frames


@dataclass(frozen=True)
class Update:
    expected_score: int
    acked_at: float
    event_id: str = ""


def arrivals(texts: Sequence[tuple[float, bytes]], user: str, updates: Sequence[Update]) -> list[tuple[float, int]]:
    """For each update, (arrival time, board version) of the first frame showing it, or (nan, 0)."""
    frames = [f for f in decode_frames(texts) if user in f.scores]
    found: list[tuple[float, int]] = []
    index = 0
    for update in updates:
        while index < len(frames) and frames[index].scores[user] < update.expected_score:
            index += 1
        found.append((frames[index].at, frames[index].version) if index < len(frames) else (float("nan"), 0))
    return found


def last_client_latencies(per_client: Sequence[Sequence[tuple[float, int]]], updates: Sequence[Update]
                          ) -> tuple[list[float], list[float], list[float], int]:
    """Per update: ms from the change to the last client's frame, and from the ack; all clients' ms from
    the change; and how many (client, update) frames never came."""
    from_change: list[float] = []
    from_ack: list[float] = []
    every: list[float] = []
    missing = 0
    for u, update in enumerate(updates):
        seen = [client[u] for client in per_client if client[u][1] > 0]
        missing += len(per_client) - len(seen)
        if not seen:
            continue
        change_s = min(version for _, version in seen) / 1e6
        every.extend(max(0.0, (at - change_s) * 1000) for at, _ in seen)
        last = max(at for at, _ in seen)
        from_change.append(max(0.0, (last - change_s) * 1000))
        from_ack.append(max(0.0, (last - update.acked_at) * 1000))
    return from_change, from_ack, every, missing


def out_of_order(texts: Sequence[tuple[float, bytes]]) -> int:
    """Board frames of one client whose version is not above the previous one's (must be 0)."""
    versions = [f.version for f in decode_frames(texts)]
    return sum(1 for before, after in zip(versions, versions[1:], strict=False) if after <= before)
