"""The worker's detectors, one ``PartitionDetectors`` per partition of the actions topic, kept in memory
across batches and warmed from the ledger whenever they may be stale.

The detectors' state is a function of the partition's accepted actions within their horizon (event
time, ``DetectionConfig.horizon_us``), and the ledger holds every accepted action with its evidence.
So the state need not be stored: a partition's detectors are rebuilt from the ledger's entries of the
last horizon whenever the partition's applied position is not the one they last saw (a new worker,
a rebalance, a batch that rolled back). Live, after a restart and in a rebuild they have seen the
same actions in the same order, so they raise the same flags.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

from psycopg import AsyncConnection

from scoreboard.domain.batch_state import ADMIN_NONCE_PREFIX
from scoreboard.domain.detection import DetectionConfig, PartitionDetectors
from scoreboard.domain.records import ENTRY_FIELDS, LedgerEntry
from scoreboard.domain.scoring import observation

log = logging.getLogger(__name__)
_COLUMNS = ", ".join("l." + ("kafka_partition" if f == "partition" else "kafka_offset" if f == "offset" else f)
                     for f in ENTRY_FIELDS)


class DetectorPool:
    def __init__(self, config: DetectionConfig) -> None:
        self._config = config
        self._by_partition: dict[int, tuple[int, PartitionDetectors]] = {}
        """partition -> (the next offset they expect, the detectors)."""

    async def ready(self, conn: AsyncConnection, next_offsets: Mapping[int, int]) -> dict[int, PartitionDetectors]:
        """The detectors of each partition, as of its applied position ``next_offsets[p]`` (read in the
        batch's transaction, with the partition's row locked)."""
        for partition, next_offset in next_offsets.items():
            have = self._by_partition.get(partition)
            if have is None or have[0] != next_offset:
                self._by_partition[partition] = (next_offset, await self._warm(conn, partition, next_offset))
        return {p: self._by_partition[p][1] for p in next_offsets}

    def advanced(self, next_offsets: Mapping[int, int]) -> None:
        """The batch committed: the detectors are now at these positions."""
        for partition, next_offset in next_offsets.items():
            have = self._by_partition.get(partition)
            if have is not None:
                self._by_partition[partition] = (next_offset, have[1])

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._by_partition.pop(partition, None)

    async def _warm(self, conn: AsyncConnection, partition: int, next_offset: int) -> PartitionDetectors:
        detectors = PartitionDetectors(self._config)
        if next_offset == 0:
            return detectors
        started = time.perf_counter()
        cur = await conn.execute("SELECT max(occurred_at_us) FROM ledger WHERE kafka_partition = %s"
                                 " AND kafka_offset < %s", (partition, next_offset))
        row = await cur.fetchone()
        if row is None or row[0] is None:
            return detectors
        since = row[0] - self._config.horizon_us
        cur = await conn.execute(
            f"SELECT {_COLUMNS}, coalesce(u.first_seen_us, l.occurred_at_us) FROM ledger l"
            " LEFT JOIN user_profiles u ON u.user_id = l.user_id"
            " WHERE l.kafka_partition = %s AND l.occurred_at_us > %s AND l.kafka_offset < %s"
            " AND l.nonce NOT LIKE %s ORDER BY l.kafka_offset",
            (partition, since, next_offset, ADMIN_NONCE_PREFIX + "%"))
        count = 0
        for row in await cur.fetchall():
            detectors.observe(observation(LedgerEntry(*row[:-1]), row[-1]))
            count += 1
        log.info("detectors of partition %d warmed from %d ledger entries in %.2f s", partition, count,
                 time.perf_counter() - started)
        return detectors
