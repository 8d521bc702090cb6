"""Action tickets: signed, single-use proof that a user *started* an action at a server time.

A ticket is ``v1.<kid>.<payload>.<signature>`` where the payload is base64url JSON
``{"tid", "sub", "act", "iat", "exp"}`` (times in server microseconds) and the signature is
HMAC-SHA256 over ``v1.<kid>.<payload>`` with the key named by ``kid``. The key id is derived from the
secret, so rotating means: set the new ``SCOREBOARD_TICKET_SECRET`` and move the old one to
``SCOREBOARD_TICKET_OLD_SECRETS`` until the old tickets have expired.

Everything here is pure: the single-use part (a ticket may be redeemed once) lives in Redis, see
``producer_api.completions``. The ticket id ``tid`` becomes the ledger nonce of the completion.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass

from scoreboard.domain.errors import ConfigurationError, ScoreboardError

VERSION = "v1"
MIN_SECRET_BYTES = 32
TICKET_ID = re.compile(r"^tkt\.[0-9a-f]{32}$")
_MAX_TICKET_CHARS = 1024


class TicketRejected(ScoreboardError):
    """The ticket is not acceptable for this completion; ``reason`` is a stable slug."""

    def __init__(self, reason: str, detail: str, retry_after_s: int = 0) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    user_id: str
    action_id: str
    issued_at_us: int
    expires_at_us: int


def key_id_of(secret: str) -> str:
    """A short public name of a secret (it does not reveal the secret)."""
    return hmac.new(secret.encode(), b"scoreboard-ticket-kid", hashlib.sha256).hexdigest()[:12]


class TicketKeyring:
    """The current signing secret plus older secrets that may still verify."""

    def __init__(self, current: str, previous: tuple[str, ...] = ()) -> None:
        for secret in (current, *previous):
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    "SCOREBOARD_TICKET_SECRET (and each old ticket secret) must be at least 256 bits (32 bytes)")
        self.current_kid = key_id_of(current)
        self._keys = {key_id_of(secret): secret.encode() for secret in (*previous, current)}

    def key(self, kid: str) -> bytes | None:
        return self._keys.get(kid)

    @property
    def current_key(self) -> bytes:
        return self._keys[self.current_kid]


def new_ticket_id() -> str:
    return f"tkt.{uuid.uuid4().hex}"


def issue(keyring: TicketKeyring, ticket: Ticket) -> str:
    payload = _b64(json.dumps({
        "tid": ticket.ticket_id, "sub": ticket.user_id, "act": ticket.action_id,
        "iat": ticket.issued_at_us, "exp": ticket.expires_at_us,
    }, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{VERSION}.{keyring.current_kid}.{payload}"
    return f"{signed}.{_b64(_sign(keyring.current_key, signed))}"


def read(keyring: TicketKeyring, token: str) -> Ticket:
    """Check format and signature; raises ``TicketRejected('ticket-invalid', ...)`` otherwise."""
    if not isinstance(token, str) or len(token) > _MAX_TICKET_CHARS:
        raise TicketRejected("ticket-invalid", "the ticket is malformed")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise TicketRejected("ticket-invalid", "the ticket is malformed")
    _, kid, payload, signature = parts
    key = keyring.key(kid)
    if key is None:
        raise TicketRejected("ticket-invalid", "the ticket is signed with an unknown key")
    try:
        given = _unb64(signature)
    except ValueError as exc:
        raise TicketRejected("ticket-invalid", "the ticket is malformed") from exc
    if not hmac.compare_digest(given, _sign(key, f"{VERSION}.{kid}.{payload}")):
        raise TicketRejected("ticket-invalid", "the ticket signature does not match")
    try:
        claims = json.loads(_unb64(payload))
        ticket = Ticket(str(claims["tid"]), str(claims["sub"]), str(claims["act"]),
                        int(claims["iat"]), int(claims["exp"]))
    except (ValueError, KeyError, TypeError) as exc:  # signed by us, so only a bug lands here
        raise TicketRejected("ticket-invalid", "the ticket payload is malformed") from exc
    if not TICKET_ID.match(ticket.ticket_id):
        raise TicketRejected("ticket-invalid", "the ticket id is malformed")
    return ticket


def check_binding(ticket: Ticket, *, user_id: str, action_id: str) -> None:
    """Was this (authentic) ticket issued to this user for this action?"""
    if ticket.user_id != user_id:
        raise TicketRejected("ticket-foreign", "the ticket was issued to another user")
    if ticket.action_id != action_id:
        raise TicketRejected("ticket-foreign", "the ticket was issued for another action")


def check_timing(ticket: Ticket, *, now_us: int, min_duration_seconds: int) -> None:
    """Is it late enough (the action takes time) and not too late (the ticket expires) to complete now?"""
    if now_us >= ticket.expires_at_us:
        raise TicketRejected("ticket-expired", "the ticket has expired; start the action again")
    earliest = ticket.issued_at_us + min_duration_seconds * 1_000_000
    if now_us < earliest:
        wait_s = max(1, -(-(earliest - now_us) // 1_000_000))
        raise TicketRejected("ticket-too-early",
                             f"the action takes at least {min_duration_seconds}s; try again in {wait_s}s",
                             retry_after_s=wait_s)


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
