"""The worker's span per traced event: it continues the trace an action record carries (its
``traceparent``, put there by the api) and hands it on to the records the batch writes about that event.

A span lasts one attempt at the batch (a retried batch makes new ones), from the records' decoding to
the change records acknowledged by Kafka; only events whose record carries a trace context get one. A
``LeaderboardChanged`` carries the span of the last event in the batch that moved a user on that board.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scoreboard.adapters.tracing import Span, SpanKind, Tracing, failed, trace_carrier
from scoreboard.domain.scoring import BatchOutcome, BoardUser, Positioned
from scoreboard.domain.topics import ACTIONS

Headers = list[tuple[str, bytes]]


class EventSpans:
    def __init__(self, tracing: Tracing, events: Sequence[Positioned],
                 headers_at: dict[tuple[int, int], Sequence[tuple[str, bytes]]]) -> None:
        """``headers_at``: each record's headers by (partition, offset)."""
        self._tracing = tracing
        self._spans: dict[str, Span] = {}
        self._last_of_user: dict[str, tuple[int, str]] = {}
        if not tracing.enabled:
            return
        for index, positioned in enumerate(events):
            headers = headers_at.get((positioned.partition, positioned.offset), ())
            if not trace_carrier(headers):
                continue
            event = positioned.event
            span = tracing.start_span(f"process {ACTIONS}", parent=headers, kind=SpanKind.CONSUMER, attributes={
                "messaging.system": "kafka", "messaging.operation.type": "process",
                "messaging.destination.name": ACTIONS,
                "messaging.destination.partition.id": str(positioned.partition),
                "messaging.kafka.offset": positioned.offset, "messaging.message.id": event.event_id,
                "cloudevents.event_type": f"scoreboard.{type(event).__name__}.v1",
                "scoreboard.user_id": event.user_id})
            if span is not None:
                self._spans[event.event_id] = span
                self._last_of_user[event.user_id] = (index, event.event_id)

    def judged(self, outcome: BatchOutcome) -> None:
        """Record what the ledger did with each traced event."""
        if not self._spans:
            return
        verdicts = [("accepted", (e.event_id for e in outcome.accepted)),
                    ("duplicate", (e.event_id for e in outcome.duplicates)),
                    ("replayed", (p.event.event_id for p in outcome.replayed)),
                    ("rejected", (r.event_id for r in outcome.rejected))]
        for verdict, event_ids in verdicts:
            for event_id in event_ids:
                span = self._spans.get(event_id)
                if span is not None:
                    span.set_attribute("scoreboard.outcome", verdict)

    def of_event(self, event_id: str) -> Headers:
        """Trace headers naming the event's span, for a record about that event (none if untraced)."""
        span = self._spans.get(event_id)
        return self._tracing.headers(span) if span is not None else []

    def of_boards(self, changed: Iterable[BoardUser]) -> dict[str, Headers]:
        """Per board, trace headers naming the span of the batch's last traced event of a user on it."""
        last: dict[str, tuple[int, str]] = {}
        for board, user_id in changed:
            found = self._last_of_user.get(user_id)
            if found is not None and found > last.get(board, (-1, "")):
                last[board] = found
        return {board: self.of_event(event_id) for board, (_, event_id) in last.items()}

    def end(self, error: BaseException | None = None) -> None:
        for span in self._spans.values():
            if error is not None:
                failed(span, error)
            span.end()
        self._spans.clear()
