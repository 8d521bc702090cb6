"""Authentic log records: an HMAC-SHA256 signature in the Kafka headers of every record we write.

Anyone who can reach the broker can write a well-formed record; only a holder of the signing key can
write one that verifies. The api signs what it appends to the actions topic (with the *event* key),
workers sign what they write to the change topics (with the *change* key), and the readers verify
before they trust anything: the worker rejects an action record that does not verify (reason
``signature``), the gateway ignores a change record that does not.

The signature covers the topic, the partition (for the actions topic, where the api picks the
partition itself, so a record copied to another partition fails), the key, the value and the
CloudEvents headers, each length-prefixed so no two different records share a signed message. The
``sb_kid`` header names the key (derived from the secret, so it reveals nothing); rotating means: set
the new secret and keep the old one in ``..._OLD_SECRETS`` while records signed with it may still be
read (for the actions topic, which is replayed from offset 0 by a rebuild: forever).

Pure: no I/O. What verification costs per record: docs/adr/0008-signed-records.md.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable, Mapping, Sequence

from scoreboard.domain.errors import ConfigurationError, ScoreboardError

SIGNATURE_HEADER = "sb_sig"
KEY_ID_HEADER = "sb_kid"
SIGNED_HEADERS = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time")
MIN_SECRET_BYTES = 32
ANY_PARTITION = -1
"""Sign without binding the record to a partition (records whose partition the writer does not choose)."""
_DOMAIN = b"scoreboard-record-signature-v1"

Headers = Sequence[tuple[str, bytes]]


class SignatureInvalid(ScoreboardError):
    """The record is unsigned, signed with an unknown key, or its signature does not match."""


def key_id_of(secret: str, purpose: str) -> str:
    """A short public name of a secret (it does not reveal the secret)."""
    return hmac.new(secret.encode(), f"scoreboard-{purpose}-kid".encode(), hashlib.sha256).hexdigest()[:12]


class SigningKeyring:
    """The current signing secret plus older ones that still verify. ``purpose`` (``event`` or
    ``change``) keeps key ids of different keyrings apart."""

    def __init__(self, purpose: str, current: str, previous: Iterable[str] = ()) -> None:
        secrets = (current, *previous)
        for secret in secrets:
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"the {purpose} signing secret (and each old one) must be at least 256 bits (32 bytes)")
        self.purpose = purpose
        self.current_kid = key_id_of(current, purpose)
        self._keys = {key_id_of(secret, purpose): secret.encode() for secret in reversed(secrets)}
        # each key's HMAC with the key already absorbed: a record's MAC copies it (hashing the padded
        # key twice per record was a third of a verification)
        self._keyed = {kid: hmac.new(secret, digestmod=hashlib.sha256) for kid, secret in self._keys.items()}
        self._current = self._keyed[self.current_kid]

    def key(self, kid: str) -> bytes | None:
        return self._keys.get(kid)

    def signed_by_us(self, headers: Headers) -> bool:
        """Whether the record names one of our key ids (cheap: no MAC; ``verify`` still decides)."""
        for name, value in headers:
            if name == KEY_ID_HEADER:
                return value.decode(errors="replace") in self._keys
        return False

    def sign(self, topic: str, partition: int, key: bytes, value: bytes, headers: Headers) -> list[tuple[str, bytes]]:
        """``headers`` plus the key id and signature headers."""
        mac = _mac(self._current, topic, partition, key, value, _by_name(headers))
        return [*headers, (KEY_ID_HEADER, self.current_kid.encode()), (SIGNATURE_HEADER, mac.hex().encode())]

    def verify(self, topic: str, partition: int, key: bytes, value: bytes,
               headers: Headers | Mapping[str, bytes] | None) -> None:
        """Raise ``SignatureInvalid`` unless one of our keys signed exactly this record."""
        found = _by_name(_as_pairs(headers))
        kid = found.get(KEY_ID_HEADER)
        given = found.get(SIGNATURE_HEADER)
        if kid is None or given is None:
            raise SignatureInvalid("the record is not signed")
        keyed = self._keyed.get(kid.decode(errors="replace"))
        if keyed is None:
            raise SignatureInvalid(f"the record is signed with an unknown key {kid[:16]!r}")
        expected = _mac(keyed, topic, partition, key, value, found).hex().encode()
        if not hmac.compare_digest(expected, given):
            raise SignatureInvalid("the record's signature does not match its contents")


_LENGTH = struct.Struct(">I")
_ABSENT = b"\xff\xff\xff\xff"  # an absent header differs from an empty one


def _mac(keyed: hmac.HMAC, topic: str, partition: int, key: bytes, value: bytes,
         headers: Mapping[str, bytes | None]) -> bytes:
    """HMAC-SHA256 over the domain tag, then topic, partition, key, value and the signed headers,
    each length-prefixed; one update of a copy of the keyed HMAC with the joined message (this is the
    hot part of a rebuild: every record of the log is verified again)."""
    pack = _LENGTH.pack
    parts = [_prefix(topic, partition), pack(len(key)), key, pack(len(value)), value]
    for name in SIGNED_HEADERS:
        found = headers.get(name)
        if found is None:
            parts.append(_ABSENT)
        else:
            parts.append(pack(len(found)))
            parts.append(found)
    mac = keyed.copy()
    mac.update(b"".join(parts))
    return mac.digest()


_PREFIXES: dict[tuple[str, int], bytes] = {}
_MAX_PREFIXES = 4096  # topics x partitions: a handful; the bound only guards against odd callers


def _prefix(topic: str, partition: int) -> bytes:
    """The domain tag, topic and partition of the signed message, length-prefixed (the same for every
    record of a partition, so joined once)."""
    found = _PREFIXES.get((topic, partition))
    if found is None:
        parts = [_DOMAIN]
        for part in (topic.encode(), str(partition).encode()):
            parts.append(_LENGTH.pack(len(part)))
            parts.append(part)
        found = b"".join(parts)
        if len(_PREFIXES) < _MAX_PREFIXES:
            _PREFIXES[(topic, partition)] = found
    return found


def _as_pairs(headers: Headers | Mapping[str, bytes] | None) -> Headers:
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        return list(headers.items())
    return headers


def _by_name(headers: Headers) -> dict[str, bytes | None]:
    """Header values by name; a header given twice counts as absent (no ambiguity to exploit)."""
    found: dict[str, bytes | None] = dict(headers)
    if len(found) == len(headers):  # the usual case: no name twice, and (checked next) every value bytes
        for value in found.values():
            if value.__class__ is not bytes:
                break
        else:
            return found
    found = {}
    seen: set[str] = set()
    for name, value in headers:
        if name in seen:
            found[name] = None
            continue
        seen.add(name)
        found[name] = bytes(value) if value is not None else b""
    return found
