"""baseline_floor: the I/O an acknowledged completion cannot do without, and nothing else.

Per request, on the api's route and under the same uvicorn settings, with the api's own adapters
and settings:

* one Redis round trip carrying the api's four admission scripts (client-IP bucket, user bucket,
  Idempotency-Key claim, the catalog's reservation) with the keys and arguments the api sends, all
  written in one loop turn through the api's ``AutoPipeline`` (the api sends them one after another);
* one Kafka record of the api's size (an encoded, signed ``ActionCompleted`` built once at start)
  produced with the api's ``Publisher`` (idempotent, ``acks=all``, the api's linger) and awaited
  until the broker acknowledged it, on a private topic laid out as the actions topic (nobody
  consumes it, so no worker of any world sees these records);
* a 202 with the api's answer shape.

No JWT verification (the caller's user is the token's last characters), no header validation, no
event encoding or signing per request, no business rule. The gap between this and ``baseline_bare``
is what the required I/O costs on the box; the gap between the api and this is the api's own work.

Run: ``python -m bench.baselines.floor --port 8102`` with the world's SCOREBOARD_* environment and
``BENCH_FLOOR_TOPIC`` naming a topic made by ``create_floor_topic``. ``BENCH_FLOOR_IO`` (``redis``,
``kafka``; both when unset) keeps only one of the two, to tell their costs apart; ``claim`` in place of
``redis`` sends only the Idempotency-Key claim: one script, the least Redis work any design must do;
``merged`` sends the four scripts' bodies as one script (``MERGED``): the same Redis work in one call.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from redis.exceptions import NoScriptError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bench.baselines.serve import baseline_app, serve
from producer_api.completions import RESERVE
from producer_api.idempotency import CLAIM, TTL_SECONDS
from producer_api.ratelimit import TAKE
from scoreboard.adapters import codec
from scoreboard.adapters.autopipe import AutoPipeline, Script
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.adapters.kafka_security import librdkafka_config
from scoreboard.adapters.publishing import Publisher
from scoreboard.adapters.redis_client import redis_client
from scoreboard.domain.catalog import load_catalog
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.topics import ACTIONS, TOPICS
from scoreboard.settings import Settings

TOPIC_VARIABLE = "BENCH_FLOOR_TOPIC"
IO_VARIABLE = "BENCH_FLOOR_IO"
_ACTIONS_SPEC = next(spec for spec in TOPICS if spec.name == ACTIONS)
HOUR_US, DAY_US = 3_600_000_000, 86_400_000_000


def _merged(parts: Sequence[tuple[str, Script, int, int]]) -> Script:
    """One script running each part's body with its own slice of KEYS and ARGV (parts: name, script,
    how many keys, how many arguments); returns each part's first reply field."""
    lines, key_at, arg_at = [], 0, 0
    for name, script, _, _ in parts:
        lines.append(f"local function {name}(KEYS, ARGV)\n{script.source}\nend")
    lines.append("local out = {}")
    for name, _, keys, args in parts:
        key_list = ", ".join(f"KEYS[{key_at + i + 1}]" for i in range(keys))
        arg_list = ", ".join(f"ARGV[{arg_at + i + 1}]" for i in range(args))
        lines.append(f"out[#out + 1] = {name}({{{key_list}}}, {{{arg_list}}})[1]")
        key_at, arg_at = key_at + keys, arg_at + args
    lines.append("return out")
    return Script("\n".join(lines))


MERGED = _merged([("ip", TAKE, 1, 3), ("user", TAKE, 1, 3), ("claim", CLAIM, 1, 3), ("reserve", RESERVE, 7, 11)])
"""The four admission scripts as one: what merging them in the api would leave Redis to do."""


def create_floor_topic(settings: Settings) -> str:
    """A private topic with the actions topic's partitions and configuration; returns its name."""
    topic = f"bench.floor.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **librdkafka_config(settings)})
    admin.create_topics([NewTopic(topic, num_partitions=_ACTIONS_SPEC.partitions, replication_factor=-1,
                                  config=dict(_ACTIONS_SPEC.config))])[topic].result(30)
    return topic


def delete_floor_topic(settings: Settings, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **librdkafka_config(settings)})
    admin.delete_topics([topic])[topic].result(30)


