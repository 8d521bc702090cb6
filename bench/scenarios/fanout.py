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

``stages_ms`` splits each update's latency (``STAGES``, ms from the change): the worker's batch line
(``produced``: handed to Kafka; ``worker_done``), each gateway process's ``push`` line
(``gateway.stages``: read from the feed, first and last socket written, garbage collection), then the
last client's kernel arrival and read; p50 and p99 of each over the updates, and the stages of the
update read latest. The subscribers' process runs without cyclic garbage collection while it reads
the timed frames: with every frame of the run held, its collections stalled the reads being timed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.matching import decode_frames
from bench.poster import HttpPoster
from bench.stats import latency_summary, percentile
from bench.system import HEAD_START, RAISED_LIMITS, RAW_DIR, warm_up
from bench.tokens import mint_tokens
from devstack.ports import free_port
from devstack.worlds import World, isolated_world
from testkit.stamped_reader import StampedReader, open_stamped_reader
from testkit.subscribers import open_reader, open_stalled_websocket
from testkit.system import System, new_log_dir, start_process, wait_ready


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


@dataclass(frozen=True)
class Update:
    expected_score: int
    acked_at: float
    event_id: str = ""


def raise_open_files(wanted: int) -> int:
    """Lift the soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def arrivals(texts: Sequence[tuple[float, bytes]], user: str, updates: Sequence[Update]) -> list[tuple[float, int]]:
    """For each update, (arrival time, board version) of the first frame showing it, or (nan, 0)."""
    frames = [f for f in decode_frames(texts) if user in f.scores]
    found: list[tuple[float, int]] = []
    index = 0
    for update in updates:
        while index < len(frames) and frames[index].scores[user] < update.expected_score:
            index += 1
        found.append((frames[index].at, frames[index].version) if index < len(frames) else (float("nan"), 0))
    return found


def last_client_latencies(per_client: Sequence[Sequence[tuple[float, int]]], updates: Sequence[Update]
                          ) -> tuple[list[float], list[float], list[float], int]:
    """Per update: ms from the change to the last client's frame, and from the ack; all clients' ms from
    the change; and how many (client, update) frames never came."""
    from_change: list[float] = []
    from_ack: list[float] = []
    every: list[float] = []
    missing = 0
    for u, update in enumerate(updates):
        seen = [client[u] for client in per_client if client[u][1] > 0]
        missing += len(per_client) - len(seen)
        if not seen:
            continue
        change_s = min(version for _, version in seen) / 1e6
        every.extend(max(0.0, (at - change_s) * 1000) for at, _ in seen)
        last = max(at for at, _ in seen)
        from_change.append(max(0.0, (last - change_s) * 1000))
        from_ack.append(max(0.0, (last - update.acked_at) * 1000))
    return from_change, from_ack, every, missing


def out_of_order(texts: Sequence[tuple[float, bytes]]) -> int:
    """Board frames of one client whose version is not above the previous one's (must be 0)."""
    versions = [f.version for f in decode_frames(texts)]
    return sum(1 for before, after in zip(versions, versions[1:], strict=False) if after <= before)


STAGES = ("produced", "worker_done", "received_first", "received_last", "first_write", "last_write", "gc",
          "arrival", "read")
"""The stages of one update, each in ms from the worker's change (``gc``: ms of garbage collection in
the gateway processes between reading the change and the end of their write pass, summed)."""


