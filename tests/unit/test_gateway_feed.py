"""The gateway's Kafka feed: catches up from the compacted topic and reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from gateway.feed import Feed
from gateway.hub import Hub
from scoreboard.adapters import codec
from scoreboard.domain.events import BoardEntry, LeaderboardChanged
from scoreboard.domain.signing import SigningKeyring
from testkit.waits import wait_until_async
from tests.support.gateway_fakes import (
    CHANGE_KEYRING,
    Record,
    ScriptedConsumer,
    consumers_from,
    signed,
)


def change(version: int, user: str = "alice") -> bytes:
    return codec.encode(LeaderboardChanged("global", version, (BoardEntry(1, user, version),), version))


async def run_until(feed: Feed, check: Callable[[], bool]) -> None:
    task = asyncio.create_task(feed.run())
    try:
        async def ok() -> bool:
            return check()
        await wait_until_async(ok, timeout_s=10, interval_s=0.01, what="feed state")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_the_feed_builds_the_latest_state_and_reports_caught_up() -> None:
    """Three changes, one undecodable record and a tombstone: the hub holds v3, caught_up is set."""
    hub = Hub()
    feed = Feed(consumers_from([ScriptedConsumer([change(1), change(2), b"junk", change(3)])]), hub, CHANGE_KEYRING)
    asyncio.run(run_until(feed, lambda: feed.caught_up.is_set() and feed.connected))
    assert hub.latest("global").version == 3


def test_a_broker_down_at_start_and_lost_later_is_retried_until_the_feed_is_back() -> None:
    """Start fails, then the broker is lost after v1, then a new connection serves v2."""
    hub = Hub()
    script = [ScriptedConsumer(fail_start=True),
              ScriptedConsumer([change(1)], fail_after_records=True),
              ScriptedConsumer([change(1), change(2, "bob")])]
    feed = Feed(consumers_from(script), hub, CHANGE_KEYRING, first_retry_s=0.01)
    asyncio.run(run_until(feed, lambda: hub.latest("global").version == 2 and feed.connected))
    assert feed.reconnects == 2
    assert script[1].stopped
    assert hub.latest("global").entries == ((1, "bob", 2),)


def test_change_records_not_signed_by_a_worker_are_ignored() -> None:
    """Unsigned, wrongly keyed, re-keyed and tampered changes never reach the hub; the signed one does."""
    hub = Hub()
    genuine = signed(change(2))
    forged_key = SigningKeyring("change", "an attacker's own secret, also 32+ bytes")
    records: list[bytes | Record] = [
        Record(change(10**15)),  # unsigned, with a huge version a gateway would otherwise keep
        Record(change(10**15), b"global", forged_key.sign(genuine_topic(), -1, b"global", change(10**15), [])),
        Record(change(10**15), b"daily", genuine.headers),  # a genuine signature under another key
        Record(change(10**15), b"global", genuine.headers),  # a genuine signature over another value
        genuine,
    ]
    feed = Feed(consumers_from([ScriptedConsumer(records)]), hub, CHANGE_KEYRING)
    asyncio.run(run_until(feed, lambda: feed.caught_up.is_set()))
    assert hub.latest("global").version == 2
    assert feed.forged == 4


def genuine_topic() -> str:
    return "scoreboard.leaderboard-changes.v1"
