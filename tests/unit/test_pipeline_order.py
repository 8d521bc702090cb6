"""The pipeline's safety order, with in-memory ports: ledger commit, then Redis, then Kafka, and a crash
at any point between them, replayed, ends where no crash would have (docs/pipeline.md's table)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby

import pytest

from producer_api.appender import API_SOURCE
from projections.ledger import AppliedBatch
from projections.ranking import BoardUpdate
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.adapters.publishing import PublishFailed
from scoreboard.domain.catalog import Catalogs, parse_catalog
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import (
    ActionCompleted,
    LeaderboardChanged,
    LogEvent,
    RejectedAction,
    ScoreAdjusted,
    ScoreChanged,
    UserBanned,
    UserUnbanned,
)
from scoreboard.domain.policy import DAY_US, Judge
from scoreboard.domain.scoring import Positioned, Standing
from scoreboard.domain.signing import SigningKeyring
from scoreboard.domain.topics import ACTIONS, LEADERBOARD_CHANGES, REJECTED, SCORE_CHANGES
from stream_app.chaos import STAGES, CrashPlan
from stream_app.pipeline import Pipeline, RawRecord
from stream_app.ports import ChangeRecord
from tests.support.memory_boards import MemoryBoards
from tests.support.memory_ledger import MemoryLedger
from tests.support.memory_publisher import MemoryPublisher

SECOND = 1_000_000
T0 = to_micros(datetime(2026, 11, 30, 10, tzinfo=UTC))
EVENTS = SigningKeyring("event", "the api's event signing secret, 32+ bytes")
CHANGES = SigningKeyring("change", "the worker's change signing secret, 32+ bytes")
CATALOG = parse_catalog({
    "version": "c1",
    "limits": {"max_points_per_hour": 1000, "max_points_per_day": 5000},
    "actions": {"match": {"points": 100, "cooldown_seconds": 60}, "login": {"points": 5, "daily_cap": 1}},
})
JUDGE = Judge(Catalogs(CATALOG, {"c1": CATALOG}), max_skew_us=300 * SECOND)
PARTITION_OF = {"ann": 0, "bob": 0, "cyd": 1, "dee": 1}


class Crash(Exception):
    """The process died here (``CrashPlan`` would ``os._exit``; a unit test raises instead)."""


@dataclass
class CrashAt(CrashPlan):
    """Marks each crash point passed in the journal, and dies at ``stage`` if one is given."""

    stage: str = ""
    journal: list[str] = field(default_factory=list)

    def point(self, stage: str) -> None:
        self.journal.append(stage)
        if stage == self.stage:
            raise Crash(stage)


@dataclass
class RecordingLedger(MemoryLedger):
    journal: list[str] = field(default_factory=list)
    batches: list[list[Positioned]] = field(default_factory=list)

    async def apply_batch(self, batch: Sequence[Positioned], now_us: int) -> AppliedBatch:
        self.journal.append("ledger")
        self.batches.append(list(batch))
        return await super().apply_batch(batch, now_us)


@dataclass
class RecordingBoards(MemoryBoards):
    journal: list[str] = field(default_factory=list)

    async def apply(self, board: str, standings: Iterable[tuple[str, Standing]], now_us: int) -> BoardUpdate:
        self.journal.append("redis")
        return await super().apply(board, standings, now_us)


@dataclass
class RecordingPublisher(MemoryPublisher):
    journal: list[str] = field(default_factory=list)

    async def publish_many(self, records: Sequence[ChangeRecord]) -> None:
        self.journal.append("kafka")
        await super().publish_many(records)


@dataclass
class BatchClock:
    """Each batch is processed at its own time, its replay too, so two runs are comparable."""

    now: int = T0

    def now_us(self) -> int:
        return self.now


@dataclass
class Worker:
    """What a worker leaves behind, across restarts: the ledger, the boards, Kafka's acknowledged records."""

    journal: list[str] = field(default_factory=list)
    clock: BatchClock = field(default_factory=BatchClock)

    def __post_init__(self) -> None:
        self.ledger = RecordingLedger(judge=JUDGE, journal=self.journal)
        self.boards = RecordingBoards(top_n=3, journal=self.journal)
        self.publisher = RecordingPublisher(journal=self.journal)

    def process(self, records: Sequence[RawRecord], *, crash_at: str = "", announce: bool = True) -> None:
        """A fresh pipeline (a restarted process) over the same durable state."""
        pipeline = Pipeline(self.ledger, self.boards, self.publisher, self.clock, EVENTS, CHANGES,
                            source="/tests/worker", crash_plan=CrashAt(stage=crash_at, journal=self.journal))
        asyncio.run(pipeline.process(records, announce=announce))

    def state(self) -> tuple[object, ...]:
        ledger = self.ledger
        return (ledger.entries, ledger.standings, ledger.statuses, ledger.usage, ledger.rejections,
                ledger.ban_history, ledger.next_offsets, self.boards.boards)

    def consumed(self) -> dict[tuple[object, ...], object]:
        """What a consumer keeps of the published changes: each ScoreChanged once by event id, each
        board version once, each rejection once by log position. A repeat must say the same thing."""
        kept: dict[tuple[object, ...], object] = {}
        for event in self.publisher.events():
            if isinstance(event, ScoreChanged):
                key: tuple[object, ...] = ("score", event.event_id)
                said: object = event
            elif isinstance(event, LeaderboardChanged):
                key, said = ("board", event.board, event.board_version), event.entries
            else:
                assert isinstance(event, RejectedAction)
                key, said = ("rejected", event.source_partition, event.source_offset), (event.user_id, event.reason)
            assert kept.setdefault(key, said) == said, f"{key} was published saying two different things"
        return kept

    def latest_boards(self) -> dict[str, LeaderboardChanged]:
        """The newest version of each board published: what a gateway shows."""
        latest: dict[str, LeaderboardChanged] = {}
        for event in self.publisher.events(LEADERBOARD_CHANGES):
            assert isinstance(event, LeaderboardChanged)
            if event.board not in latest or event.board_version > latest[event.board].board_version:
                latest[event.board] = event
        return latest


