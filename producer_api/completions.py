"""Per-user completion rules that need shared state: single-use tickets, cooldowns, daily caps.

One Lua call checks and reserves all three atomically (all keys share the user's hash slot). A
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

from scoreboard.autopipe import AutoPipeline, Script
from scoreboard.catalog import Action
from scoreboard.clock import to_datetime

# KEYS: ticket, cooldown, cap. ARGV: owner, ticket ttl s (0 = no ticket), cooldown ms, cap, cap ttl s.
# Returns {'ok', 0} or {refusal, ms until it lifts}.
_RESERVE = Script("""
local owner = ARGV[1]
local ticket_ttl = tonumber(ARGV[2])
local cooldown_ms = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
if ticket_ttl > 0 then
  local holder = redis.call('GET', KEYS[1])
  if holder and holder ~= owner then return {'ticket-used', 0} end
end
if cooldown_ms > 0 then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= owner then return {'cooldown', redis.call('PTTL', KEYS[2])} end
end
if cap > 0 and redis.call('SISMEMBER', KEYS[3], owner) == 0 then
  if redis.call('SCARD', KEYS[3]) >= cap then return {'daily-cap', redis.call('PTTL', KEYS[3])} end
  redis.call('SADD', KEYS[3], owner)
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
if ticket_ttl > 0 then redis.call('SET', KEYS[1], owner, 'EX', ticket_ttl) end
if cooldown_ms > 0 and redis.call('GET', KEYS[2]) ~= owner then
  redis.call('SET', KEYS[2], owner, 'PX', cooldown_ms)
end
return {'ok', 0}
""")

_RELEASE = Script("""
local owner = ARGV[1]
if redis.call('GET', KEYS[1]) == owner then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == owner then redis.call('DEL', KEYS[2]) end
redis.call('SREM', KEYS[3], owner)
return 1
""")

# A redeemed ticket is remembered a little past its expiry; after that it is refused as expired anyway.
TICKET_MEMORY_MARGIN_S = 3600
DAY_US = 86_400_000_000


@dataclass(frozen=True)
class Refusal:
    reason: str
    """``ticket-used``, ``cooldown`` or ``daily-cap``."""
    retry_after_s: int


@dataclass(frozen=True)
class Reservation:
    user_id: str
    action: Action
    owner: str
    ticket_id: str
    ticket_ttl_s: int
    now_us: int

    def keys(self) -> list[str]:
        slot = f"sb:{{u:{self.user_id}}}"
        day = to_datetime(self.now_us).date().isoformat()
        return [
            f"{slot}:ticket:{self.ticket_id or '-'}",
            f"{slot}:cool:{self.action.action_id}",
            f"{slot}:cap:{self.action.action_id}:{day}",
        ]


class CompletionGuard:
    def __init__(self, calls: AutoPipeline) -> None:
        self._calls = calls

    @staticmethod
    def needed(reservation: Reservation) -> bool:
        """Most actions have no ticket, cooldown or cap: then there is nothing to reserve in Redis."""
        action = reservation.action
        return bool(reservation.ticket_id or action.cooldown_seconds or action.daily_cap)

    async def reserve(self, reservation: Reservation) -> Refusal | None:
        if not self.needed(reservation):
            return None
        action = reservation.action
        until_midnight_us = DAY_US - reservation.now_us % DAY_US
        outcome, wait_ms = await self._calls.run(_RESERVE, reservation.keys(), [
            reservation.owner,
            reservation.ticket_ttl_s + TICKET_MEMORY_MARGIN_S if reservation.ticket_id else 0,
            action.cooldown_seconds * 1000,
            action.daily_cap,
            until_midnight_us // 1_000_000 + 3600,
        ])
        reason = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
        if reason == "ok":
            return None
        if reason == "daily-cap":
            wait_ms = until_midnight_us // 1000
        return Refusal(reason, max(1, -(-int(wait_ms) // 1000)))

    async def release(self, reservation: Reservation) -> None:
        if not self.needed(reservation):
            return
        await self._calls.run(_RELEASE, reservation.keys(), [reservation.owner])
