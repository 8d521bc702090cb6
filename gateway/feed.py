"""Tails ``scoreboard.leaderboard-changes.v1`` into the hub: every partition, from the beginning,
without a consumer group, so every gateway instance holds the whole latest state by itself."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from gateway.hub import BoardState, Hub
from scoreboard import codec
from scoreboard.errors import DecodeError
from scoreboard.events import LeaderboardChanged
from scoreboard.topics import LEADERBOARD_CHANGES

log = logging.getLogger(__name__)


class Feed:
    def __init__(self, bootstrap: str, hub: Hub) -> None:
        self._bootstrap = bootstrap
        self._hub = hub
        self.caught_up = asyncio.Event()
        self.connected = False

    async def run(self) -> None:
        """Consume forever; reconnects by itself after broker failures."""
        delay = 0.5
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                self.connected = False
                log.warning("leaderboard feed lost Kafka (%r); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _consume(self) -> None:
        # Without a group id, a subscription gets every partition and starts from the earliest offset.
        consumer = AIOKafkaConsumer(LEADERBOARD_CHANGES, bootstrap_servers=self._bootstrap,
                                    enable_auto_commit=False, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            end: dict[TopicPartition, int] = {}
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                self.connected = True
                for records in batches.values():
                    for record in records:
                        self._apply(record.value)
                if self.caught_up.is_set():
                    continue
                assigned = consumer.assignment()
                if assigned and not end:
                    end = await consumer.end_offsets(list(assigned))
                if end and all([await consumer.position(tp) >= offset for tp, offset in end.items()]):
                    self.caught_up.set()
        finally:
            self.connected = False
            await consumer.stop()

    def _apply(self, value: bytes | None) -> None:
        try:
            event = codec.decode(value or b"")
        except DecodeError as exc:
            log.warning("skipping undecodable leaderboard change: %s", exc)
            return
        if isinstance(event, LeaderboardChanged):
            entries = tuple((e.rank, e.user_id, e.score) for e in event.entries)
            self._hub.publish(BoardState(event.board, event.board_version, entries))

