"""Per-user completion rules that need shared state: single-use tickets, open tickets, cooldowns,
daily caps and the points budget per UTC hour and day.

One Lua call checks and reserves them all atomically (all keys share the user's hash slot). A
reservation is owned by the request's Idempotency-Key, so a retry of the same request finds its own
reservation and passes, while any other request is refused. A refused or failed attempt releases
what it reserved, so only accepted actions count.

Race bounds (enforcement is at the api edge, not in the ledger): a reservation is made before the
Kafka produce and released if the produce fails. If the api dies after reserving and before Kafka
acknowledged, the reservation stays (the user may be refused one action too many until the cooldown
or the UTC day ends); it is never the other way round, so a cap is never exceeded. Losing Redis
entirely would forget reservations: the ledger still counts each ticket (nonce) once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from scoreboard.adapters.autopipe import AutoPipeline, Script
from scoreboard.domain.catalog import Action, Limits
from scoreboard.domain.clock import to_datetime

# KEYS: ticket, cooldown, cap, budget hour, budget day, open tickets, refused attempts.
# ARGV: owner, ticket ttl s (0 = no ticket), cooldown ms, cap, cap ttl s, points, hour budget, day budget,
#       hour ttl s, day ttl s, ticket id.
# Everything is checked before anything is written. Returns {'ok', 0, refused attempts before this one}
# (and forgets them) or {refusal, ms until it lifts} (and counts the refusal, for an hour).
RESERVE = Script("""
local function refuse(reason, ms)
  redis.call('INCR', KEYS[7])
  redis.call('EXPIRE', KEYS[7], 3600)
  return {reason, ms}
end
local owner = ARGV[1]
local ticket_ttl = tonumber(ARGV[2])
local cooldown_ms = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local points = tonumber(ARGV[6])
if ticket_ttl > 0 then
  local holder = redis.call('GET', KEYS[1])
  if holder and holder ~= owner then return refuse('ticket-used', 0) end
end
if cooldown_ms > 0 then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= owner then return refuse('cooldown', redis.call('PTTL', KEYS[2])) end
end
local new_in_cap = cap > 0 and redis.call('SISMEMBER', KEYS[3], owner) == 0
if new_in_cap and redis.call('SCARD', KEYS[3]) >= cap then return refuse('daily-cap', redis.call('PTTL', KEYS[3])) end
local budgets = {}
if points > 0 then
  for i = 1, 2 do
    local key, limit = KEYS[3 + i], tonumber(ARGV[6 + i])
    if limit > 0 and redis.call('HEXISTS', key, owner) == 0 then
      if tonumber(redis.call('HGET', key, '_') or '0') + points > limit then
        return refuse('budget', redis.call('PTTL', key))
      end
      budgets[#budgets + 1] = {key, ARGV[8 + i]}
    end
  end
end
if new_in_cap then
  redis.call('SADD', KEYS[3], owner)
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
for _, budget in ipairs(budgets) do
  redis.call('HSET', budget[1], owner, points)
  redis.call('HINCRBY', budget[1], '_', points)
  redis.call('EXPIRE', budget[1], budget[2])
end
if ticket_ttl > 0 then
  redis.call('SET', KEYS[1], owner, 'EX', ticket_ttl)
  redis.call('ZREM', KEYS[6], ARGV[11])
end
if cooldown_ms > 0 and redis.call('GET', KEYS[2]) ~= owner then
  redis.call('SET', KEYS[2], owner, 'PX', cooldown_ms)
end
local refused = tonumber(redis.call('GET', KEYS[7]) or '0')
if refused > 0 then redis.call('DEL', KEYS[7]) end
return {'ok', 0, refused}
""")

_REFUSED = Script("""
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 3600)
return 1
""")

_RELEASE = Script("""
local owner = ARGV[1]
if redis.call('GET', KEYS[1]) == owner then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == owner then redis.call('DEL', KEYS[2]) end
redis.call('SREM', KEYS[3], owner)
for i = 4, 5 do
  local points = redis.call('HGET', KEYS[i], owner)
  if points then
    redis.call('HDEL', KEYS[i], owner)
    redis.call('HINCRBY', KEYS[i], '_', -tonumber(points))
  end
end
return 1
""")

# KEYS[1] the user's open tickets of one action (ZSET ticket id -> expiry ms).
# ARGV: now ms, how many may be open, new ticket id, its expiry ms. Returns {1, 0} or {0, ms until one closes}.
_OPEN_TICKET = Script("""
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - tonumber(ARGV[1])}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return {1, 0}
""")

# A redeemed ticket is remembered a little past its expiry; after that it is refused as expired anyway.
TICKET_MEMORY_MARGIN_S = 3600
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class Refusal:
    reason: str
    """``ticket-used``, ``cooldown``, ``daily-cap`` or ``budget``."""
    retry_after_s: int


@dataclass(frozen=True)
class Reserved:
    refused_before: int = 0
    """The user's attempts refused since their previous accepted one, within the hour."""


