"""The rebuild's replay split across processes, and its boards written once per flush instead of once
per batch: what each promises, checked without services."""

from __future__ import annotations

import asyncio
import random

import pytest

from scoreboard.domain.scoring import Standing
from stream_app.rebuild_boards import CoalescedBoards
from stream_app.rebuild_workers import NothingPublished, plan_shares
from tests.support.memory_boards import MemoryBoards


def test_the_shares_cover_every_partition_with_events_once_and_only_those() -> None:
    """Each partition with something to replay is in exactly one share, with its own range; empty ones are left out."""
    ranges = {0: (0, 500), 1: (10, 10), 2: (5, 300), 3: (0, 900), 4: (7, 8), 5: (0, 0)}
    shares = plan_shares(ranges, 3)
    seen = [p for share in shares for p in share.ranges]
    assert sorted(seen) == [0, 2, 3, 4]
    assert all(share.ranges[p] == ranges[p] for share in shares for p in share.ranges)
    assert sum(share.events for share in shares) == 500 + 295 + 900 + 1


def test_the_shares_balance_the_events_and_never_outnumber_the_partitions() -> None:
    """The largest partitions go to different processes; more workers than partitions gives one share each."""
    shares = plan_shares({0: (0, 900), 1: (0, 800), 2: (0, 100), 3: (0, 100)}, 2)
    assert sorted(share.events for share in shares) == [900, 1000]
    assert len(plan_shares({0: (0, 5), 1: (0, 5)}, 8)) == 2
    assert len(plan_shares({0: (0, 5), 1: (0, 5)}, 1)) == 1
    assert plan_shares({0: (3, 3)}, 4) == []


def _batches(seed: int) -> list[dict[str, list[tuple[str, Standing]]]]:
    """Batches of absolute standings as a replay writes them: per user a growing seq, scores that
    rise and fall, tie times that move, and users hidden and shown again."""
    rng = random.Random(seed)
    seqs: dict[tuple[str, str], int] = {}
    batches = []
    for _ in range(30):
        batch: dict[str, list[tuple[str, Standing]]] = {}
        for board in ("global", "daily:2026-11-30"):
            users = rng.sample([f"u{i}" for i in range(40)], 15)
            for user in sorted(users):
                seq = seqs[(board, user)] = seqs.get((board, user), 0) + 1
                batch.setdefault(board, []).append(
                    (user, Standing(rng.randrange(0, 50) * 10, seq, rng.randrange(1, 5), rng.random() > 0.2)))
        batches.append(batch)
    return batches


@pytest.mark.parametrize("max_pending", [1, 7, 10_000])
def test_coalesced_boards_end_where_writing_every_batch_ends(max_pending: int) -> None:
    """Whatever the flush size, keeping each user's newest standing leaves the same boards (order,
    scores, seqs, hidden users) and the same top N as writing each batch as it comes."""
    async def scenario() -> tuple[MemoryBoards, MemoryBoards]:
        direct, behind = MemoryBoards(top_n=5), MemoryBoards(top_n=5)
        coalesced = CoalescedBoards(behind, max_pending=max_pending)
        for now, batch in enumerate(_batches(seed=max_pending), start=1):
            for board, standings in batch.items():
                await direct.apply(board, standings, now)
                update = await coalesced.apply(board, standings, now)
                assert not update.changed  # a replay announces nothing
        await coalesced.flush()
        assert coalesced.pending == 0
        return direct, behind

    direct, behind = asyncio.run(scenario())
    for board in ("global", "daily:2026-11-30"):
        assert behind.order(board) == direct.order(board)
        assert behind.boards[board].seqs == direct.boards[board].seqs
        assert behind.boards[board].members == direct.boards[board].members
        assert behind.boards[board].published_top == direct.boards[board].published_top


def test_coalesced_boards_keep_at_most_max_pending_standings() -> None:
    """The buffer is written out once it holds ``max_pending`` standings, so a long log stays in bounded memory."""
    async def scenario() -> int:
        behind = MemoryBoards()
        coalesced = CoalescedBoards(behind, max_pending=10)
        for i in range(25):
            await coalesced.apply("global", [(f"u{i}", Standing(i, 1, 1))], i)
            assert coalesced.pending < 10
        return len(behind.order("global"))

    assert asyncio.run(scenario()) == 20


def test_a_replay_refuses_to_publish() -> None:
    """The replay's publisher raises instead of sending: a rebuild's batches must announce nothing."""
    with pytest.raises(RuntimeError):
        asyncio.run(NothingPublished().publish_many([]))
