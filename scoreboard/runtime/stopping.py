"""Stopping a background task so that the stop always completes.

``task.cancel()`` asks once. A library that catches ``CancelledError`` inside one of its own awaits (aiokafka
does in several places) can swallow that one request, and the task then runs on: a shutdown that awaits it
waits forever. So the request is repeated until the task has ended, and after ``patience_s`` the task is
left behind with a warning: the process exits anyway, and the log says what did not stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger(__name__)

RECANCEL_EVERY_S = 0.1
PATIENCE_S = 10.0


async def stop_task(task: asyncio.Task[object] | asyncio.Future[object], what: str,
                    patience_s: float = PATIENCE_S) -> None:
    """Cancel ``task`` until it has ended (at most ``patience_s``); its result or exception is dropped.

    A stop nested in a task that is being stopped too (a ``finally`` that stops its own child) still
    stops the child first; the cancellation of the caller is raised once the child has ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_s
    asks = 0
    caller_cancelled = False
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("%s did not stop within %.1f s of %d cancellations; left behind", what, patience_s, asks)
            break
        task.cancel()
        asks += 1
        try:
            await asyncio.wait({task}, timeout=min(RECANCEL_EVERY_S, remaining))
        except asyncio.CancelledError:
            caller_cancelled = True
    else:
        if asks > 1:
            log.info("%s stopped after %d cancellations", what, asks)
        if not task.cancelled():
            task.exception()  # retrieved: an error on the way out is not "never retrieved" noise
    if caller_cancelled:
        raise asyncio.CancelledError


async def finish(step: Awaitable[object], what: str, patience_s: float = PATIENCE_S) -> None:
    """Await one step of a shutdown (closing a pool, a client), at most ``patience_s``: a step still
    running then is stopped and left behind with a warning, so the shutdown goes on. A step that fails
    raises, as awaiting it would."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=patience_s)
    if not done:
        log.warning("%s did not finish within %.1f s; stopping it", what, patience_s)
        await stop_task(task, what, patience_s)
        return
    task.result()
