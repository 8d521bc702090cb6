"""An in-memory stand-in for the Kafka publisher (``stream_app.ports.ChangePublisher``): it keeps what
the broker acknowledged, in order, and can go away after a number of records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scoreboard.adapters import codec
from scoreboard.adapters.publishing import PublishFailed
from scoreboard.domain.events import Event
from stream_app.ports import ChangePublisher, ChangeRecord

Published = tuple[str, str, bytes, tuple[tuple[str, bytes], ...]]
"""(topic, key, value, headers) of an acknowledged record."""


@dataclass
class MemoryPublisher:
    published: list[Published] = field(default_factory=list)
    acks_left: int | None = None
    """How many more records the broker acknowledges before it goes away (None: all of them)."""

    async def publish(self, topic: str, key: str, value: bytes, headers: Sequence[tuple[str, bytes]] = (),
                      partition: int = -1, timestamp_ms: int = 0) -> tuple[int, int]:
        if self.acks_left is not None:
            if self.acks_left <= 0:
                raise PublishFailed(f"{topic}: the broker is gone")
            self.acks_left -= 1
        self.published.append((topic, key, value, tuple(headers)))
        return max(partition, 0), len(self.published) - 1

    async def publish_many(self, records: Sequence[ChangeRecord]) -> None:
        for topic, key, value, headers in records:
            await self.publish(topic, key, value, headers)

    def events(self, topic: str | None = None) -> list[Event]:
        """The acknowledged records' values, decoded, in order (of one topic, if given)."""
        return [codec.decode(value) for t, _, value, _ in self.published if topic is None or t == topic]


if TYPE_CHECKING:  # mypy checks that the fake is the port
    _port: ChangePublisher = MemoryPublisher()
