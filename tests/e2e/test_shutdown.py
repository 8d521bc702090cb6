"""Graceful shutdown on SIGTERM: nothing accepted is lost, sockets are told the server is going away."""

from __future__ import annotations

import asyncio
import functools
import signal
import uuid

import httpx
import psycopg
import pytest
import websockets

from devstack.worlds import isolated_world
from testkit.system import wait_ready
from testkit.waits import wait_until
from tests.support.client import ApiClient
from tests.support.inspect import ledger_count
from tests.support.suite import start_system

pytestmark = pytest.mark.e2e
GRACEFUL = (0, -signal.SIGTERM)
LANES = 8
LANE_LIMIT = 2000  # a bound only: a lane ends at the first request the stopping api does not accept


def ledger_nonces(database_url: str, user: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return [str(row[0]) for row in conn.execute("SELECT nonce FROM ledger WHERE user_id = %s ORDER BY nonce",
                                                    (user,))]


def test_sigterm_closes_websockets_with_going_away_and_loses_no_accepted_action() -> None:
    """Gateway SIGTERM: subscribers get close code 1001. Api SIGTERM while requests are in flight: it
    exits cleanly, and once the client retried (with the same keys, on a restarted api) whatever it
    was not told was accepted, every key is counted exactly once. Worker SIGTERM: it exits 0 and a new
    worker finishes the rest exactly."""
    with isolated_world() as world:
        system = start_system(world)
        try:
            api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
            gateway = next(p for p in system.processes if p.role == "gateway")
            worker = next(p for p in system.processes if p.role == "worker")

            async def close_code_on_gateway_sigterm() -> int | None:
                url = system.gateway_url.replace("http://", "ws://") + "/v1/leaderboards/global/ws"
                async with websockets.connect(url) as ws:
                    await ws.recv()
                    gateway.popen.send_signal(signal.SIGTERM)
                    try:
                        while True:
                            await asyncio.wait_for(ws.recv(), 20)
                    except websockets.ConnectionClosed as closed:
                        return closed.rcvd.code if closed.rcvd else None

            assert asyncio.run(close_code_on_gateway_sigterm()) == 1001
            # uvicorn re-raises the signal after its clean shutdown, so "killed by SIGTERM" is graceful too
            assert gateway.popen.wait(timeout=20) in GRACEFUL, gateway.log_tail()

            user = f"graceful-{uuid.uuid4().hex[:8]}"
            api_process = next(p for p in system.processes if p.role == "api")

            async def requests_across_a_sigterm() -> dict[str, int]:
                """LANES clients each keep one request in flight, one after another, until one is not
                accepted; the api gets SIGTERM once a first request was accepted, so requests are in
                flight (on every lane) when the signal arrives, however slow the machine is."""
                statuses: dict[str, int] = {}
                accepted = asyncio.Event()
                async with httpx.AsyncClient(base_url=system.api_url, timeout=30) as client:
                    headers = {"Authorization": f"Bearer {api.token(user)}"}

                    async def lane(number: int) -> None:
                        for i in range(LANE_LIMIT):
                            key = f"g-{number:02d}-{i:06d}-key"
                            try:
                                response = await client.post("/v1/actions/daily-login/complete",
                                                             headers=headers | {"Idempotency-Key": key})
                                statuses[key] = response.status_code
                            except httpx.HTTPError:
                                statuses[key] = 0
                            if statuses[key] != 202:
                                return
                            accepted.set()

                    lanes = [asyncio.create_task(lane(n)) for n in range(LANES)]
                    await asyncio.wait_for(accepted.wait(), 60)
                    api_process.popen.send_signal(signal.SIGTERM)
                    await asyncio.gather(*lanes)
                return statuses

            statuses = asyncio.run(requests_across_a_sigterm())
            assert api_process.popen.wait(timeout=30) in GRACEFUL, api_process.log_tail()
            accepted = [key for key, status in statuses.items() if status == 202]
            refused = sorted(key for key, status in statuses.items() if status != 202)
            assert accepted and set(statuses.values()) <= {202, 0, 503}, statuses
            assert len(refused) == LANES, "each lane ends on its first request the stopping api did not accept"

            restarted = system.start("api")
            wait_ready(restarted)

            def retried(key: str) -> bool:  # 409 while an interrupted attempt's lease runs out: retry later
                return api.complete(user, "daily-login", key=key).status_code in (200, 202)

            for key in refused:  # the client retries what it was not told was accepted
                wait_until(functools.partial(retried, key), timeout_s=90, interval_s=0.5,
                           what=f"the retry of {key} accepted")
            worker.stop(signal.SIGTERM)
            assert worker.popen.returncode in GRACEFUL, worker.log_tail()
            fresh = system.start("worker")
            wait_ready(fresh)
            wait_until(lambda: ledger_count(world.database_url, {user}) >= len(statuses), timeout_s=60,
                       what=f"{len(statuses)} keys counted")
            assert ledger_nonces(world.database_url, user) == sorted(statuses), "every key counted exactly once"
        finally:
            system.stop_all()
