"""One client's ordered view of one board, shared by the WebSocket and SSE endpoints.

A snapshot first, then only newer versions (conflated by the hub's subscription), a heartbeat when
idle, and for the aliases ``daily``/``weekly`` a switch to the next window when the current one ends:
the client then gets a ``snapshot`` of the new board id, whose versions start a new sequence.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from gateway.hub import BoardState, FrameSink, Hub
from gateway.rollover import next_rollover_us
from scoreboard.domain import boards
from scoreboard.domain.clock import Clock

PushKind = Literal["snapshot", "update", "heartbeat"]


@dataclass(frozen=True)
class Push:
    kind: PushKind
    state: BoardState | None = None


class BoardStream:
    """Subscribes at construction (so it counts against the connection caps at once, the gateway's and
    its ``client`` address's); call ``close``. With a ``sink``, updates after the snapshot may be
    written by the hub itself while ``next`` waits (see ``gateway.hub``); ``next`` returns the rest."""

    def __init__(self, hub: Hub, name: str, clock: Clock, heartbeat_s: float,
                 last_seen: int | None = None, client: str = "", sink: FrameSink | None = None) -> None:
        self._hub = hub
        self._client = client
        self._sink = sink
        self._name = name
        self._clock = clock
        self._heartbeat_s = heartbeat_s
        now = clock.now_us()
        self.board = boards.resolve(name, now)
        self._rollover_us = next_rollover_us(name, now)
        self._subscription = hub.subscribe(self.board, client, sink)
        if last_seen is not None:
            self._subscription.sent_version = last_seen
        self._started = False

    @property
    def sent_version(self) -> int:
        return self._subscription.sent_version

    @property
    def waiting(self) -> bool:
        """The task is waiting in ``next`` for a newer state (or its heartbeat)."""
        return self._subscription.waiting

    def resume(self, version: int) -> None:
        """The client holds ``version``: never send it that or older; the current state follows if newer."""
        self._subscription.sent_version = max(self._subscription.sent_version, version)
        self._subscription.offer(self._hub.latest(self.board))

    async def next(self) -> Push:
        """The next frame to send; a heartbeat after ``heartbeat_s`` without one."""
        if not self._started:
            latest = self._hub.latest(self.board)
            if latest.version > self._subscription.sent_version:
                return self._deliver(latest)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._heartbeat_s
        while True:
            wait_s = deadline - loop.time()
            until_rollover = self._seconds_to_rollover()
            if until_rollover is not None:
                if until_rollover <= 0 and self._roll():
                    return self._deliver(self._hub.latest(self.board))
                wait_s = min(wait_s, max(until_rollover, 0.0))
            state = await self._subscription.next(timeout_s=max(wait_s, 0.0), hand_off=self._started)
            if state is not None:
                return self._deliver(state, already_marked=True)
            if loop.time() >= deadline:
                since_written = time.monotonic() - self._subscription.written_at
                if since_written < self._heartbeat_s:  # the hub wrote an update meanwhile
                    deadline = loop.time() + self._heartbeat_s - since_written
                    continue
                return Push("heartbeat")

    def close(self) -> None:
        self._hub.unsubscribe(self._subscription)

    def _deliver(self, state: BoardState, already_marked: bool = False) -> Push:
        if not already_marked:
            self._subscription.sent_version = max(self._subscription.sent_version, state.version)
        kind: PushKind = "update" if self._started else "snapshot"
        self._started = True
        return Push(kind, state)

    def _seconds_to_rollover(self) -> float | None:
        if self._rollover_us is None:
            return None
        return (self._rollover_us - self._clock.now_us()) / 1_000_000

    def _roll(self) -> bool:
        """Follow the alias into the window that now contains "now"; True when the board id changed."""
        now = self._clock.now_us()
        board = boards.resolve(self._name, now)
        self._rollover_us = next_rollover_us(self._name, now)
        if board == self.board:
            return False
        self._hub.unsubscribe(self._subscription)
        self.board = board
        self._subscription = self._hub.subscribe(board, self._client, self._sink)
        self._started = False  # the new board id starts a new version sequence with a snapshot
        return True
