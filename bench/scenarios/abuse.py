"""abuse: what an attacker achieves against the shipped defaults (issue 12).

The api, one worker and the gateway run on an isolated world exactly as shipped: the catalog of
``scoreboard/catalogs/actions.toml`` and the default rate limits (every ``SCOREBOARD_RATE_*`` override and
``SCOREBOARD_ACTIONS_FILE`` is blanked for the services, so the defaults apply). Five attacks, each
by fresh users, each reporting numbers rather than a verdict:

- **farming**: one ordinary token, 1,000 completions of ``win-match`` with fresh Idempotency-Keys
  over 32 keep-alive connections as fast as they go; then the same budget mixed over every enabled
  positive action of ``GET /v1/actions`` (a ticketed action spends a start and a completion). The
  score is read once the worker caught up (its committed offsets reached the topic's end as it was
  after the attack) and two reads agree.
- **burst**: 400 completions by one fresh user paced over about one second: how many got 429.
- **tickets**: 50 concurrent ``POST /v1/actions/boss-fight/start`` by one user: how many 201.
- **forged**: a well-formed Avro ``ActionCompleted`` of 10^12 points produced straight to the
  actions topic, with CloudEvents headers and no signature: is it counted, or set aside (the first
  matching ``scoreboard.rejected.v1`` record gives the reason)?
- **admin_key_reuse**: a user completes an action with key K; an admin adjusts that user with
  ``Idempotency-Key: K``; then the user and 5 others on the same partition complete more actions:
  how many are counted within 30 s, and how often the worker exited (it is restarted each time, as
  a process supervisor would).

Every user of the stack shares the actions topic, so other sessions' workers see these events too,
as they see every other scenario's. Only the pure parts (plans, counting, summaries) are unit-tested
(``tests/unit/test_bench_abuse.py``); nothing here asserts a number.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.poster import HttpPoster
from bench.system import start_pipeline
from devstack.worlds import World, isolated_world, topic_ends
from scoreboard.adapters.auth import mint_token
from testkit import system as kit

ACTIONS_TOPIC = "scoreboard.actions.v1"
REJECTED_TOPIC = "scoreboard.rejected.v1"
FARM_ACTION = "win-match"
TICKET_ACTION = "boss-fight"
JSON_HEADERS = {"Content-Type": "application/json"}
NOT_BEFORE_MARGIN_S = 0.05
"""Wait this much past a ticket's ``not_before`` (milliseconds; before 2026-11-30 it was truncated to
whole seconds and the margin was 1.2 s)."""


@dataclass(frozen=True)
class AbusePlan:
    farm_requests: int = 1000
    connections: int = 32
    burst_requests: int = 400
    burst_seconds: float = 1.0
    ticket_starts: int = 50
    forged_points: int = 10**12
    reuse_neighbours: int = 5
    reuse_actions_per_user: int = 3
    reuse_window_s: float = 30.0
    settle_timeout_s: float = 60.0
    ticket_wait_max_s: float = 65.0
    """The mixed farm waits for its tickets' minimum duration up to this long (the seconds include it)."""


# ---------------------------------------------------------------- pure parts (unit-tested)


def status_counts(statuses: Iterable[int]) -> dict[str, int]:
    """``{"202": 512, "429": 488}``, sorted by status; 0 stands for a transport error (no answer)."""
    counted = Counter(statuses)
    return {str(status): counted[status] for status in sorted(counted)}


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def problem_type(body: bytes) -> str | None:
    """The ``type`` (or ``title``) of an RFC 9457 problem body, if the body is one."""
    found = parse_json(body)
    if isinstance(found, dict):
        value = found.get("type") or found.get("title")
        return str(value) if value is not None else None
    return None


def problem_counts(answers: Iterable[tuple[int, bytes]]) -> dict[str, int]:
    """``{"429 rate-limited": 94}``: refusals by status and problem type."""
    counted = Counter(f"{status} {problem_type(body) or '-'}"
                      for status, body in answers if status >= 400 or not status)
    return dict(sorted(counted.items()))


