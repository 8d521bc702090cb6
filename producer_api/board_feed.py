"""What keeps the api's ``BoardCache``: the changes feed, and a check of Redis about once a second
(``producer_api.board_cache`` says why both, and when memory may answer).

Both run as tasks of the api's lifespan (``producer_api.bootstrap``); ``run_board_cache`` runs them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from redis.exceptions import RedisError

from producer_api.board_cache import BoardCache
from projections.pages import Page
from projections.ranking import BoardIncomplete
from scoreboard.adapters.change_feed import FIRST_RETRY_S, ChangeConsumer, ChangeFeed, Headers
from scoreboard.domain.clock import Clock
from scoreboard.domain.events import LeaderboardChanged
from scoreboard.domain.signing import SigningKeyring
from scoreboard.runtime.stopping import stop_task

log = logging.getLogger(__name__)
CHECK_INTERVAL_S = 1.0


class BoardPages(Protocol):
    """The read the checks make (``projections.ranking.RedisBoards``); tests hand in a fake."""

    async def page(self, board: str, limit: int, offset: int, *, complete: bool = False) -> Page: ...


class BoardFeed(ChangeFeed):
    """The changes topic into the cache (worker-signed records only, highest version per board)."""

    def __init__(self, consumers: Callable[[], ChangeConsumer], cache: BoardCache, keyring: SigningKeyring,
                 clock: Clock, first_retry_s: float = FIRST_RETRY_S, sources: frozenset[str] = frozenset()) -> None:
        super().__init__(consumers, keyring, first_retry_s=first_retry_s, sources=sources)
        self._cache = cache
        self._clock = clock

    def changed(self, event: LeaderboardChanged, headers: Headers | None) -> None:
        self._cache.offer(event.board, event.board_version, event.entries, self._clock.now_us())


async def check_once(cache: BoardCache, feed: ChangeFeed, boards: BoardPages, clock: Clock) -> None:
    """Read every live board's top N from Redis: memory answers only what Redis vouches for."""
    cache.ready = feed.caught_up.is_set() and feed.connected
    for board in cache.to_check(clock.now_us()):
        asked_at = clock.now_us()  # Redis answers at least this fresh
        try:
            page = await boards.page(board, cache.top_n, 0, complete=True)
        except (BoardIncomplete, RedisError) as exc:
            if cache.check_failed(board):
                log.warning("board %s answered from Redis until Redis vouches for it again: %r", board, exc)
            continue
        cache.offer(board, page.version, page.entries, asked_at)
        cache.confirm(board, page.version, page.total, asked_at)


async def run_board_cache(cache: BoardCache, feed: ChangeFeed, boards: BoardPages, clock: Clock,
                          interval_s: float = CHECK_INTERVAL_S) -> None:
    """The feed and the checks, until cancelled."""
    tail = asyncio.create_task(feed.run())
    try:
        while True:
            await check_once(cache, feed, boards, clock)
            await asyncio.sleep(interval_s)
    finally:
        await stop_task(tail, "the leaderboard feed")
