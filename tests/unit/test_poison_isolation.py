"""A record that fails on its own is isolated and set aside; the rest of its batch goes on, in order.
Transient failures are retried (the worker is then not ready), never mistaken for poison."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import redis.exceptions

from scoreboard.adapters import codec
from scoreboard.adapters.publishing import PublishFailed
from scoreboard.domain.errors import ConfigurationError, DecodeError
from scoreboard.domain.events import ActionCompleted, RejectedAction
from scoreboard.domain.scoring import Rejection
from scoreboard.domain.signing import SigningKeyring
from scoreboard.domain.topics import REJECTED
from stream_app.agent import (
    is_transient,
    merge_reports,
    process_isolating_poison,
    process_until_durable,
    set_aside_until_done,
)
from stream_app.observability import BatchHealth, WorkerMetrics
from stream_app.pipeline import BatchReport, Pipeline, RawRecord


def records(count: int, partitions: int = 3) -> list[RawRecord]:
    return [RawRecord(f"user-{i % partitions}".encode(), f"value-{i}".encode(), i % partitions, i // partitions)
            for i in range(count)]


def report_of(batch: Sequence[RawRecord]) -> BatchReport:
    return BatchReport(accepted=len(batch), replayed=0, duplicates=0, rejected=0, boards_changed=1,
                       event_ids=tuple((r.value or b"").decode() for r in batch))


@dataclass
class FakePipeline:
    """Fails (non-transiently) every batch holding a poison record; else makes the batch durable."""

    poison: set[bytes]
    error: type[Exception] = psycopg.errors.UniqueViolation
    durable: list[RawRecord] = field(default_factory=list)
    calls: int = 0
    set_aside: list[tuple[RawRecord, BaseException]] = field(default_factory=list)

    async def process(self, batch: Sequence[RawRecord]) -> BatchReport:
        self.calls += 1
        bad = [r for r in batch if r.value in self.poison]
        if bad:
            raise self.error(f"duplicate key value violates unique constraint (record {bad[0].value!r})")
        self.durable.extend(batch)
        return report_of(batch)

    async def aside(self, record: RawRecord, error: BaseException) -> None:
        self.set_aside.append((record, error))


def run(fake: FakePipeline, batch: Sequence[RawRecord]) -> BatchReport:
    return asyncio.run(process_isolating_poison(fake.process, fake.aside, batch))


def test_the_parts_of_a_split_batch_add_up_to_one_report_stage_times_included() -> None:
    """Counts and stage times add, lists follow each other in order."""
    first = BatchReport(2, 0, 1, 0, 3, event_ids=("a", "b"), stage_seconds=(0.5, 0.25, 1.0))
    second = BatchReport(1, 1, 0, 1, 0, event_ids=("c",), rejection_reasons=("cap",), stage_seconds=(1.5, 0.25, 0.5))
    merged = merge_reports(first, second)
    counts = (merged.accepted, merged.replayed, merged.duplicates, merged.rejected, merged.boards_changed)
    assert counts == (3, 1, 1, 1, 3)
    assert merged.event_ids == ("a", "b", "c") and merged.rejection_reasons == ("cap",)
    assert merged.stage_seconds == (2.0, 0.5, 1.5)


def test_a_batch_without_poison_is_processed_once_as_a_whole() -> None:
    batch = records(40)
    fake = FakePipeline(poison=set())
    report = run(fake, batch)
    assert fake.durable == batch and fake.calls == 1 and fake.set_aside == []
    assert report == report_of(batch)


@pytest.mark.parametrize("where", [0, 17, 39])
def test_one_poison_record_is_set_aside_and_every_other_record_is_processed_once_in_order(where: int) -> None:
    batch = records(40)
    poison = batch[where]
    fake = FakePipeline(poison={poison.value or b""})
    report = run(fake, batch)
    assert fake.durable == [r for r in batch if r is not poison], "each other record once, in log order"
    assert [r for r, _ in fake.set_aside] == [poison]
    assert isinstance(fake.set_aside[0][1], psycopg.errors.UniqueViolation)
    assert report.accepted == 39 and report.rejected == 1
    assert report.rejection_reasons == ("poison",)
    assert report.event_ids == tuple((r.value or b"").decode() for r in batch if r is not poison)
    assert fake.calls <= 2 * 6 + 1, "halving finds one record in O(log n) rounds"


def test_several_poison_records_are_each_set_aside_in_log_order() -> None:
    batch = records(33)
    bad = [batch[3], batch[4], batch[20], batch[32]]
    fake = FakePipeline(poison={r.value or b"" for r in bad})
    report = run(fake, batch)
    assert [r for r, _ in fake.set_aside] == bad
    assert fake.durable == [r for r in batch if r not in bad]
    assert (report.accepted, report.rejected) == (29, 4)


def test_nothing_after_the_poison_record_is_processed_before_it_is_set_aside() -> None:
    """Per partition order holds across the set-aside: the records after it wait for it."""
    batch = records(10, partitions=1)
    fake = FakePipeline(poison={b"value-4"})
    seen_when_set_aside: list[int] = []

    async def aside(record: RawRecord, error: BaseException) -> None:
        seen_when_set_aside.extend(r.offset for r in fake.durable)

    asyncio.run(process_isolating_poison(fake.process, aside, batch))
    assert seen_when_set_aside == [0, 1, 2, 3]
    assert [r.offset for r in fake.durable] == [0, 1, 2, 3, 5, 6, 7, 8, 9]


@pytest.mark.parametrize("error", [psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege,
                                   ConfigurationError])
def test_an_error_about_the_environment_is_not_poison_and_propagates(error: type[Exception]) -> None:
    """A missing table would make every record 'poison': the worker must stop instead."""
    fake = FakePipeline(poison={b"value-1"}, error=error)
    with pytest.raises(error):
        run(fake, records(8))
    assert fake.set_aside == [] and fake.durable == []


@pytest.mark.parametrize("error", [
    redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
    redis.exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
    redis.exceptions.ResponseError("MISCONF Redis is configured to save RDB snapshots, but it's currently "
                                   "unable to persist to disk."),
    redis.exceptions.ResponseError("LOADING Redis is loading the dataset in memory"),
    redis.exceptions.ConnectionError("Connection reset by peer"),
    redis.exceptions.TimeoutError("Timeout reading from socket"),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg.errors.SerializationFailure("could not serialize access"),
    PublishFailed("scoreboard.score-changes.v1: Local: Message timed out"),
    ConnectionRefusedError(111, "Connection refused"),
])
def test_transient_errors(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    redis.exceptions.ResponseError("ERR value is not a valid float"),
    redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    redis.exceptions.ResponseError("OOMPH is not a Redis error code"),
    psycopg.errors.UniqueViolation("duplicate key value violates unique constraint \"ledger_event_id_key\""),
    psycopg.errors.NumericValueOutOfRange("bigint out of range"),
    DecodeError("not an event"),
    ValueError("bad"),
])
def test_errors_that_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_a_transient_failure_is_retried_while_the_worker_reports_not_ready_and_never_set_aside() -> None:
    batch = records(5)
    health = BatchHealth()
    attempts: list[bool] = []
    fake = FakePipeline(poison=set())

    async def flaky(part: Sequence[RawRecord]) -> BatchReport:
        attempts.append(health.retrying)
        if len(attempts) <= 2:
            raise redis.exceptions.ReadOnlyError("You can't write against a read only replica.")
        return await fake.process(part)

    async def durably(part: Sequence[RawRecord]) -> BatchReport:
        return await process_until_durable(flaky, part, max_backoff_s=0.01, health=health)

    report = asyncio.run(process_isolating_poison(durably, fake.aside, batch))
    assert attempts == [False, True, True], "not ready from the first transient failure until success"
    assert "ReadOnlyError" not in health.last_error and not health.retrying
    assert fake.durable == batch and fake.set_aside == [] and report.accepted == 5


def test_setting_aside_is_retried_until_it_succeeds_never_dropped() -> None:
    health = BatchHealth()
    tries: list[bool] = []

    async def aside(record: RawRecord, error: BaseException) -> None:
        tries.append(health.retrying)
        if len(tries) < 4:
            raise PublishFailed("scoreboard.rejected.v1: broker down")

    asyncio.run(set_aside_until_done(aside, records(1)[0], ValueError("x"), max_backoff_s=0.01, health=health))
    assert tries == [False, True, True, True] and not health.retrying


# --- Pipeline.set_aside, with fakes around it ---------------------------------------------------------


@dataclass
class FakeLedger:
    fail: bool = False
    kept: list[Rejection] = field(default_factory=list)

    async def record_poison(self, rejection: Rejection) -> None:
        if self.fail:
            raise psycopg.OperationalError("the database is gone")
        self.kept.append(rejection)


@dataclass
class FakePublisher:
    published: list[tuple[str, str, bytes, list[tuple[str, bytes]]]] = field(default_factory=list)

    async def publish(self, topic: str, key: str, value: bytes, headers: Sequence[tuple[str, bytes]] = (),
                      partition: int = -1) -> tuple[int, int]:
        self.published.append((topic, key, value, list(headers)))
        return 0, len(self.published) - 1


@dataclass
class FixedClock:
    now: int = 1_795_000_000_000_000

    def now_us(self) -> int:
        return self.now


def pipeline_with(ledger: FakeLedger, publisher: FakePublisher) -> tuple[Pipeline, SigningKeyring]:
    changes = SigningKeyring("change", "c" * 40)
    fake: Any = ledger, publisher
    pipeline = Pipeline(fake[0], None, fake[1], FixedClock(), SigningKeyring("event", "e" * 40),  # type: ignore[arg-type]
                        changes, source="/tests/poison")
    return pipeline, changes


def poison_record() -> RawRecord:
    event = ActionCompleted("ev-1", "alice", "win-match", "nonce-0001", 100, "v1", 1_795_000_000_000_000)
    return RawRecord(b"alice", codec.encode(event), 2, 41)


@pytest.mark.parametrize("ledger_fails", [False, True])
def test_set_aside_publishes_a_signed_rejected_action_with_reason_poison(ledger_fails: bool) -> None:
    ledger, publisher = FakeLedger(fail=ledger_fails), FakePublisher()
    pipeline, changes = pipeline_with(ledger, publisher)
    error = psycopg.errors.UniqueViolation(
        'duplicate key value violates unique constraint "ledger_event_id_key"\nDETAIL:  Key (event_id)=(ev-1)')
    asyncio.run(pipeline.set_aside(poison_record(), error))

    [(topic, key, value, headers)] = publisher.published
    rejected = codec.decode(value)
    assert topic == REJECTED and key == "alice"
    assert isinstance(rejected, RejectedAction)
    assert rejected.reason.startswith("poison: UniqueViolation: duplicate key value violates")
    assert "\n" not in rejected.reason
    assert (rejected.event_id, rejected.user_id, rejected.source_partition, rejected.source_offset) == (
        "ev-1", "alice", 2, 41)
    changes.verify(REJECTED, -1, key.encode(), value, headers)  # the gateway/consumers' check
    if ledger_fails:
        assert ledger.kept == [], "best effort: a failing insert does not stop the rejection"
    else:
        assert [(r.partition, r.offset, r.event_id, r.reason) for r in ledger.kept] == [
            (2, 41, "ev-1", rejected.reason)]


def test_undecodable_poison_is_set_aside_without_an_event_id_and_a_rebuild_does_not_announce_it() -> None:
    ledger, publisher = FakeLedger(), FakePublisher()
    pipeline, _ = pipeline_with(ledger, publisher)
    record = RawRecord(b"bob\x00", b"\xc3\x01garbage", 0, 7)
    asyncio.run(pipeline.set_aside(record, KeyError("boom")))
    [(_, key, value, _)] = publisher.published
    rejected = codec.decode(value)
    assert isinstance(rejected, RejectedAction)
    assert rejected.event_id == "" and rejected.reason == "poison: KeyError: 'boom'" and "\x00" not in key
    asyncio.run(pipeline.set_aside(record, KeyError("boom"), announce=False))
    assert len(publisher.published) == 1 and len(ledger.kept) == 2


def test_the_worker_counts_poison_records_under_the_documented_metric_name() -> None:
    from prometheus_client import generate_latest

    metrics = WorkerMetrics()
    metrics.poison.inc()
    assert b"scoreboard_worker_poison_records_total 1.0" in generate_latest(metrics.registry)


class FakeWeb:
    def json(self, value: dict[str, Any], status: int = 200) -> tuple[int, dict[str, Any]]:
        return status, value


class FakeApp:
    """Collects the pages ``attach_endpoints`` registers (Faust's ``app.page`` decorator)."""

    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}

    def page(self, path: str) -> Any:
        def register(handler: Any) -> Any:
            self.pages[path] = handler
            return handler
        return register


def test_readyz_answers_503_while_the_batch_in_hand_is_retried_after_a_transient_failure() -> None:
    from stream_app.observability import attach_endpoints

    async def answering() -> bool:
        return True

    metrics, app = WorkerMetrics(), FakeApp()
    attach_endpoints(app, metrics, {"redis": answering})  # type: ignore[arg-type]

    def readyz() -> tuple[int, dict[str, Any]]:
        answer: tuple[int, dict[str, Any]] = asyncio.run(app.pages["/readyz"](FakeWeb(), None))
        return answer

    assert readyz() == (200, {"status": "ready", "checks": {"redis": "ok", "batches": "ok"}})
    metrics.health.failed(redis.exceptions.ResponseError("OOM command not allowed"))
    assert readyz() == (503, {"status": "unavailable", "checks": {"redis": "ok", "batches": "retrying"}})
    metrics.health.succeeded()
    assert readyz()[0] == 200
