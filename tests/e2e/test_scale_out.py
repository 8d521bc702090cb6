"""Two apis, two workers and two gateways on one machine stay exact, also when a worker is killed."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
import websockets

from devstack.ports import free_port
from devstack.worlds import isolated_world
from scoreboard.domain.catalog import load_catalog
from testkit.system import System, wait_ready
from testkit.waits import wait_until
from tests.support.client import ApiClient
from tests.support.inspect import ledger_count, postgres_scores, redis_order, wait_redis_caught_up
from tests.support.suite import LOAD_ENV

pytestmark = pytest.mark.e2e
ACTIONS = ("win-match", "complete-level", "daily-login")


@pytest.fixture()
def twins() -> Iterator[System]:
    with isolated_world() as world:
        system = System(world, world.env | LOAD_ENV | {"SCOREBOARD_BATCH_WAIT_SECONDS": "0.02"})
        try:
            apis = [system.start("api", SCOREBOARD_API_PORT=str(free_port())) for _ in range(2)]
            workers = [system.start("worker", SCOREBOARD_WORKER_INSTANCE_ID=f"w{i}",
                                    SCOREBOARD_WORKER_PORT=str(free_port())) for i in range(2)]
            gateways = [system.start("gateway", SCOREBOARD_GATEWAY_PORT=str(free_port())) for _ in range(2)]
            for process in (*apis, *gateways, *workers):
                wait_ready(process)
            yield system
        finally:
            system.stop_all()


def test_two_of_each_count_every_action_once_and_both_gateways_push_the_same_board(twins: System) -> None:
    """600 actions through both apis (with retries of the same key), one worker SIGKILLed mid-stream:
    Postgres and Redis hold the exact sums, and both gateways push the same final top 10."""
    system = twins
    secret = system.env["SCOREBOARD_JWT_SECRET"]
    apis = [p for p in system.processes if p.role == "api"]
    gateways = [p for p in system.processes if p.role == "gateway"]
    points = {a.action_id: a.points for a in load_catalog().actions.values()}
    run = uuid.uuid4().hex[:6]
    users = [f"twin{i:02d}-{run}" for i in range(12)]
    expected: dict[str, int] = {}
    client = ApiClient(f"http://127.0.0.1:{apis[0].port}", secret)

    async def post_all() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            async def one(i: int) -> None:
                user, action = users[i % len(users)], ACTIONS[i % len(ACTIONS)]
                key = f"twin-{run}-{i:05d}"
                for api in (apis[i % 2], apis[(i + 1) % 2]):  # the same key through both apis
                    response = await http.post(
                        f"http://127.0.0.1:{api.port}/v1/actions/{action}/complete",
                        headers={"Authorization": f"Bearer {client.token(user)}", "Idempotency-Key": key})
                    assert response.status_code in (200, 202), response.text
            for start in range(0, 600, 50):
                await asyncio.gather(*(one(i) for i in range(start, start + 50)))
                if start == 250:
                    next(p for p in system.processes if p.role == "worker").stop(signal.SIGKILL)

    for i in range(600):
        user, action = users[i % len(users)], ACTIONS[i % len(ACTIONS)]
        expected[user] = expected.get(user, 0) + points[action]
    asyncio.run(post_all())
    wait_until(lambda: ledger_count(system.world.database_url, set(users)) == 600, timeout_s=90,
               what="600 actions counted once\n" + system.logs())
    assert postgres_scores(system.world.database_url, "global", set(users)) == expected
    wait_redis_caught_up(system.world.database_url, system.world.redis_url, set(users))  # Redis follows the commit
    order = redis_order(system.world.redis_url, "global", set(users))
    assert dict(order) == expected
    top = [user for user, _ in order[:10]]

    async def pushed_top(gateway_port: int) -> list[str]:
        url = f"ws://127.0.0.1:{gateway_port}/v1/leaderboards/global/ws"
        async with websockets.connect(url) as ws:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return [e["user_id"] for e in frame["entries"]]

    def pushes_top(gateway_port: int) -> bool:
        return asyncio.run(pushed_top(gateway_port)) == top

    for gateway in gateways:
        wait_until(partial(pushes_top, gateway.port), timeout_s=30,
                   what=f"gateway {gateway.port} pushes the final top 10")
