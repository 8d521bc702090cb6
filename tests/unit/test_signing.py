"""Record signatures: only a holder of the key can write a record that verifies, and only that record."""

from __future__ import annotations

import pytest

from scoreboard.domain.errors import ConfigurationError
from scoreboard.domain.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureInvalid,
    SigningKeyring,
)

SECRET = "a" * 32
HEADERS = [("ce_id", b"e1"), ("ce_type", b"scoreboard.ActionCompleted.v1"), ("ce_source", b"/api"),
           ("ce_time", b"2026-11-30T10:00:00Z"), ("ce_specversion", b"1.0")]


def signed(keyring: SigningKeyring, partition: int = 3, key: bytes = b"alice", value: bytes = b"v") -> list[
        tuple[str, bytes]]:
    return keyring.sign("t", partition, key, value, HEADERS)


def test_a_signed_record_verifies_with_the_same_or_a_rotated_keyring() -> None:
    """The current key verifies; after rotation the old key still does (it sits in the old secrets)."""
    old = SigningKeyring("event", SECRET)
    headers = signed(old)
    old.verify("t", 3, b"alice", b"v", headers)
    SigningKeyring("event", "b" * 32, [SECRET]).verify("t", 3, b"alice", b"v", headers)
    SigningKeyring("event", SECRET).verify("t", 3, b"alice", b"v", dict(headers))  # a client's dict shape


@pytest.mark.parametrize("change", ["topic", "partition", "key", "value", "ce_time", "ce_type", "drop-ce_id"])
def test_any_change_to_a_signed_record_breaks_the_signature(change: str) -> None:
    """Topic, partition, key, value and each CloudEvents header are covered."""
    keyring = SigningKeyring("event", SECRET)
    headers = signed(keyring)
    topic, partition, key, value = "t", 3, b"alice", b"v"
    if change == "topic":
        topic = "u"
    elif change == "partition":
        partition = 4
    elif change == "key":
        key = b"mallory"
    elif change == "value":
        value = b"w"
    elif change == "drop-ce_id":
        headers = [h for h in headers if h[0] != "ce_id"]
    else:
        headers = [(k, b"x" if k == change else v) for k, v in headers]
    with pytest.raises(SignatureInvalid, match="does not match"):
        keyring.verify(topic, partition, key, value, headers)


@pytest.mark.parametrize(("headers", "message"), [
    (None, "not signed"),
    ([], "not signed"),
    ([(KEY_ID_HEADER, b"nope"), (SIGNATURE_HEADER, b"00")], "unknown key"),
])
def test_unsigned_and_unknown_key_records_are_refused(headers: list[tuple[str, bytes]] | None, message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        SigningKeyring("event", SECRET).verify("t", 0, b"k", b"v", headers)


def test_another_keyring_or_purpose_cannot_forge() -> None:
    """A record signed with an attacker's key, or with the change key, is not an event record."""
    headers = signed(SigningKeyring("event", "z" * 32))
    with pytest.raises(SignatureInvalid):
        SigningKeyring("event", SECRET).verify("t", 3, b"alice", b"v", headers)
    with pytest.raises(SignatureInvalid):
        SigningKeyring("event", SECRET).verify("t", 3, b"alice", b"v", signed(SigningKeyring("change", SECRET)))


def test_a_duplicated_signature_header_is_refused() -> None:
    """Two signature headers are ambiguous: the record counts as unsigned."""
    keyring = SigningKeyring("event", SECRET)
    headers = signed(keyring)
    with pytest.raises(SignatureInvalid, match="not signed"):
        keyring.verify("t", 3, b"alice", b"v", [*headers, (SIGNATURE_HEADER, b"00")])


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="256 bits"):
        SigningKeyring("event", "short")


@pytest.mark.parametrize(("partition", "key", "value", "headers", "expected"), [
    (3, b"alice", b"v", HEADERS, "89a91b6dff382199582ff33a088d38f70e3e4432ac524c6e0666f6508ff4d392"),
    (-1, b"", b"", [("ce_id", None), ("ce_type", bytearray(b"x"))],
     "071349503f766c88e5ecfabd2eed6e435692202d303619bb9b381ea4d3a630ed"),
    (3, b"alice", b"v", [*HEADERS, ("ce_time", b"again")],
     "e0c9054d9167cf028b8eb9a7c1e68e2117457815bc70b2c6e46c33861fc28cb1"),
])
def test_the_signed_message_is_fixed(partition: int, key: bytes, value: bytes, headers: list[tuple[str, object]],
                                     expected: str) -> None:
    """The log is replayed forever, so a record signed once must verify with every later version:
    the signatures of a plain record, of odd header values (absent, ``None``, a ``bytearray``) and of
    a header given twice (counted as absent) stay what they were when the format was made."""
    keyring = SigningKeyring("event", SECRET)
    signed_headers = keyring.sign("t", partition, key, value, headers)  # type: ignore[arg-type]
    assert signed_headers[-1] == (SIGNATURE_HEADER, expected.encode())
    keyring.verify("t", partition, key, value, signed_headers)
