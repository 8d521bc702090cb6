"""Fakes for the gateway's unit tests: a settable clock and scripted Kafka consumers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from gateway.feed import ChangeConsumer, Feed
from gateway.hub import Hub
from gateway.services import GatewayServices
from scoreboard.domain.signing import ANY_PARTITION, SigningKeyring
from scoreboard.settings import Settings

PARTITION = TopicPartition("scoreboard.leaderboard-changes.v1", 0)
CHANGE_KEYRING = SigningKeyring("change", "unit-test change signing secret, 32+ bytes long")
"""The keyring the fake feed's records are signed with (as a worker would)."""


@dataclass
class FakeClock:
    now: int

    def now_us(self) -> int:
        return self.now


@dataclass
class Record:
    value: bytes | None
    key: bytes = b"global"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def signed(value: bytes, key: bytes = b"global") -> Record:
    """A change record as a worker writes it."""
    return Record(value, key, CHANGE_KEYRING.sign(PARTITION.topic, ANY_PARTITION, key, value, []))


@dataclass
class ScriptedConsumer:
    """Serves ``records`` once, then idles; ``fail_start``/``fail_after`` simulate a lost broker."""

    records: list[bytes | Record] = field(default_factory=list)
    """Values (served signed, as a worker writes them) or ready-made records (e.g. forgeries)."""
    fail_start: bool = False
    fail_after_records: bool = False
    started: bool = False
    stopped: bool = False
    _served: int = 0

    async def start(self) -> None:
        if self.fail_start:
            raise KafkaConnectionError("no broker at this address")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> Mapping[TopicPartition, Sequence[Any]]:
        if self._served < len(self.records):
            batch = [r if isinstance(r, Record) else signed(r) for r in self.records[self._served:]]
            self._served = len(self.records)
            return {PARTITION: batch}
        if self.fail_after_records:
            raise KafkaConnectionError("broker went away")
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {PARTITION: len(self.records)}

    async def position(self, partition: TopicPartition) -> int:
        return self._served


def consumers_from(script: list[ScriptedConsumer]) -> Callable[[], ChangeConsumer]:
    """Hands out the scripted consumers in order; the last one again once the script is used up."""
    handed: list[ScriptedConsumer] = []

    def build() -> ChangeConsumer:
        consumer = script[min(len(handed), len(script) - 1)]
        handed.append(consumer)
        return consumer
    return build


def gateway_services(settings: Settings, clock: FakeClock | None = None,
                     script: list[ScriptedConsumer] | None = None) -> GatewayServices:
    hub = Hub()
    feed = Feed(consumers_from(script or [ScriptedConsumer()]), hub, CHANGE_KEYRING)
    return GatewayServices(settings, hub, feed, clock or FakeClock(1_795_000_000_000_000))
