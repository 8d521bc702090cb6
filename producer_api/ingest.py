"""Use case: a user completed an action. Decide the points, append the event, answer once Kafka acked.

Order of checks: catalog (404/409), ticket authenticity and binding (422/403), Idempotency-Key
(duplicate / in progress / takeover), then for a new attempt ticket timing and the shared-state
rules (single use, cooldown, daily cap). The ledger nonce is the Idempotency-Key, or for a ticketed
action the ticket id, so one ticket can never be spent twice even under two different keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from producer_api.appender import API_SOURCE, ActionLog
from producer_api.completions import CompletionGuard, Refusal, Reservation
from producer_api.idempotency import Claim, IdempotencyStore, Remembered, event_id_for
from scoreboard.adapters.auth import Principal
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain import ticket_tokens as tickets
from scoreboard.domain.catalog import Action, Catalog
from scoreboard.domain.clock import Clock
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.evidence import EvidenceHasher
from scoreboard.domain.ticket_tokens import TicketKeyring, TicketRejected

__all__ = ["API_SOURCE", "CompleteAction", "Receipt", "resolve_action", "ticket_problem"]

_TICKET_STATUS = {"ticket-invalid": 422, "ticket-foreign": 403, "ticket-expired": 422, "ticket-too-early": 409}


@dataclass(frozen=True)
class Client:
    """Who is calling, as the detectors may see it (hashed before it reaches the log)."""

    address: str = ""
    device_id: str | None = None


@dataclass(frozen=True)
class Receipt:
    event_id: str
    action_id: str
    points: int
    duplicate: bool


def ticket_problem(exc: TicketRejected) -> Problem:
    status = _TICKET_STATUS.get(exc.reason, 422)
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return Problem(status, exc.reason, exc.detail, headers=headers)


def resolve_action(catalog: Catalog, action_id: str) -> Action:
    action = catalog.get(action_id)
    if action is None:
        raise Problem(404, "unknown-action", f"no action {action_id!r} in the catalog")
    if not action.enabled:
        raise Problem(409, "action-disabled", f"action {action_id!r} is disabled")
    return action


class CompleteAction:
    def __init__(self, catalog: Catalog, log: ActionLog, idempotency: IdempotencyStore,
                 clock: Clock, guard: CompletionGuard, keyring: TicketKeyring, ticket_ttl_s: int,
                 evidence: EvidenceHasher | None = None) -> None:
        self._evidence = evidence
        self._catalog = catalog
        self._log = log
        self._idempotency = idempotency
        self._clock = clock
        self._guard = guard
        self._keyring = keyring
        self._ticket_ttl_s = ticket_ttl_s

    async def __call__(self, principal: Principal, action_id: str, key: str, request_id: str,
                       ticket_token: str | None = None, client: Client = Client()) -> Receipt:
        user = principal.user_id
        action = resolve_action(self._catalog, action_id)
        ticket = self._authentic_ticket(principal, action, ticket_token)
        nonce = ticket.ticket_id if ticket else key
        record = Remembered(event_id_for(user, nonce), action.action_id, action.points, fingerprint=nonce)
        outcome, known = await self._idempotency.settle(user, key, record)
        if known.action_id != record.action_id or known.fingerprint != record.fingerprint:
            raise Problem(422, "idempotency-key-reused",
                          "this Idempotency-Key was already used for another action or ticket")
        if outcome is Claim.DONE:
            return Receipt(known.event_id, known.action_id, known.points, duplicate=True)
        if outcome is Claim.BUSY:
            raise Problem(409, "request-in-progress",
                          "a request with this Idempotency-Key is still in progress; retry shortly",
                          headers={"Retry-After": "1"})
        now_us = self._clock.now_us()
        reservation = Reservation(user, action, key, ticket.ticket_id if ticket else "", self._ticket_ttl_s, now_us,
                                  self._catalog.limits)
        try:
            if ticket is not None and outcome is Claim.NEW:
                tickets.check_timing(ticket, now_us=now_us, min_duration_seconds=action.min_duration_seconds)
            refusal = await self._guard.reserve(reservation)
        except TicketRejected as exc:
            await self._idempotency.release(user, key, known)
            raise ticket_problem(exc) from exc
        except BaseException:
            await self._idempotency.release(user, key, known)
            raise
        if isinstance(refusal, Refusal):
            await self._idempotency.release(user, key, known)
            status, detail = {
                "ticket-used": (409, "this ticket was already used"),
                "cooldown": (429, f"action {action.action_id!r} is cooling down"),
                "daily-cap": (429, f"the daily cap of {action.action_id!r} is reached"),
                "budget": (429, "your points budget for this hour or day is spent"),
            }[refusal.reason]
            headers = {"Retry-After": str(refusal.retry_after_s)} if status == 429 else None
            raise Problem(status, refusal.reason, detail, headers=headers)
        try:
            await self._publish(principal, action, nonce, known, request_id, now_us, ticket, client,
                                refusal.refused_before)
        except BaseException:
            await self._guard.release(reservation)
            await self._idempotency.release(user, key, known)
            raise
        self._idempotency.acknowledge(user, key, known)
        return Receipt(known.event_id, known.action_id, known.points, duplicate=False)

    def _authentic_ticket(self, principal: Principal, action: Action,
                          token: str | None) -> tickets.Ticket | None:
        if not action.requires_ticket:
            if token is not None:
                raise Problem(422, "ticket-not-expected", f"action {action.action_id!r} takes no ticket")
            return None
        if token is None:
            raise Problem(422, "ticket-required",
                          f"action {action.action_id!r} needs the ticket from POST .../start in the body")
        try:
            ticket = tickets.read(self._keyring, token)
            tickets.check_binding(ticket, user_id=principal.user_id, action_id=action.action_id)
        except TicketRejected as exc:
            raise ticket_problem(exc) from exc
        return ticket

    async def _publish(self, principal: Principal, action: Action, nonce: str, record: Remembered,
                       request_id: str, now_us: int, ticket: tickets.Ticket | None, client: Client,
                       refused_before: int) -> None:
        # The recorded time is the one the reservation judged cooldowns and caps by, so the worker,
        # judging again from the log, sees the same moment.
        await self._log.append(ActionCompleted(
            event_id=record.event_id,
            user_id=principal.user_id,
            action_id=action.action_id,
            nonce=nonce,
            points=record.points,
            catalog_version=self._catalog.version,
            occurred_at_us=now_us,
            request_id=request_id,
            client_hash=self._evidence.address(client.address) if self._evidence else "",
            device_hash=self._evidence.device(client.device_id) if self._evidence else "",
            ticket_started_at_us=ticket.issued_at_us if ticket else 0,
            refused_before=refused_before,
        ))
