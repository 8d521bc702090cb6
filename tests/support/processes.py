"""Start the real api, worker and gateway processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.ports import free_port
from devstack.worlds import World, isolated_world


@dataclass
class Process:
    role: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    env_port: int = 0
    """The port an api or gateway was started on."""

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@dataclass
class System:
    world: World
    api_url: str
    gateway_url: str
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="scoreboard-e2e-")))

    def start(self, role: str, **extra_env: str) -> Process:
        env = dict(os.environ) | self.env | extra_env
        if role == "worker" and "SCOREBOARD_WORKER_PORT" not in extra_env:
            env["SCOREBOARD_WORKER_PORT"] = str(free_port())
        log_path = self.log_dir / f"{role}-{len(self.processes)}.log"
        handle = log_path.open("wb")
        popen = subprocess.Popen([sys.executable, "-m", "scoreboard.cli", role], env=env,
                                 stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        port_variable = {"api": "SCOREBOARD_API_PORT", "gateway": "SCOREBOARD_GATEWAY_PORT",
                         "worker": "SCOREBOARD_WORKER_PORT"}[role]
        port = int(env.get(port_variable, "0") or 0)
        process = Process(role, popen, log_path,
                          f"http://127.0.0.1:{port}" if role == "worker" else "", port)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.role} ({p.log_path}) ---\n{p.log_tail()}" for p in self.processes)


def wait_ready(url: str, process: Process, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.role} exited with {process.popen.returncode}:\n{process.log_tail()}")
        try:
            response = httpx.get(url + "/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"{process.role} not ready at {url}: {last}\n{process.log_tail()}")


TEST_CATALOG = Path(__file__).resolve().parent / "catalog.toml"
LOAD_ENV = {
    "SCOREBOARD_ACTIONS_FILE": str(TEST_CATALOG),
    "SCOREBOARD_RATE_USER_PER_SECOND": "10000",
    "SCOREBOARD_RATE_USER_BURST": "100000",
}
"""What the end-to-end tests run with unless they say otherwise: the tests' catalog (bounded far above a
human's pace) and per-user rate limits to match, so the tests of crashes, pushes and queries can drive
many actions per user. Tests of the abuse defences pass the shipped catalog and limits explicitly."""


def start_system(world: World, workers: int = 1, extra_env: dict[str, str] | None = None) -> System:
    """``extra_env`` is added to every process's environment (e.g. lower rate limits for a test)."""
    api_port, gateway_port = free_port(), free_port()
    env = world.env | LOAD_ENV | {
        "SCOREBOARD_API_PORT": str(api_port),
        "SCOREBOARD_GATEWAY_PORT": str(gateway_port),
        "SCOREBOARD_BATCH_WAIT_SECONDS": "0.02",
    } | (extra_env or {})
    system = System(world, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{gateway_port}", env)
    api = system.start("api")
    worker_processes = [system.start("worker") for _ in range(workers)]
    gateway = system.start("gateway")
    try:
        wait_ready(system.api_url, api)
        wait_ready(system.gateway_url, gateway)
        for worker in worker_processes:
            wait_ready(worker.url, worker)
    except AssertionError:
        system.stop_all()
        raise
    return system


@contextmanager
def running_system(extra_env: dict[str, str] | None = None, workers: int = 1) -> Iterator[System]:
    """Real api, worker(s) and gateway on a new isolated world, stopped and dropped after the block."""
    with isolated_world() as world:
        system = start_system(world, workers=workers, extra_env=extra_env)
        try:
            yield system
        finally:
            system.stop_all()
