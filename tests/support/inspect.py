"""Read what the pipeline produced: Postgres standings, Redis boards, pushed LeaderboardChanged."""

from __future__ import annotations

import asyncio

import psycopg
from confluent_kafka import Consumer, TopicPartition
from redis.asyncio import Redis

from devstack.worlds import topic_ends
from projections.ranking import RedisBoards
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import header
from scoreboard.domain.events import LeaderboardChanged
from scoreboard.domain.topics import LEADERBOARD_CHANGES
from testkit.waits import wait_until


def postgres_scores(database_url: str, board: str, users: set[str]) -> dict[str, int]:
    """Visible scores of ``users`` (other tests may share the actions topic, so filter to ours)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT user_id, score FROM board_scores WHERE board = %s AND visible"
                            " AND user_id = ANY(%s)", (board, sorted(users)))
        return {user: score for user, score in rows}


def ledger_count(database_url: str, users: set[str]) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM ledger WHERE user_id = ANY(%s)", (sorted(users),)).fetchone()
        return int(row[0]) if row else 0


def redis_order(redis_url: str, board: str, users: set[str]) -> list[tuple[str, int]]:
    """The whole board in rank order, as the api reads it, restricted to ``users``."""
    async def read() -> list[tuple[str, int]]:
        redis = Redis.from_url(redis_url)
        try:
            boards = RedisBoards(redis)
            _, entries = await boards.top(board, max(1, await boards.size(board)))
            return [(e.user_id, e.score) for e in entries if e.user_id in users]
        finally:
            await redis.aclose()

    return asyncio.run(read())


def redis_caught_up(database_url: str, redis_url: str, users: set[str]) -> bool:
    """Redis holds every standing of ``users`` at least as new (by seq) as Postgres does. The worker
    commits a batch to Postgres first and writes Redis after it, so a test that waited for Postgres
    (the ledger, the standings, the log positions) waits for this too before it reads Redis."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT board, user_id, seq FROM board_scores WHERE user_id = ANY(%s)",
                            (sorted(users),)).fetchall()

    async def check() -> bool:
        redis = Redis.from_url(redis_url)
        try:
            boards = RedisBoards(redis)
            for board, user, seq in rows:
                if await boards.seq_of(str(board), str(user)) < int(seq):
                    return False
            return True
        finally:
            await redis.aclose()

    return asyncio.run(check())


def wait_redis_caught_up(database_url: str, redis_url: str, users: set[str], timeout_s: float = 60) -> None:
    """Until ``redis_caught_up``: the worker's last batch reached Redis too."""
    wait_until(lambda: redis_caught_up(database_url, redis_url, users), timeout_s=timeout_s, interval_s=0.05,
               what="Redis applied every standing Postgres holds")


def pushed_boards(bootstrap: str, since: dict[int, int], source: str) -> dict[str, LeaderboardChanged]:
    """The newest LeaderboardChanged per board written by ``source`` after the ``since`` offsets."""
    until = topic_ends(bootstrap, LEADERBOARD_CHANGES)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "inspect", "enable.auto.commit": False})
    newest: dict[str, LeaderboardChanged] = {}
    try:
        consumer.assign([TopicPartition(LEADERBOARD_CHANGES, p, since.get(p, 0)) for p in until])
        remaining = {p for p in until if until[p] > since.get(p, 0)}
        while remaining:
            message = consumer.poll(5)
            if message is None:
                break
            partition, offset = message.partition(), message.offset()
            if message.error() or partition is None or offset is None:
                continue
            if offset >= until[partition] - 1:
                remaining.discard(partition)
            headers = [(str(pair[0]), bytes(pair[1])) for pair in message.headers() or []
                       if isinstance(pair[1], (bytes, bytearray))]
            if header(headers, "ce_source") != source:
                continue
            event = codec.decode(message.value() or b"")
            assert isinstance(event, LeaderboardChanged)
            if event.board not in newest or event.board_version > newest[event.board].board_version:
                newest[event.board] = event
    finally:
        consumer.close()
    return newest


def snapshot(database_url: str, redis_url: str, users: set[str]) -> dict[str, object]:
    """Every projection of ``users`` the log decides: for comparing a rebuild with the live state."""
    with psycopg.connect(database_url) as conn:
        standings = conn.execute(
            "SELECT board, user_id, score, seq, reached_at_us, visible FROM board_scores"
            " WHERE user_id = ANY(%s) ORDER BY board, user_id", (sorted(users),)).fetchall()
        ledger = conn.execute(
            "SELECT event_id, user_id, nonce, action_id, points, total_after, kafka_partition, kafka_offset, state"
            " FROM ledger WHERE user_id = ANY(%s) ORDER BY event_id", (sorted(users),)).fetchall()
        statuses = conn.execute("SELECT user_id, banned, event_id FROM user_status WHERE user_id = ANY(%s)"
                                " ORDER BY user_id", (sorted(users),)).fetchall()
        rejected = conn.execute("SELECT kafka_partition, kafka_offset, reason FROM rejections"
                                " WHERE user_id = ANY(%s) ORDER BY 1, 2", (sorted(users),)).fetchall()
        usage = conn.execute("SELECT user_id, counter, time_window, amount FROM usage_counters"
                             " WHERE user_id = ANY(%s) ORDER BY 1, 2", (sorted(users),)).fetchall()
        reviews = conn.execute("SELECT * FROM reviews WHERE user_id = ANY(%s) ORDER BY flag_event_id",
                               (sorted(users),)).fetchall()
        moderated = conn.execute("SELECT event_id, points, total FROM moderation_changes WHERE user_id = ANY(%s)"
                                 " ORDER BY event_id", (sorted(users),)).fetchall()
    boards = sorted({row[0] for row in standings})
    return {"standings": standings, "ledger": ledger, "statuses": statuses, "rejected": rejected, "usage": usage,
            "reviews": reviews, "moderated": moderated,
            "redis": {board: redis_order(redis_url, board, users) for board in boards}}
