"""Where a pushed version's time goes in this gateway process: one ``push`` log line per write pass.

Each line gives, for every state the hub wrote in the pass, milliseconds from the board's change (the
worker's change time, ``changed_at_us``) to this process reading it from the feed (``received_ms``),
to the pass's first and last socket written (``first_write_ms``, ``last_write_ms``), how many sockets
took it (``sockets``; ``left_to_tasks``: subscriptions of the pass whose socket did not drain, so their
own task sends it), and the garbage collections that ran between the read and the end of the pass
(``gc_ms``, ``gc_generation``: the oldest generation collected, -1 for none). ``pid`` tells the
processes of ``scoreboard gateway --processes N`` apart. The fan-out benchmark reads these lines to
split each update's latency into stages (``bench/scenarios/fanout.py``).
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from gateway.hub import WritePass

log = logging.getLogger("gateway.push")


class GcWatch:
    """Remembers the last ``keep`` garbage collections of this process: (start, end, generation)."""

    def __init__(self, keep: int = 64) -> None:
        self.collections: deque[tuple[float, float, int]] = deque(maxlen=keep)
        self._started = 0.0

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.time()
        else:
            self.collections.append((self._started, time.time(), int(info.get("generation", 0))))

    def between(self, start: float, end: float) -> tuple[float, int]:
        """Seconds of collection that overlap ``start``..``end``, and the oldest generation among them
        (-1: none)."""
        spent, oldest = 0.0, -1
        for began, ended, generation in self.collections:
            overlap = min(ended, end) - max(began, start)
            if overlap > 0:
                spent += overlap
                oldest = max(oldest, generation)
        return spent, oldest


def pass_logger(gc_watch: GcWatch | None = None, logger: logging.Logger = log) -> Callable[[WritePass], None]:
    """For ``Hub.on_pass``: one ``push`` line per pass (see the module's docstring)."""
    def report(write_pass: WritePass) -> None:
        for state, sockets in write_pass.written:
            changed = state.changed_at_us / 1e6
            fields: dict[str, Any] = {"board": state.board, "version": state.version, "sockets": sockets,
                                      "left_to_tasks": write_pass.left_to_tasks, "pid": os.getpid(),
                                      "first_write_ms": round((write_pass.first_write - changed) * 1000, 2),
                                      "last_write_ms": round((write_pass.finished - changed) * 1000, 2)}
            if state.received_at:
                fields["received_ms"] = round((state.received_at - changed) * 1000, 2)
            if gc_watch is not None:
                spent, oldest = gc_watch.between(state.received_at or write_pass.started, write_pass.finished)
                fields["gc_ms"] = round(spent * 1000, 2)
                fields["gc_generation"] = oldest
            logger.info("push", extra={"fields": fields})
    return report
