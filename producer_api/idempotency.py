"""Idempotency-Key bookkeeping in Redis, and the event id a key always maps to.

The event id is derived from (user, ledger nonce), so a retry after any crash carries the same event
id and the worker's ledger counts it once: that, not Redis, is what makes retries safe. Redis adds
two niceties on top:

* an acknowledged key answers ``duplicate`` without producing again;
* a key whose first attempt is still in flight holds a *lease*: a concurrent duplicate waits for it
  (and then answers the same event id) instead of producing a second copy. A lease that runs out
  means its owner died between accepting and Kafka's acknowledgement; the next retry takes it over
  and produces the same event again, which the ledger deduplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from enum import Enum

from redis.exceptions import RedisError

from scoreboard.adapters.autopipe import AutoPipeline, Script

KEY_FORMAT = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_NAMESPACE = uuid.UUID("6f1b7d4e-2a51-4c1e-9a43-5b0e5c2f7d10")
TTL_SECONDS = 7 * 24 * 3600

# KEYS[1] the key; ARGV[1] the new pending record (JSON), ARGV[2] lease ms, ARGV[3] ttl s.
# Returns {outcome, record}: new | done | busy | orphaned (taken over: the lease is ours now).
CLAIM = Script("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local raw = redis.call('GET', KEYS[1])
if not raw then
  local rec = cjson.decode(ARGV[1])
  rec['lease'] = now + tonumber(ARGV[2])
  raw = cjson.encode(rec)
  redis.call('SET', KEYS[1], raw, 'EX', ARGV[3])
  return {'new', raw}
end
local rec = cjson.decode(raw)
if rec['ack'] then return {'done', raw} end
if tonumber(rec['lease']) > now then return {'busy', raw} end
rec['lease'] = now + tonumber(ARGV[2])
raw = cjson.encode(rec)
redis.call('SET', KEYS[1], raw, 'EX', ARGV[3])
return {'orphaned', raw}
""")

# KEYS[1] the key; ARGV[1] event id. Deletes a pending record of that event (a refused attempt).
_RELEASE = Script("""
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec['ack'] or rec['event_id'] ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
""")


_NAMESPACE_BYTES = _NAMESPACE.bytes


def event_id_for(user_id: str, nonce: str) -> str:
    """``str(uuid.uuid5(_NAMESPACE, f"{user_id}\\x00{nonce}"))``, computed without the ``UUID`` object
    (tests/unit/test_api_hot_shortcuts.py compares the two)."""
    named = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{user_id}\x00{nonce}".encode(), usedforsecurity=False)
                      .digest()[:16])
    named[6] = (named[6] & 0x0F) | 0x50  # version 5
    named[8] = (named[8] & 0x3F) | 0x80  # the RFC 4122 variant
    digits = named.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class Claim(Enum):
    NEW = "new"
    DONE = "done"
    BUSY = "busy"
    ORPHANED = "orphaned"


@dataclass(frozen=True)
class Remembered:
    event_id: str
    action_id: str
    points: int
    fingerprint: str
    """What must be equal for a retry to be the same request (e.g. the ledger nonce)."""
    acknowledged: bool = False


class IdempotencyStore:
    def __init__(self, calls: AutoPipeline, *, scope: str = "idem", lease_seconds: float = 40.0,
                 wait_seconds: float = 5.0) -> None:
        self._calls = calls
        self._scope = scope
        self._lease_ms = int(lease_seconds * 1000)
        self._wait_s = wait_seconds

    def _key(self, user_id: str, key: str) -> str:
        return f"sb:{{u:{user_id}}}:{self._scope}:{key}"

    async def claim(self, user_id: str, key: str, record: Remembered) -> tuple[Claim, Remembered]:
        """Take the key for ``record``, or learn what holds it. Without Redis: NEW (the ledger still
        counts the action once)."""
        try:
            outcome, raw = await self._calls.run(CLAIM, [self._key(user_id, key)],
                                                 [_dump(record), self._lease_ms, TTL_SECONDS])
        except RedisError:
            return Claim.NEW, record
        claim = _CLAIMS.get(outcome) or Claim(_text(outcome))
        return claim, record if claim is Claim.NEW else _load(raw)  # a new claim stored our record

    async def settle(self, user_id: str, key: str, record: Remembered) -> tuple[Claim, Remembered]:
        """Claim, and if another attempt holds the key, wait (bounded) for it to finish or die."""
        deadline = time.monotonic() + self._wait_s
        while True:
            outcome, known = await self.claim(user_id, key, record)
            if outcome is not Claim.BUSY or time.monotonic() >= deadline:
                return outcome, known
            await asyncio.sleep(0.05)

    def acknowledge(self, user_id: str, key: str, record: Remembered) -> None:
        """Mark the key done, without waiting for Redis: the answer does not depend on it. Until it
        lands, a retry finds the pending lease and waits for it; if it never lands, the lease runs out
        and a retry produces the same event again, which the ledger counts once."""
        future = self._calls.execute("SET", self._key(user_id, key), _dump(record, acknowledged=True),
                                     "EX", TTL_SECONDS)
        future.add_done_callback(_retrieve)

    async def release(self, user_id: str, key: str, record: Remembered) -> None:
        """Forget a pending claim whose attempt was refused, so the key can be used again."""
        try:
            await self._calls.run(_RELEASE, [self._key(user_id, key)], [record.event_id])
        except RedisError:
            pass


def _retrieve(future: asyncio.Future[object]) -> None:
    """Consume the outcome of a command nobody awaits (a failure was already handled by design)."""
    if not future.cancelled():
        future.exception()


_CLAIMS: dict[object, Claim] = {claim.value.encode(): claim for claim in Claim}
"""The claim script's outcomes as Redis returns them (bytes), looked up instead of parsed."""
_ASCII = json.encoder.encode_basestring_ascii


def _dump(record: Remembered, *, acknowledged: bool = False) -> str:
    """The record as ``json.dumps`` writes it (default separators, ASCII); formatted directly when every
    field has its plain type (tests/unit/test_api_hot_shortcuts.py compares the two)."""
    ack = acknowledged or record.acknowledged
    event_id, action_id, points, fingerprint = record.event_id, record.action_id, record.points, record.fingerprint
    if (event_id.__class__ is str and action_id.__class__ is str and points.__class__ is int
            and fingerprint.__class__ is str and ack.__class__ is bool):
        return (f'{{"event_id": {_ASCII(event_id)}, "action_id": {_ASCII(action_id)}, "points": {points}, '
                f'"fp": {_ASCII(fingerprint)}, "ack": {"true" if ack else "false"}}}')
    return json.dumps({"event_id": event_id, "action_id": action_id, "points": points, "fp": fingerprint,
                       "ack": ack})


def _load(raw: bytes | str) -> Remembered:
    data = json.loads(raw)
    return Remembered(str(data["event_id"]), str(data["action_id"]), int(data["points"]), str(data["fp"]),
                      bool(data["ack"]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
