"""The Redis service: reuse ``SCOREBOARD_REDIS_URL`` if it answers, else run our own server.

Ours listens on loopback only, keeps nothing on disk (``--save ""``, no AOF: Redis is a projection
rebuilt from Kafka) and runs in the foreground of its own session, tracked by a pid file.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import redis as redis_client

from devstack import daemons as processes
from devstack.errors import StackError
from devstack.packages import find_executable, install_debian_package
from devstack.paths import StackPaths
from devstack.ports import LOOPBACK, choose_port, is_free
from devstack.progress import announce
from devstack.service import ServiceReport
from devstack.state import StackState

logger = logging.getLogger(__name__)

REDIS_URL_VARIABLE = "SCOREBOARD_REDIS_URL"
PREFERRED_PORT = 6379
FALLBACK_PORT = 63790
READY_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 10.0
_PROCESS_MARKER = "redis-server"


def redis_url(port: int) -> str:
    return f"redis://{LOOPBACK}:{port}/0"


def redis_answers(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers PING."""
    client = redis_client.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis_client.RedisError:
        return False
    finally:
        client.close()


def ensure_redis(paths: StackPaths, state: StackState) -> ServiceReport:
    """Make a Redis answer and return where: the configured one, or our own server."""
    pid_file, log_file = paths.redis_dir / "redis.pid", paths.redis_dir / "redis.log"
    own_port = state.get_int("redis.port")
    pid = processes.running_pid(pid_file, _PROCESS_MARKER)
    configured = os.environ.get(REDIS_URL_VARIABLE)
    own_url = redis_url(own_port) if own_port else None
    if configured and configured != own_url:
        if redis_answers(configured):
            announce(f"redis: reusing {REDIS_URL_VARIABLE}={configured} (it answers)")
            return ServiceReport("redis", configured, True, False)
        announce(f"redis: {REDIS_URL_VARIABLE}={configured} does not answer; starting a local server")
    if pid is None or own_port is None:
        port = (
            own_port
            if own_port and is_free(own_port)
            else choose_port("redis", (PREFERRED_PORT,), FALLBACK_PORT)
        )
        state.put("redis.port", port)
        process = _start(paths, port, pid_file, log_file)
        pid = process.pid
    else:
        port, process = own_port, None
    url = redis_url(port)
    _wait_ready(url, pid, process, log_file)
    return ServiceReport("redis", url, True, True, pid, port, log_file)


def redis_server_executable() -> str:
    """The ``redis-server`` binary (Debian's package, installed when missing and running as root)."""
    server = find_executable("redis-server")
    if server is None:
        install_debian_package("redis-server", "redis")
        server = find_executable("redis-server")
    if server is None:
        raise StackError("redis: `redis-server` is not on PATH")
    return server


def supports_tls(server: str) -> bool:
    """True when ``server`` was built with TLS built in (``--tls-port`` works without loading a module):
    it links OpenSSL. Debian's build does; a ``BUILD_TLS=module`` or ``no`` build does not."""
    return b"SSL_CTX_new" in Path(server).read_bytes()


def _start(paths: StackPaths, port: int, pid_file: Path, log_file: Path) -> subprocess.Popen[bytes]:
    server = redis_server_executable()
    paths.redis_dir.mkdir(parents=True, exist_ok=True)
    announce(f"redis: starting on {LOOPBACK}:{port} (log {log_file})")
    processes.rotate_if_large(log_file)
    # Logs go to stdout, which is the log file; a config file is unnecessary for these few flags.
    command = [
        server,
        "--port",
        str(port),
        "--bind",
        LOOPBACK,
        "--dir",
        str(paths.redis_dir),
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--databases",
        "256",
        "--protected-mode",
        "yes",
    ]
    return processes.spawn_detached(command, log_file=log_file, pid_file=pid_file, cwd=paths.redis_dir)


def _wait_ready(url: str, pid: int, process: subprocess.Popen[bytes] | None, log_file: Path) -> None:
    started = time.monotonic()
    deadline = started + READY_TIMEOUT_SECONDS
    exited = False
    while time.monotonic() < deadline:
        if redis_answers(url, timeout=1.0):
            logger.info("redis answered after %.2f s", time.monotonic() - started)
            return
        exited = process.poll() is not None if process else not processes.is_running(pid, _PROCESS_MARKER)
        if exited:
            break
        time.sleep(0.1)
    raise StackError(
        f"redis: no answer at {url} (process {'exited' if exited else 'still starting'}); see {log_file}. "
        f"Last lines:\n{processes.tail(log_file)}"
    )


def stop_redis(paths: StackPaths) -> bool:
    """Stop the server this stack started. False when none ran."""
    pid_file = paths.redis_dir / "redis.pid"
    pid = processes.running_pid(pid_file, _PROCESS_MARKER)
    if pid is None:
        return False
    announce(f"redis: stopping pid {pid}")
    processes.terminate(pid, _PROCESS_MARKER, STOP_GRACE_SECONDS)
    pid_file.unlink(missing_ok=True)
    return True


def redis_status(paths: StackPaths, state: StackState) -> ServiceReport:
    """Our server when its pid runs, else whatever answers at the configured URL."""
    pid = processes.running_pid(paths.redis_dir / "redis.pid", _PROCESS_MARKER)
    port = state.get_int("redis.port")
    log_file = paths.redis_dir / "redis.log"
    if pid is not None and port is not None:
        url = redis_url(port)
        return ServiceReport("redis", url, redis_answers(url), True, pid, port, log_file)
    target = os.environ.get(REDIS_URL_VARIABLE) or (redis_url(port) if port else None)
    if target is None:
        return ServiceReport("redis", "-", False, False, None, None, log_file)
    return ServiceReport("redis", target, redis_answers(target), False, None, port, log_file)
