"""What the numbers were measured on: cores, memory, and the versions of everything in the path."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

import psycopg
import redis

from scoreboard.settings import merged_environment

PACKAGES = ("starlette", "uvicorn", "uvloop", "httptools", "confluent-kafka", "faust-streaming", "aiokafka",
            "psycopg", "redis", "fastavro", "pyjwt")


def _memory_mb() -> int:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _quietly(read: Any) -> str:
    try:
        return str(read())
    except Exception:  # noqa: BLE001 - a version we cannot read is reported as unknown
        return "unknown"


def describe() -> dict[str, Any]:
    env = merged_environment()
    versions = {name: _quietly(lambda name=name: metadata.version(name)) for name in PACKAGES}
    versions["python"] = platform.python_version()
    versions["postgres"] = _quietly(lambda: psycopg.connect(env["SCOREBOARD_DATABASE_URL"]).execute(
        "SHOW server_version").fetchone()[0])  # type: ignore[index]
    versions["redis"] = _quietly(lambda: redis.Redis.from_url(env.get("SCOREBOARD_REDIS_URL", "redis://127.0.0.1"))
                                 .info("server")["redis_version"])
    versions["kafka"] = _quietly(lambda: _kafka_version())
    versions["wrk"] = _quietly(lambda: subprocess.run(["wrk", "--version"], capture_output=True, text=True)
                               .stdout.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_mb": _memory_mb(),
        "cpu": _quietly(_cpu_model),
        "kernel": platform.release(),
        "versions": versions,
    }


def _cpu_model() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _kafka_version() -> str:
    from devstack import kafka_dist

    return str(getattr(kafka_dist, "KAFKA_VERSION", "4.x"))
