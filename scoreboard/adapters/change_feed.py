"""Tails ``scoreboard.leaderboard-changes.v1``: every partition, from the beginning, without a consumer
group, so every reader (each gateway, each api process) holds the whole latest state by itself.

Only records a worker signed (the change signing key, ``scoreboard.domain.signing``) are trusted: anyone
who can write to the topic could otherwise push any board, or a huge version a reader would keep.
What a reader does with a change is its own (``ChangeFeed.changed``): the gateway pushes it, the api
keeps the board's first page in memory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from scoreboard.adapters import codec
from scoreboard.domain.errors import DecodeError
from scoreboard.domain.events import LeaderboardChanged
from scoreboard.domain.signing import ANY_PARTITION, SignatureInvalid, SigningKeyring
from scoreboard.domain.topics import LEADERBOARD_CHANGES

log = logging.getLogger(__name__)
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 10.0
Headers = Sequence[tuple[str, bytes]]


class ChangeConsumer(Protocol):
    """The part of ``AIOKafkaConsumer`` the feed uses; tests hand in a fake."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> Mapping[TopicPartition, Sequence[Any]]: ...
    def assignment(self) -> set[TopicPartition]: ...
    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...
    async def position(self, partition: TopicPartition) -> int: ...


def kafka_consumer(bootstrap: str, extra: Mapping[str, Any] | None = None) -> Callable[[], ChangeConsumer]:
    """``extra``: more AIOKafkaConsumer arguments, e.g. scoreboard.adapters.kafka_security.aiokafka_config."""
    def build() -> ChangeConsumer:
        # Without a group id, a subscription gets every partition and starts from the earliest offset.
        consumer: ChangeConsumer = AIOKafkaConsumer(
            LEADERBOARD_CHANGES, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
            auto_offset_reset="earliest", **(extra or {}))
        return consumer
    return build


class ChangeFeed:
    """Consumes forever and hands every signed, decodable ``LeaderboardChanged`` to ``changed``.

    ``sources``: the ``ce_source`` values taken (empty: every worker's), so readers of one test world
    follow only that world's workers. ``caught_up`` is set once the feed read every partition up to
    the end it had when it (first) connected; ``connected`` is false while the broker is lost."""

    def __init__(self, consumers: Callable[[], ChangeConsumer], keyring: SigningKeyring,
                 first_retry_s: float = FIRST_RETRY_S, sources: frozenset[str] = frozenset()) -> None:
        self._consumers = consumers
        self._keyring = keyring
        self._sources = sources
        self._first_retry_s = first_retry_s
        self.forged = 0
        """Change records ignored because they were not signed by a worker."""
        self.caught_up = asyncio.Event()
        self.connected = False
        self.reconnects = 0

    def changed(self, event: LeaderboardChanged, headers: Headers | None) -> None:
        """Called once per authentic change record, in the topic's order within each partition."""
        raise NotImplementedError

    async def run(self) -> None:
        """Consume forever. A broker that is down at start or goes away later is retried with backoff;
        while connected, aiokafka itself reconnects to a restarted broker and resumes at its position."""
        delay = self._first_retry_s
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of the feed must not end it
                if self.connected:
                    delay = self._first_retry_s
                self.connected = False
                self.reconnects += 1
                log.warning("leaderboard feed failed (%r); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def _consume(self) -> None:
        consumer = self._consumers()
        await consumer.start()
        try:
            end: dict[TopicPartition, int] = {}
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                self.connected = True
                for records in batches.values():
                    for record in records:
                        if self._sources and _source_of(record) not in self._sources:
                            continue
                        if self._authentic(record):
                            self._apply(record.value, getattr(record, "headers", None))
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

    def _authentic(self, record: Any) -> bool:
        try:
            self._keyring.verify(LEADERBOARD_CHANGES, ANY_PARTITION, getattr(record, "key", None) or b"",
                                 record.value or b"", getattr(record, "headers", None))
        except SignatureInvalid as exc:
            self.forged += 1
            log.warning("ignoring a leaderboard change not signed by a worker: %s", exc)
            return False
        return True

    def _apply(self, value: bytes | None, headers: Headers | None) -> None:
        try:
            event = codec.decode(value or b"")
        except DecodeError as exc:
            log.warning("skipping undecodable leaderboard change: %s", exc)
            return
        if isinstance(event, LeaderboardChanged):
            self.changed(event, headers)


def _source_of(record: Any) -> str | None:
    for key, value in getattr(record, "headers", None) or ():
        if key == "ce_source":
            return bytes(value).decode(errors="replace")
    return None
