"""read: closed-loop wrk load on the top 10, ``GET /v1/leaderboards/global?limit=10``, with data loaded.

Three targets one after another (never side by side), each with a warm-up and a measured window under
the ingest scenario's wrk settings (1 thread, 64 keep-alive connections):

- ``baseline_bare``: the same bare Starlette endpoint and wrk script as in the ingest scenario, the
  framework's ceiling, measured again in this run so the ratio compares like with like;
- ``memory``: the api answering the first page from its in-memory board cache (``X-Cache: hit``);
- ``redis``: the same api on ``?limit=10&offset=1``, ranks 2 to 11, which the cache never answers:
  the Lua page read on Redis, as every board read was before the cache.

The board is loaded first: signed ``win-match`` completions of ``users`` users produced straight to the
actions topic, one world's worker projecting them; the worker is stopped once the api answers the
board from memory with every user counted, so the api runs alone while measured, as in ingest.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import SCRIPT, LoadResult, run_wrk
from bench.scenarios.rebuild import produce_events
from bench.system import RAISED_LIMITS, RAW_DIR, bench_processes
from bench.tokens import mint_tokens, write_tokens_file
from devstack.ports import free_port
from devstack.worlds import isolated_world
from scoreboard.settings import Settings
from testkit.system import wait_ready
from testkit.waits import wait_until

READ_SCRIPT = Path(__file__).resolve().parent.parent / "wrk" / "read.lua"
TARGETS = ("baseline_bare", "memory", "redis")
PATHS = {"memory": "/v1/leaderboards/global?limit=10", "redis": "/v1/leaderboards/global?limit=10&offset=1"}


@dataclass(frozen=True)
class ReadPlan:
    seconds: int = 15
    warmup_seconds: int = 3
    connections: int = 64
    users: int = 3000
    profile: bool = False


def _profile(pid: int, seconds: int, run: str) -> subprocess.Popen[bytes] | None:
    """py-spy on the api for the memory window: collapsed stacks in raw/profile-read-<run>.txt."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("bench: py-spy not installed (pip install py-spy); measuring without the profile")
        return None
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                             "--nonblocking", "--format", "raw", "-o", str(RAW_DIR / f"profile-read-{run}.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _loaded(api_url: str, users: int) -> bool:
    """The api answers the global top 10 from memory, and the board counts every loaded user."""
    answer = httpx.get(f"{api_url}{PATHS['memory']}", timeout=5)
    return (answer.status_code == 200 and answer.headers.get("x-cache") == "hit"
            and int(answer.json()["total"]) >= users)


def run(plan: ReadPlan, tick: Callable[[str, float], None]) -> dict[str, object]:
    """Measure the three targets; ``tick(target, seconds_done)`` drives the progress bar."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll of the loaded board otherwise
    run_id = uuid.uuid4().hex[:8]
    measured: dict[str, LoadResult] = {}
    with isolated_world() as world:
        env = world.env | RAISED_LIMITS
        settings = Settings.from_env(env)
        tokens = mint_tokens(settings, [f"bench-{run_id}-r{i:04d}" for i in range(100)])
        tokens_file = write_tokens_file(RAW_DIR / f"tokens-{run_id}.txt", tokens)

        def measure(target: str, url: str, pid: int, script_args: list[str] | None) -> None:
            """``script_args`` None: the ingest scenario's script (POST completions), else read.lua's path."""
            script = SCRIPT if script_args is None else READ_SCRIPT
            run_wrk(url, tokens_file, f"w{run_id}", seconds=plan.warmup_seconds, connections=plan.connections,
                    server_pid=pid, script=script, script_args=script_args)
            spy = _profile(pid, plan.seconds, run_id) if plan.profile and target == "memory" else None

            def progress(done: float) -> None:
                tick(target, done)
            measured[target] = run_wrk(url, tokens_file, f"m{run_id}", seconds=plan.seconds,
                                       connections=plan.connections, server_pid=pid, on_tick=progress,
                                       script=script, script_args=script_args)
            if spy is not None:
                spy.wait(timeout=plan.seconds + 30)
        try:
            with bench_processes(world, env) as services:
                bare = services.start_module("baseline_bare", "bench.baselines.bare", free_port())
                wait_ready(bare)
                measure("baseline_bare", bare.url, bare.pid, None)
            with bench_processes(world, env) as services:
                worker = services.start("worker")
                api = services.start("api", SCOREBOARD_API_PORT=str(free_port()))
                wait_ready(api)
                wait_ready(worker)
                produce_events(world.kafka_bootstrap, settings.event_keyring(), plan.users, users=plan.users,
                               progress=False)
                wait_until(lambda: _loaded(api.url, plan.users), timeout_s=120, interval_s=0.5,
                           what=f"the api answering the global top 10 from memory with {plan.users} users")
                worker.stop()
                for target in ("memory", "redis"):
                    measure(target, api.url, api.pid, [PATHS[target]])
                final = httpx.get(f"{api.url}{PATHS['memory']}", timeout=5)
                total = int(final.json()["total"])
        finally:
            tokens_file.unlink(missing_ok=True)
    found: dict[str, object] = {target: result.to_json() for target, result in measured.items()}
    found["users"] = total
    return found
