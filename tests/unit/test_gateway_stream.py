"""A client's view of a board: snapshot first, only newer versions, heartbeats, alias rollover."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.hub import BoardState, Hub
from gateway.rollover import next_rollover_us
from gateway.stream import BoardStream
from scoreboard.domain.clock import to_micros
from tests.support.gateway_fakes import FakeClock

NOV_27_2359 = to_micros(datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC))
NOV_28_0000 = to_micros(datetime(2026, 11, 28, tzinfo=UTC))


def state(version: int, board: str = "global", user: str = "alice") -> BoardState:
    return BoardState(board, version, ((1, user, version),))


def test_the_first_frame_is_a_snapshot_of_the_latest_state_then_updates_follow() -> None:
    """snapshot v2, then update v3; nothing older ever follows."""
    async def scenario() -> list[tuple[str, int]]:
        hub = Hub()
        hub.publish(state(2))
        stream = BoardStream(hub, "global", FakeClock(NOV_27_2359), heartbeat_s=5)
        first = await stream.next()
        hub.publish(state(1))
        hub.publish(state(3))
        second = await stream.next()
        assert first.state and second.state
        return [(first.kind, first.state.version), (second.kind, second.state.version)]

    assert asyncio.run(scenario()) == [("snapshot", 2), ("update", 3)]


def test_a_board_without_changes_yet_gets_an_empty_snapshot_at_version_zero() -> None:
    """A new window has no entries: the client learns that instead of waiting."""
    async def scenario() -> tuple[str, int, int]:
        push = await BoardStream(Hub(), "daily", FakeClock(NOV_27_2359), heartbeat_s=5).next()
        assert push.state is not None
        return push.kind, push.state.version, len(push.state.entries)

    assert asyncio.run(scenario()) == ("snapshot", 0, 0)


def test_last_seen_at_or_above_the_latest_withholds_the_snapshot_until_something_newer() -> None:
    """SSE Last-Event-ID: 5 with latest 5 sends nothing; version 6 then arrives as the snapshot."""
    async def scenario() -> list[tuple[str, int]]:
        hub = Hub()
        hub.publish(state(5))
        stream = BoardStream(hub, "global", FakeClock(NOV_27_2359), heartbeat_s=0.05, last_seen=5)
        idle = await stream.next()
        hub.publish(state(6))
        newer = await stream.next()
        assert idle.state is None and newer.state is not None
        return [(idle.kind, -1), (newer.kind, newer.state.version)]

    assert asyncio.run(scenario()) == [("heartbeat", -1), ("snapshot", 6)]


def test_resume_raises_the_floor_and_never_resends_what_the_client_holds() -> None:
    """After snapshot v3, resume(1) sends nothing; resume(9) suppresses v8; v10 follows."""
    async def scenario() -> list[str]:
        hub = Hub()
        hub.publish(state(3))
        stream = BoardStream(hub, "global", FakeClock(NOV_27_2359), heartbeat_s=0.05)
        seen = [f"{(p := await stream.next()).kind}:{p.state.version if p.state else '-'}"]
        stream.resume(1)
        seen.append((await stream.next()).kind)
        stream.resume(9)
        hub.publish(state(8))
        seen.append((await stream.next()).kind)
        hub.publish(state(10))
        p = await stream.next()
        seen.append(f"{p.kind}:{p.state.version if p.state else '-'}")
        return seen

    assert asyncio.run(scenario()) == ["snapshot:3", "heartbeat", "heartbeat", "update:10"]


def test_resume_before_the_first_frame_with_an_older_version_gets_the_current_state() -> None:
    """The client says it holds v1 before anything was sent: the current v4 goes out."""
    async def scenario() -> tuple[str, int]:
        hub = Hub()
        hub.publish(state(4))
        stream = BoardStream(hub, "global", FakeClock(NOV_27_2359), heartbeat_s=1)
        stream.resume(1)
        push = await stream.next()
        assert push.state is not None
        return push.kind, push.state.version

    assert asyncio.run(scenario()) == ("snapshot", 4)


def test_the_daily_alias_follows_midnight_with_a_snapshot_of_the_new_window() -> None:
    """Subscribed to daily at 23:59:59; at 00:00 the stream switches to daily:2026-11-28."""
    async def scenario() -> list[str]:
        clock = FakeClock(NOV_27_2359)
        hub = Hub()
        hub.publish(state(7, board="daily:2026-11-27"))
        hub.publish(state(9, board="daily:2026-11-28", user="bob"))
        stream = BoardStream(hub, "daily", clock, heartbeat_s=30)
        first = await stream.next()
        clock.now = NOV_28_0000
        second = await asyncio.wait_for(stream.next(), 2)
        hub.publish(state(8, board="daily:2026-11-27"))
        hub.publish(state(10, board="daily:2026-11-28", user="bob"))
        third = await asyncio.wait_for(stream.next(), 2)
        return [f"{p.kind}:{p.state.board}:{p.state.version}" for p in (first, second, third) if p.state]

    assert asyncio.run(scenario()) == [
        "snapshot:daily:2026-11-27:7", "snapshot:daily:2026-11-28:9", "update:daily:2026-11-28:10"]


def test_closing_a_stream_releases_its_subscription() -> None:
    """The connection count goes back to zero."""
    hub = Hub()
    stream = BoardStream(hub, "weekly", FakeClock(NOV_27_2359), heartbeat_s=1)
    assert hub.connection_count() == 1
    stream.close()
    assert hub.connection_count() == 0


def test_rollover_times_are_the_next_utc_midnight_and_the_next_iso_monday() -> None:
    """2026-11-27 is a Friday: daily rolls at Nov 28 00:00, weekly at Nov 30 00:00; global never."""
    assert next_rollover_us("daily", NOV_27_2359) == NOV_28_0000
    assert next_rollover_us("weekly", NOV_27_2359) == to_micros(datetime(2026, 11, 30, tzinfo=UTC))
    assert next_rollover_us("global", NOV_27_2359) is None
    assert next_rollover_us("daily:2026-11-27", NOV_27_2359) is None
