"""e2e: at a fixed offered rate, the time from a POST's 2xx to the WebSocket frame showing its score.

A few hot users (fewer than the top 10, so every one of them is always on the board) post in turn
on their own keep-alive connections, each user strictly one at a time so their log order is their
ack order. One subscriber on the global board timestamps every frame; matching happens afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.matching import Ack, decode_frames, match_acks, stage_latencies
from bench.poster import HttpPoster
from bench.stats import latency_summary
from bench.system import HEAD_START, start_pipeline, warm_up
from bench.tokens import mint_tokens
from devstack.worlds import isolated_world
from testkit.subscribers import open_reader


@dataclass(frozen=True)
class E2ePlan:
    rate: int = 500
    seconds: float = 20
    hot_users: int = 8
    settle_s: float = 15


async def _post_paced(api_url: str, token: str, user: str, count: int, interval_s: float, start: float,
                      acks: list[Ack], errors: list[str]) -> None:
    poster = await HttpPoster.connect(api_url)
    score = HEAD_START
    try:
        for k in range(count):
            if (wait := start + k * interval_s - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            status, body = await poster.post("/v1/actions/win-match/complete", {
                "Authorization": f"Bearer {token}", "Idempotency-Key": f"e2e-{user}-{k}"})
            if not 200 <= status < 300:
                errors.append(f"{status} {body[:200]!r}")
                continue
            score += int(json.loads(body)["points"])
            acks.append(Ack(user, score, time.time()))
    finally:
        await poster.close()


async def _measure(plan: E2ePlan, tick: Callable[[float], None]) -> dict[str, Any]:
    with isolated_world() as world, start_pipeline(world) as pipeline:
        reader = await open_reader(pipeline.board_ws())
        try:
            run = uuid.uuid4().hex[:6]
            users = [f"hot{i}-{run}" for i in range(plan.hot_users)]
            await warm_up(pipeline, world, reader, users)
            tokens = mint_tokens(world.settings(), users)
            per_user = int(plan.rate * plan.seconds / plan.hot_users)
            interval = plan.hot_users / plan.rate
            acks: list[Ack] = []
            errors: list[str] = []
            start = time.monotonic() + 0.2
            posting = asyncio.gather(*(
                _post_paced(pipeline.api_url, tokens[u], u, per_user, interval, start + i * interval / plan.hot_users,
                            acks, errors) for i, u in enumerate(users)))
            while not posting.done():
                tick(max(0.0, time.monotonic() - start))
                await asyncio.sleep(0.5)
            await posting
            sent_s = time.monotonic() - start
            final = {a.user: a.expected_score for a in acks}
            deadline = time.monotonic() + plan.settle_s
            while time.monotonic() < deadline:  # until the last frame shows every user's last ack
                frames = decode_frames(reader.texts[-1:])
                if frames and all(frames[-1].scores.get(u, -1) >= s for u, s in final.items()):
                    break
                await asyncio.sleep(0.1)
            matches, missing = match_acks(acks, decode_frames(reader.texts))
        finally:
            reader.close()
    latencies = [max(0.0, (frame.at - ack.at) * 1000) for ack, frame in matches]
    to_change, to_frame = stage_latencies(matches)
    return {"rate": plan.rate, **latency_summary(latencies), "achieved_rate": round(len(acks) / sent_s, 1),
            "actions": len(acks), "errors": len(errors), "not_shown": missing,
            "stages": {"ack_to_change": latency_summary(to_change), "change_to_frame": latency_summary(to_frame)}}


def run(plan: E2ePlan, tick: Callable[[float], None]) -> dict[str, Any]:
    return asyncio.run(_measure(plan, tick))
