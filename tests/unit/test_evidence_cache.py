"""Remembering recent evidence hashes changes no hash."""

from __future__ import annotations

import hashlib
import hmac

from scoreboard.domain.evidence import REMEMBERED, EvidenceHasher

SECRET = "t" * 40


def direct(kind: str, value: str) -> str:
    key = hmac.digest(SECRET.encode(), b"scoreboard-evidence-v1", hashlib.sha256)
    return hmac.digest(key, f"{kind}\0{value}".encode(), hashlib.sha256)[:16].hex()


def test_repeated_and_evicted_values_hash_as_computed_directly() -> None:
    hasher = EvidenceHasher(SECRET)
    addresses = [f"10.0.{i // 256}.{i % 256}" for i in range(REMEMBERED + 10)]
    for _ in range(2):
        assert [hasher.address(a) for a in addresses] == [direct("address", a) for a in addresses]
    assert hasher.address("10.0.0.1") != hasher.device("10.0.0.1-device")
    assert hasher.device("device-0001") == direct("device", "device-0001")
    assert hasher.device("bad id!") == "" and hasher.address("") == ""
