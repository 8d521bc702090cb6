"""The system the abuse scenario attacks: the api, one worker and the gateway as shipped (every rate
limit and catalog override blanked), the worker restarted when it exits as a supervisor would, and
the reads the attacks need: HTTP with polite retries, keep-alive storms, the worker's committed
offsets, and a bounded scan of a topic."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.abuse.tally import parse_json
from bench.poster import HttpPoster
from devstack.worlds import World, topic_ends
from scoreboard.adapters.auth import mint_token
from scoreboard.domain.topics import ACTIONS
from testkit import system as kit


def default_env(world: World, environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The services' environment with every rate-limit and catalog override blanked (so the shipped
    defaults apply even when the shell exports some); returns it and the names blanked."""
    environ = os.environ if environ is None else environ
    blanked = sorted({k for k in (*environ, *world.env)
                      if k.startswith("SCOREBOARD_RATE_") or k == "SCOREBOARD_ACTIONS_FILE"})
    return world.env | {k: "" for k in blanked}, blanked


@dataclass
class System:
    world: World
    services: kit.System
    """The api, worker and gateway processes, on ``default_env``; the worker is restarted when it exits."""
    worker_exits: list[int] = field(default_factory=list)
    """Exit codes of every worker process that ended while the scenario ran (each one restarted)."""

    @property
    def env(self) -> dict[str, str]:
        return self.services.env

    @property
    def api_url(self) -> str:
        return self.services.api_url

    @property
    def worker(self) -> kit.Process | None:
        """The newest worker process."""
        return next((p for p in reversed(self.services.processes) if p.role == "worker"), None)

    def watch_worker(self) -> None:
        """Restart the worker on its port if it exited (as a supervisor would), recording its exit code."""
        worker = self.worker
        if worker is not None and (code := worker.popen.poll()) is not None:
            self.worker_exits.append(code)
            self.services.start("worker", SCOREBOARD_WORKER_PORT=str(worker.port))

    def worker_logs(self) -> str:
        texts = []
        for process in self.services.processes:
            if process.role == "worker" and process.log_path.exists():
                texts.append(process.log_path.read_text(errors="replace"))
        return "\n".join(texts)

    def token(self, user: str, admin: bool = False) -> str:
        settings = self.world.settings()
        return mint_token(settings.jwt_secret, user, roles=("admin",) if admin else (), ttl_seconds=3600,
                          issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    # ------------------------------------------------------------ HTTP

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        """GET with up to 5 s of polite retries while the per-IP limit answers 429."""
        deadline = time.monotonic() + 5
        while True:
            status, body = await asyncio.to_thread(self._get, path, token)
            if status != 429 or time.monotonic() > deadline:
                return status, parse_json(body)
            await asyncio.sleep(0.5)

    def _get(self, path: str, token: str | None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.api_url + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())
        except OSError:
            return 0, b""

    async def storm(self, requests: Sequence[tuple[str, dict[str, str], bytes]], connections: int,
                    pace_s: float = 0.0) -> tuple[list[tuple[int, bytes]], float]:
        """Send ``requests`` over ``connections`` keep-alive connections, as fast as they go or one
        every ``pace_s`` seconds; the answers in request order, and the seconds it took."""
        answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
        queue = iter(range(len(requests)))
        started = time.monotonic()

        async def connection() -> None:
            try:
                poster = await HttpPoster.connect(self.api_url)
            except OSError:
                return
            try:
                for i in queue:
                    if pace_s and (wait := started + i * pace_s - time.monotonic()) > 0:
                        await asyncio.sleep(wait)
                    path, headers, body = requests[i]
                    try:
                        answers[i] = await poster.post(path, headers, body)
                    except Exception:  # noqa: BLE001 - no answer is an outcome too (counted as 0)
                        answers[i] = (0, b"")
                        await poster.close()
                        try:
                            poster = await HttpPoster.connect(self.api_url)
                        except OSError:
                            return  # the other connections take the rest of the queue
            finally:
                await poster.close()

        await asyncio.gather(*(connection() for _ in range(max(1, min(connections, len(requests))))))
        return answers, time.monotonic() - started

    # ------------------------------------------------------------ waiting for the worker

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until the worker's group committed offsets reach the actions topic's end as it is now."""
        bootstrap, group = self.world.kafka_bootstrap, self.env.get("SCOREBOARD_WORKER_ID", "")
        ends = await asyncio.to_thread(topic_ends, bootstrap)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.watch_worker()
            committed = await asyncio.to_thread(committed_offsets, bootstrap, group, list(ends))
            if all(committed.get(p, -1) >= end for p, end in ends.items()):
                return True
            await asyncio.sleep(0.25)
        return False

    async def standing(self, user: str, board: str = "global") -> dict[str, Any]:
        status, body = await self.get(f"/v1/leaderboards/{board}/users/{user}")
        if status == 200 and isinstance(body, dict):
            score = body.get("score")
            return {"score": int(score) if isinstance(score, int) else None, "rank": body.get("rank")}
        if status == 404:
            return {"score": 0, "rank": None}
        return {"score": None, "rank": None, "status": status}

    async def settled_standing(self, user: str, timeout_s: float) -> dict[str, Any]:
        """The user's standing once the worker caught up and two reads half a second apart agree."""
        caught = await self.caught_up(timeout_s)
        last = await self.standing(user)
        for _ in range(10):
            await asyncio.sleep(0.5)
            now = await self.standing(user)
            if now == last:
                break
            last = now
        return last | {"caught_up": caught}


def committed_offsets(bootstrap: str, group: str, partitions: list[int]) -> dict[int, int]:
    """The group's committed offsets on the actions topic's ``partitions``; {} when Kafka does not say."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(ACTIONS, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in found}
    except Exception:  # noqa: BLE001 - unknown: the caller keeps waiting until its deadline
        return {}
    finally:
        consumer.close()


def scan_topic(bootstrap: str, topic: str, starts: Mapping[int, int], match: Callable[[Any], bool],
          timeout_s: float, ends: Mapping[int, int] | None = None) -> list[Any]:
    """Messages of ``topic`` from ``starts`` up to the ends (as now) for which ``match`` holds;
    gives up after ``timeout_s`` (other sessions may have appended a lot)."""
    from confluent_kafka import Consumer, TopicPartition

    ends = dict(ends) if ends is not None else topic_ends(bootstrap, topic)
    todo = {p: e for p, e in ends.items() if p in starts and e > starts[p]}
    if not todo:
        return []
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-abuse-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    found = []
    try:
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                if message.error():
                    continue
                if match(message):
                    found.append(message)
                partition = message.partition()
                if partition in todo and (message.offset() or 0) + 1 >= todo[partition]:
                    del todo[partition]
    finally:
        consumer.close()
    return found
