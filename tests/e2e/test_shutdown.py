"""Graceful shutdown on SIGTERM: nothing accepted is lost, sockets are told the server is going away."""

from __future__ import annotations

import asyncio
import signal
import uuid

import httpx
import pytest
import websockets

from tests.support.client import ApiClient
from tests.support.inspect import ledger_count
from tests.support.polling import wait_until
from tests.support.processes import start_system, wait_ready
from scoreboard.stack.worlds import isolated_world

pytestmark = pytest.mark.e2e
GRACEFUL = (0, -signal.SIGTERM)


def test_sigterm_closes_websockets_with_going_away_and_loses_no_accepted_action() -> None:
    """Gateway SIGTERM: subscribers get close code 1001. Api SIGTERM during a burst: every request it
    answered 202 is counted once. Worker SIGTERM mid-stream: it exits 0 and a new worker finishes the
    rest exactly."""
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

            async def burst_then_sigterm() -> list[int]:
                async with httpx.AsyncClient(base_url=system.api_url, timeout=30) as client:
                    headers = {"Authorization": f"Bearer {api.token(user)}"}

                    async def one(i: int) -> int:
                        try:
                            response = await client.post("/v1/actions/daily-login/complete",
                                                         headers=headers | {"Idempotency-Key": f"g-{i:06d}-key"})
                            return response.status_code
                        except httpx.HTTPError:
                            return 0

                    tasks = [asyncio.create_task(one(i)) for i in range(60)]
                    await asyncio.sleep(0.05)  # let some requests be in flight when the signal arrives
                    api_process = next(p for p in system.processes if p.role == "api")
                    api_process.popen.send_signal(signal.SIGTERM)
                    return list(await asyncio.gather(*tasks))

            statuses = asyncio.run(burst_then_sigterm())
            accepted = statuses.count(202)
            assert accepted > 0 and set(statuses) <= {202, 0, 503}, statuses
            worker.stop(signal.SIGTERM)
            assert worker.popen.returncode in GRACEFUL, worker.log_tail()
            fresh = system.start("worker")
            wait_ready(fresh.url, fresh)
            wait_until(lambda: ledger_count(world.database_url, {user}) == accepted, timeout_s=60,
                       what=f"{accepted} accepted actions counted")
        finally:
            system.stop_all()