def accepted_points(answers: Iterable[tuple[int, bytes]]) -> list[int]:
    """Points of each new acceptance (2xx whose status is not ``duplicate``), in answer order."""
    points = []
    for status, body in answers:
        found = parse_json(body)
        if 200 <= status < 300 and isinstance(found, dict) and found.get("status") != "duplicate":
            value = found.get("points")
            points.append(int(value) if isinstance(value, int) else 0)
    return points


def positive_actions(catalog: Any) -> list[dict[str, Any]]:
    """The enabled actions worth points, from ``GET /v1/actions`` (unknown fields ignored)."""
    entries = catalog.get("actions", []) if isinstance(catalog, dict) else []
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("action_id"), str):
            continue
        points = entry.get("points")
        if entry.get("enabled", True) is False or not isinstance(points, int) or points <= 0:
            continue
        found.append({"action_id": entry["action_id"], "points": points,
                      "requires_ticket": bool(entry.get("requires_ticket", False))})
    return found


def mix_plan(actions: Sequence[Mapping[str, Any]], budget: int) -> dict[str, int]:
    """Completions per action when ``budget`` requests are shared equally by ``actions``; a ticketed
    action's share pays a start and a completion each. The remainder goes to the first actions."""
    if not actions or budget <= 0:
        return {}
    share, extra = divmod(budget, len(actions))
    plan = {}
    for i, action in enumerate(actions):
        requests = share + (1 if i < extra else 0)
        plan[str(action["action_id"])] = requests // 2 if action.get("requires_ticket") else requests
    return plan


def partition_for(key: str, partitions: int) -> int:
    """librdkafka's default partitioner (``consistent_random``): CRC-32 of the key, modulo the count."""
    return (zlib.crc32(key.encode()) & 0xFFFFFFFF) % partitions


