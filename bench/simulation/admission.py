"""A model of the api's admission rules, in virtual time: what ``POST .../start`` and
``POST .../complete`` answer and which completions become log records.

Modelled on the real code, in the api's order of checks:

- the per-client-address bucket (``producer_api.ratelimit``: every ``/v1/`` request, 2000/s burst
  20000) and the per-user bucket (1/s, burst 20) of every command: a token bucket on a millisecond
  clock, ``Retry-After`` the whole seconds until a token is back (429 ``rate-limited``);
- a start (``producer_api.start_action``): the action needs a ticket (409 ``ticket-not-required``),
  at most ``max_open_tickets`` open per (user, action), a ticket closing when spent or when it expires
  (409 ``ticket-open``); the ticket is issued at ``now``, ``not_before`` = now + min_duration_seconds,
  expiring ``ticket_ttl_seconds`` after that;
- a completion (``producer_api.ingest``): ticket required / not expected (422), bound to the user and
  action (403, ``ticket_tokens.check_binding``); the Idempotency-Key: a key already acknowledged
  answers ``duplicate`` and writes nothing, the same key for another action or ticket is 422; ticket
  timing (``ticket_tokens.check_timing``: 409 too early, 422 expired); then the guard of
  ``producer_api.completions``: ticket single use (409), cooldown (429 until it lifts), daily cap (429
  until UTC midnight), points budget per UTC hour and day (429 until the window ends). A refused
  attempt releases its key, so only accepted completions hold one.

Tickets are not signed here (nobody in the simulation forges one); the ticket id becomes the ledger
nonce of the completion, as in the api. The worker judges every record again
(``scoreboard.domain.policy.Judge``), so a difference between this model and the judge shows up as
worker rejections in the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.simulation.agents import DAY_US, HOUR_US, Account, Answer, Request
from scoreboard.domain import ticket_tokens as tickets
from scoreboard.domain.catalog import Action, Catalog
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.ticket_tokens import Ticket, TicketRejected

_TICKET_STATUS = {"ticket-invalid": 422, "ticket-foreign": 403, "ticket-expired": 422, "ticket-too-early": 409}


@dataclass(frozen=True)
class Limits:
    """The api's defaults (``scoreboard.settings``)."""

    user_per_second: float = 1.0
    user_burst: int = 20
    ip_per_second: float = 2000.0
    ip_burst: int = 20000
    ticket_ttl_seconds: int = 900


