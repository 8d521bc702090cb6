"""The gateway hub: latest state per board and conflating subscriptions."""

from __future__ import annotations

import asyncio

from gateway.hub import BoardState, Hub


def state(version: int, board: str = "global") -> BoardState:
    return BoardState(board, version, ((1, "alice", version),))


def test_an_older_or_repeated_version_never_replaces_a_newer_one() -> None:
    """publish ignores versions that are not newer than the latest."""
    hub = Hub()
    assert hub.publish(state(5))
    assert not hub.publish(state(4))
    assert not hub.publish(state(5))
    assert hub.latest("global").version == 5


def test_a_slow_subscriber_gets_only_the_newest_state_not_a_backlog() -> None:
    """Three updates while the client was busy arrive as one frame of the newest version."""
    async def scenario() -> list[int]:
        hub = Hub()
        sub = hub.subscribe("global")
        for version in (1, 2, 3):
            hub.publish(state(version))
        first = await sub.next(timeout_s=1)
        second = await sub.next(timeout_s=0.05)
        return [first.version if first else -1, second.version if second else -1]

    assert asyncio.run(scenario()) == [3, -1]


def test_a_subscriber_never_receives_a_version_at_or_below_what_it_was_sent() -> None:
    """After resume at version 7, states up to 7 are not delivered."""
    async def scenario() -> int | None:
        hub = Hub()
        sub = hub.subscribe("global")
        sub.sent_version = 7
        hub.publish(state(6))
        got = await sub.next(timeout_s=0.05)
        return got.version if got else None

    assert asyncio.run(scenario()) is None


def test_boards_are_independent_and_unsubscribe_forgets_the_client() -> None:
    """A change on daily does not wake a global subscriber; counts follow (un)subscribe."""
    hub = Hub()
    sub = hub.subscribe("global")
    hub.publish(state(1, board="daily:2026-11-27"))
    assert asyncio.run(sub.next(timeout_s=0.05)) is None
    assert hub.connection_count() == 1
    hub.unsubscribe(sub)
    assert hub.connection_count() == 0


def test_a_subscription_behind_its_boards_latest_version_counts_as_lagging() -> None:
    """Lagging until the newest state was handed out; a fresh board with nothing published is not."""
    async def scenario() -> list[int]:
        hub = Hub()
        sub = hub.subscribe("global")
        hub.subscribe("weekly:2026-W48")
        hub.publish(state(1))
        counts = [hub.lagging_count()]
        await sub.next(timeout_s=1)
        counts.append(hub.lagging_count())
        return counts

    assert asyncio.run(scenario()) == [1, 0]
