"""Idempotency-Key bookkeeping in Redis, and the event id a key always maps to.

The event id is derived from (user, key), so a retry after any crash carries the same event id and the
worker's ledger counts it once. Redis only remembers that a key was acknowledged, to answer
"duplicate" without producing again; losing Redis loses no safety.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

KEY_FORMAT = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_NAMESPACE = uuid.UUID("6f1b7d4e-2a51-4c1e-9a43-5b0e5c2f7d10")
TTL_SECONDS = 7 * 24 * 3600


def event_id_for(user_id: str, nonce: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{user_id}\x00{nonce}"))


@dataclass(frozen=True)
class Remembered:
    event_id: str
    action_id: str
    points: int
    acknowledged: bool


class IdempotencyStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @staticmethod
    def _key(user_id: str, nonce: str) -> str:
        return f"sb:idem:{user_id}:{nonce}"

    async def claim(self, user_id: str, nonce: str, record: Remembered) -> Remembered | None:
        """Remember ``record`` unless the key is known; returns what was known before, if anything."""
        try:
            key = self._key(user_id, nonce)
            created = await self._redis.set(key, _dump(record), nx=True, ex=TTL_SECONDS)
            if created:
                return None
            raw = await self._redis.get(key)
        except RedisError:
            return None  # without Redis the ledger still counts the action once
        return _load(raw) if raw is not None else None

    async def acknowledge(self, user_id: str, nonce: str, record: Remembered) -> None:
        try:
            done = Remembered(record.event_id, record.action_id, record.points, True)
            await self._redis.set(self._key(user_id, nonce), _dump(done), ex=TTL_SECONDS)
        except RedisError:
            pass


def _dump(record: Remembered) -> str:
    return json.dumps([record.event_id, record.action_id, record.points, record.acknowledged])


def _load(raw: bytes | str) -> Remembered:
    event_id, action_id, points, acknowledged = json.loads(raw)
    return Remembered(str(event_id), str(action_id), int(points), bool(acknowledged))
