"""Swarm: new accounts behind one client or device hash acting in lockstep, again and again together."""

from __future__ import annotations

from collections import deque

from scoreboard.domain.detectors.config import SECOND_US, SwarmConfig
from scoreboard.domain.detectors.records import Flag, Observation

_CELL_LIMIT = 64  # accounts counted per (action, slot) cell: bounds the pair work of one crowded moment


class _Group:
    """The new accounts seen behind one hash: who acted in which (action, slot) cell, how many cells each
    pair of accounts shared, and per account how many partners it shared at least min_co_actions cells with."""

    __slots__ = ("cells", "members", "pairs", "partners")

    def __init__(self) -> None:
        self.cells: dict[tuple[str, int], list[str]] = {}
        self.members: dict[str, int] = {}             # account -> cells it is in
        self.pairs: dict[tuple[str, str], int] = {}   # (account, account) sorted -> cells shared
        self.partners: dict[str, int] = {}            # account -> accounts it acted in lockstep with


class SwarmDetector:
    """O(accounts in the cell) per action (one or two cells: client hash, device hash); cells expire by
    event time. A pair co-acting by chance now and then is not a lockstep partner; only the same accounts
    meeting in the same slot ``min_co_actions`` times are."""

    name = "swarm"

    def __init__(self, config: SwarmConfig) -> None:
        self.config = config
        self._slot_us = config.lockstep_seconds * SECOND_US
        self._new_us = config.new_account_seconds * SECOND_US
        self._groups: dict[str, _Group] = {}
        self._expiry: deque[tuple[int, str, tuple[str, int]]] = deque()

    def observe(self, obs: Observation, now_us: int) -> Flag | None:
        slot = now_us // self._slot_us
        self._expire(slot - self.config.lookback_slots)
        if obs.at_us - obs.first_seen_us > self._new_us:
            return None  # established accounts never count: an address alone is no evidence
        flag = None
        for kind, digest in (("client", obs.client_hash), ("device", obs.device_hash)):
            if not digest:
                continue
            key = f"{kind}:{digest}"
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group()
            self._join(group, key, (obs.action_id, slot), obs.user_id)
            if flag is None:
                flag = self._judge(obs, kind, group)
        return flag

    def _join(self, group: _Group, key: str, cell_key: tuple[str, int], user: str) -> None:
        cell = group.cells.get(cell_key)
        if cell is None:
            cell = group.cells[cell_key] = []
            self._expiry.append((cell_key[1], key, cell_key))
        if user in cell or len(cell) >= _CELL_LIMIT:
            return
        group.members[user] = group.members.get(user, 0) + 1
        for other in cell:
            self._pair(group, user, other, +1)
        cell.append(user)

    def _pair(self, group: _Group, one: str, other: str, change: int) -> None:
        pair = (one, other) if one < other else (other, one)
        before = group.pairs.get(pair, 0)
        after = before + change
        if after:
            group.pairs[pair] = after
        else:
            del group.pairs[pair]
        threshold = self.config.min_co_actions
        step = (after >= threshold) - (before >= threshold)
        if step:
            for account in pair:
                left = group.partners.get(account, 0) + step
                if left:
                    group.partners[account] = left
                else:
                    del group.partners[account]

    def _expire(self, oldest_slot: int) -> None:
        while self._expiry and self._expiry[0][0] <= oldest_slot:
            _, key, cell_key = self._expiry.popleft()
            group = self._groups[key]
            cell = group.cells.pop(cell_key)
            for index, user in enumerate(cell):
                for other in cell[index + 1:]:
                    self._pair(group, user, other, -1)
                left = group.members[user] - 1
                if left:
                    group.members[user] = left
                else:
                    del group.members[user]
            if not group.cells:
                del self._groups[key]

    def _judge(self, obs: Observation, kind: str, group: _Group) -> Flag | None:
        config = self.config
        partners = group.partners.get(obs.user_id, 0)
        if partners + 1 < config.min_accounts:
            return None
        shared = sorted((count for pair, count in group.pairs.items() if obs.user_id in pair), reverse=True)
        evidence: dict[str, object] = {
            "summary": (f"this account and {partners} other accounts, all first seen within "
                        f"{config.new_account_seconds // 3600} h behind one {kind} hash, repeatedly did the same "
                        f"action within the same {config.lockstep_seconds} s (at least {config.min_co_actions} "
                        f"times per pair)"),
            "window_seconds": config.lookback_seconds,
            "user": {"lockstep_partners": partners, "co_actions": shared[:10], "hash_kind": kind,
                     "account_age_seconds": (obs.at_us - obs.first_seen_us) // SECOND_US},
            "population": {"new_accounts_on_hash": len(group.members)},
            "threshold": {"min_accounts": config.min_accounts, "min_co_actions": config.min_co_actions,
                          "lockstep_seconds": config.lockstep_seconds,
                          "new_account_seconds": config.new_account_seconds},
            "accounts": partners + 1,
        }
        return Flag(obs.user_id, self.name, obs.at_us, obs.first_seen_us, config.shadow, evidence)
