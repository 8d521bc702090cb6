"""Action tickets, the pure part: signature, key rotation, binding to user and action, timing."""

from __future__ import annotations

import pytest

from scoreboard.domain import ticket_tokens as tickets
from scoreboard.domain.errors import ConfigurationError
from scoreboard.domain.ticket_tokens import Ticket, TicketKeyring, TicketRejected

SECRET = "t" * 40
NOW = 1_800_000_000_000_000


def ticket(**overrides: object) -> Ticket:
    fields: dict[str, object] = {"ticket_id": tickets.new_ticket_id(), "user_id": "alice", "action_id": "boss-fight",
                                 "issued_at_us": NOW, "expires_at_us": NOW + 3_600_000_000}
    return Ticket(**(fields | overrides))  # type: ignore[arg-type]


def reason(call: object) -> str:
    with pytest.raises(TicketRejected) as error:
        call()  # type: ignore[operator]
    return error.value.reason


def test_an_issued_ticket_reads_back_unchanged() -> None:
    """Round trip: what was signed is what is read."""
    keyring = TicketKeyring(SECRET)
    issued = ticket()
    assert tickets.read(keyring, tickets.issue(keyring, issued)) == issued


def test_a_ticket_signed_with_an_old_secret_still_verifies_after_rotation() -> None:
    """Rotation: the old secret moves to the old list, its tickets stay valid, new ones use the new key."""
    old = TicketKeyring(SECRET)
    token = tickets.issue(old, ticket())
    rotated = TicketKeyring("n" * 40, previous=(SECRET,))
    assert tickets.read(rotated, token).user_id == "alice"
    assert tickets.issue(rotated, ticket()).split(".")[1] == rotated.current_kid != old.current_kid
    assert reason(lambda: tickets.read(TicketKeyring("n" * 40), token)) == "ticket-invalid"


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
    lambda t: t.replace(t.split(".")[2], t.split(".")[2][:-2] + "xx"),
    lambda t: "v2" + t[2:],
    lambda t: t + ".extra",
    lambda t: "",
    lambda t: "v1." + "x" * 2000,
])
def test_a_tampered_or_malformed_ticket_is_invalid(tamper: object) -> None:
    """Any change to payload, signature or framing fails the signature check."""
    keyring = TicketKeyring(SECRET)
    token = tamper(tickets.issue(keyring, ticket()))  # type: ignore[operator]
    assert reason(lambda: tickets.read(keyring, token)) == "ticket-invalid"


def test_a_forged_ticket_with_a_guessed_secret_is_invalid() -> None:
    """A ticket signed with any other secret of the same key id format is refused."""
    forged = tickets.issue(TicketKeyring("f" * 40), ticket())
    assert reason(lambda: tickets.read(TicketKeyring(SECRET), forged)) == "ticket-invalid"


def test_another_users_or_actions_ticket_is_foreign() -> None:
    """A ticket is bound to its user and its action."""
    issued = ticket()
    assert reason(lambda: tickets.check_binding(issued, user_id="mallory", action_id="boss-fight")) == "ticket-foreign"
    assert reason(lambda: tickets.check_binding(issued, user_id="alice", action_id="win-match")) == "ticket-foreign"
    tickets.check_binding(issued, user_id="alice", action_id="boss-fight")


def test_timing_refuses_early_and_expired_tickets() -> None:
    """Before min_duration: too early with a retry hint; at or after expiry: expired; in between: fine."""
    issued = ticket()
    early = pytest.raises(TicketRejected)
    with early as error:
        tickets.check_timing(issued, now_us=NOW + 500_000, min_duration_seconds=2)
    assert error.value.reason == "ticket-too-early" and error.value.retry_after_s == 2
    assert reason(lambda: tickets.check_timing(issued, now_us=issued.expires_at_us,
                                               min_duration_seconds=0)) == "ticket-expired"
    tickets.check_timing(issued, now_us=NOW + 2_000_000, min_duration_seconds=2)


def test_a_short_ticket_secret_refuses_to_start() -> None:
    """Ticket secrets, current and old, need 256 bits."""
    with pytest.raises(ConfigurationError):
        TicketKeyring("short")
    with pytest.raises(ConfigurationError):
        TicketKeyring(SECRET, previous=("short",))
