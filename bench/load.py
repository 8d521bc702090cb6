"""wrk as the closed-loop load generator of the ingest scenario: install it if missing, run it with
the Lua script, and turn its JSON line into a result."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk" / "complete.lua"
MARK = "BENCH_JSON "


class LoadGeneratorMissing(RuntimeError):
    """wrk is not installed and could not be installed."""


def ensure_wrk() -> str:
    """The path of wrk; installs Debian's package when missing and we are root (idempotent)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise LoadGeneratorMissing("wrk is not installed: run `sudo apt-get install -y wrk`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True, text=True)
    if install.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        install = subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True, text=True)
    found = shutil.which("wrk")
    if not found:
        raise LoadGeneratorMissing(f"could not install wrk: {install.stderr.strip()[-500:]}")
    return found


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    """Non-2xx answers plus socket errors (connect, read, write, timeout)."""
    p50_ms: float
    p99_ms: float
    p999_ms: float
    generator_cpu_s: float
    server_cpu_s: float

    @property
    def rps(self) -> float:
        """Accepted (2xx) requests per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, float | int]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "p999_ms": round(self.p999_ms, 2),
            "errors": self.errors,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "generator_cpu_s": round(self.generator_cpu_s, 2),
            "server_cpu_s": round(self.server_cpu_s, 2),
        }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc; 0.0 where /proc is unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_wrk_output(stdout: str) -> dict[str, float]:
    for line in stdout.splitlines():
        if line.startswith(MARK):
            parsed: dict[str, float] = json.loads(line[len(MARK):])
            return parsed
    raise RuntimeError(f"wrk printed no {MARK.strip()} line:\n{stdout[-2000:]}")


def result_from(parsed: dict[str, float], generator_cpu_s: float = 0.0, server_cpu_s: float = 0.0) -> LoadResult:
    socket_errors = int(parsed["connect"] + parsed["read"] + parsed["write"] + parsed["timeout"])
    return LoadResult(
        requests=int(parsed["requests"]),
        seconds=parsed["duration_us"] / 1e6,
        errors=int(parsed["non2xx"]) + socket_errors,
        p50_ms=parsed["p50_us"] / 1000,
        p99_ms=parsed["p99_us"] / 1000,
        p999_ms=parsed["p999_us"] / 1000,
        generator_cpu_s=generator_cpu_s,
        server_cpu_s=server_cpu_s,
    )


def run_wrk(url: str, tokens_file: Path, key_prefix: str, *, seconds: int, connections: int, server_pid: int,
            threads: int = 1, on_tick: Callable[[float], None] | None = None,
            script: Path = SCRIPT, script_args: list[str] | None = None) -> LoadResult:
    """Drive ``url`` for ``seconds`` with ``connections`` keep-alive connections; measure both CPUs.
    ``script``/``script_args``: another wrk script and its arguments (default: complete.lua, the tokens
    file and the key prefix)."""
    wrk = ensure_wrk()
    args = [str(tokens_file), key_prefix] if script_args is None else script_args
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(script), url, "--", *args]
    server_before = cpu_seconds(server_pid)
    children_before = _children_cpu()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while process.poll() is None:
        if on_tick is not None:
            on_tick(time.monotonic() - started)
        time.sleep(0.5)
    stdout, stderr = process.communicate()
    # the services are still running, so the only child reaped meanwhile is wrk
    generator_cpu = _children_cpu() - children_before
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.strip()[-1000:]}")
    return result_from(parse_wrk_output(stdout), generator_cpu, cpu_seconds(server_pid) - server_before)
