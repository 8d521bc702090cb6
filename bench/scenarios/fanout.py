"""fanout: N WebSocket subscribers of the global board (one uvloop process; 1,000, 5,000 and 10,000,
the file limit raised for them) plus one stalled client, against ``scoreboard gateway --processes N``
(``FanoutPlan.gateway_processes``, 2: how the gateway uses a 2-core machine; the bench says so).

Each update is one action of a hot user. Its change time is the pushed board version, which the
worker sets to the wall-clock microsecond it detected the top-10 change (the LeaderboardChanged's
time); each healthy client's latency is the time this process read the frame minus that. Reported per
client count: p50/p99 over updates of the *last* healthy client's latency (the time until everyone
has it), plus the same measured from the POST's ack, how many clients missed an update and how many
frames came out of version order (both must be 0). ``arrival_*``: the same from the kernel's receive
stamp on each client's socket (``testkit.stamped_reader.StampedReader``), which the client process's
own delay in reading thousands of sockets does not include. ``profile_dir``
records the gateway with py-spy during the updates.

``stages_ms`` splits each update's latency (``STAGES`` of ``bench/fanout/stages.py``, ms from the
change): the worker's batch line (``produced``: handed to Kafka; ``worker_done``), each gateway
process's ``push`` line (``gateway.stages``: read from the feed, first and last socket written, garbage
collection), then the last client's kernel arrival and read; p50 and p99 of each over the updates, and
the stages of the update read latest. The matching of frames and log lines to the updates is in
``bench/fanout/``. The subscribers' process runs without cyclic garbage collection while it reads
the timed frames: with every frame of the run held, its collections stalled the reads being timed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fanout.latency import Update, arrivals, last_client_latencies, out_of_order
from bench.fanout.stages import log_lines, stage_summary, update_stages
from bench.fanout.target import profile_gateway, raise_open_files, start_fanout_pipeline, stop_profile
from bench.poster import HttpPoster
from bench.stats import latency_summary, percentile
from bench.system import HEAD_START, warm_up
from bench.tokens import mint_tokens
from devstack.worlds import isolated_world
from testkit.stamped_reader import StampedReader, open_stamped_reader
from testkit.subscribers import open_reader, open_stalled_websocket
from testkit.system import System


@dataclass(frozen=True)
class FanoutPlan:
    clients: tuple[int, ...] = (1000, 5000, 10000)
    updates: int = 100
    """Updates per step. Each step's p99 is over its updates: about 100 make it the 99th percentile
    (over 20 it was the worst update but a fraction), so one slow update no longer decides the run."""
    gap_s: float = 0.5
    wait_s: float = 10
    gateway_processes: int = 2
    """``scoreboard gateway --processes N``: how the gateway scales on one machine (SO_REUSEPORT)."""
    client_loop: str = "uvloop"
    """The subscribers' event loop: "uvloop", or "asyncio" (the standard one, which at 5,000 clients
    spends longer reading the frames than the gateway takes to write them)."""
    profile_dir: Path | None = None
    """When set, py-spy records the gateway (and its child processes) during each count's updates:
    ``profile-gateway-<clients>-<run>.txt`` in collapsed-stack form."""


async def _subscribe(url: str, count: int) -> list[StampedReader]:
    readers: list[StampedReader] = []
    for start in range(0, count, 100):  # in waves: the gateway accepts a backlog, not 5,000 at once
        wave = range(start, min(count, start + 100))
        readers += await asyncio.gather(*(open_stamped_reader(url, timeout_s=60) for _ in wave))
    deadline = time.monotonic() + 60
    while any(not r.texts for r in readers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return readers


async def _one_count(pipeline: System, user: str, token: str, clients: int, count: int, plan: FanoutPlan,
                     score: int, tick: Callable[[str], None]) -> tuple[dict[str, Any], int]:
    """``count`` updates to ``clients`` subscribers; the step's row and the hot user's score after."""
    readers = await _subscribe(pipeline.board_ws(), clients)
    stalled = open_stalled_websocket(pipeline.board_ws())
    poster = await HttpPoster.connect(pipeline.api_url)
    spy = None
    if plan.profile_dir is not None:
        spy = profile_gateway(pipeline, plan.profile_dir / f"profile-gateway-{clients}-{uuid.uuid4().hex[:6]}.txt")
    updates: list[Update] = []
    # No cyclic collection in this process while it reads the frames being timed: with 5,000 readers
    # holding every frame so far, a collection stalled the reads for tens of milliseconds
    # (the frames are kept either way; nothing they hold forms cycles).
    gc.collect()
    gc.disable()
    try:
        for _ in range(count):
            counts = [len(r.texts) for r in readers]
            status, body = await poster.post("/v1/actions/win-match/complete", {
                "Authorization": f"Bearer {token}", "Idempotency-Key": f"fan-{uuid.uuid4().hex}"})
            if not 200 <= status < 300:
                raise RuntimeError(f"fan-out action refused: {status} {body[:200]!r}")
            accepted = json.loads(body)
            score += int(accepted["points"])
            updates.append(Update(score, time.time(), str(accepted.get("event_id", ""))))
            deadline = time.monotonic() + plan.wait_s
            shown = str(score).encode()
            # Waits until every reader shows the update, in this same process that reads the sockets:
            # each poll drops the readers that have it, so 5,000 readers are checked about once, not
            # once per poll (a full scan every 50 ms took CPU from the reads being timed).
            waiting = list(zip(readers, counts, strict=True))
            while waiting and time.monotonic() < deadline:
                first, seen = waiting[0]
                if len(first.texts) > seen and shown in first.texts[-1][1]:
                    waiting = [(r, n) for r, n in waiting if len(r.texts) <= n or shown not in r.texts[-1][1]]
                    if not waiting:
                        break
                await asyncio.sleep(0.05)
            tick(f"{clients} clients")
            await asyncio.sleep(plan.gap_s)
        per_client = [arrivals([(at, text) for at, (_, text) in zip(r.reads, r.texts, strict=True)], user, updates)
                      for r in readers]
        per_client_arrival = [arrivals(r.texts, user, updates) for r in readers]
        stages = update_stages(updates, per_client, per_client_arrival, _role_log(pipeline, "worker", "batch"),
                               _role_log(pipeline, "gateway", "push"))
        disordered = sum(out_of_order(r.texts) for r in readers)
        closed = sum(1 for r in readers if r.closed)
    finally:
        gc.enable()
        stop_profile(spy)
        await poster.close()
        stalled.close()
        for reader in readers:
            reader.close()
    from_change, from_ack, every, missing = last_client_latencies(per_client, updates)
    arrival_from_change, _, arrival_every, _ = last_client_latencies(per_client_arrival, updates)
    return {
        "clients": clients,
        "gateway_processes": plan.gateway_processes,
        "p50_ms": round(percentile(from_change, 50), 2),
        "p99_ms": round(percentile(from_change, 99), 2),
        "from_ack_p50_ms": round(percentile(from_ack, 50), 2),
        "from_ack_p99_ms": round(percentile(from_ack, 99), 2),
        "all_clients": latency_summary(every),
        "updates": len(updates),
        "missed_frames": missing,
        "out_of_order_frames": disordered,
        "closed_clients": closed,
        "arrival_p50_ms": round(percentile(arrival_from_change, 50), 2),
        "arrival_p99_ms": round(percentile(arrival_from_change, 99), 2),
        "arrival_all_clients": latency_summary(arrival_every),
        "last_client_ms": [round(ms, 1) for ms in from_change],
        "stages_ms": stage_summary(stages),
    }, score


def _role_log(pipeline: System, role: str, msg: str) -> list[dict[str, Any]]:
    return [line for process in pipeline.processes if process.role == role
            for line in log_lines(process.log_path, msg)]


async def _measure(plan: FanoutPlan, tick: Callable[[str], None]) -> list[dict[str, Any]]:
    raise_open_files(2 * max(plan.clients) + 1000)
    print(f"bench: fanout runs the gateway as `scoreboard gateway --processes {plan.gateway_processes}`")
    with isolated_world() as world, start_fanout_pipeline(world, plan.gateway_processes) as pipeline:
        user = f"fan-{uuid.uuid4().hex[:8]}"
        token = mint_tokens(world.settings(), [user])[user]
        watcher = await open_reader(pipeline.board_ws())
        try:
            await warm_up(pipeline, world, watcher, [user])
        finally:
            watcher.close()
        results = []
        score = HEAD_START
        for clients in plan.clients:
            result, score = await _one_count(pipeline, user, token, clients, plan.updates, plan, score, tick)
            results.append(result)
        return results


def run(plan: FanoutPlan, tick: Callable[[str], None]) -> list[dict[str, Any]]:
    if plan.client_loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_measure(plan, tick))
    return asyncio.run(_measure(plan, tick))
