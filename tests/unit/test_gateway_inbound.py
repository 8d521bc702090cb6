"""Inbound WebSocket frames: small JSON objects of known types, at a bounded rate."""

from __future__ import annotations

from gateway.inbound import (
    MAX_INBOUND_BYTES,
    FrameLimiter,
    Invalid,
    Ping,
    Resume,
    Violation,
    parse_frame,
)


def test_resume_and_ping_are_understood() -> None:
    """Only an integer version resumes; true is not a version."""
    assert parse_frame('{"type":"resume","version":42}', None) == Resume(42)
    assert parse_frame('{"type":"ping"}', None) == Ping()
    assert isinstance(parse_frame('{"type":"resume","version":true}', None), Invalid)
    assert isinstance(parse_frame('{"type":"resume","version":"42"}', None), Invalid)


def test_malformed_frames_get_an_error_but_oversized_or_binary_ones_are_violations() -> None:
    """Not JSON / not an object / unknown type: Invalid. Too large or binary: Violation (close 1008)."""
    assert isinstance(parse_frame("{nope", None), Invalid)
    assert isinstance(parse_frame("[1]", None), Invalid)
    assert isinstance(parse_frame('{"type":"subscribe"}', None), Invalid)
    assert isinstance(parse_frame("x" * (MAX_INBOUND_BYTES + 1), None), Violation)
    assert isinstance(parse_frame(None, b"\x00"), Violation)


def test_the_limiter_allows_a_burst_of_rate_frames_then_refills_over_time() -> None:
    """20 frames at once pass, the 21st does not; half a second later 10 more pass."""
    now = [100.0]
    limiter = FrameLimiter(20, now=lambda: now[0])
    assert all(limiter.allow() for _ in range(20))
    assert not limiter.allow()
    now[0] += 0.5
    assert [limiter.allow() for _ in range(11)] == [True] * 10 + [False]
