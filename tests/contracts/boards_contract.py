"""What any boards adapter (``stream_app.ports.BoardsPort``) must do, as one suite run against every
implementation: ``RedisBoards`` (tests/integration/test_redis_boards_contract.py) and the in-memory
fake (tests/unit/test_memory_boards_contract.py). A subclass provides the fixture ``open_boards``,
which opens an empty store each time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from scoreboard.domain.scoring import Standing
from stream_app.ports import BoardsPort

T = TypeVar("T")
OpenBoards = Callable[[int], AbstractAsyncContextManager[BoardsPort]]
"""Opens empty boards that report the top ``n``."""

BOARD = "weekly:2026-W49"


def run(open_boards: OpenBoards, scenario: Callable[[BoardsPort], Awaitable[T]], top_n: int = 3) -> T:
    async def main() -> T:
        async with open_boards(top_n) as boards:
            return await scenario(boards)

    return asyncio.run(main())


async def ranked(boards: BoardsPort, board: str = BOARD, limit: int = 100) -> list[tuple[str, int]]:
    _, entries = await boards.top(board, limit)
    assert [e.rank for e in entries] == list(range(1, len(entries) + 1))
    return [(e.user_id, e.score) for e in entries]


class BoardsContract:
    """Absolute writes, stale ``seq`` refused, tie order, top-N change detection and versions."""

    def test_a_write_sets_the_score_it_carries_not_an_increment(self, open_boards: OpenBoards) -> None:
        """50 then 70 is 70; a user whose tie time changes keeps one place on the board."""
        async def scenario(boards: BoardsPort) -> list[tuple[str, int]]:
            first = await boards.apply(BOARD, [("ann", Standing(50, 1, 10))], now_us=1)
            second = await boards.apply(BOARD, [("ann", Standing(70, 2, 5))], now_us=2)
            assert (first.applied, second.applied) == (1, 1)
            return await ranked(boards)

        assert run(open_boards, scenario) == [("ann", 70)]

    def test_a_write_whose_seq_is_not_above_the_stored_one_is_refused(self, open_boards: OpenBoards) -> None:
        """seq 5, then 4 (a zombie) and 5 again (a replay): both refused; seq 6 is written."""
        async def scenario(boards: BoardsPort) -> list[object]:
            await boards.apply(BOARD, [("ann", Standing(50, 5, 10))], now_us=1)
            late = await boards.apply(BOARD, [("ann", Standing(40, 4, 9))], now_us=2)
            same = await boards.apply(BOARD, [("ann", Standing(45, 5, 9))], now_us=3)
            kept = await ranked(boards)
            newer = await boards.apply(BOARD, [("ann", Standing(60, 6, 11)), ("bob", Standing(1, 1, 1))], now_us=4)
            return [late.applied, same.applied, kept, newer.applied, await ranked(boards)]

        assert run(open_boards, scenario) == [0, 0, [("ann", 50)], 2, [("ann", 60), ("bob", 1)]]

    def test_a_hidden_user_leaves_the_board_and_keeps_its_seq(self, open_boards: OpenBoards) -> None:
        """A ban's standing (not visible, seq + 1) removes the user; an older visible one cannot bring it
        back, the unban's (seq + 2) does."""
        async def scenario(boards: BoardsPort) -> list[object]:
            await boards.apply(BOARD, [("ann", Standing(50, 1, 10)), ("bob", Standing(40, 1, 10))], now_us=1)
            hidden = await boards.apply(BOARD, [("ann", Standing(50, 2, 10, False))], now_us=2)
            stale = await boards.apply(BOARD, [("ann", Standing(50, 2, 10))], now_us=3)
            after_stale = await ranked(boards)
            await boards.apply(BOARD, [("ann", Standing(50, 3, 10))], now_us=4)
            return [[(e.user_id, e.score) for e in hidden.entries], stale.applied, after_stale, await ranked(boards)]

        assert run(open_boards, scenario) == [[("bob", 40)], 0, [("bob", 40)], [("ann", 50), ("bob", 40)]]

    def test_equal_scores_rank_by_who_reached_them_first_then_by_user_id_descending(
            self, open_boards: OpenBoards) -> None:
        """Three users on 100 written in any order: earliest first; same time: the greater user id first."""
        async def scenario(boards: BoardsPort) -> list[tuple[str, int]]:
            await boards.apply(BOARD, [("late", Standing(100, 1, 300))], now_us=1)
            await boards.apply(BOARD, [("early", Standing(100, 1, 100)), ("mid", Standing(100, 1, 200))], now_us=2)
            await boards.apply(BOARD, [("a", Standing(100, 1, 200)), ("top", Standing(101, 1, 900))], now_us=3)
            return await ranked(boards)

        assert run(open_boards, scenario) == [("top", 101), ("early", 100), ("mid", 100), ("a", 100), ("late", 100)]

    def test_the_top_n_change_is_detected_and_reported_with_its_entries(self, open_boards: OpenBoards) -> None:
        """With a top 3: a change below it is no change; entering it, a new score or a new order inside
        it, is; a refused write, or one that leaves the top as it was, is not. The update carries the
        top 3 that ``top`` reads back."""
        async def scenario(boards: BoardsPort) -> list[bool]:
            seen = []
            for user, score in (("a", 30), ("b", 20), ("c", 10)):
                seen.append((await boards.apply(BOARD, [(user, Standing(score, 1, 1))], now_us=1)).changed)
            steps = [("d", Standing(5, 1, 1)), ("d", Standing(15, 2, 2)), ("a", Standing(31, 2, 3)),
                     ("c", Standing(40, 2, 4)), ("c", Standing(40, 2, 4)), ("b", Standing(35, 2, 1)),
                     ("b", Standing(35, 3, 1))]
            for user, standing in steps:
                update = await boards.apply(BOARD, [(user, standing)], now_us=1)
                version, entries = await boards.top(BOARD, boards.top_n)
                assert (update.version, update.entries) == (version, tuple(entries))
                seen.append(update.changed)
            return seen

        assert run(open_boards, scenario) == [True, True, True, False, True, True, True, False, True, False]

    def test_the_version_moves_only_on_a_change_and_never_goes_back(self, open_boards: OpenBoards) -> None:
        """A version is max(previous + 1, now): it follows a clock ahead of it and still grows when the
        clock is behind; ``top`` reads the version of the last change."""
        async def scenario(boards: BoardsPort) -> list[int]:
            versions = []
            for score, now_us in ((10, 1_000), (20, 500), (30, 500), (30, 9_000), (40, 5_000)):
                update = await boards.apply(BOARD, [("ann", Standing(score, score, 1))], now_us=now_us)
                versions.append(update.version)
            versions.append((await boards.top(BOARD, 1))[0])
            return versions

        assert run(open_boards, scenario) == [1_000, 1_001, 1_002, 1_002, 5_000, 5_000]

    def test_versions_reads_each_boards_version_and_0_for_one_never_changed(self, open_boards: OpenBoards) -> None:
        """``versions`` answers what ``top`` says each board's version is, for several boards at once."""
        async def scenario(boards: BoardsPort) -> list[object]:
            await boards.apply("global", [("ann", Standing(10, 1, 1))], now_us=100)
            await boards.apply(BOARD, [("ann", Standing(10, 1, 1))], now_us=200)
            await boards.apply(BOARD, [("ann", Standing(20, 2, 1))], now_us=150)
            found = await boards.versions(["global", BOARD, "weekly:2026-W01"])
            return [found, (await boards.top(BOARD, 1))[0], await boards.versions([])]

        assert run(open_boards, scenario) == [{"global": 100, BOARD: 201, "weekly:2026-W01": 0}, 201, {}]

    def test_boards_are_independent(self, open_boards: OpenBoards) -> None:
        """A write to one board moves neither another board's entries nor its version."""
        async def scenario(boards: BoardsPort) -> list[object]:
            await boards.apply("global", [("ann", Standing(10, 1, 1))], now_us=100)
            before = await boards.top("global", 10)
            await boards.apply(BOARD, [("ann", Standing(99, 5, 1)), ("bob", Standing(5, 1, 1))], now_us=200)
            return [before == await boards.top("global", 10), await ranked(boards, "global"), await ranked(boards)]

        assert run(open_boards, scenario) == [True, [("ann", 10)], [("ann", 99), ("bob", 5)]]

    def test_scores_past_2_to_the_53_are_reported_exactly(self, open_boards: OpenBoards) -> None:
        """The rank order is by double; the reported score is the exact int64."""
        big = (1 << 62) + 1

        async def scenario(boards: BoardsPort) -> list[tuple[str, int]]:
            update = await boards.apply(BOARD, [("ann", Standing(big, 1, 1)), ("bob", Standing(-big, 1, 1))],
                                        now_us=1)
            assert [(e.user_id, e.score) for e in update.entries] == [("ann", big), ("bob", -big)]
            return await ranked(boards)

        assert run(open_boards, scenario) == [("ann", big), ("bob", -big)]

    def test_an_empty_board_reads_as_version_zero_and_no_entries(self, open_boards: OpenBoards) -> None:
        async def scenario(boards: BoardsPort) -> tuple[int, list[object]]:
            version, entries = await boards.top("daily:2026-11-30", 10)
            return version, list(entries)

        assert run(open_boards, scenario) == (0, [])
