"""retry_kafka retries what the broker says will pass (coordinator moving, leader election, timeouts),
bounded in attempts and time, and raises anything else at once."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from confluent_kafka import KafkaError, KafkaException

from scoreboard.adapters.kafka_retry import (
    group_not_found,
    is_retriable,
    raise_for_error,
    retry_kafka,
)


@dataclass
class Flaky:
    """Raises ``errors`` in turn, then returns ``result``."""

    errors: list[BaseException]
    result: str = "done"
    calls: int = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def kafka(code: int, text: str = "") -> KafkaException:
    return KafkaException(KafkaError(code, text or f"code {code}"))


@pytest.mark.parametrize("code", [KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                                  KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.LEADER_NOT_AVAILABLE,
                                  KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._TIMED_OUT,
                                  KafkaError.REQUEST_TIMED_OUT, KafkaError._TRANSPORT])
def test_passing_broker_errors_are_retried_until_the_call_succeeds(code: int) -> None:
    call = Flaky([kafka(code), kafka(code)])
    assert retry_kafka(call, attempts=5, deadline_s=10, first_backoff_s=0.001) == "done"
    assert call.calls == 3


def test_an_error_the_broker_marks_retriable_is_retried_whatever_its_code() -> None:
    marked = KafkaException(KafkaError(KafkaError.UNKNOWN, "try again", retriable=True))
    assert is_retriable(marked)
    assert retry_kafka(Flaky([marked]), first_backoff_s=0.001) == "done"


@pytest.mark.parametrize("error", [
    kafka(KafkaError.TOPIC_AUTHORIZATION_FAILED),
    kafka(KafkaError.INVALID_PARTITIONS),
    KafkaException(KafkaError(KafkaError.NOT_COORDINATOR, "fatal", fatal=True)),
    KafkaException("no KafkaError inside"),
])
def test_other_errors_are_raised_at_once(error: KafkaException) -> None:
    call = Flaky([error])
    with pytest.raises(KafkaException) as raised:
        retry_kafka(call, first_backoff_s=0.001)
    assert raised.value is error and call.calls == 1


def test_non_kafka_exceptions_pass_through_untouched() -> None:
    call = Flaky([ValueError("bug")])
    with pytest.raises(ValueError):
        retry_kafka(call)
    assert call.calls == 1


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    errors: list[BaseException] = [kafka(KafkaError.NOT_COORDINATOR, f"try {i}") for i in range(10)]
    call = Flaky(errors)
    with pytest.raises(KafkaException, match="try 3"):
        retry_kafka(call, attempts=4, deadline_s=60, first_backoff_s=0.001)
    assert call.calls == 4


@dataclass
class FakeTime:
    """Stands in for the module's ``time``: sleeping advances the clock, nothing waits."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_deadline_bounds_the_retries_and_no_pause_runs_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeTime()
    monkeypatch.setattr("scoreboard.adapters.kafka_retry.time", clock)
    call = Flaky([kafka(KafkaError.COORDINATOR_LOAD_IN_PROGRESS) for _ in range(1000)])
    with pytest.raises(KafkaException):
        retry_kafka(call, attempts=1000, deadline_s=1.0, first_backoff_s=0.3, max_backoff_s=0.3)
    assert clock.sleeps == pytest.approx([0.3, 0.3, 0.3, 0.1])
    assert call.calls == 5


def test_backoff_doubles_up_to_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeTime()
    monkeypatch.setattr("scoreboard.adapters.kafka_retry.time", clock)
    call = Flaky([kafka(KafkaError.NOT_COORDINATOR) for _ in range(6)])
    assert retry_kafka(call, attempts=10, deadline_s=60, first_backoff_s=0.1, max_backoff_s=1.0) == "done"
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_errors_carried_in_results_are_raised_so_they_can_be_retried() -> None:
    raise_for_error(None)
    with pytest.raises(KafkaException) as raised:
        raise_for_error(KafkaError(KafkaError.LEADER_NOT_AVAILABLE))
    assert is_retriable(raised.value)


def test_group_not_found_is_recognised() -> None:
    assert group_not_found(kafka(KafkaError.GROUP_ID_NOT_FOUND))
    assert not group_not_found(kafka(KafkaError.NOT_COORDINATOR))
    assert not group_not_found(ValueError())
