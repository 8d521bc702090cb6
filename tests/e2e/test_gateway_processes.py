"""``scoreboard gateway --processes 2``: two processes on one port (SO_REUSEPORT), each with its own
feed, both serving subscribers; a SIGTERM to the first stops both, every socket closed with 1001."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest
import websockets

from devstack.ports import free_port
from devstack.worlds import isolated_world
from testkit.system import new_log_dir, start_process, wait_ready
from testkit.waits import wait_until

pytestmark = pytest.mark.e2e
SUBSCRIBERS = 40
GRACEFUL = (0, -signal.SIGTERM)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def sockets_of(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_gateway_processes_share_the_port_both_serve_and_stop_together_with_1001() -> None:
    """40 subscribers get a snapshot, spread over both processes; SIGTERM: all close with 1001."""
    with isolated_world() as world:
        port = free_port()
        env = world.env | {"SCOREBOARD_GATEWAY_PORT": str(port), "SCOREBOARD_GATEWAY_MAX_CONNECTIONS_PER_IP": "1000",
                           "SCOREBOARD_GATEWAY_CONNECTS_PER_IP_PER_SECOND": "0"}
        gateway = start_process("gateway", ["-m", "scoreboard.cli", "gateway", "--processes", "2"], env,
                                new_log_dir() / "gateway.log", port)
        try:
            wait_ready(gateway)
            (child,) = wait_until(lambda: children_of(gateway.pid), timeout_s=10, what="the second process")
            wait_until(lambda: all(wait_ready_once(port) for _ in range(10)), timeout_s=60,
                       what="both processes ready")
            before = {pid: sockets_of(pid) for pid in (gateway.pid, child)}

            async def subscribe_then_stop() -> tuple[list[str], dict[int, int], list[int | None]]:
                url = f"ws://127.0.0.1:{port}/v1/leaderboards/global/ws"
                sockets = [await websockets.connect(url) for _ in range(SUBSCRIBERS)]
                kinds = [(await asyncio.wait_for(ws.recv(), 20)) for ws in sockets]
                grown = {pid: sockets_of(pid) - count for pid, count in before.items()}
                gateway.popen.send_signal(signal.SIGTERM)
                codes = []
                for ws in sockets:
                    with contextlib.suppress(websockets.ConnectionClosed):
                        while True:
                            await asyncio.wait_for(ws.recv(), 20)
                    codes.append(ws.close_code)
                return [str(k) for k in kinds], grown, codes

            frames, grown, codes = asyncio.run(subscribe_then_stop())
            assert all('"type":"snapshot"' in f for f in frames)
            assert all(count > 0 for count in grown.values()), grown
            assert codes == [1001] * SUBSCRIBERS
            assert gateway.popen.wait(timeout=20) in GRACEFUL, gateway.log_tail()
            wait_until(lambda: not alive(child), timeout_s=10, what="the second process gone")
        finally:
            gateway.stop()


def wait_ready_once(port: int) -> bool:
    """One /readyz answer of whichever process the kernel picks: 200 means that one caught up."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False
