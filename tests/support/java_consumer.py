"""Build and run ``clients/java-consumer`` (Apache kafka-clients + Avro's BinaryMessageDecoder).

The build is cached like the Kafka broker's jars (``devstack/kafka_dist.py``): in
``~/.cache/scoreboard/java-consumer/<hash of the pom and sources>/``, marked complete only after Maven
succeeded, so a second run does not rebuild and an edit to the project builds afresh. Maven builds in a
scratch copy (nothing is written under ``clients/``) with its default local repository, ``~/.m2``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from tests.support.avro_consumer import Ranges

PROJECT = Path(__file__).resolve().parents[2] / "clients" / "java-consumer"
CACHE = Path.home() / ".cache" / "scoreboard" / "java-consumer"
JAR = "scoreboard-java-consumer.jar"
COMPLETE = ".complete"


def missing_tools() -> str:
    """Why the Java consumer cannot be built or run here, or "" when ``mvn`` and ``java`` are on PATH."""
    missing = [tool for tool in ("mvn", "java") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not on PATH: the Java consumer needs Maven and Java 17+" if missing else ""


def _sources() -> list[Path]:
    return [PROJECT / "pom.xml", *sorted(p for p in (PROJECT / "src").rglob("*") if p.is_file())]


def source_hash() -> str:
    """What the build depends on: every source file's path and bytes."""
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(str(path.relative_to(PROJECT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_java_consumer(timeout_s: float = 600) -> Path:
    """The runnable jar (its dependencies in ``lib/`` beside it), built with ``mvn -q -B package`` once."""
    built = CACHE / source_hash()
    if (built / COMPLETE).exists() and (built / JAR).exists():
        return built / JAR
    CACHE.mkdir(parents=True, exist_ok=True)
    scratch = CACHE / f"{built.name}.build-{uuid.uuid4().hex[:8]}"
    try:
        for path in _sources():
            target = scratch / path.relative_to(PROJECT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        result = subprocess.run(["mvn", "-q", "-B", "package"], cwd=scratch, capture_output=True, text=True,
                                timeout=timeout_s, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
            raise RuntimeError(f"mvn package failed in {scratch} (exit {result.returncode}):\n{tail}")
        partial = scratch / "out"
        partial.mkdir()
        shutil.copyfile(scratch / "target" / JAR, partial / JAR)
        shutil.copytree(scratch / "target" / "lib", partial / "lib")
        (partial / COMPLETE).write_text(built.name + "\n")
        try:
            partial.rename(built)
        except OSError:  # a concurrent run finished the same build first: keep its copy
            if not (built / COMPLETE).exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return built / JAR


def run_java_consumer(jar: Path, bootstrap: str, api: str, ranges: Ranges,
                      timeout_s: float = 120) -> list[dict[str, Any]]:
    """The consumer's JSON lines for the records of ``ranges`` (read with --start/--until per partition)."""
    args = ["java", "-jar", str(jar), "--bootstrap", bootstrap, "--api", api, "--idle-ms", "20000"]
    for topic, partitions in ranges.items():
        args += ["--topic", topic]
        for partition, (start, end) in sorted(partitions.items()):
            args += ["--start", f"{topic}:{partition}:{start}", "--until", f"{topic}:{partition}:{end}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the Java consumer exited with {result.returncode}:\n{result.stderr[-4000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
