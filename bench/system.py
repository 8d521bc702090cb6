"""How the benchmark runs the system: every process logs under ``results/raw/``, the limits are raised
out of the way, and the whole pipeline (api, one worker, gateway) runs on a bench world, warmed up
before any measurement."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

from bench.matching import decode_frames
from bench.poster import HttpPoster
from devstack.worlds import World
from scoreboard.adapters.auth import mint_token
from testkit.subscribers import WebSocketReader
from testkit.system import System, new_log_dir, start_system

RAW_DIR = Path(__file__).resolve().parent / "results" / "raw"
"""Process logs, token files and profiles of the runs (not kept in git)."""
LOAD_TEST_CATALOG = Path(__file__).resolve().parents[1] / "scoreboard" / "catalogs" / "load-test.toml"

# "raise the limits" rather than switch them off: the limiter's Redis calls (and the catalog's cap and
# budget reservation) stay on the measured path
RAISED_LIMITS = {
    "SCOREBOARD_ACTIONS_FILE": str(LOAD_TEST_CATALOG),
    "SCOREBOARD_RATE_USER_PER_SECOND": "1000000",
    "SCOREBOARD_RATE_USER_BURST": "100000000",
    "SCOREBOARD_RATE_IP_PER_SECOND": "1000000",
    "SCOREBOARD_RATE_IP_BURST": "100000000",
    # every bench client connects from 127.0.0.1: the gateway's per-address caps would refuse the fan-out
    "SCOREBOARD_GATEWAY_MAX_CONNECTIONS_PER_IP": "100000",
    "SCOREBOARD_GATEWAY_CONNECTS_PER_IP_PER_SECOND": "0",
}


def bench_processes(world: World, env: dict[str, str]) -> System:
    """A scenario's processes (none started yet), with ``env`` and their logs in a new folder of RAW_DIR."""
    return System(world, env, new_log_dir(RAW_DIR))


def start_pipeline(world: World, env: dict[str, str] | None = None) -> System:
    """The api, one worker and the gateway, each ready, with ``env`` (by default the raised limits) over
    the world's environment; ``with`` it to stop them."""
    return start_system(world, env=RAISED_LIMITS if env is None else env, log_dir=new_log_dir(RAW_DIR))


HEAD_START = 1_000_000_000
"""Points an admin grants each measured user first, so they stay in the top 10 even when other
sessions' test worlds share the actions topic (every world's worker sees every action)."""


async def warm_up(pipeline: System, world: World, reader: WebSocketReader, users: list[str],
                  timeout_s: float = 90) -> None:
    """Grant ``users`` a head start and wait until a frame shows all of them: the worker has joined,
    caught up, and the gateway pushes this world's board."""
    admin = f"bench-admin-{uuid.uuid4().hex[:6]}"
    secret = world.settings()
    token = mint_token(secret.jwt_secret, admin, roles=("admin",), issuer=secret.jwt_issuer,
                       audience=secret.jwt_audience)
    poster = await HttpPoster.connect(pipeline.api_url)
    try:
        for user in users:
            status, body = await poster.post(
                f"/v1/admin/users/{user}/adjustments",
                {"Authorization": f"Bearer {token}", "Idempotency-Key": f"head-{uuid.uuid4().hex}",
                 "Content-Type": "application/json"},
                json.dumps({"delta": HEAD_START, "reason": "benchmark head start"}).encode())
            if not 200 <= status < 300:
                raise RuntimeError(f"head-start adjustment refused: {status} {body[:300]!r}")
    finally:
        await poster.close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        frames = decode_frames(reader.texts[-1:])
        if frames and all(frames[-1].scores.get(u, 0) >= HEAD_START for u in users):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the pipeline did not show the head start of {users} within {timeout_s:.0f} s")
