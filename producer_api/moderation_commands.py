"""Use case: moderation commands (flag a user by hand, decide a review, purge an exploit), each one
event on the actions topic, signed, answered once Kafka acknowledged it. The worker applies them in
log order (``scoreboard.domain.moderation``); what they change is reproduced by a rebuild.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from producer_api.appender import ActionLog
from projections.review_queue import ReviewQueue
from scoreboard.adapters.auth import Principal
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain.catalog import Catalog
from scoreboard.domain.clock import Clock
from scoreboard.domain.events import ActionsPurged, ReviewDecided, UserFlagged

MANUAL = "manual"


@dataclass(frozen=True)
class ModerationReceipt:
    event_id: str
    partitions: int = 1


class ModerationCommands:
    def __init__(self, log: ActionLog, reviews: ReviewQueue, catalog: Catalog, clock: Clock) -> None:
        self._log = log
        self._reviews = reviews
        self._catalog = catalog
        self._clock = clock

    async def flag(self, admin: Principal, user_id: str, reason: str) -> ModerationReceipt:
        """Put a user under review by hand (a player report, say): hidden and held like a detector's flag."""
        current = await self._reviews.of_user(user_id)
        if current is not None and current.review.holding:
            raise Problem(409, "already-under-review", f"user {user_id!r} is already under review")
        now = self._clock.now_us()
        event = UserFlagged(str(uuid.uuid4()), user_id, MANUAL,
                            json.dumps({"summary": reason, "flagged_by": admin.user_id}, sort_keys=True), now,
                            False, admin.user_id, -1, -1, now)
        await self._log.append(event)
        return ModerationReceipt(event.event_id)

    async def decide(self, admin: Principal, user_id: str, decision: str, reason: str) -> ModerationReceipt:
        current = await self._reviews.of_user(user_id)
        if current is None or current.review.state != "pending":
            raise Problem(404, "no-pending-review", f"user {user_id!r} has no pending review")
        event = ReviewDecided(str(uuid.uuid4()), user_id, decision, admin.user_id, reason, self._clock.now_us())
        await self._log.append(event)
        return ModerationReceipt(event.event_id)

    async def purge(self, admin: Principal, action_id: str, from_us: int, until_us: int,
                    user_ids: tuple[str, ...], reason: str) -> ModerationReceipt:
        if self._catalog.get(action_id) is None:
            raise Problem(404, "unknown-action", f"no action {action_id!r} in the catalog")
        if until_us <= from_us:
            raise Problem(422, "invalid-body", "`until` must be after `from`")
        purge_id = str(uuid.uuid4())
        event = ActionsPurged(purge_id, purge_id, action_id, from_us, until_us, user_ids, admin.user_id, reason,
                              self._clock.now_us())
        placed = await self._log.append_to_every_partition(event)
        return ModerationReceipt(event.event_id, len(placed))