def signed(event: LogEvent, offset: int, *, keyring: SigningKeyring = EVENTS, signed_partition: int | None = None,
           key: str | None = None) -> RawRecord:
    """The record as the api appends it (``producer_api.appender``): on the user's partition, signed
    for it; the keyword arguments make the forgeries."""
    partition = PARTITION_OF[event.user_id]
    raw_key = (key or event.user_id).encode()
    value = codec.encode(event)
    headers = keyring.sign(ACTIONS, partition if signed_partition is None else signed_partition, raw_key, value,
                           cloud_event_headers(event.event_id, type(event).__name__, API_SOURCE,
                                               event.occurred_at_us))
    return RawRecord(raw_key, value, partition, offset, headers, event.occurred_at_us)


def match(user: str, nonce: str, at: int, points: int = 100) -> ActionCompleted:
    return ActionCompleted(f"{user}/{nonce}", user, "match", nonce, points, "c1", at)


def login(user: str, nonce: str, at: int) -> ActionCompleted:
    return ActionCompleted(f"{user}/{nonce}", user, "login", nonce, 5, "c1", at)


@dataclass
class ActionsLog:
    """Appends to the actions topic as the api does: each user's records on its partition, in order."""

    next_offsets: dict[int, int] = field(default_factory=dict)

    def append(self, event: LogEvent, keyring: SigningKeyring = EVENTS) -> RawRecord:
        partition = PARTITION_OF[event.user_id]
        offset = self.next_offsets.get(partition, 0)
        self.next_offsets[partition] = offset + 1
        return signed(event, offset, keyring=keyring)