def sample_record(settings: Settings, topic: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    """An ``ActionCompleted`` as the api writes it (field sizes of a bench request), encoded and
    signed once: the floor produces these bytes for every request."""
    now_us = time.time_ns() // 1000
    user = "bench-0123abcd-u00042"
    event = ActionCompleted(event_id=str(uuid.uuid4()), user_id=user, action_id="win-match",
                            nonce="m0123abcdmatch-1-123456", points=100, catalog_version="load-test.1",
                            occurred_at_us=now_us, request_id=uuid.uuid4().hex, client_hash="0" * 32)
    value = codec.encode(event)
    headers = cloud_event_headers(event.event_id, "ActionCompleted", "/scoreboard/producer_api", now_us)
    return value, settings.event_keyring().sign(topic, 0, user.encode(), value, headers)


def create_app(settings: Settings, topic: str, io: frozenset[str] = frozenset({"redis", "kafka"})) -> Starlette:
    catalog = load_catalog(settings.actions_file or None)
    redis = redis_client(settings)
    calls = AutoPipeline.for_client(redis)
    publisher = Publisher(settings.kafka_bootstrap, extra_config=librdkafka_config(settings),
                          delivery_timeout_s=settings.produce_timeout_seconds, linger_ms=settings.produce_linger_ms,
                          client_id="scoreboard-floor")
    value, headers = sample_record(settings, topic)
    partitions = _ACTIONS_SPEC.partitions
    ip_args = (settings.rate_ip_per_second, settings.rate_ip_burst, 1)
    user_args = (settings.rate_user_per_second, settings.rate_user_burst, 1)
    limits = catalog.limits
    lease_ms = int(settings.idempotency_lease_seconds * 1000)

    async def reply(script: Script, sent: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await sent
        except NoScriptError:  # a fresh or flushed Redis: the api's AutoPipeline.run does the same
            return await calls.execute("EVAL", script.source, len(keys), *keys, *args)

    async def complete(request: Request) -> Response:
        action = catalog.get(request.path_params["action_id"])
        if action is None:
            return JSONResponse({"status": 404}, status_code=404)
        key = request.headers.get("idempotency-key", "")
        user = request.headers.get("authorization", "")[-16:]  # stands in for the token's subject
        now_us = time.time_ns() // 1000
        slot = f"sb:{{u:{user}}}"
        day = time.strftime("%Y-%m-%d", time.gmtime(now_us // 1_000_000))
        until_midnight_s = (DAY_US - now_us % DAY_US) // 1_000_000 + 3600
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{user}\x00{key}"))
        commands: list[tuple[Script, list[str], list[Any]]] = [
            (TAKE, [f"sb:rl:ip:{{{request.client.host if request.client else ''}}}"], [*ip_args]),
            (TAKE, [f"sb:rl:user:{{{user}}}"], [*user_args]),
            (CLAIM, [f"{slot}:idem:{key}"], [json.dumps({"event_id": event_id, "action_id": action.action_id,
                                                          "points": action.points, "fp": key, "ack": False}),
                                              lease_ms, TTL_SECONDS]),
            (RESERVE, [f"{slot}:ticket:-", f"{slot}:cool:{action.action_id}", f"{slot}:cap:{action.action_id}:{day}",
                        f"{slot}:budget:h:{now_us // HOUR_US}", f"{slot}:budget:d:{day}",
                        f"{slot}:open:{action.action_id}", f"{slot}:refused"],
             [key, 0, action.cooldown_seconds * 1000, action.daily_cap, until_midnight_s, action.points,
              limits.max_points_per_hour, limits.max_points_per_day,
              (HOUR_US - now_us % HOUR_US) // 1_000_000 + 3600, until_midnight_s, "-"]),
        ]
        if "merged" in io:
            commands = [(MERGED, [k for _, keys, _ in commands for k in keys],
                         [a for _, _, args in commands for a in args])]
        elif "redis" not in io:
            commands = [command for command in commands if command[0] is CLAIM and "claim" in io]
        sent = [calls.execute("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args in commands]
        answers = [await reply(script, future, keys, args)
                   for future, (script, keys, args) in zip(sent, commands, strict=True)]
        verdicts = answers[0] if "merged" in io else [answer[0] for answer in answers]
        if len(verdicts) == 4 and not (verdicts[0] and verdicts[1] and verdicts[3] == b"ok"):
            return JSONResponse({"status": 429}, status_code=429)
        if "kafka" in io:
            await publisher.publish(topic, user, value, headers, partition=zlib.crc32(user.encode()) % partitions)
        return JSONResponse({"event_id": event_id, "status": "accepted", "action_id": action.action_id,
                             "points": action.points}, status_code=202)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for script in (TAKE, CLAIM, RESERVE, MERGED):
            await redis.script_load(script.source)
        try:
            yield
        finally:
            publisher.close()
            await calls.close()
            await redis.aclose()

    return baseline_app(complete, lifespan)


if __name__ == "__main__":
    topic = os.environ.get(TOPIC_VARIABLE, "")
    if not topic:
        sys.exit(f"baseline_floor: set {TOPIC_VARIABLE} to a topic made by create_floor_topic")
    chosen = os.environ.get(IO_VARIABLE, "redis,kafka") or "redis,kafka"
    serve(create_app(Settings.from_env(), topic, frozenset(chosen.split(","))))
