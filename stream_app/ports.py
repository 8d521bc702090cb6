"""The worker's ports: what ``stream_app.pipeline.Pipeline`` needs of the ledger, the boards and Kafka.

Each is exactly the part of its adapter the pipeline calls, so a test can hand in an in-memory fake
(``tests/support/memory_ledger.py``, ``memory_boards.py``, ``memory_publisher.py``) where production
hands in ``projections.ledger.Ledger``, ``projections.ranking.RedisBoards`` and
``scoreboard.adapters.publishing.Publisher``. One contract suite (``tests/contracts/``) runs against
both, so a fake cannot drift from the adapter it stands in for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from projections.ledger import AppliedBatch
from projections.ranking import BoardUpdate
from scoreboard.domain.events import BoardEntry
from scoreboard.domain.scoring import Positioned, Rejection, Standing

ChangeRecord = tuple[str, str, bytes, Sequence[tuple[str, bytes]]]
"""(topic, key, value, headers) of one record the worker writes."""


class LedgerPort(Protocol):
    """Decides what counts, durably: step (1) of the pipeline."""

    async def apply_batch(self, batch: Sequence[Positioned], now_us: int) -> AppliedBatch:
        """Apply the batch atomically (all or nothing). Events at log positions already applied are
        replays: they change nothing, and their ledger entries, rejections and current standings
        come back in the ``AppliedBatch`` to be sent downstream again."""
        ...

    async def record_poison(self, rejection: Rejection) -> None:
        """Keep a record set aside as poison among the rejections (a second time is a no-op), so a
        replay of its offset re-announces it."""
        ...


class BoardsPort(Protocol):
    """The ranked boards: step (2) of the pipeline, and where a published top N is read back."""

    @property
    def top_n(self) -> int:
        """How many entries a LeaderboardChanged carries."""
        ...

    async def apply(self, board: str, standings: Iterable[tuple[str, Standing]], now_us: int) -> BoardUpdate:
        """Write absolute standings (one not above the stored ``seq`` is refused), atomically; report
        whether the top N changed and the board's version (``max(previous + 1, now_us)`` on a change)."""
        ...

    async def top(self, board: str, limit: int = 10) -> tuple[int, list[BoardEntry]]:
        """The board's version and its first ``limit`` entries."""
        ...

    async def versions(self, boards: Iterable[str]) -> dict[str, int]:
        """The current version of each of ``boards`` (0 for one never changed)."""
        ...


class ChangePublisher(Protocol):
    """Kafka, for the change topics: step (3) of the pipeline. Returns only once the broker acknowledged."""

    async def publish(self, topic: str, key: str, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        """Send one record and wait for its acknowledgement; returns (partition, offset)."""
        ...

    async def publish_many(self, records: Sequence[ChangeRecord]) -> None:
        """Send all records and wait until every one is acknowledged."""
        ...
