"""Generate action streams with duplicate nonces, and produce them to the log as the api would."""

from __future__ import annotations

import asyncio
import random
import uuid

from scoreboard import codec
from scoreboard.cloudevents import cloud_event_headers
from scoreboard.events import ActionCompleted, LogEvent, ScoreAdjusted, UserBanned, UserUnbanned
from scoreboard.publishing import Publisher
from scoreboard.topics import ACTIONS


def actions_with_duplicates(count: int, users: int, *, start_us: int, step_us: int = 1000,
                            duplicate_share: float = 0.1, seed: int = 7) -> list[ActionCompleted]:
    """``count`` actions of ``users`` users; about ``duplicate_share`` reuse an earlier nonce of the same
    user (half with the same event id, as a client retry would, half with a new one)."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]
    names = [f"u{i:04d}-{run}" for i in range(users)]
    events: list[ActionCompleted] = []
    by_user: dict[str, list[ActionCompleted]] = {}
    for i in range(count):
        user = rng.choice(names)
        earlier = by_user.get(user)
        at = start_us + i * step_us
        if earlier and rng.random() < duplicate_share:
            original = rng.choice(earlier)
            event_id = original.event_id if rng.random() < 0.5 else str(uuid.uuid4())
            event = ActionCompleted(event_id, user, original.action_id, original.nonce, original.points,
                                    "test", at)
        else:
            event = ActionCompleted(str(uuid.uuid4()), user, "win-match", f"n-{uuid.uuid4().hex}",
                                    rng.randint(1, 200), "test", at)
        events.append(event)
        by_user.setdefault(user, []).append(event)
    return events


def mixed_log(count: int, users: int, *, start_us: int, step_us: int = 1000, seed: int = 3) -> list[LogEvent]:
    """Actions with duplicates, plus admin adjustments (some negative) and ban/unban toggles."""
    rng = random.Random(seed)
    events: list[LogEvent] = list(actions_with_duplicates(count, users, start_us=start_us, step_us=step_us,
                                                          seed=seed))
    names = sorted({e.user_id for e in events})
    banned: set[str] = set()
    mixed: list[LogEvent] = []
    for i, event in enumerate(events):
        mixed.append(event)
        roll = rng.random()
        user = rng.choice(names)
        at = event.occurred_at_us
        if roll < 0.04:
            mixed.append(ScoreAdjusted(str(uuid.uuid4()), user, rng.randint(-150, 150), "test", "root",
                                       f"adj-{i}", at))
        elif roll < 0.05:
            kind = UserUnbanned if user in banned else UserBanned
            banned.symmetric_difference_update({user})
            mixed.append(kind(str(uuid.uuid4()), user, "test", "root", at))
    return mixed


async def produce(bootstrap: str, events: list[LogEvent], *, chunk: int = 100, pause_s: float = 0.0) -> None:
    publisher = Publisher(bootstrap, client_id="test-workload")
    try:
        for start in range(0, len(events), chunk):
            await publisher.publish_many([
                (ACTIONS, e.user_id, codec.encode(e),
                 cloud_event_headers(e.event_id, type(e).__name__, "/tests/workload", e.occurred_at_us))
                for e in events[start:start + chunk]
            ])
            if pause_s:
                await asyncio.sleep(pause_s)
    finally:
        publisher.close()
