"""Run api, worker(s) and gateway as child processes in the foreground (``scoreboard run``).

Used by ``make up``. Ctrl-C (or SIGTERM) stops the children gracefully; a child that exits on its
own is reported and the rest are stopped too, so a broken process never hides behind a live one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from scoreboard.adapters.auth import mint_token
from scoreboard.settings import Settings


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def spawn(role: str, name: str, extra_env: dict[str, str]) -> Child:
    env = dict(os.environ) | extra_env
    command = [sys.executable, "-m", "scoreboard.cli", role]
    return Child(name, subprocess.Popen(command, env=env))


def run_local(apis: int = 1, workers: int = 1, gateways: int = 1) -> int:
    settings = Settings.from_env()
    children: list[Child] = []
    # The gateways' moderation page calls the api from their origin: let it, unless origins are set.
    pages = ",".join(f"http://{host}:{settings.gateway_port + 10 * i}" for i in range(gateways)
                     for host in ("127.0.0.1", "localhost"))
    cors = {} if settings.allowed_origins else {"SCOREBOARD_ALLOWED_ORIGINS": pages}
    for i in range(apis):
        children.append(spawn("api", f"api-{i + 1}", {"SCOREBOARD_API_PORT": str(settings.api_port + 10 * i), **cors}))
    for i in range(workers):
        children.append(spawn("worker", f"worker-{i + 1}", {
            "SCOREBOARD_WORKER_PORT": str(settings.worker_port + i),
            "SCOREBOARD_WORKER_INSTANCE_ID": f"{settings.worker_id}-{i + 1}"}))
    for i in range(gateways):
        port = settings.gateway_port + 10 * i
        children.append(spawn("gateway", f"gateway-{i + 1}", {"SCOREBOARD_GATEWAY_PORT": str(port)}))
    _print_welcome(settings)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for child in children:
            code = child.process.poll()
            if code is not None:
                print(f"scoreboard: {child.name} exited with {code}; stopping the others", file=sys.stderr)
                stopping, exit_code = True, 1
        time.sleep(0.3)
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
    return exit_code


def _print_welcome(settings: Settings) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    dashboard = f"http://{settings.gateway_host}:{settings.gateway_port}/"
    token = mint_token(settings.jwt_secret, "alice", ttl_seconds=3600) if settings.jwt_secret else "<token>"
    print(f"""
Live Scoreboard is starting.
  API:        {api}   (OpenAPI: {api}/openapi.json)
  Dashboard:  {dashboard}
  Moderation: {dashboard}moderation   (an admin token: .venv/bin/scoreboard token --sub root --role admin)
  A token:    .venv/bin/scoreboard token --sub alice

Try it:
  TOKEN={token}
  curl -X POST {api}/v1/actions/win-match/complete \\
       -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $(date +%s%N)"
  curl {api}/v1/leaderboards/global

Ctrl-C stops everything (the stack keeps running; `make down` stops it).
""", flush=True)