def the_log() -> list[list[RawRecord]]:
    """Three batches over two partitions: accepted actions, a cooldown, a cap, retried nonces, an
    adjustment, a ban and its unban, a banned user's action, a negative adjustment and a forgery; the
    last batch's retry touches boards of a day that batch does not change."""
    log = ActionsLog()
    attacker = SigningKeyring("event", "an attacker's own secret, 32+ bytes")
    first = [log.append(match("ann", "n1", T0)), log.append(match("bob", "n1", T0 + SECOND)),
             log.append(login("cyd", "l1", T0 + 2 * SECOND)), log.append(login("dee", "l0", T0 - DAY_US)),
             log.append(login("dee", "l1", T0 + 3 * SECOND))]
    second = [log.append(match("ann", "n2", T0 + 10 * SECOND)), log.append(match("bob", "n1", T0 + 12 * SECOND)),
              log.append(login("cyd", "l2", T0 + 13 * SECOND)),
              log.append(ScoreAdjusted("admin/k1", "dee", 50, "goodwill", "root", "k1", T0 + 14 * SECOND)),
              log.append(UserBanned("ban/bob", "bob", "cheating", "root", T0 + 15 * SECOND)),
              log.append(match("ann", "forged", T0 + 16 * SECOND), keyring=attacker),
              log.append(match("ann", "n3", T0 + 70 * SECOND))]
    third = [log.append(match("bob", "n2", T0 + 200 * SECOND)),
             log.append(UserUnbanned("unban/bob", "bob", "appeal", "root", T0 + 210 * SECOND)),
             log.append(match("cyd", "m1", T0 + 300 * SECOND)),
             log.append(ScoreAdjusted("admin/k2", "ann", -1000, "typo", "root", "k2", T0 + 310 * SECOND)),
             log.append(login("dee", "l0", T0 - DAY_US + SECOND))]
    return [first, second, third]


def run(log: list[list[RawRecord]], *, crash: tuple[int, str] | None = None, announce: bool = True) -> Worker:
    """Process the batches in order; with ``crash`` (batch, stage) that batch first dies at that
    stage (or its publish fails midway) and comes again, as Faust redelivers uncommitted offsets."""
    worker = Worker()
    for number, batch in enumerate(log):
        worker.clock.now = T0 + (number + 1) * 1000 * SECOND
        if crash is not None and crash[0] == number:
            if crash[1] == "kafka_gone_midway":
                worker.publisher.acks_left = 2
                with pytest.raises(PublishFailed):
                    worker.process(batch, announce=announce)
                worker.publisher.acks_left = None
            else:
                with pytest.raises(Crash):
                    worker.process(batch, crash_at=crash[1], announce=announce)
        worker.process(batch, announce=announce)
    return worker


def test_the_ledger_commits_before_redis_is_written_and_redis_before_anything_is_published() -> None:
    """Per batch: one ledger transaction, then every board, then one acknowledged publish, each step
    past its crash point before the next begins."""
    worker = run(the_log())
    steps = [step for step, _ in groupby(worker.journal)]
    assert steps == ["ledger", "after_ledger_commit", "redis", "after_redis_write", "kafka", "after_kafka_publish"] * 3
    assert worker.publisher.published, "the log published changes"


def test_the_log_the_crash_tests_replay_holds_every_kind_of_outcome() -> None:
    """Accepted, duplicate, cooldown, cap, banned, negative-score and signature, on two partitions."""
    worker = run(the_log())
    rejected = [e for e in worker.publisher.events(REJECTED) if isinstance(e, RejectedAction)]
    assert sorted(r.reason.split(":")[0] for r in rejected) == [
        "banned", "cap", "cooldown", "negative-score", "signature"]
    assert worker.boards.order("global") == [("ann", 200), ("cyd", 105), ("bob", 100), ("dee", 60)]
    assert [e.event_id for e in worker.publisher.events(SCORE_CHANGES) if isinstance(e, ScoreChanged)] == [
        "ann/n1", "bob/n1", "cyd/l1", "dee/l0", "dee/l1", "ann/n3", "admin/k1", "cyd/m1"]


