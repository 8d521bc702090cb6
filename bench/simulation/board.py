"""The public all-time board of the simulation: visible users in board order, kept sorted.

Order as ``scoring.rank_order``: higher score first, then who reached that score first; equal times
fall back to the order the scores were reached in (the worker's last tie-break, the user id's byte
order, almost never matters at microsecond times). ``bisect`` keeps every update O(log n) to find and
O(n) to move, which for a few thousand users is a memmove.
"""

from __future__ import annotations

import bisect

Key = tuple[int, int, int, str]


class Board:
    def __init__(self) -> None:
        self._order: list[Key] = []
        self._keys: dict[str, Key] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._order)

    def show(self, user_id: str, score: int, reached_at_us: int) -> int:
        """Place the user with this score; returns their rank (1 = top)."""
        self.hide(user_id)
        self._seq += 1
        key = (-score, reached_at_us, self._seq, user_id)
        self._keys[user_id] = key
        at = bisect.bisect_left(self._order, key)
        self._order.insert(at, key)
        return at + 1

    def hide(self, user_id: str) -> None:
        key = self._keys.pop(user_id, None)
        if key is not None:
            del self._order[bisect.bisect_left(self._order, key)]

    def rank(self, user_id: str) -> int | None:
        key = self._keys.get(user_id)
        return None if key is None else bisect.bisect_left(self._order, key) + 1

    def top(self, n: int) -> list[str]:
        return [key[3] for key in self._order[:n]]

    def score(self, user_id: str) -> int | None:
        key = self._keys.get(user_id)
        return None if key is None else -key[0]
