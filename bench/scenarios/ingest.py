"""ingest, baseline_bare, baseline_seed, baseline_floor: closed-loop wrk load on
POST /v1/actions/win-match/complete.

The four servers run one after another (never side by side) on the same box, each with a warm-up
and then a measured window, driven by the same wrk script with the same connections and tokens.
The api runs alone (no worker or gateway), as do the baselines: this measures the ack path.
``baseline_floor`` (``bench/baselines/floor.py``) does only the Redis and Kafka I/O the api must do per
request, so bare → floor → ingest splits the gap into the required I/O and the api's own work.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.baselines.floor import TOPIC_VARIABLE, create_floor_topic, delete_floor_topic
from bench.load import LoadResult, run_wrk
from bench.system import RAISED_LIMITS, RAW_DIR, bench_processes
from bench.tokens import mint_tokens, write_tokens_file
from devstack.ports import free_port
from devstack.worlds import isolated_world
from scoreboard.settings import Settings
from testkit.system import Process, System, wait_ready

TARGETS = ("baseline_bare", "baseline_seed", "baseline_floor", "ingest")


@dataclass(frozen=True)
class IngestPlan:
    seconds: int = 15
    warmup_seconds: int = 3
    connections: int = 64
    """Enough for every target to saturate: 32 left the api, which answers only after Kafka's ack,
    with smaller batches per loop turn, while bare and seed gave about the same at 32 and 64, and
    128 gained nothing (step 8 of "What changed, in order, each measured" in docs/benchmarks.md)."""
    users: int = 1000
    profile: bool = False


def _start(target: str, services: System) -> Process:
    port = free_port()
    if target == "ingest":
        return services.start("api", SCOREBOARD_API_PORT=str(port))
    module = {"baseline_bare": "bench.baselines.bare", "baseline_seed": "bench.baselines.seed",
              "baseline_floor": "bench.baselines.floor"}[target]
    return services.start_module(target, module, port)


def _floor_topic(target: str, settings: Settings, stack: contextlib.ExitStack) -> dict[str, str]:
    """The floor's private topic (deleted when the target is done), as its environment."""
    if target != "baseline_floor":
        return {}
    topic = create_floor_topic(settings)
    stack.callback(delete_floor_topic, settings, topic)
    return {TOPIC_VARIABLE: topic}


def _profile(pid: int, seconds: int, run: str) -> subprocess.Popen[bytes] | None:
    """py-spy on the server for the measured window: a flame graph and collapsed stacks in raw/."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("bench: py-spy not installed (pip install py-spy); measuring without the profile")
        return None
    out = RAW_DIR / f"profile-api-{run}"
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                             "--nonblocking", "--format", "raw", "-o", f"{out}.txt"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(plan: IngestPlan, tick: Callable[[str, float], None]) -> dict[str, LoadResult]:
    """Measure the targets in turn; ``tick(target, seconds_done)`` drives the progress bar."""
    run_id = uuid.uuid4().hex[:8]
    results: dict[str, LoadResult] = {}
    with isolated_world() as world:
        settings = world.settings()
        tokens = mint_tokens(settings, [f"bench-{run_id}-u{i:05d}" for i in range(plan.users)])
        tokens_file = write_tokens_file(RAW_DIR / f"tokens-{run_id}.txt", tokens)
        env = world.env | RAISED_LIMITS
        try:
            for target in TARGETS:
                with contextlib.ExitStack() as stack:
                    services = stack.enter_context(bench_processes(world, env | _floor_topic(target, settings, stack)))
                    server = _start(target, services)
                    wait_ready(server)
                    run_wrk(server.url, tokens_file, f"w{run_id}{target[-4:]}", seconds=plan.warmup_seconds,
                            connections=plan.connections, server_pid=server.pid)
                    spy = _profile(server.pid, plan.seconds, run_id) if plan.profile and target == "ingest" else None
                    def progress(done: float, target: str = target) -> None:
                        tick(target, done)
                    results[target] = run_wrk(
                        server.url, tokens_file, f"m{run_id}{target[-4:]}", seconds=plan.seconds,
                        connections=plan.connections, server_pid=server.pid, on_tick=progress)
                    if spy is not None:
                        spy.wait(timeout=plan.seconds + 30)
        finally:
            tokens_file.unlink(missing_ok=True)
    return results