@dataclass(frozen=True)
class Reservation:
    user_id: str
    action: Action
    owner: str
    ticket_id: str
    ticket_ttl_s: int
    now_us: int
    limits: Limits = Limits()

    def keys(self) -> list[str]:
        slot = f"sb:{{u:{self.user_id}}}"
        day = utc_day(self.now_us)
        return [
            f"{slot}:ticket:{self.ticket_id or '-'}",
            f"{slot}:cool:{self.action.action_id}",
            f"{slot}:cap:{self.action.action_id}:{day}",
            f"{slot}:budget:h:{self.now_us // HOUR_US}",
            f"{slot}:budget:d:{day}",
            open_tickets_key(self.user_id, self.action.action_id),
            refused_key(self.user_id),
        ]


_FAST_DAYS_UNTIL_US = 4_102_444_800_000_000
"""2100-01-01: up to here the day of a microsecond count is that of its day number's midnight."""


def utc_day(now_us: int) -> str:
    """``to_datetime(now_us).date().isoformat()``, worked out once per UTC day (tests/unit/test_api_hot_shortcuts.py
    compares the two)."""
    if 0 <= now_us < _FAST_DAYS_UNTIL_US:
        return _day_text(now_us // DAY_US)
    return to_datetime(now_us).date().isoformat()


@lru_cache(maxsize=4)
def _day_text(day_number: int) -> str:
    return to_datetime(day_number * DAY_US).date().isoformat()


def refused_key(user_id: str) -> str:
    """The user's refused attempts since their last accepted one (the ``prober`` detector's evidence)."""
    return f"sb:{{u:{user_id}}}:refused"


def open_tickets_key(user_id: str, action_id: str) -> str:
    return f"sb:{{u:{user_id}}}:open:{action_id}"


class CompletionGuard:
    def __init__(self, calls: AutoPipeline) -> None:
        self._calls = calls

    @staticmethod
    def needed(reservation: Reservation) -> bool:
        """An action without a ticket, cooldown, cap or points has nothing to reserve in Redis."""
        action = reservation.action
        budget = action.points > 0 and (reservation.limits.max_points_per_hour or reservation.limits.max_points_per_day)
        return bool(reservation.ticket_id or action.cooldown_seconds or action.daily_cap or budget)

    async def reserve(self, reservation: Reservation) -> Refusal | Reserved:
        if not self.needed(reservation):
            return Reserved()
        action = reservation.action
        until_midnight_us = DAY_US - reservation.now_us % DAY_US
        until_next_hour_us = HOUR_US - reservation.now_us % HOUR_US
        limits = reservation.limits
        outcome, wait_ms, *refused = await self._calls.run(RESERVE, reservation.keys(), [
            reservation.owner,
            reservation.ticket_ttl_s + TICKET_MEMORY_MARGIN_S if reservation.ticket_id else 0,
            action.cooldown_seconds * 1000,
            action.daily_cap,
            until_midnight_us // 1_000_000 + 3600,
            action.points,
            limits.max_points_per_hour,
            limits.max_points_per_day,
            until_next_hour_us // 1_000_000 + 3600,
            until_midnight_us // 1_000_000 + 3600,
            reservation.ticket_id or "-",
        ])
        reason = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
        if reason == "ok":
            return Reserved(int(refused[0]) if refused else 0)
        if reason == "daily-cap":
            wait_ms = until_midnight_us // 1000
        elif reason == "budget":  # the hour's budget frees at the next hour, the day's at midnight
            wait_ms = max(0, int(wait_ms) - 3_600_000)
        return Refusal(reason, max(1, -(-int(wait_ms) // 1000)))

    async def note_refusal(self, user_id: str) -> None:
        """Count a refused attempt of the user that no reservation saw (the per-user rate limit)."""
        await self._calls.run(_REFUSED, [refused_key(user_id)], [])

    async def open_ticket(self, user_id: str, action_id: str, ticket_id: str, limit: int, now_us: int,
                          expires_at_us: int) -> int:
        """Register a newly issued ticket as open; 0 if it may be issued, else the ms until one of the
        ``limit`` open tickets closes (it closes when spent or when it expires)."""
        allowed, wait_ms = await self._calls.run(_OPEN_TICKET, [open_tickets_key(user_id, action_id)], [
            now_us // 1000, limit, ticket_id, expires_at_us // 1000])
        return 0 if int(allowed) else max(1, int(wait_ms))

    async def release(self, reservation: Reservation) -> None:
        if not self.needed(reservation):
            return
        await self._calls.run(_RELEASE, reservation.keys(), [reservation.owner])
