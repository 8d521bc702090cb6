"""Keyed hashes of what identifies a client (its address, an optional device id), recorded in each
``ActionCompleted`` so that the detectors can see many accounts sharing one address or device
without the log ever holding an address in clear.

HMAC-SHA256 under a key derived from the ticket secret (a secret every api holds; a separate key
would be one more secret to distribute for no gain: the hash only has to be unguessable to readers of
the log). Rotating the ticket secret changes the hashes, so swarms straddling a rotation are seen as
two groups for a while. Pure.
"""

from __future__ import annotations

import hashlib
import hmac
import re

DEVICE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
"""An acceptable ``X-Device-ID`` header (anything else is ignored, never an error)."""


REMEMBERED = 4096
"""How many recent hashes a hasher keeps: a client sends many requests from one address and device,
so most are looked up instead of computed (the cache is dropped whole when full)."""


class EvidenceHasher:
    def __init__(self, ticket_secret: str) -> None:
        self._key = hmac.digest(ticket_secret.encode(), b"scoreboard-evidence-v1", hashlib.sha256)
        self._recent: dict[str, str] = {}

    def of(self, kind: str, value: str) -> str:
        """32 hex characters naming ``value`` (of ``kind``: ``address`` or ``device``); "" for no value."""
        if not value:
            return ""
        named = f"{kind}\0{value}"
        found = self._recent.get(named)
        if found is None:
            if len(self._recent) >= REMEMBERED:
                self._recent.clear()
            found = self._recent[named] = hmac.digest(self._key, named.encode(), hashlib.sha256)[:16].hex()
        return found

    def address(self, address: str) -> str:
        return self.of("address", address)

    def device(self, header: str | None) -> str:
        return self.of("device", header) if header and DEVICE_ID.match(header) else ""