@pytest.mark.parametrize("batch", [0, 1, 2])
@pytest.mark.parametrize("stage", [*STAGES, "kafka_gone_midway"])
def test_a_crash_at_any_point_and_its_replay_end_where_no_crash_would(batch: int, stage: str) -> None:
    """Same ledger and usage, same Redis boards (scores, seqs, tie times, versions), and the same
    changes published: a crash adds only repeats (ScoreChanged by event id, a board version, a
    rejection by log position) that say what was said before, and consumers drop."""
    clean = run(the_log())
    crashed = run(the_log(), crash=(batch, stage))
    assert crashed.state() == clean.state()
    assert crashed.consumed() == clean.consumed()
    assert crashed.latest_boards() == clean.latest_boards()


def test_a_rebuild_run_publishes_nothing_and_reaches_the_same_state() -> None:
    """With ``announce=False`` (``scoreboard rebuild``) not a record is published, and the ledger and
    the boards end as a live run's."""
    announced = run(the_log())
    rebuilt = run(the_log(), announce=False)
    assert rebuilt.publisher.published == [] and "kafka" not in rebuilt.journal
    assert "after_kafka_publish" not in rebuilt.journal
    assert rebuilt.state() == announced.state()


def test_records_failing_their_signature_are_rejected_before_the_ledger_sees_them() -> None:
    """Unsigned, signed with another key, copied to another partition, altered after signing, or
    signed but keyed to another user: rejected (``signature``, ``key-mismatch``); the rest applies."""
    good = match("ann", "good", T0)
    altered = signed(match("ann", "altered", T0), 2)
    records = [
        signed(good, 0),
        RawRecord(b"ann", codec.encode(match("ann", "unsigned", T0)), 0, 1),
        RawRecord(altered.key, codec.encode(match("ann", "altered", T0, points=10**6)), 0, 2, altered.headers),
        signed(match("ann", "copied", T0), 3, signed_partition=1),
        signed(match("ann", "other-key", T0), 4, keyring=SigningKeyring("event", "x" * 40)),
        signed(match("ann", "keyed", T0), 5, key="bob"),
    ]
    worker = Worker()
    worker.process(records)
    assert [[(p.partition, p.offset) for p in batch] for batch in worker.ledger.batches] == [[(0, 0)]]
    rejected = [e for e in worker.publisher.events(REJECTED) if isinstance(e, RejectedAction)]
    assert [(r.source_offset, r.reason.split(":")[0]) for r in rejected] == [
        (1, "signature"), (2, "signature"), (3, "signature"), (4, "signature"), (5, "key-mismatch")]
    assert worker.ledger.standings[("global", "ann")] == Standing(100, 1, T0)


def test_a_batch_of_only_bad_records_never_reaches_the_ledger_or_the_boards() -> None:
    """Nothing to apply: the ledger is not called, no board is written, the rejections are published."""
    worker = Worker()
    worker.process([RawRecord(b"ann", codec.encode(match("ann", "n", T0)), 0, 0), RawRecord(None, b"\x00", 0, 1)])
    assert worker.ledger.batches == [] and worker.boards.boards == {}
    assert [e.reason.split(":")[0] for e in worker.publisher.events() if isinstance(e, RejectedAction)] == [
        "signature", "signature"]


def test_a_record_set_aside_is_announced_again_by_a_replay_of_its_batch() -> None:
    """Set aside at offset 1, offset 2 applied, then a crash before the offset commit: the replay
    of offsets 0-2 re-announces the poison rejection with the other records' changes."""
    records = [signed(match("ann", f"n{i}", T0 + i * 100 * SECOND), i) for i in range(3)]
    worker = Worker()
    worker.process(records[:1])
    pipeline = Pipeline(worker.ledger, worker.boards, worker.publisher, worker.clock, EVENTS, CHANGES)
    asyncio.run(pipeline.set_aside(records[1], KeyError("boom")))
    worker.process(records[2:])
    before = len(worker.publisher.published)
    worker.process(records)
    again = [codec.decode(value) for _, _, value, _ in worker.publisher.published[before:]]
    assert [r.reason for r in again if isinstance(r, RejectedAction)] == ["poison: KeyError: 'boom'"]
    assert [c.event_id for c in again if isinstance(c, ScoreChanged)] == ["ann/n0", "ann/n2"]
    assert worker.ledger.standings[("global", "ann")] == Standing(200, 2, T0 + 200 * SECOND)
