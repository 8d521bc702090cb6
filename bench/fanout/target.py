"""The system under fan-out: the api and worker of ``bench.system`` with the gateway run as ``scoreboard
gateway --processes N``, py-spy recording that gateway on request, and the file limit raised for
thousands of subscribers."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

from bench.system import RAISED_LIMITS, RAW_DIR
from devstack.ports import free_port
from devstack.worlds import World
from testkit.system import System, new_log_dir, start_process, wait_ready


def raise_open_files(wanted: int) -> int:
    """Lift the soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


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


def profile_gateway(pipeline: System, out: Path) -> subprocess.Popen[bytes] | None:
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


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None and spy.poll() is None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it recorded and exits
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
