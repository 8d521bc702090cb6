"""Deferred observations: every read of the registry sees them applied, in order, as if each had
been applied at once; without a reader they are applied past the limit."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from scoreboard.adapters.web.metrics import Deferred

BUCKETS = (0.001, 0.01, 0.1, 1.0)
AMOUNTS = [0.0005, 0.02, 0.3, 5.0, 0.001, 0.07, 0.000_000_1, 0.5] * 5


def registry_pair() -> tuple[CollectorRegistry, Deferred, Counter, Histogram]:
    registry = CollectorRegistry()
    deferred = Deferred(registry, limit=16)
    counter = Counter("c_total", "c", ["route"], registry=registry)
    histogram = Histogram("h_seconds", "h", ["route"], registry=registry, buckets=BUCKETS)
    return registry, deferred, counter, histogram


def test_a_read_sees_every_observation_as_if_applied_at_once() -> None:
    deferred_registry, deferred, counter, histogram = registry_pair()
    direct_registry, _, direct_counter, direct_histogram = registry_pair()
    for each in (histogram, direct_histogram):  # the children in the same order, as the text lists them so
        each.labels("r"), each.labels("o")
    observe = deferred.observer(histogram.labels("o"))
    for amount in AMOUNTS[:10]:
        deferred.add(counter.labels("r"), histogram.labels("r"), amount)
        observe(amount)
        direct_counter.labels("r").inc()
        direct_histogram.labels("r").observe(amount)
        direct_histogram.labels("o").observe(amount)
        assert deferred_registry.get_sample_value("c_total", {"route": "r"}) == \
            direct_registry.get_sample_value("c_total", {"route": "r"})
    for amount in AMOUNTS[10:]:
        deferred.add(counter.labels("r"), histogram.labels("r"), amount)
        observe(amount)
        direct_counter.labels("r").inc()
        direct_histogram.labels("r").observe(amount)
        direct_histogram.labels("o").observe(amount)
    strip = [line for line in generate_latest(deferred_registry).splitlines() if b"_created" not in line]
    assert strip == [line for line in generate_latest(direct_registry).splitlines() if b"_created" not in line]


def test_without_a_reader_the_pending_observations_stay_bounded() -> None:
    _, deferred, counter, histogram = registry_pair()
    for amount in AMOUNTS:
        deferred.add(counter.labels("r"), histogram.labels("r"), amount)
        assert len(deferred._pending) <= 16
    assert counter.labels("r")._value.get() >= len(AMOUNTS) - 16
