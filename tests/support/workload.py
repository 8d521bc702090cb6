"""Generate action streams with duplicate nonces, and produce them to the log as the api would:
priced by the tests' catalog (``tests/support/catalog.toml``), on the user's partition, signed with
the stack's event signing key, with the record timestamp at the event's recorded time."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

from producer_api.appender import ActionLog
from scoreboard.adapters.publishing import Publisher
from scoreboard.domain.catalog import load_catalog
from scoreboard.domain.events import (
    ActionCompleted,
    LogEvent,
    ScoreAdjusted,
    UserBanned,
    UserUnbanned,
)
from scoreboard.domain.signing import SigningKeyring
from scoreboard.settings import Settings

TEST_CATALOG = Path(__file__).resolve().parent / "catalog.toml"
CATALOG = load_catalog(TEST_CATALOG)
PLAIN_ACTIONS = ("daily-login", "complete-level", "win-match")


def action(user: str, points: int, at_us: int, nonce: str = "", event_id: str = "") -> ActionCompleted:
    """A completion worth ``points`` (one of the ``test-N`` actions of the tests' catalog)."""
    chosen = CATALOG.actions[f"test-{points}"]
    return ActionCompleted(event_id or str(uuid.uuid4()), user, chosen.action_id, nonce or f"n-{uuid.uuid4().hex}",
                           chosen.points, CATALOG.version, at_us)


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
                                    original.catalog_version, at)
        else:
            chosen = CATALOG.actions[rng.choice(PLAIN_ACTIONS)]
            event = ActionCompleted(str(uuid.uuid4()), user, chosen.action_id, f"n-{uuid.uuid4().hex}",
                                    chosen.points, CATALOG.version, at)
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


async def produce(bootstrap: str, events: list[LogEvent], *, chunk: int = 100, pause_s: float = 0.0,
                  keyring: SigningKeyring | None = None) -> None:
    """Append ``events`` in order as the api would (signed with ``keyring``, default the stack's key)."""
    publisher = Publisher(bootstrap, client_id="test-workload")
    log = ActionLog(publisher, keyring or Settings.from_env().event_keyring(), source="/tests/workload")
    try:
        for start in range(0, len(events), chunk):
            await asyncio.gather(*(log.append(e, timestamp_ms=e.occurred_at_us // 1000)
                                   for e in events[start:start + chunk]))
            if pause_s:
                await asyncio.sleep(pause_s)
    finally:
        publisher.close()
