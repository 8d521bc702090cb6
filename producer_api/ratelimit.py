"""Token-bucket rate limits in Redis, one atomic Lua call per check, on Redis' own clock.

Three buckets guard the api: one per client IP (every ``/v1/`` request, before authentication, so
token guessing is limited too), one per user (authenticated commands), and one per client IP for
the reads of the ledger (``?as_of=`` and history, which have their own small Postgres pool). A
refusal is a 429 problem with ``Retry-After`` and the ``RateLimit-Limit`` / ``RateLimit-Remaining`` /
``RateLimit-Reset`` headers. A rate of 0 switches a bucket off.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from scoreboard.adapters.autopipe import AutoPipeline, Script
from scoreboard.adapters.web.client_address import NO_PROXIES, TrustedProxies, client_address_of
from scoreboard.adapters.web.problems import Problem, problem_response

log = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV[1] refill tokens per second, ARGV[2] burst (capacity), ARGV[3] cost.
# Returns {allowed (0/1), tokens left (floor), ms until a retry can pass, ms until full}.
TAKE = Script("""
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
local full_ms = math.ceil((burst - tokens) * 1000 / rate)
redis.call('PEXPIRE', KEYS[1], full_ms + 1000)
local retry_ms = 0
if allowed == 0 then retry_ms = math.ceil((cost - tokens) * 1000 / rate) end
return {allowed, math.floor(tokens), retry_ms, full_ms}
""")


@dataclass(frozen=True)
class Bucket:
    name: str
    per_second: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_second > 0 and self.burst > 0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class RateLimiter:
    def __init__(self, calls: AutoPipeline) -> None:
        self._calls = calls

    async def take(self, bucket: Bucket, subject: str, cost: int = 1) -> Verdict:
        if not bucket.enabled:
            return Verdict(True, 0, 0, 0, 0)
        allowed, remaining, retry_ms, full_ms = await self._calls.run(
            TAKE, [f"sb:rl:{bucket.name}:{{{subject}}}"], [bucket.per_second, bucket.burst, cost])
        return Verdict(
            allowed=bool(allowed),
            limit=bucket.burst,
            remaining=max(0, int(remaining)),
            retry_after_s=max(1, math.ceil(int(retry_ms) / 1000)),
            reset_s=max(0, math.ceil(int(full_ms) / 1000)),
        )

    async def enforce(self, bucket: Bucket, subject: str) -> Verdict:
        """Take a token or raise the 429 problem."""
        verdict = await self.take(bucket, subject)
        if not verdict.allowed:
            raise Problem(429, "rate-limited",
                          f"too many requests ({bucket.name} limit); retry in {verdict.retry_after_s}s",
                          headers=verdict.headers())
        return verdict


class ClientIpLimit:
    """ASGI middleware: the per-client-IP bucket on every ``/v1/`` request, before authentication.

    The client IP is the socket peer or, when that is one of ``trusted`` proxies
    (``SCOREBOARD_TRUSTED_PROXIES``), the right-most untrusted ``X-Forwarded-For`` hop
    (``scoreboard.adapters.web.client_address``).
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter, bucket: Bucket,
                 trusted: TrustedProxies = NO_PROXIES) -> None:
        self._app = app
        self._limiter = limiter
        self._bucket = bucket
        self._trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/") and self._bucket.enabled:
            address = client_address_of(scope, self._trusted)
            try:
                verdict = await self._limiter.take(self._bucket, address)
            except RedisError as exc:  # best effort: the guards behind it fail closed on their own
                log.warning("rate limit unavailable, letting %s through: %s", address, exc)
            else:
                if not verdict.allowed:
                    response = problem_response(
                        429, "rate-limited", f"too many requests from this client; retry in "
                        f"{verdict.retry_after_s}s", instance=scope["path"], headers=verdict.headers())
                    await response(scope, receive, send)
                    return
        await self._app(scope, receive, send)
