"""What the simulated clients are: accounts, the requests they send, the answers they get, and the
``Agent`` contract the virtual-time engine drives (``bench.simulation.engine``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from scoreboard.domain.ticket_tokens import Ticket

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US


@dataclass(frozen=True, slots=True)
class Account:
    """One user id of the simulation. ``group`` is the honest group (``regular``, ``nat``, ``grinder``,
    ``newcomer``) or the bot strategy; ``known_since_us`` is when the ledger first saw the user before
    the simulated span (0: a fresh account, first seen at its first accepted action)."""

    user_id: str
    group: str
    bot: bool
    address: str
    device: str
    known_since_us: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    """``POST /v1/actions/{action_id}/start`` (``start``) or ``.../complete`` with an Idempotency-Key
    and, for a ticketed action, the ticket it spends."""

    user_id: str
    action_id: str
    start: bool = False
    key: str = ""
    ticket: Ticket | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The api's answer: ``status`` and its problem type (or ``accepted`` / ``duplicate`` /
    ``issued``), ``Retry-After`` in whole seconds when the api sends one, the ticket a start issued."""

    status: int
    reason: str
    retry_after_s: int = 0
    ticket: Ticket | None = None

    @property
    def accepted(self) -> bool:
        return self.reason == "accepted"


Submit = Callable[[Request], Answer]


class Agent(Protocol):
    """A client (one human, one bot account, or a group acting together) in virtual time."""

    @property
    def accounts(self) -> tuple[Account, ...]: ...

    @property
    def first_wake_us(self) -> int: ...

    def wake(self, now_us: int, submit: Submit) -> int | None:
        """Act at ``now_us`` (send any number of requests, each answered at once) and return when to
        wake next (later than ``now_us``), or None when done."""
        ...
