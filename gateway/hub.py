"""Latest state per board, and conflating subscriptions.

A subscription holds only the newest state it has not sent yet, never a queue: a slow client skips
the versions it could not take in time and gets the latest, and publishing never waits on a client.

A subscription with a ``FrameSink`` (a WebSocket the gateway can write encoded frames to) whose
connection task is idle takes newer states without waking that task: the hub writes each such
subscription's newest state once per event-loop turn, the same encoded bytes for every client, while
the socket takes them without buffering. Otherwise (a socket that does not drain, a task still busy
with an earlier frame) the task is woken as before and sends the newest state when it can.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

TEXT_FRAME = 0x81
"""FIN + opcode 1: one unfragmented WebSocket text frame."""


@dataclass(frozen=True)
class BoardState:
    board: str
    version: int
    entries: tuple[tuple[int, str, int], ...]
    changed_at_us: int = field(default=0, compare=False)
    received_at: float = field(default=0.0, compare=False)
    """``time.time()`` when this process read the change from the feed (0: not from the feed)."""

    def frame(self, kind: str) -> dict[str, object]:
        return {
            "type": kind,
            "board": self.board,
            "version": self.version,
            "entries": [{"rank": r, "user_id": u, "score": s} for r, u, s in self.entries],
        }

    def frame_text(self, kind: str) -> str:
        """The frame as compact JSON, encoded once per state and kind however many clients get it."""
        return _encoded(self, kind)

    @functools.cached_property
    def update_frame(self) -> bytes:
        """``websocket_frame("update")``, kept on the state: no hashing of the entries per client."""
        return _websocket_frame(self, "update")

    def websocket_frame(self, kind: str) -> bytes:
        """The frame as a whole server-to-client WebSocket text frame (unmasked), built once."""
        return _websocket_frame(self, kind)

    def sse_event(self, kind: str) -> bytes:
        """The frame as one server-sent event (``id:`` the version), built once."""
        return _sse_event(self, kind)


@functools.lru_cache(maxsize=4096)
def _encoded(state: BoardState, kind: str) -> str:
    return json.dumps(state.frame(kind), separators=(",", ":"))


@functools.lru_cache(maxsize=1024)
def _websocket_frame(state: BoardState, kind: str) -> bytes:
    return websocket_text_frame(_encoded(state, kind).encode())


@functools.lru_cache(maxsize=1024)
def _sse_event(state: BoardState, kind: str) -> bytes:
    return f"event: leaderboard\nid: {state.version}\ndata: {_encoded(state, kind)}\n\n".encode()


def websocket_text_frame(payload: bytes) -> bytes:
    """RFC 6455 5.2: FIN, text opcode, no mask, then the 7-, 16- or 64-bit payload length."""
    size = len(payload)
    if size < 126:
        header = bytes((TEXT_FRAME, size))
    elif size < 1 << 16:
        header = bytes((TEXT_FRAME, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((TEXT_FRAME, 127)) + size.to_bytes(8, "big")
    return header + payload


class FrameSink(Protocol):
    """Where a subscription's updates can be written without its connection's task."""

    def writable(self) -> bool:
        """True while a frame written now would leave at once (open, and the write buffer drained)."""
        ...

    def send_update(self, state: BoardState) -> None:
        """Write ``state`` as an ``update`` frame; only called when ``writable()``."""
        ...


@dataclass(frozen=True)
class WritePass:
    """One write pass of the hub, in ``time.time()`` seconds (comparable with the change time)."""

    started: float
    first_write: float
    """Just after the first socket of the pass was written."""
    finished: float
    """Just after the last socket of the pass was written."""
    written: tuple[tuple[BoardState, int], ...]
    """Each state written in the pass, with how many sockets took it (in order of first write)."""
    left_to_tasks: int = 0
    """Subscriptions of the pass whose socket did not take the state at once: their task sends it."""


class Subscription:
    def __init__(self, board: str, client: str = "", sink: FrameSink | None = None,
                 schedule: Callable[[Subscription], None] | None = None) -> None:
        self.board = board
        self.client = client
        """The client address it counts against (``SCOREBOARD_GATEWAY_MAX_CONNECTIONS_PER_IP``)."""
        self.sent_version = -1
        self.written_at = float("-inf")
        """``time.monotonic()`` of the last update the hub wrote to the sink itself (-inf: none yet)."""
        self._pending: BoardState | None = None
        self._ready = asyncio.Event()
        self._sink = sink
        self._schedule = schedule
        self._idle = False  # the connection's task waits in next() and lets the hub write updates
        self._scheduled = False
        self.waiting = False
        """The connection's task is waiting in ``next`` (for tests and diagnostics)."""

    def offer(self, state: BoardState) -> None:
        if state.version <= self.sent_version:
            return
        if self._pending is None or state.version > self._pending.version:
            self._pending = state
            if self._idle and self._schedule is not None:
                if not self._scheduled:
                    self._scheduled = True
                    self._schedule(self)
            else:
                self._ready.set()

    def detach(self) -> None:
        """No more writes to the sink (unsubscribed: closed, or moved to the next window's board)."""
        self._sink = None
        self._idle = False

    def flush(self, now: float) -> BoardState | None:
        """Write the pending state to the sink (the hub calls it once per loop turn), or wake the task.
        The state written, if any."""
        self._scheduled = False
        state = self._pending
        if state is None or state.version <= self.sent_version:
            self._pending = None
            return None
        if self._idle and self._sink is not None and self._sink.writable():
            self._pending = None
            self.sent_version = state.version
            self.written_at = now
            self._sink.send_update(state)
            return state
        self._ready.set()
        return None

    async def next(self, timeout_s: float | None = None, hand_off: bool = False) -> BoardState | None:
        """The newest unsent state, or None when ``timeout_s`` passed first. With ``hand_off`` (the
        client has its snapshot), newer states meanwhile go straight to the sink while it drains."""
        while True:
            self._idle = hand_off and self._sink is not None
            self.waiting = True
            try:
                await asyncio.wait_for(self._ready.wait(), timeout_s)
            except TimeoutError:
                return None
            finally:
                self._idle = self.waiting = False
            self._ready.clear()
            state, self._pending = self._pending, None
            if state is not None and state.version > self.sent_version:
                self.sent_version = state.version
                return state


