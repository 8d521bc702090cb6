"""The worker's audit records on the actions topic: a flag and held points are written, signed with the
change key; read back they change nothing; the same records from anyone else are refused."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.domain.detection import Flag, Observation
from scoreboard.domain.events import ActionCompleted, LogEvent, PointsHeld, UserFlagged
from scoreboard.domain.signing import ANY_PARTITION, SigningKeyring
from scoreboard.domain.topics import ACTIONS
from stream_app.pipeline import Pipeline, RawRecord
from tests.support.memory_boards import MemoryBoards
from tests.support.memory_ledger import MemoryLedger
from tests.support.memory_publisher import MemoryPublisher

S = 1_000_000
T0 = 1_796_032_800_000_000
EVENTS = SigningKeyring("event", "the api's event signing secret, 32+ bytes")
CHANGES = SigningKeyring("change", "the worker's change signing secret, 32+ bytes")


class Clock:
    def now_us(self) -> int:
        return T0 + 3600 * S


@dataclass
class FlagSecond:
    """Flags ``bot`` on its second action, holding from its first."""

    seen: list[int] = field(default_factory=list)

    def observe(self, obs: Observation) -> list[Flag]:
        self.seen.append(obs.at_us)
        if obs.user_id == "bot" and len(self.seen) == 2:
            return [Flag("bot", "regularity", obs.at_us, self.seen[0], False, {"summary": "periodic"})]
        return []


def record(event: LogEvent | PointsHeld, offset: int, keyring: SigningKeyring = EVENTS,
           partition: int = 0) -> RawRecord:
    value = codec.encode(event)
    headers = cloud_event_headers(event.event_id, type(event).__name__, "/tests", event.occurred_at_us)
    bound = partition if keyring is EVENTS else ANY_PARTITION
    signed = keyring.sign(ACTIONS, bound, event.user_id.encode(), value, headers)
    return RawRecord(event.user_id.encode(), value, partition, offset, signed, event.occurred_at_us)


def act(nonce: str, at: int) -> ActionCompleted:
    return ActionCompleted(f"bot/{nonce}", "bot", "match", nonce, 100, "c1", at)


def pipeline(ledger: MemoryLedger, publisher: MemoryPublisher) -> Pipeline:
    return Pipeline(ledger, MemoryBoards(), publisher, Clock(), EVENTS, CHANGES)


def audit_of(publisher: MemoryPublisher) -> list[tuple[object, Sequence[tuple[str, bytes]]]]:
    return [(codec.decode(v), h) for t, _, v, h in publisher.published if t == ACTIONS]


def test_a_flag_and_the_points_held_after_it_are_written_as_signed_audit_records() -> None:
    ledger, publisher = MemoryLedger(detectors={0: FlagSecond()}), MemoryPublisher()
    report = asyncio.run(pipeline(ledger, publisher).process(
        [record(act(f"n{i}", T0 + i * 400 * S), i) for i in range(4)]))
    assert report.accepted == 4
    audit = audit_of(publisher)
    kinds = [type(event).__name__ for event, _ in audit]
    assert kinds == ["UserFlagged", "PointsHeld", "PointsHeld"]
    flagged = audit[0][0]
    assert isinstance(flagged, UserFlagged)
    assert (flagged.detector, flagged.flagged_by, flagged.source_offset, flagged.hold_from_us) == (
        "regularity", "worker", 1, T0)
    assert [e.held_total for e, _ in audit[1:] if isinstance(e, PointsHeld)] == [100, 200]
    for event, headers in audit:
        value = codec.encode(event)  # type: ignore[arg-type]
        CHANGES.verify(ACTIONS, ANY_PARTITION, b"bot", value, headers)


def test_the_audit_records_read_back_change_nothing() -> None:
    ledger, publisher = MemoryLedger(detectors={0: FlagSecond()}), MemoryPublisher()
    worker = pipeline(ledger, publisher)
    asyncio.run(worker.process([record(act(f"n{i}", T0 + i * 400 * S), i) for i in range(3)]))
    before = (dict(ledger.standings), dict(ledger.reviews), dict(ledger.entries))
    echoed = [RawRecord(k.encode(), v, 0, 10 + i, h, T0) for i, (t, k, v, h) in enumerate(publisher.published)
              if t == ACTIONS]
    report = asyncio.run(worker.process(echoed))
    assert report.audit_records == len(echoed) == 2
    assert (report.accepted, report.rejected) == (0, 0)
    assert (dict(ledger.standings), dict(ledger.reviews), dict(ledger.entries)) == before


def test_a_flag_or_held_points_from_anyone_but_a_worker_is_refused() -> None:
    """Unsigned: ``signature``. Signed with the api's key, a PointsHeld is no command (``undecodable``);
    a UserFlagged signed by the api is a moderator's flag, which is a command."""
    ledger, publisher = MemoryLedger(), MemoryPublisher()
    held = PointsHeld("held/x", "bot", "x", "match", 10**9, 10**9, T0)
    unsigned = RawRecord(b"bot", codec.encode(held), 0, 0, cloud_event_headers("held/x", "PointsHeld", "/x", T0), T0)
    report = asyncio.run(pipeline(ledger, publisher).process([unsigned, record(held, 1)]))
    assert report.rejection_reasons == ("signature", "undecodable")
    flag = UserFlagged("f", "bot", "manual", "{}", T0, False, "mod", -1, -1, T0)
    asyncio.run(pipeline(ledger, publisher).process([record(flag, 2)]))
    assert ledger.reviews["bot"].holding
