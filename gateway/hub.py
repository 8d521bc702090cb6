"""Latest state per board, and conflating subscriptions.

A subscription holds only the newest state it has not sent yet, never a queue: a slow client skips
the versions it could not take in time and gets the latest, and publishing never waits on a client.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BoardState:
    board: str
    version: int
    entries: tuple[tuple[int, str, int], ...]
    changed_at_us: int = field(default=0, compare=False)

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


@functools.lru_cache(maxsize=4096)
def _encoded(state: BoardState, kind: str) -> str:
    return json.dumps(state.frame(kind), separators=(",", ":"))


class Subscription:
    def __init__(self, board: str, client: str = "") -> None:
        self.board = board
        self.client = client
        """The client address it counts against (``SCOREBOARD_GATEWAY_MAX_CONNECTIONS_PER_IP``)."""
        self.sent_version = -1
        self._pending: BoardState | None = None
        self._ready = asyncio.Event()

    def offer(self, state: BoardState) -> None:
        if state.version <= self.sent_version:
            return
        if self._pending is None or state.version > self._pending.version:
            self._pending = state
            self._ready.set()

    async def next(self, timeout_s: float | None = None) -> BoardState | None:
        """The newest unsent state, or None when ``timeout_s`` passed first."""
        while True:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout_s)
            except TimeoutError:
                return None
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

    def subscribe(self, board: str, client: str = "") -> Subscription:
        subscription = Subscription(board, client)
        self._subscribers[board].add(subscription)
        self._per_client[client] = self._per_client.get(client, 0) + 1
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.board)
        if subscribers is None or subscription not in subscribers:
            return  # already gone: closing twice counts once
        subscribers.discard(subscription)
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