class Hub:
    def __init__(self) -> None:
        self._latest: dict[str, BoardState] = {}
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._per_client: dict[str, int] = {}
        self._due: list[Subscription] = []
        self.on_written: Callable[[BoardState, int], None] | None = None
        """Called after each write pass with each state the hub wrote and to how many sockets."""
        self.on_pass: Callable[[WritePass], None] | None = None
        """Called after each write pass that wrote to at least one socket, with its times."""

    def latest(self, board: str) -> BoardState:
        return self._latest.get(board) or BoardState(board, 0, ())

    def publish(self, state: BoardState) -> bool:
        """Record a new state; stale or repeated versions are ignored. True when it was newer."""
        current = self._latest.get(state.board)
        if current is not None and state.version <= current.version:
            return False
        self._latest[state.board] = state
        for subscription in self._subscribers.get(state.board, ()):
            subscription.offer(state)
        return True

    def subscribe(self, board: str, client: str = "", sink: FrameSink | None = None) -> Subscription:
        subscription = Subscription(board, client, sink, self._schedule if sink is not None else None)
        self._subscribers[board].add(subscription)
        self._per_client[client] = self._per_client.get(client, 0) + 1
        return subscription

    def _schedule(self, subscription: Subscription) -> None:
        if not self._due:
            asyncio.get_running_loop().call_soon(self._flush)
        self._due.append(subscription)

    def _flush(self) -> None:
        """One pass per loop turn over the subscriptions offered a state since the last one."""
        due, self._due = self._due, []
        started = time.time()
        now = time.monotonic()
        # Counted per run of the same state (a pass writes one state per board, so runs are long):
        # nothing per socket but an identity test, no hashing of the entries.
        written: list[tuple[BoardState, int]] = []
        last: BoardState | None = None
        count = 0
        first_write = 0.0
        left = 0
        for subscription in due:
            state = subscription.flush(now)
            if state is None:
                if subscription._ready.is_set():
                    left += 1
                continue
            if state is not last:
                if last is not None:
                    written.append((last, count))
                else:
                    first_write = time.time()
                last, count = state, 0
            count += 1
        if last is None:
            return
        written.append((last, count))
        finished = time.time()
        totals: dict[int, tuple[BoardState, int]] = {}  # by id(): no hashing of the entries
        for state, run in written:
            total = totals.get(id(state))
            totals[id(state)] = (state, run + (total[1] if total is not None else 0))
        if self.on_written is not None:
            for state, total_count in totals.values():
                self.on_written(state, total_count)
        if self.on_pass is not None:
            self.on_pass(WritePass(started, first_write, finished, tuple(totals.values()), left))

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.board)
        if subscribers is None or subscription not in subscribers:
            return  # already gone: closing twice counts once
        subscribers.discard(subscription)
        subscription.detach()
        if not subscribers:
            del self._subscribers[subscription.board]
        left = self._per_client[subscription.client] - 1
        if left:
            self._per_client[subscription.client] = left
        else:
            del self._per_client[subscription.client]

    def subscriber_count(self, board: str) -> int:
        """Open subscriptions of one board."""
        return len(self._subscribers.get(board, ()))

    def connection_count(self, client: str | None = None) -> int:
        """Open subscriptions: all of them, or those of one client address."""
        if client is not None:
            return self._per_client.get(client, 0)
        return sum(len(s) for s in self._subscribers.values())

    def lagging_count(self) -> int:
        """Subscriptions not yet handed their board's latest state: slow or stalled clients."""
        behind = 0
        for board, subscriptions in self._subscribers.items():
            latest = self._latest.get(board)
            if latest is not None:
                behind += sum(1 for s in subscriptions if s.sent_version < latest.version)
        return behind
