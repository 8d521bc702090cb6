"""Detached service processes tracked by pid files, and polling with a deadline."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


def spawn_detached(
    command: Sequence[str],
    log_file: Path,
    pid_file: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, output appended to ``log_file``; record its pid.

    The new session keeps Ctrl-C in the calling shell from reaching the service.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    pid_file.write_text(f"{process.pid}\n", encoding="ascii")
    logger.info("started %s (pid %d), log %s", command[0], process.pid, log_file)
    return process


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def is_running(pid: int, marker: str) -> bool:
    """True when ``pid`` is a live (non-zombie) process whose command line contains ``marker``.

    The marker check keeps a recycled pid (after a reboot, say) from passing for our service.
    """
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text(encoding="ascii", errors="replace")
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rpartition(")")[2].split()[0] if ")" in stat else "?"
    return state not in ("Z", "X") and marker in cmdline


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs; a stale file is removed."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    if is_running(pid, marker):
        return pid
    logger.info("removing stale pid file %s (pid %d is gone)", pid_file, pid)
    pid_file.unlink(missing_ok=True)
    return None


def terminate(pid: int, marker: str, grace_seconds: float) -> None:
    """SIGTERM, wait up to ``grace_seconds``, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if wait_until(lambda: not is_running(pid, marker), grace_seconds):
        return
    logger.warning("pid %d ignored SIGTERM for %.0f s, sending SIGKILL", pid, grace_seconds)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_until(lambda: not is_running(pid, marker), 10.0)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def rotate_if_large(log_file: Path, limit_bytes: int = 50 * 1024 * 1024) -> None:
    """Keep one previous generation so an always-appended service log cannot grow forever."""
    try:
        if log_file.stat().st_size > limit_bytes:
            os.replace(log_file, log_file.with_name(log_file.name + ".1"))
    except FileNotFoundError:
        pass
