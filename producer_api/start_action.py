"""Use case: a user starts a ticketed action; the answer is a signed, single-use ticket.

Starting takes no Idempotency-Key: a ticket only says "this user started this action at this
server time". A user holds at most ``[limits] max_open_tickets`` open tickets per action (default
one): a ticket closes when a completion spends it or when it expires, and until then a new start is
refused (409 ``ticket-open`` with ``Retry-After``). Starts also pass the per-user rate limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from producer_api.completions import CompletionGuard
from producer_api.ingest import resolve_action
from scoreboard.adapters.auth import Principal
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain import ticket_tokens as tickets
from scoreboard.domain.catalog import Catalog
from scoreboard.domain.clock import Clock, to_datetime
from scoreboard.domain.ticket_tokens import Ticket, TicketKeyring


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
    """Millisecond precision: a client may complete at ``not_before`` exactly, not a second later."""
    return to_datetime(micros).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StartAction:
    def __init__(self, catalog: Catalog, keyring: TicketKeyring, clock: Clock, ttl_seconds: int,
                 guard: CompletionGuard) -> None:
        self._guard = guard
        self._catalog = catalog
        self._keyring = keyring
        self._clock = clock
        self._ttl_us = ttl_seconds * 1_000_000

    async def __call__(self, principal: Principal, action_id: str) -> IssuedTicket:
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
        wait_ms = await self._guard.open_ticket(principal.user_id, action.action_id, ticket.ticket_id,
                                                self._catalog.limits.max_open_tickets, now_us, ticket.expires_at_us)
        if wait_ms:
            wait_s = -(-wait_ms // 1000)
            raise Problem(409, "ticket-open", f"you already hold an open ticket for {action_id!r}: complete it, "
                          f"or start again once it expires (in {wait_s}s)", headers={"Retry-After": str(wait_s)})
        return IssuedTicket(tickets.issue(self._keyring, ticket), ticket, not_before_us)