class TokenBucket:
    """``producer_api.ratelimit``'s Lua bucket: refilled by elapsed milliseconds, capped at the burst."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self._state: dict[str, tuple[float, int]] = {}

    def take(self, subject: str, now_us: int) -> int:
        """0 if a token was taken, else the ``Retry-After`` seconds."""
        now_ms = now_us // 1000
        tokens, ts = self._state.get(subject, (float(self.burst), now_ms))
        tokens = min(float(self.burst), tokens + max(0, now_ms - ts) * self.per_second / 1000)
        if tokens >= 1:
            self._state[subject] = (tokens - 1, now_ms)
            return 0
        self._state[subject] = (tokens, now_ms)
        return max(1, math.ceil(math.ceil((1 - tokens) * 1000 / self.per_second) / 1000))


@dataclass
class _Usage:
    window: int
    amount: int


class Admission:
    """The api of one simulated world: answers requests and yields the records it appends."""

    def __init__(self, catalog: Catalog, limits: Limits = Limits()) -> None:
        self.catalog = catalog
        self.limits = limits
        self._users = TokenBucket(limits.user_per_second, limits.user_burst)
        self._addresses = TokenBucket(limits.ip_per_second, limits.ip_burst)
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}
        """(user, Idempotency-Key) -> (action, ledger nonce) of an acknowledged completion."""
        self._open: dict[tuple[str, str], dict[str, int]] = {}
        """(user, action) -> open ticket id -> expiry."""
        self._spent: set[str] = set()
        self._cooling: dict[tuple[str, str], int] = {}
        self._capped: dict[tuple[str, str], _Usage] = {}
        self._budget: dict[tuple[str, str], _Usage] = {}
        self._issued = 0
        self._refused: dict[str, tuple[int, int]] = {}
        """user -> (refused attempts since the last accepted one, when the last was refused): the api's
        ``refused`` counter (``producer_api.completions``), which expires an hour after the last refusal."""

    def handle(self, request: Request, account: Account, now_us: int) -> tuple[Answer, ActionCompleted | None]:
        """The answer, and the record appended to the actions log if the request was accepted."""
        if wait := self._addresses.take(account.address, now_us):
            return Answer(429, "rate-limited", wait), None
        if wait := self._users.take(request.user_id, now_us):
            self._refuse(request.user_id, now_us)
            return Answer(429, "rate-limited", wait), None
        action = self.catalog.get(request.action_id)
        if action is None:
            return Answer(404, "unknown-action"), None
        if not action.enabled:
            return Answer(409, "action-disabled"), None
        if request.start:
            return self._start(request, action, now_us), None
        return self._complete(request, account, action, now_us)

    def _start(self, request: Request, action: Action, now_us: int) -> Answer:
        if not action.requires_ticket:
            return Answer(409, "ticket-not-required")
        opened = self._open.setdefault((request.user_id, action.action_id), {})
        for ticket_id, expires in list(opened.items()):
            if expires <= now_us:
                del opened[ticket_id]
        if len(opened) >= self.catalog.limits.max_open_tickets:
            wait_ms = max(1, (min(opened.values()) - now_us) // 1000)
            return Answer(409, "ticket-open", -(-wait_ms // 1000))
        self._issued += 1
        not_before = now_us + action.min_duration_seconds * 1_000_000
        ticket = Ticket(f"tkt.{self._issued:032x}", request.user_id, action.action_id, now_us,
                        not_before + self.limits.ticket_ttl_seconds * 1_000_000)
        opened[ticket.ticket_id] = ticket.expires_at_us
        return Answer(201, "issued", ticket=ticket)

    def _complete(self, request: Request, account: Account, action: Action,
                  now_us: int) -> tuple[Answer, ActionCompleted | None]:
        user, ticket = request.user_id, request.ticket
        if not action.requires_ticket and ticket is not None:
            return Answer(422, "ticket-not-expected"), None
        if action.requires_ticket:
            if ticket is None:
                return Answer(422, "ticket-required"), None
            try:
                tickets.check_binding(ticket, user_id=user, action_id=action.action_id)
            except TicketRejected as exc:
                return Answer(_TICKET_STATUS.get(exc.reason, 422), exc.reason), None
        nonce = ticket.ticket_id if ticket else request.key
        known = self._keys.get((user, request.key))
        if known is not None:
            if known != (action.action_id, nonce):
                return Answer(422, "idempotency-key-reused"), None
            return Answer(200, "duplicate"), None
        if ticket is not None:
            try:
                tickets.check_timing(ticket, now_us=now_us, min_duration_seconds=action.min_duration_seconds)
            except TicketRejected as exc:
                return Answer(_TICKET_STATUS.get(exc.reason, 422), exc.reason, exc.retry_after_s), None
        refusal = self._reserve(user, action, ticket, now_us)
        if refusal is not None:
            self._refuse(user, now_us)
            return refusal, None
        self._keys[(user, request.key)] = (action.action_id, nonce)
        refused, last = self._refused.pop(user, (0, 0))
        refused_before = refused if now_us - last <= HOUR_US else 0
        event = ActionCompleted(
            event_id=f"{user}/{nonce}", user_id=user, action_id=action.action_id, nonce=nonce, points=action.points,
            catalog_version=self.catalog.version, occurred_at_us=now_us, client_hash=account.address,
            device_hash=account.device, ticket_started_at_us=ticket.issued_at_us if ticket else 0,
            refused_before=refused_before)
        return Answer(202, "accepted"), event

    def _refuse(self, user: str, now_us: int) -> None:
        refused, last = self._refused.get(user, (0, 0))
        self._refused[user] = (refused + 1 if now_us - last <= HOUR_US else 1, now_us)

    def _reserve(self, user: str, action: Action, ticket: Ticket | None, now_us: int) -> Answer | None:
        """``producer_api.completions``' reservation: everything checked before anything is written."""
        if ticket is not None and ticket.ticket_id in self._spent:
            return Answer(409, "ticket-used")
        cool_key = (user, action.action_id)
        if action.cooldown_seconds and (until := self._cooling.get(cool_key, 0)) > now_us:
            return Answer(429, "cooldown", _seconds(until - now_us))
        day, hour = now_us // DAY_US, now_us // HOUR_US
        cap = self._current(self._capped, (user, action.action_id), day)
        if action.daily_cap and cap >= action.daily_cap:
            return Answer(429, "daily-cap", _seconds((day + 1) * DAY_US - now_us))
        limits = self.catalog.limits
        hour_used = self._current(self._budget, (user, "h"), hour)
        day_used = self._current(self._budget, (user, "d"), day)
        if action.points > 0:
            if limits.max_points_per_hour and hour_used + action.points > limits.max_points_per_hour:
                return Answer(429, "budget", _seconds((hour + 1) * HOUR_US - now_us))
            if limits.max_points_per_day and day_used + action.points > limits.max_points_per_day:
                return Answer(429, "budget", _seconds((day + 1) * DAY_US - now_us))
        if action.daily_cap:
            self._capped[(user, action.action_id)] = _Usage(day, cap + 1)
        if action.points > 0:
            self._budget[(user, "h")] = _Usage(hour, hour_used + action.points)
            self._budget[(user, "d")] = _Usage(day, day_used + action.points)
        if ticket is not None:
            self._spent.add(ticket.ticket_id)
            self._open.get((user, action.action_id), {}).pop(ticket.ticket_id, None)
        if action.cooldown_seconds:
            self._cooling[cool_key] = now_us + action.cooldown_seconds * 1_000_000
        return None

    @staticmethod
    def _current(table: dict[tuple[str, str], _Usage], key: tuple[str, str], window: int) -> int:
        found = table.get(key)
        return found.amount if found is not None and found.window == window else 0


def _seconds(micros: int) -> int:
    """``Retry-After``: whole seconds, rounded up, at least 1."""
    return max(1, -(-micros // 1_000_000))
