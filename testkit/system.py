"""The real api, worker(s) and gateway as processes on a world: start them by role with an environment,
wait until each answers ``/readyz``, read their logs, stop them.

Every process runs in its own session with its output in its own log file, and is stopped by its pid
only, so nothing else on the machine is touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port
from devstack.worlds import World
from testkit.waits import wait_until

PORT_VARIABLES = {"api": "SCOREBOARD_API_PORT", "gateway": "SCOREBOARD_GATEWAY_PORT",
                  "worker": "SCOREBOARD_WORKER_PORT"}
"""The variable that gives each role its HTTP port (the worker's serves /readyz and /metrics)."""


class ProcessNotReady(RuntimeError):
    """A process exited, or did not answer ``/readyz`` with 200 in time; the message ends with its log."""


@dataclass
class Process:
    role: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    """The loopback port it serves HTTP on; 0 when it was started without one."""

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else ""

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> int:
        """Send ``sig`` (SIGTERM: a graceful stop), SIGKILL after ``timeout_s``; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def start_process(role: str, args: list[str], env: dict[str, str], log_path: Path, port: int = 0) -> Process:
    """``python <args>`` in a new session, ``env`` over this process's environment, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen([sys.executable, *args], env=dict(os.environ) | env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    return Process(role, popen, log_path, port)


def wait_ready(process: Process, timeout_s: float = 60) -> None:
    """Until ``process`` answers ``GET /readyz`` with 200; ProcessNotReady if it exits or the time is up."""
    if not process.url:
        raise ValueError(f"the {process.role} was started without a port: nothing to ask")
    last = ""

    def answers() -> bool:
        nonlocal last
        if process.popen.poll() is not None:
            raise ProcessNotReady(f"{process.role} exited with {process.popen.returncode}:\n{process.log_tail()}")
        try:
            with urllib.request.urlopen(process.url + "/readyz", timeout=2) as response:
                status = int(response.status)
            last = str(status)
            return status == 200
        except OSError as exc:  # refused while starting, or an HTTPError such as 503 while not ready
            last = repr(exc)
            return False

    try:
        wait_until(answers, timeout_s=timeout_s, interval_s=0.2, what=f"{process.role} ready")
    except AssertionError:
        raise ProcessNotReady(f"{process.role} not ready at {process.url} within {timeout_s:.0f} s: {last}\n"
                              f"{process.log_tail()}") from None


def new_log_dir(parent: Path | None = None) -> Path:
    """A fresh folder for one system's process logs, under ``parent`` (else the temporary directory)."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="scoreboard-processes-", dir=parent))


@dataclass
class System:
    """The processes started on one world, sharing one environment; stopped together, newest first."""

    world: World
    env: dict[str, str]
    """Every process's environment (over this process's own); the api's and gateway's ports in it give
    ``api_url`` and ``gateway_url``."""
    log_dir: Path = field(default_factory=new_log_dir)
    processes: list[Process] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return self._url("api")

    @property
    def gateway_url(self) -> str:
        return self._url("gateway")

    def _url(self, role: str) -> str:
        port = self.env.get(PORT_VARIABLES[role], "")
        return f"http://127.0.0.1:{port}" if port else ""

    def board_ws(self, board: str = "global") -> str:
        return self.gateway_url.replace("http://", "ws://") + f"/v1/leaderboards/{board}/ws"

    def start(self, role: str, **extra_env: str) -> Process:
        """``scoreboard <role>`` (api, worker or gateway) with ``extra_env`` over the shared environment;
        a worker gets a free port of its own unless given one. Returns at once: see ``wait_ready``."""
        env = self.env | extra_env
        if role == "worker" and "SCOREBOARD_WORKER_PORT" not in extra_env:
            env["SCOREBOARD_WORKER_PORT"] = str(free_port())
        port = int(env.get(PORT_VARIABLES[role], "") or 0)
        return self._track(start_process(role, ["-m", "scoreboard.cli", role], env, self._log_path(role), port))

    def start_module(self, role: str, module: str, port: int) -> Process:
        """``python -m <module> --port <port>`` with the shared environment (e.g. a baseline server)."""
        args = ["-m", module, "--port", str(port)]
        return self._track(start_process(role, args, self.env, self._log_path(role), port))

    def _log_path(self, role: str) -> Path:
        return self.log_dir / f"{role}-{len(self.processes)}.log"

    def _track(self, process: Process) -> Process:
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        """The tail of every process's log, for a failure message."""
        return "\n".join(f"--- {p.role} ({p.log_path}) ---\n{p.log_tail()}" for p in self.processes)

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def start_system(world: World, *, workers: int = 1, env: dict[str, str] | None = None,
                 log_dir: Path | None = None) -> System:
    """The api, ``workers`` workers and the gateway on free loopback ports, each waited for until ready.
    ``env`` goes over the world's environment for every process (the ports over both). If one is not
    ready, all are stopped."""
    ports = {"SCOREBOARD_API_PORT": str(free_port()), "SCOREBOARD_GATEWAY_PORT": str(free_port())}
    system = System(world, world.env | (env or {}) | ports, log_dir if log_dir is not None else new_log_dir())
    try:
        api = system.start("api")
        started_workers = [system.start("worker") for _ in range(workers)]
        gateway = system.start("gateway")
        for process in (api, gateway, *started_workers):
            wait_ready(process)
    except BaseException:
        system.stop_all()
        raise
    return system
