"""Use case: a user starts a ticketed action; the answer is a signed, single-use ticket.

Starting takes no Idempotency-Key: a ticket only says "this user started this action at this
server time"; issuing another one is harmless because each completion spends one ticket and the
per-action cooldown and daily cap bound how many can be spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from producer_api.ingest import resolve_action
from scoreboard import tickets
from scoreboard.auth import Principal
from scoreboard.catalog import Catalog
from scoreboard.clock import Clock, to_datetime
from scoreboard.tickets import Ticket, TicketKeyring
from scoreboard.web.problems import Problem


@dataclass(frozen=True)
class IssuedTicket:
    token: str
    ticket: Ticket
    not_before_us: int

    def to_json(self) -> dict[str, str]:
        return {
            "ticket": self.token,
            "expires_at": rfc3339(self.ticket.expires_at_us),
            "not_before": rfc3339(self.not_before_us),
        }


def rfc3339(micros: int) -> str:
    return to_datetime(micros).isoformat(timespec="seconds").replace("+00:00", "Z")


class StartAction:
    def __init__(self, catalog: Catalog, keyring: TicketKeyring, clock: Clock, ttl_seconds: int) -> None:
        self._catalog = catalog
        self._keyring = keyring
        self._clock = clock
        self._ttl_us = ttl_seconds * 1_000_000

    def __call__(self, principal: Principal, action_id: str) -> IssuedTicket:
        action = resolve_action(self._catalog, action_id)
        if not action.requires_ticket:
            raise Problem(409, "ticket-not-required",
                          f"action {action_id!r} needs no ticket: complete it directly")
        now_us = self._clock.now_us()
        not_before_us = now_us + action.min_duration_seconds * 1_000_000
        ticket = Ticket(
            ticket_id=tickets.new_ticket_id(),
            user_id=principal.user_id,
            action_id=action.action_id,
            issued_at_us=now_us,
            expires_at_us=not_before_us + self._ttl_us,
        )
        return IssuedTicket(tickets.issue(self._keyring, ticket), ticket, not_before_us)
