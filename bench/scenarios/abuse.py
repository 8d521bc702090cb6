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
as they see every other scenario's. Each attack is a module of ``bench/abuse/`` (``farming``,
``limits``, ``forgery``, ``key_reuse``; the plan and the requests' shapes in ``plan``); the pure parts
(counting, summaries) are in ``bench/abuse/tally.py`` (unit-tested), the system under attack in
``bench/abuse/target.py``. This module runs them in turn; nothing here asserts a number.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench.abuse.farming import farm_mixed, farm_single
from bench.abuse.forgery import forged
from bench.abuse.key_reuse import admin_key_reuse
from bench.abuse.limits import burst, tickets
from bench.abuse.plan import AbusePlan
from bench.abuse.target import System, default_env
from bench.system import start_pipeline
from devstack.worlds import isolated_world

__all__ = ["ATTACKS", "AbusePlan", "run"]


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
