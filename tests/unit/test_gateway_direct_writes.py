"""Updates the hub writes to a connection's socket itself: one shared encoded frame per version,
once per loop turn, only while the connection's task is idle and the socket drains; otherwise the
task sends the newest state, so order, conflation and heartbeats stay as they were."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.hub import BoardState, Hub, websocket_text_frame
from gateway.stream import BoardStream, Push
from scoreboard.domain.boards import resolve
from scoreboard.domain.clock import to_micros
from testkit.subscribers import OP_TEXT, parse_frames
from testkit.waits import until_on_loop
from tests.support.gateway_fakes import FakeClock

NOV_27 = to_micros(datetime(2026, 11, 27, 12, tzinfo=UTC))
HEARTBEAT_S = 1.2
"""Long enough that a loaded machine cannot delay the test past the heartbeat before it publishes."""


def state(version: int, board: str = "global") -> BoardState:
    return BoardState(board, version, ((1, "alice", version),))


@dataclass
class Sink:
    open: bool = True
    written: list[BoardState] = field(default_factory=list)
    written_at: list[float] = field(default_factory=list)
    """``time.monotonic()`` of each write, taken as the hub writes."""

    def writable(self) -> bool:
        return self.open

    def send_update(self, state: BoardState) -> None:
        self.written_at.append(time.monotonic())
        self.written.append(state)


async def started(hub: Hub, sink: Sink, heartbeat_s: float = 5) -> tuple[BoardStream, asyncio.Task[Push]]:
    """A stream past its snapshot, its task waiting for the next frame."""
    stream = BoardStream(hub, "global", FakeClock(NOV_27), heartbeat_s=heartbeat_s, sink=sink)
    assert (await stream.next()).kind == "snapshot"
    waiting: asyncio.Task[Push] = asyncio.create_task(stream.next())
    await until_on_loop(lambda: stream.waiting, what="the task waits inside next()")
    return stream, waiting


def test_updates_published_in_one_loop_turn_reach_an_idle_connection_as_one_write_of_the_newest() -> None:
    """Three versions in one turn: one write, of v4; the connection's task is not woken."""
    async def scenario() -> tuple[list[int], bool, int]:
        hub = Hub()
        hub.publish(state(1))
        sink = Sink()
        stream, waiting = await started(hub, sink)
        for version in (2, 3, 4):
            hub.publish(state(version))
        await until_on_loop(lambda: sink.written, what="the hub's write")
        woken = waiting.done()
        waiting.cancel()
        return [s.version for s in sink.written], woken, stream.sent_version

    assert asyncio.run(scenario()) == ([4], False, 4)


def test_a_socket_that_does_not_drain_leaves_the_newest_state_to_the_connections_task() -> None:
    """Not writable: nothing is written; the task gets v3 (not v2, not a backlog)."""
    async def scenario() -> tuple[list[int], str, int]:
        hub = Hub()
        hub.publish(state(1))
        sink = Sink(open=False)
        _, waiting = await started(hub, sink)
        hub.publish(state(2))
        hub.publish(state(3))
        push = await asyncio.wait_for(waiting, 2)
        assert push.state is not None
        return [s.version for s in sink.written], push.kind, push.state.version

    assert asyncio.run(scenario()) == ([], "update", 3)


def test_the_snapshot_is_never_written_by_the_hub_but_sent_by_the_task() -> None:
    """Before its first frame a connection takes nothing from the hub: the snapshot comes first."""
    async def scenario() -> tuple[list[int], str, int]:
        hub = Hub()
        sink = Sink()
        stream = BoardStream(hub, "global", FakeClock(NOV_27), heartbeat_s=5, last_seen=0, sink=sink)
        waiting = asyncio.create_task(stream.next())
        await until_on_loop(lambda: stream.waiting, what="the task waits for its snapshot")
        hub.publish(state(1))
        push = await asyncio.wait_for(waiting, 2)
        assert push.state is not None
        return [s.version for s in sink.written], push.kind, push.state.version

    assert asyncio.run(scenario()) == ([], "snapshot", 1)


