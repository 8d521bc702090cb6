"""Where a pushed version's time goes: the hub's write-pass times and the gateway's ``push`` log line."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

from gateway.hub import BoardState, Hub, WritePass
from gateway.stages import GcWatch, pass_logger
from gateway.stream import BoardStream, Push
from scoreboard.runtime.logs import JsonFormatter
from testkit.waits import until_on_loop
from tests.support.gateway_fakes import FakeClock
from tests.unit.test_gateway_direct_writes import NOV_27, Sink


def test_a_write_pass_reports_its_times_in_order_and_the_states_it_wrote() -> None:
    """started <= first write <= finished; one entry per state with its socket count; the socket that
    did not drain is counted as left to its task."""
    async def scenario() -> list[WritePass]:
        hub = Hub()
        passes: list[WritePass] = []
        hub.on_pass = passes.append
        hub.publish(BoardState("global", 1, ((1, "alice", 1),)))
        sinks = [Sink() for _ in range(3)]
        streams = [BoardStream(hub, "global", FakeClock(NOV_27), heartbeat_s=5, sink=sink) for sink in sinks]
        waiting: list[asyncio.Task[Push]] = []
        for stream in streams:
            assert (await stream.next()).kind == "snapshot"
            waiting.append(asyncio.create_task(stream.next()))
        await until_on_loop(lambda: all(stream.waiting for stream in streams), what="every task waits")
        sinks[2].open = False  # not writable: left to its task, not counted
        hub.publish(BoardState("global", 2, ((1, "alice", 2),), changed_at_us=1, received_at=5.0))
        await until_on_loop(lambda: sinks[0].written and sinks[1].written, what="the writable sockets written")
        await until_on_loop(lambda: waiting[2].done(), what="the third task woken")
        for task in waiting:
            task.cancel()
        return passes

    (write_pass,) = asyncio.run(scenario())
    assert write_pass.started <= write_pass.first_write <= write_pass.finished
    ((state, sockets),) = write_pass.written
    assert (state.version, state.received_at, sockets) == (2, 5.0, 2)
    assert write_pass.left_to_tasks == 1


def test_the_push_line_gives_each_stage_in_ms_from_the_change_and_the_collections_between() -> None:
    """received, first and last write relative to the change time; gc time overlapping the window."""
    watch = GcWatch()
    watch.collections.append((10.0100, 10.0150, 2))  # inside the window: 5 ms, generation 2
    watch.collections.append((9.0, 9.5, 1))  # before it: not counted
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("test.gateway.push")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    state = BoardState("global", 7, (), changed_at_us=10_000_000, received_at=10.004)
    pass_logger(watch, logger)(WritePass(10.005, 10.006, 10.030, ((state, 2500),)))
    (record,) = records
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "push"
    assert (line["board"], line["version"], line["sockets"]) == ("global", 7, 2500)
    assert abs(line["received_ms"] - 4) < 0.01 and abs(line["first_write_ms"] - 6) < 0.01
    assert abs(line["last_write_ms"] - 30) < 0.01
    assert abs(line["gc_ms"] - 5) < 0.01 and line["gc_generation"] == 2


def test_the_gc_watch_records_a_collection_while_installed_and_nothing_after() -> None:
    watch = GcWatch()
    watch.install()
    try:
        gc.collect(0)
    finally:
        watch.uninstall()
    recorded = len(watch.collections)
    assert recorded >= 1 and watch.collections[-1][0] <= watch.collections[-1][1]
    gc.collect(0)
    assert len(watch.collections) == recorded
