"""baseline_seed: the seed note's synchronous design, per request and before answering:
verify the JWT, one Postgres transaction (insert the action row, upsert the user's total),
ZINCRBY on the leaderboard ZSET, PUBLISH "action_completed" on Redis pub/sub.

Same framework and server settings as the api (Starlette + uvicorn), same Postgres and Redis,
same connection pool size (8). Tables live in the bench world's own database.

Run: ``python -m bench.baselines.seed --port 8101`` with the world's SCOREBOARD_* environment.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bench.baselines.serve import baseline_app, serve
from scoreboard.adapters.auth import AuthError, TokenVerifier
from scoreboard.adapters.redis_client import redis_client
from scoreboard.domain.catalog import load_catalog
from scoreboard.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS seed_action_completions (
  id bigserial PRIMARY KEY,
  user_id text NOT NULL,
  action_id text NOT NULL,
  points integer NOT NULL,
  nonce text NOT NULL,
  completed_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, nonce)
);
CREATE TABLE IF NOT EXISTS seed_users (user_id text PRIMARY KEY, score bigint NOT NULL);
"""
INSERT_ACTION = ("INSERT INTO seed_action_completions (user_id, action_id, points, nonce) VALUES (%s, %s, %s, %s)"
                 " ON CONFLICT (user_id, nonce) DO NOTHING RETURNING id")
UPSERT_TOTAL = ("INSERT INTO seed_users (user_id, score) VALUES (%s, %s)"
                " ON CONFLICT (user_id) DO UPDATE SET score = seed_users.score + EXCLUDED.score")


def create_app(settings: Settings) -> Starlette:
    verifier = TokenVerifier.from_settings(settings)
    catalog = load_catalog(settings.actions_file or None)
    redis = redis_client(settings)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
        settings.require_database(), min_size=8, max_size=8, open=False)

    async def complete(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            user = verifier.verify(token.strip()).user_id
        except AuthError:
            return JSONResponse({"status": 401}, status_code=401)
        nonce = request.headers.get("idempotency-key", "")
        action = catalog.get(request.path_params["action_id"])
        if action is None or not nonce:
            return JSONResponse({"status": 422}, status_code=422)
        async with pool.connection() as conn, conn.transaction():
            inserted = await (await conn.execute(INSERT_ACTION, (user, action.action_id, action.points,
                                                                 nonce))).fetchone()
            if inserted is not None:
                await conn.execute(UPSERT_TOTAL, (user, action.points))
        if inserted is not None:
            await redis.zincrby("seed:leaderboard:global", action.points, user)
            await redis.publish("seed:action_completed", json.dumps(
                {"user_id": user, "delta": action.points, "ts": time.time()}))
        return JSONResponse({"status": "accepted", "action_id": action.action_id, "points": action.points},
                            status_code=202)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            await conn.execute(SCHEMA)
        try:
            yield
        finally:
            await pool.close()
            await redis.aclose()

    return baseline_app(complete, lifespan)


if __name__ == "__main__":
    serve(create_app(Settings.from_env()))
