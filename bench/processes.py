"""Start the services under test (api, worker, gateway, baselines) as real processes and stop them.

Every process gets its own log file under ``bench/results/raw/`` and its own session, and is
stopped by its pid only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

RAW_DIR = Path(__file__).resolve().parent / "results" / "raw"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc; 0.0 where /proc is unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Service:
    role: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 20) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(role: str, args: list[str], env: dict[str, str], url: str = "") -> Service:
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RAW_DIR / f"{role}-{os.getpid()}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as handle:
        popen = subprocess.Popen([sys.executable, *args], env=dict(os.environ) | env, stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    return Service(role, popen, log_path, url)


def wait_ready(service: Service, path: str = "/readyz", timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if service.popen.poll() is not None:
            raise RuntimeError(f"{service.role} exited with {service.popen.returncode}:\n{service.log_tail()}")
        try:
            with urllib.request.urlopen(service.url + path, timeout=2) as response:
                if response.status == 200:
                    return
                last = str(response.status)
        except (OSError, urllib.error.URLError) as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{service.role} not ready at {service.url}: {last}\n{service.log_tail()}")


@dataclass
class Services:
    """The processes one scenario started; stopped together, newest first."""

    running: list[Service] = field(default_factory=list)

    def scoreboard(self, role: str, env: dict[str, str], port: int = 0) -> Service:
        url = f"http://127.0.0.1:{port}" if port else ""
        service = start(role, ["-m", "scoreboard.cli", role], env, url)
        self.running.append(service)
        return service

    def module(self, role: str, module: str, env: dict[str, str], port: int) -> Service:
        service = start(role, ["-m", module, "--port", str(port)], env, f"http://127.0.0.1:{port}")
        self.running.append(service)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.running):
            service.stop()
        self.running.clear()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
