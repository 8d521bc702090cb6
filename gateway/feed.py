"""Tails ``scoreboard.leaderboard-changes.v1`` into the hub (``scoreboard.adapters.change_feed``: every
partition, from the beginning, without a consumer group, worker-signed records only), so every gateway
instance holds the whole latest state by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.hub import BoardState, Hub
from scoreboard.adapters.change_feed import (
    FIRST_RETRY_S,
    MAX_RETRY_S,
    ChangeConsumer,
    ChangeFeed,
    Headers,
    kafka_consumer,
)
from scoreboard.adapters.tracing import SpanKind, Tracing, trace_carrier
from scoreboard.domain.events import LeaderboardChanged
from scoreboard.domain.signing import SigningKeyring
from scoreboard.domain.topics import LEADERBOARD_CHANGES

__all__ = ["FIRST_RETRY_S", "MAX_RETRY_S", "ChangeConsumer", "Feed", "kafka_consumer"]


class Feed(ChangeFeed):
    def __init__(self, consumers: Callable[[], ChangeConsumer], hub: Hub, keyring: SigningKeyring,
                 first_retry_s: float = FIRST_RETRY_S, sources: frozenset[str] = frozenset(),
                 tracing: Tracing | None = None) -> None:
        """``tracing``: once caught up, a change record carrying a trace context (the worker's span of the
        event that changed the board) gets a span for pushing its version, continuing that trace."""
        super().__init__(consumers, keyring, first_retry_s=first_retry_s, sources=sources)
        self._tracing = tracing or Tracing()
        self._hub = hub

    def changed(self, event: LeaderboardChanged, headers: Headers | None) -> None:
        entries = tuple((e.rank, e.user_id, e.score) for e in event.entries)
        state = BoardState(event.board, event.board_version, entries, event.changed_at_us, time.time())
        # The history read at start-up is not traced: nobody is subscribed to it yet.
        if not (self._tracing.enabled and self.caught_up.is_set() and trace_carrier(headers)):
            self._hub.publish(state)
            return
        with self._tracing.span("push leaderboard", parent=headers, kind=SpanKind.CONSUMER, attributes={
                "messaging.system": "kafka", "messaging.operation.type": "process",
                "messaging.destination.name": LEADERBOARD_CHANGES, "scoreboard.board": event.board,
                "scoreboard.board_version": event.board_version}) as span:
            newer = self._hub.publish(state)
            if span is not None:
                span.set_attribute("scoreboard.newer", newer)
                span.set_attribute("scoreboard.subscribers", self._hub.subscriber_count(event.board))