def log_lines(path: Path, msg: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``path`` whose ``msg`` is ``msg`` (``scoreboard.runtime.logs``)."""
    found: list[dict[str, Any]] = []
    if not path.exists():
        return found
    marker = f'"msg": "{msg}"'
    for raw in path.read_text(errors="replace").splitlines():
        if marker not in raw:
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("msg") == msg:
            found.append(line)
    return found


def update_stages(updates: Sequence[Update], per_client_read: Sequence[Sequence[tuple[float, int]]],
                  per_client_arrival: Sequence[Sequence[tuple[float, int]]], batches: Sequence[dict[str, Any]],
                  passes: Sequence[dict[str, Any]], board: str = "global") -> list[dict[str, float]]:
    """Per update, the ``STAGES`` found for it: the worker's batch line (``produced``: its ledger and
    board stages, after which the change records go to Kafka; ``worker_done``: the batch's outputs
    acknowledged), the gateway processes' ``push`` lines of the version (``received_first``/``_last``:
    the first and the last process to read it from the feed; ``first_write``: the first socket written
    by any process; ``last_write``: the last socket written by every process), and the last client's
    kernel ``arrival`` and ``read``."""
    by_event: dict[str, dict[str, Any]] = {}
    for line in batches:
        for event_id in line.get("event_ids") or ():
            by_event[str(event_id)] = line
    by_version: dict[int, list[dict[str, Any]]] = {}
    for line in passes:
        if line.get("board") == board:
            by_version.setdefault(int(line.get("version", 0)), []).append(line)
    found: list[dict[str, float]] = []
    for u, update in enumerate(updates):
        seen = [client[u] for client in per_client_read if client[u][1] > 0]
        if not seen:
            found.append({})
            continue
        version = min(v for _, v in seen)
        change_s = version / 1e6
        stages: dict[str, float] = {"read": (max(at for at, _ in seen) - change_s) * 1000}
        arrived = [client[u][0] for client in per_client_arrival if client[u][1] > 0]
        if arrived:
            stages["arrival"] = (max(arrived) - change_s) * 1000
        stage_ms = by_event.get(update.event_id, {}).get("stage_ms")
        if isinstance(stage_ms, list) and len(stage_ms) == 3:
            stages["produced"] = float(stage_ms[0]) + float(stage_ms[1])
            stages["worker_done"] = float(sum(stage_ms))
        lines = by_version.get(version, [])
        received = {line.get("pid"): float(line["received_ms"]) for line in lines if "received_ms" in line}
        if received:
            stages["received_first"] = min(received.values())
            stages["received_last"] = max(received.values())
        if lines:
            stages["first_write"] = min(float(line["first_write_ms"]) for line in lines)
            stages["last_write"] = max(float(line["last_write_ms"]) for line in lines)
            stages["gc"] = sum(float(line.get("gc_ms", 0.0)) for line in lines)
        found.append({name: round(stages[name], 2) for name in STAGES if name in stages})
    return found


def stage_summary(stages: Sequence[dict[str, float]]) -> dict[str, Any]:
    """``updates`` (how many updates had every stage), p50 and p99 of each stage over the updates,
    and the stages of the update the last client read latest (the one that decides the p99)."""
    complete = [s for s in stages if all(name in s for name in STAGES)]
    summary: dict[str, Any] = {"updates": len(complete)}
    for q in (50, 99):
        summary[f"p{q}"] = {name: round(percentile([s[name] for s in stages if name in s], q), 2) for name in STAGES}
    timed = [s for s in stages if "read" in s]
    summary["worst_update"] = max(timed, key=lambda s: s["read"]) if timed else {}
    return summary


async def _subscribe(url: str, count: int) -> list[StampedReader]:
    readers: list[StampedReader] = []
    for start in range(0, count, 100):  # in waves: the gateway accepts a backlog, not 5,000 at once
        wave = range(start, min(count, start + 100))
        readers += await asyncio.gather(*(open_stamped_reader(url, timeout_s=60) for _ in wave))
    deadline = time.monotonic() + 60
    while any(not r.texts for r in readers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return readers


def _profile_gateway(pipeline: System, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy on the gateway process and its children until stopped; None without py-spy."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    gateway = next((p for p in pipeline.processes if p.role == "gateway"), None)
    if gateway is None or not Path(spy).exists():
        print("bench: py-spy or the gateway not found; measuring without the profile")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([spy, "record", "--pid", str(gateway.pid), "--subprocesses", "--rate", "200",
                             "--nonblocking", "--format", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None and spy.poll() is None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it recorded and exits
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


async def _one_count(pipeline: System, user: str, token: str, clients: int, count: int, plan: FanoutPlan,
                     score: int, tick: Callable[[str], None]) -> tuple[dict[str, Any], int]:
    """``count`` updates to ``clients`` subscribers; the step's row and the hot user's score after."""
    readers = await _subscribe(pipeline.board_ws(), clients)
    stalled = open_stalled_websocket(pipeline.board_ws())
    poster = await HttpPoster.connect(pipeline.api_url)
    spy = None
    if plan.profile_dir is not None:
        spy = _profile_gateway(pipeline, plan.profile_dir / f"profile-gateway-{clients}-{uuid.uuid4().hex[:6]}.txt")
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
        _stop_profile(spy)
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


def start_fanout_pipeline(world: World, gateway_processes: int) -> System:
    """``bench.system.start_pipeline``'s api and worker with the raised limits, and the gateway as
    ``scoreboard gateway --processes N``; each ready (one gateway process answered ``/readyz``; a
    subscriber reaching another one before it caught up waits in its admission, up to
    ``SCOREBOARD_GATEWAY_CATCH_UP_WAIT_SECONDS``, and the warm-up runs before any measurement)."""
    ports = {"SCOREBOARD_API_PORT": str(free_port()), "SCOREBOARD_GATEWAY_PORT": str(free_port())}
    system = System(world, world.env | RAISED_LIMITS | ports, new_log_dir(RAW_DIR))
    try:
        api = system.start("api")
        worker = system.start("worker")
        args = ["-m", "scoreboard.cli", "gateway", "--processes", str(gateway_processes)]
        gateway = start_process("gateway", args, system.env, system.log_dir / "gateway.log",
                                int(ports["SCOREBOARD_GATEWAY_PORT"]))
        system.processes.append(gateway)
        for process in (api, gateway, worker):
            wait_ready(process)
    except BaseException:
        system.stop_all()
        raise
    return system


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