def users_on_partition(prefix: str, partition: int, partitions: int, count: int) -> list[str]:
    """The first ``count`` names ``{prefix}-{i}`` that the api's producer puts on ``partition``."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        name = f"{prefix}-{i}"
        if partition_for(name, partitions) == partition:
            found.append(name)
        i += 1
    return found


def counted_actions(before: int, after: int, acked: Sequence[int]) -> int:
    """How many of the acknowledged actions (points each, in order) the score grew by."""
    left, counted = after - before, 0
    for points in acked:
        if points > left:
            break
        left -= points
        counted += 1
    return counted


def log_findings(text: str) -> dict[str, int]:
    """Errors in a service's log: error records, records with a traceback, crash exits logged.

    The worker writes each record twice, once as JSON and once through Faust's plain handler; when
    the log has JSON records only those are counted, otherwise the plain lines are."""
    json_counts = Counter[str]()
    plain_counts = Counter[str]()
    for line in text.splitlines():
        record = parse_json(line.encode()) if line.startswith("{") else None
        if isinstance(record, dict):
            json_counts["records"] += 1
            json_counts["error_lines"] += str(record.get("level", "")).lower() in ("error", "critical")
            json_counts["tracebacks"] += "Traceback" in str(record.get("exc", ""))
            json_counts["crash_exits_logged"] += "exiting before any commit" in str(record.get("msg", ""))
        else:
            plain_counts["error_lines"] += " ERROR " in line or "[ERROR]" in line or "CRITICAL" in line
            plain_counts["tracebacks"] += line.startswith("Traceback")
            plain_counts["crash_exits_logged"] += "exiting before any commit" in line
    chosen = json_counts if json_counts["records"] else plain_counts
    return {key: chosen[key] for key in ("error_lines", "tracebacks", "crash_exits_logged")}


def summarise_farm(answers: Sequence[tuple[int, bytes]], seconds: float, standing: Mapping[str, Any],
                   requests: int | None = None) -> dict[str, Any]:
    """One farming run: what was sent, what the api answered, and what the board shows after."""
    acked = accepted_points(answers)
    score = standing.get("score")
    return {
        "requests": len(answers) if requests is None else requests,
        "seconds": round(seconds, 3),
        "statuses": status_counts(s for s, _ in answers),
        "accepted": len(acked),
        "acknowledged_points": sum(acked),
        "score": score,
        "rank": standing.get("rank"),
        "points_per_second": round(score / seconds, 1) if isinstance(score, int) and seconds > 0 else None,
        "caught_up": standing.get("caught_up"),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_line(result: Mapping[str, Any]) -> str:
    """One line for the console: the number each attack is about."""
    parts = []
    farm = result.get("farming", {}).get("single") if isinstance(result.get("farming"), dict) else None
    if isinstance(farm, dict):
        parts.append(f"farming {_fmt(farm.get('requests'))} req in {farm.get('seconds')} s -> "
                     f"{_fmt(farm.get('accepted'))} accepted, score {_fmt(farm.get('score'))} "
                     f"(rank {_fmt(farm.get('rank'))})")
    mixed = result.get("farming", {}).get("mixed") if isinstance(result.get("farming"), dict) else None
    if isinstance(mixed, dict):
        parts.append(f"mixed score {_fmt(mixed.get('score'))}")
    for name, text in (("burst", "burst {limited}/{requests} got 429"),
                       ("tickets", "tickets {issued}/{requests} issued"),
                       ("forged", "forged counted={counted} (score {score})"),
                       ("admin_key_reuse", ("admin key reuse: admin {admin_status}, {counted}/{sent} counted "
                                            "in {window_s} s, worker exits {worker_exits}"))):
        found = result.get(name)
        if isinstance(found, dict):
            if "error" in found:
                parts.append(f"{name} failed: {found['error']}")
                continue
            parts.append(text.format_map(_Missing({k: _fmt(v) for k, v in found.items()})))
    return "abuse: " + "; ".join(parts)


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


# ---------------------------------------------------------------- the system under attack


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
            committed = await asyncio.to_thread(_committed, bootstrap, group, list(ends))
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


def _committed(bootstrap: str, group: str, partitions: list[int]) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(ACTIONS_TOPIC, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in found}
    except Exception:  # noqa: BLE001 - unknown: the caller keeps waiting until its deadline
        return {}
    finally:
        consumer.close()


def _scan(bootstrap: str, topic: str, starts: Mapping[int, int], match: Callable[[Any], bool],
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


# ---------------------------------------------------------------- the attacks


def _complete(action_id: str, token: str, key: str, ticket: str | None = None) -> tuple[str, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    body = b""
    if ticket is not None:
        headers |= JSON_HEADERS
        body = json.dumps({"ticket": ticket}).encode()
    return f"/v1/actions/{action_id}/complete", headers, body


def _start(action_id: str, token: str) -> tuple[str, dict[str, str], bytes]:
    return f"/v1/actions/{action_id}/start", {"Authorization": f"Bearer {token}"} | JSON_HEADERS, b"{}"


async def farm_single(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-farm-{run}"
    token = system.token(user)
    requests = [_complete(FARM_ACTION, token, f"farm-{run}-{i}") for i in range(plan.farm_requests)]
    answers, seconds = await system.storm(requests, plan.connections)
    standing = await system.settled_standing(user, plan.settle_timeout_s)
    return {"user": user, "action_id": FARM_ACTION, "connections": plan.connections,
            **summarise_farm(answers, seconds, standing)}


def _not_before(body: Any) -> float | None:
    if isinstance(body, dict) and isinstance(body.get("not_before"), str):
        try:
            return datetime.fromisoformat(body["not_before"]).timestamp()
        except ValueError:
            return None
    return None


async def farm_mixed(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    """The same request budget over every enabled positive action: tickets first (their minimum
    duration runs while the plain actions are sent), then the ticketed completions."""
    status, catalog = await system.get("/v1/actions")
    actions = positive_actions(catalog)
    shares = mix_plan(actions, plan.farm_requests)
    user = f"abuse-mix-{run}"
    token = system.token(user)
    started = time.monotonic()
    answers: list[tuple[int, bytes]] = []
    per_action: dict[str, dict[str, Any]] = {}
    ticketed = [a for a in actions if a["requires_ticket"]]
    starts: dict[str, list[tuple[int, bytes]]] = {}
    for action in ticketed:
        starts[action["action_id"]], _ = await system.storm(
            [_start(action["action_id"], token)] * shares[action["action_id"]], plan.connections)
    for action in (a for a in actions if not a["requires_ticket"]):
        aid = action["action_id"]
        got, _ = await system.storm([_complete(aid, token, f"mix-{run}-{aid}-{i}") for i in range(shares[aid])],
                                    plan.connections)
        answers += got
        per_action[aid] = {"completions": len(got), "statuses": status_counts(s for s, _ in got),
                           "problems": problem_counts(got), "acknowledged_points": sum(accepted_points(got))}
    for action in ticketed:
        aid = action["action_id"]
        issued = [parse_json(b) for s, b in starts[aid] if s == 201]
        tickets = [b["ticket"] for b in issued if isinstance(b, dict) and isinstance(b.get("ticket"), str)]
        ready_at = max((t for t in map(_not_before, issued) if t is not None), default=time.time())
        if (wait := ready_at - time.time() + NOT_BEFORE_MARGIN_S) > 0:
            await asyncio.sleep(min(wait, plan.ticket_wait_max_s))
        got, _ = await system.storm([_complete(aid, token, f"mix-{run}-{aid}-{i}", ticket)
                                     for i, ticket in enumerate(tickets)], plan.connections)
        answers += got
        per_action[aid] = {"starts": len(starts[aid]), "start_statuses": status_counts(s for s, _ in starts[aid]),
                           "start_problems": problem_counts(starts[aid]), "completions": len(got),
                           "statuses": status_counts(s for s, _ in got), "problems": problem_counts(got),
                           "acknowledged_points": sum(accepted_points(got))}
    seconds = time.monotonic() - started
    standing = await system.settled_standing(user, plan.settle_timeout_s)
    requests = sum(len(v) for v in starts.values()) + len(answers)
    return {"user": user, "catalog_status": status, "actions": [a["action_id"] for a in actions],
            "per_action": per_action, **summarise_farm(answers, seconds, standing, requests=requests)}


async def burst(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-burst-{run}"
    token = system.token(user)
    requests = [_complete(FARM_ACTION, token, f"burst-{run}-{i}") for i in range(plan.burst_requests)]
    answers, seconds = await system.storm(requests, plan.connections, pace_s=plan.burst_seconds / plan.burst_requests)
    statuses = [s for s, _ in answers]
    return {"user": user, "requests": len(answers), "seconds": round(seconds, 3),
            "statuses": status_counts(statuses), "problems": problem_counts(answers), "limited": statuses.count(429),
            "accepted": len(accepted_points(answers))}


async def tickets(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-tickets-{run}"
    token = system.token(user)
    answers, seconds = await system.storm([_start(TICKET_ACTION, token)] * plan.ticket_starts, plan.ticket_starts)
    return {"user": user, "action_id": TICKET_ACTION, "requests": len(answers), "seconds": round(seconds, 3),
            "statuses": status_counts(s for s, _ in answers), "issued": sum(1 for s, _ in answers if s == 201),
            "problems": problem_counts(answers)}


def forged_event(user: str, points: int, run: str) -> Any:
    """An ``ActionCompleted`` as the api would write it, built by field name (a new field gets an empty
    value of its type, so the scenario still runs when the event grows)."""
    from scoreboard.domain.events import ActionCompleted

    known: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "user_id": user, "action_id": FARM_ACTION, "nonce": f"forged-{run}",
        "points": points, "catalog_version": "forged", "occurred_at_us": time.time_ns() // 1000,
        "request_id": f"forged-{run}",
    }
    values = {}
    for f in dataclasses.fields(ActionCompleted):
        if f.name in known:
            values[f.name] = known[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = 0 if "int" in str(f.type) else ""
    return ActionCompleted(**values)


def _produce(bootstrap: str, user: str, value: bytes,
             headers: list[tuple[str, str | bytes | None]]) -> tuple[int, int]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "client.id": "bench-abuse-forger"})
    where: list[tuple[int, int]] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is None:
            where.append((msg.partition(), msg.offset()))

    producer.produce(ACTIONS_TOPIC, key=user.encode(), value=value, headers=headers, on_delivery=delivered)
    if producer.flush(30) or not where:
        raise RuntimeError("the forged record was not acknowledged by Kafka")
    return where[0]


async def forged(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    from scoreboard.adapters import codec

    user = f"abuse-forged-{run}"
    event = forged_event(user, plan.forged_points, run)
    headers: list[tuple[str, str | bytes | None]] = []
    try:
        from scoreboard.adapters.cloudevents import cloud_event_headers

        headers = [*cloud_event_headers(event.event_id, "ActionCompleted", "/scoreboard/producer_api",
                                        event.occurred_at_us)]
    except (ImportError, TypeError):
        pass
    bootstrap = system.world.kafka_bootstrap
    rejected_start = await asyncio.to_thread(topic_ends, bootstrap, REJECTED_TOPIC)
    partition, offset = await asyncio.to_thread(_produce, bootstrap, user, codec.encode(event), headers)
    standing = await system.settled_standing(user, plan.settle_timeout_s)

    def ours(message: Any) -> bool:
        return (message.key() or b"") == user.encode()

    reason = None
    for message in await asyncio.to_thread(_scan, bootstrap, REJECTED_TOPIC, rejected_start, ours, 10.0):
        try:
            decoded = codec.decode(message.value())
        except Exception:  # noqa: BLE001 - a rejection this codec cannot read: say so, keep going
            reason = reason or "undecodable rejection record"
            continue
        if getattr(decoded, "event_id", None) == event.event_id:
            reason = str(getattr(decoded, "reason", ""))
            break
    score = standing.get("score")
    return {"user": user, "points": plan.forged_points, "signature_headers": False,
            "headers": [name for name, _ in headers], "partition": partition, "offset": offset,
            "score": score, "rank": standing.get("rank"), "caught_up": standing.get("caught_up"),
            "counted": isinstance(score, int) and score >= plan.forged_points, "rejected_reason": reason}


async def _complete_in_turn(system: System, token: str, keys: Sequence[str]) -> list[tuple[int, bytes]]:
    answers, _ = await system.storm([_complete(FARM_ACTION, token, key) for key in keys], 1)
    return answers


async def admin_key_reuse(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    ends = await asyncio.to_thread(topic_ends, system.world.kafka_bootstrap)
    partitions = len(ends)
    user = f"abuse-reuse-{run}"
    partition = partition_for(user, partitions)
    neighbours = users_on_partition(f"abuse-nb-{run}", partition, partitions, plan.reuse_neighbours)
    tokens = {u: system.token(u) for u in [user, *neighbours]}
    admin = system.token(f"abuse-admin-{run}", admin=True)
    exits_before = len(system.worker_exits)
    logs_before = len(system.worker_logs())
    key = f"reuse-{run}-k"

    first, _ = await system.storm([_complete(FARM_ACTION, tokens[user], key)], 1)
    adjusted, _ = await system.storm([(f"/v1/admin/users/{user}/adjustments",
                                       {"Authorization": f"Bearer {admin}", "Idempotency-Key": key} | JSON_HEADERS,
                                       json.dumps({"delta": 10, "reason": "x"}).encode())], 1)
    caught_after_admin = await system.caught_up(plan.reuse_window_s)
    before = {u: (await system.standing(u)).get("score") or 0 for u in tokens}

    sent_at = time.monotonic()
    answers = await asyncio.gather(*(
        _complete_in_turn(system, t, [f"reuse-{run}-{u}-{i}" for i in range(plan.reuse_actions_per_user)])
        for u, t in tokens.items()))
    acked = {u: accepted_points(a) for u, a in zip(tokens, answers, strict=True)}
    counted: dict[str, int] = {}
    deadline = sent_at + plan.reuse_window_s
    while True:
        system.watch_worker()
        for u in tokens:
            counted[u] = counted_actions(before[u], (await system.standing(u)).get("score") or 0, acked[u])
        if all(counted[u] == len(acked[u]) for u in tokens) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    counted_s = time.monotonic() - sent_at
    system.watch_worker()

    def ours(message: Any) -> bool:
        return (message.key() or b"").decode(errors="replace") in tokens

    seen = await asyncio.to_thread(_scan, system.world.kafka_bootstrap, ACTIONS_TOPIC,
                                   {partition: ends[partition]}, ours, 10.0)
    keys_seen = {(m.key() or b"").decode(errors="replace") for m in seen}
    sent = sum(len(a) for a in answers)
    findings = log_findings(system.worker_logs()[logs_before:])
    return {
        "user": user, "partition": partition, "neighbours": neighbours,
        "same_partition_verified": keys_seen == set(tokens) if seen else None,
        "first_status": first[0][0], "admin_status": adjusted[0][0], "admin_problem": problem_type(adjusted[0][1]),
        "caught_up_after_admin": caught_after_admin,
        "sent": sent, "acknowledged": sum(len(v) for v in acked.values()),
        "statuses": status_counts(s for a in answers for s, _ in a),
        "counted": sum(counted.values()), "counted_by_user": counted, "score_before_by_user": before,
        "window_s": plan.reuse_window_s, "seconds_to_count": round(counted_s, 2),
        "worker_exits": len(system.worker_exits) - exits_before,
        "worker_exit_codes": system.worker_exits[exits_before:],
        "worker_alive": system.worker is not None and system.worker.popen.poll() is None,
        **{f"worker_{k}": v for k, v in findings.items()},
    }


ATTACKS: tuple[tuple[str, Callable[[System, AbusePlan, str], Awaitable[dict[str, Any]]]], ...] = (
    ("burst", burst),
    ("tickets", tickets),
    ("forged", forged),
    ("admin_key_reuse", admin_key_reuse),
)


async def _attack(plan: AbusePlan, tick: Callable[[str], None]) -> dict[str, Any]:
    with isolated_world() as world:
        env, blanked = default_env(world)
        tick("starting api, worker and gateway with the shipped catalog and default limits")
        with start_pipeline(world, env) as services:
            system = System(world, services)
            run = uuid.uuid4().hex[:6]
            found: dict[str, Any] = {"run": run, "overrides_blanked": blanked, "plan": dataclasses.asdict(plan)}
            farming: dict[str, Any] = {}
            for name, farm in (("single", farm_single), ("mixed", farm_mixed)):
                tick(f"farming ({name})")
                try:
                    farming[name] = await farm(system, plan, run)
                except Exception as exc:  # noqa: BLE001 - one failed attack must not hide the others
                    farming[name] = {"error": f"{type(exc).__name__}: {exc}"}
            found["farming"] = farming
            for name, attack in ATTACKS:
                tick(name)
                try:
                    found[name] = await attack(system, plan, run)
                except Exception as exc:  # noqa: BLE001
                    found[name] = {"error": f"{type(exc).__name__}: {exc}"}
            system.watch_worker()
            found["worker_exits_total"] = len(system.worker_exits)
            return found


def run(plan: AbusePlan, tick: Callable[[str], None]) -> dict[str, Any]:
    return asyncio.run(_attack(plan, tick))