def test_a_closed_subscription_gets_no_write_even_when_offered_in_the_same_turn() -> None:
    """Unsubscribing (close, or a rollover to the next window) stops the hub's writes at once."""
    async def scenario() -> list[int]:
        hub = Hub()
        hub.publish(state(1))
        sink, witness = Sink(), Sink()
        stream, waiting = await started(hub, sink)
        _, watching = await started(hub, witness)  # written in the same pass as the closed one would be
        hub.publish(state(2))
        stream.close()
        await until_on_loop(lambda: witness.written, what="the hub's write pass")
        waiting.cancel()
        watching.cancel()
        return [s.version for s in sink.written]

    assert asyncio.run(scenario()) == []


def test_no_heartbeat_follows_an_update_the_hub_wrote_until_a_full_heartbeat_interval_after_it() -> None:
    """The heartbeat counts from the last frame, whoever wrote it."""
    async def scenario() -> tuple[str, float]:
        hub = Hub()
        hub.publish(state(1))
        sink = Sink()
        _, waiting = await started(hub, sink, heartbeat_s=HEARTBEAT_S)
        done, _ = await asyncio.wait({waiting}, timeout=HEARTBEAT_S / 4)  # a quarter of the interval passes quietly
        assert not done
        hub.publish(state(2))
        await until_on_loop(lambda: sink.written, what="the hub's write")
        assert [s.version for s in sink.written] == [2]
        # the time of the write itself: one taken once the poll above saw it would be late by however
        # long a loaded machine kept this process off the CPU in between
        written = sink.written_at[0]
        push = await asyncio.wait_for(waiting, 5)
        return push.kind, time.monotonic() - written

    kind, after_s = asyncio.run(scenario())
    assert kind == "heartbeat"
    assert after_s >= HEARTBEAT_S - 0.01  # counted from the hub's write, not from when the task began


def test_the_shared_websocket_frame_is_the_json_text_in_one_unmasked_text_frame_of_any_length() -> None:
    """7-bit, 16-bit and 64-bit payload lengths decode back to the same text."""
    for size in (10, 125, 126, 4000, 65535, 65536, 70000):
        payload = b"x" * size
        buffer = bytearray(websocket_text_frame(payload))
        assert parse_frames(buffer) == [(OP_TEXT, payload)]
        assert not buffer
    frame = state(7).websocket_frame("update")
    (opcode, text), = parse_frames(bytearray(frame))
    assert opcode == OP_TEXT and json.loads(text) == state(7).frame("update")
    assert state(7).websocket_frame("update") is frame  # built once, shared


def test_each_write_pass_reports_every_state_it_wrote_once_with_how_many_sockets_took_it() -> None:
    """Two boards' subscriptions offered in one turn, interleaved: one report per state, with its count."""
    async def scenario() -> tuple[list[tuple[str, int, int]], list[str]]:
        hub = Hub()
        reports: list[tuple[str, int, int]] = []

        def report(written: BoardState, count: int) -> None:
            reports.append((written.board, written.version, count))
        hub.on_written = report
        names = ["global" if i % 2 == 0 else "daily" for i in range(5)]
        boards = sorted({resolve(name, NOV_27) for name in names})
        for board in boards:  # before anyone subscribes, as in started(): the snapshot leaves nothing pending
            hub.publish(state(1, board))
        sinks = [Sink() for _ in names]
        streams = [BoardStream(hub, name, FakeClock(NOV_27), heartbeat_s=5, sink=sink)
                   for name, sink in zip(names, sinks, strict=True)]
        waiting: list[asyncio.Task[Push]] = []  # referenced: the loop keeps only weak references to tasks
        for stream in streams:
            assert (await stream.next()).kind == "snapshot"
            waiting.append(asyncio.create_task(stream.next()))
        await until_on_loop(lambda: all(stream.waiting for stream in streams), what="every task waits in next()")
        for board in boards:
            hub.publish(state(2, board))
        await until_on_loop(lambda: all(sink.written for sink in sinks), what="every socket written")
        for task in waiting:
            task.cancel()
        return sorted(reports), [stream.board for stream in streams[:2]]

    reports, (global_board, daily_board) = asyncio.run(scenario())
    assert reports == sorted([(global_board, 2, 3), (daily_board, 2, 2)])
