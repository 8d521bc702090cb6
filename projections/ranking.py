"""Redis boards: one ZSET per board, written with absolute scores by a Lua script.

The script refuses stale writes (a ``seq`` not above the stored one), hides banned users (``visible``
false removes the member but keeps its ``seq``), keeps the tie order exact through the
member name, and in the same atomic step compares the top N with the last published one, bumping the
board version only when it changed.

Keys of board ``b`` (hash-tagged so one board lives on one cluster slot):
``sb:{b}:z`` ZSET member -> score; ``sb:{b}:m`` user -> member; ``sb:{b}:s`` user -> seq;
``sb:{b}:x`` user -> exact integer score; ``sb:{b}:v`` version; ``sb:{b}:top`` last published top N.

A version is ``max(previous + 1, now in microseconds)``: it only increases, also across a lost Redis
or a rebuild, and versions of one board written by several workers stay comparable.
The member is ``<16 hex digits of (2^63-1 - reached_at_us)>:<user_id>``, so among equal scores
ZREVRANGE lists who reached the score first before later ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from projections.pages import Page, Placement
from scoreboard.domain.boards import UnknownBoard, resolve
from scoreboard.domain.events import BoardEntry
from scoreboard.domain.scoring import Standing

_MAX_US = (1 << 63) - 1

_APPLY = """
local z, m, s, x, v, top = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local n = tonumber(ARGV[1])
local now_us = tonumber(ARGV[2])
local applied = 0
for i = 3, #ARGV, 5 do
  local user, score, seq, member, visible = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3], ARGV[i + 4]
  local stored = tonumber(redis.call('HGET', s, user) or '-1')
  if seq > stored then
    local old = redis.call('HGET', m, user)
    if old and old ~= member then redis.call('ZREM', z, old) end
    if visible == '1' then
      redis.call('ZADD', z, score, member)
      redis.call('HSET', m, user, member)
      redis.call('HSET', x, user, score)
    else
      redis.call('ZREM', z, member)
      redis.call('HDEL', m, user)
      redis.call('HDEL', x, user)
    end
    redis.call('HSET', s, user, seq)
    applied = applied + 1
  end
end
local members = redis.call('ZREVRANGE', z, 0, n - 1)
local entries = {}
for i, member in ipairs(members) do
  local user = string.sub(member, 18)
  entries[#entries + 1] = user
  entries[#entries + 1] = redis.call('HGET', x, user)
end
local encoded = cjson.encode(entries)
local version = tonumber(redis.call('GET', v) or '0')
if encoded ~= redis.call('GET', top) then
  version = math.max(version + 1, now_us)
  redis.call('SET', v, string.format('%d', version))
  redis.call('SET', top, encoded)
  return {applied, version, 1, encoded}
end
return {applied, version, 0, encoded}
"""

# Reads in one atomic step, so ranks, scores, total and version describe the same moment. A read that
# requires a complete board (KEYS[last] is its marker, see projections/repair.py) answers
# {'incomplete'} without the marker, in the same step: a flush between a check and the read cannot
# pass off an emptied board as an empty one.
# KEYS: z, x, v, marker. ARGV: start, stop, required. Returns {version, total, user1, score1, ...}.
_PAGE = """
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[4]) == 0 then return {'incomplete'} end
local members = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])
local out = {redis.call('GET', KEYS[3]) or '0', redis.call('ZCARD', KEYS[1])}
for _, member in ipairs(members) do
  local user = string.sub(member, 18)
  out[#out + 1] = user
  out[#out + 1] = redis.call('HGET', KEYS[2], user) or ''
end
return out
"""

# KEYS: z, m, x, v, marker. ARGV: user, radius, required. Returns {version, total, rank0 or -1, user1, ...}.
_AROUND = """
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[5]) == 0 then return {'incomplete'} end
local version = redis.call('GET', KEYS[4]) or '0'
local total = redis.call('ZCARD', KEYS[1])
local member = redis.call('HGET', KEYS[2], ARGV[1])
local rank = member and redis.call('ZREVRANK', KEYS[1], member)
if not rank then return {version, total, -1} end
local radius = tonumber(ARGV[2])
local start = math.max(0, rank - radius)
local out = {version, total, start}
for _, m in ipairs(redis.call('ZREVRANGE', KEYS[1], start, rank + radius)) do
  local user = string.sub(m, 18)
  out[#out + 1] = user
  out[#out + 1] = redis.call('HGET', KEYS[3], user) or ''
end
return out
"""


def member_for(user_id: str, standing: Standing) -> str:
    return f"{_MAX_US - standing.reached_at_us:016x}:{user_id}"


BOARD_KEY_SUFFIXES = ("z", "m", "s", "x", "v", "top", "complete")
"""Board ``b`` owns exactly the keys ``sb:{b}:<suffix>``: ``keys_of`` (the first six), ``complete_key``."""


def keys_of(board: str) -> list[str]:
    return [f"sb:{{{board}}}:{suffix}" for suffix in BOARD_KEY_SUFFIXES[:6]]


def complete_key(board: str) -> str:
    """Set once the board is known to hold every user (``projections.repair``); a flush removes it."""
    return f"sb:{{{board}}}:{BOARD_KEY_SUFFIXES[6]}"


def board_of_key(key: str | bytes) -> str | None:
    """The board whose projection key ``key`` is; None for any other key (a user's limits, tickets or
    idempotency keys ``sb:{u:<user>}:...``, rate limits ``sb:rl:...``)."""
    text = key.decode(errors="replace") if isinstance(key, bytes) else key
    if not text.startswith("sb:{"):
        return None
    board, separator, suffix = text[4:].rpartition("}:")
    if not separator or suffix not in BOARD_KEY_SUFFIXES:
        return None
    try:
        return board if resolve(board, 0) == board else None
    except UnknownBoard:
        return None


class BoardIncomplete(Exception):
    """A read required a board known to be complete, and this one is not (yet)."""


@dataclass(frozen=True)
class BoardUpdate:
    board: str
    version: int
    changed: bool
    entries: tuple[BoardEntry, ...]
    applied: int


def _entries(encoded: str) -> tuple[BoardEntry, ...]:
    flat = json.loads(encoded) if encoded not in ("{}", "") else []
    return tuple(
        BoardEntry(rank=i // 2 + 1, user_id=flat[i], score=int(flat[i + 1])) for i in range(0, len(flat), 2)
    )


class RedisBoards:
    """Redis adapter for the boards; reads and the atomic write."""

    def __init__(self, redis: Redis, top_n: int = 10) -> None:
        self._redis = redis
        self._top_n = top_n
        self._apply = redis.register_script(_APPLY)
        self._page = redis.register_script(_PAGE)
        self._around = redis.register_script(_AROUND)

    @property
    def top_n(self) -> int:
        return self._top_n

    async def apply(self, board: str, standings: Iterable[tuple[str, Standing]], now_us: int) -> BoardUpdate:
        """Write absolute standings to ``board``; report whether its top N changed, and its version."""
        args: list[str | int] = [self._top_n, now_us]
        for user_id, standing in standings:
            args += [user_id, str(standing.score), standing.seq, member_for(user_id, standing),
                     "1" if standing.visible else "0"]
        applied, version, changed, encoded = await self._apply(keys=keys_of(board), args=args)
        text = encoded.decode() if isinstance(encoded, bytes) else str(encoded)
        return BoardUpdate(board, int(version), bool(changed), _entries(text), int(applied))

    async def versions(self, boards: Iterable[str]) -> dict[str, int]:
        """The current version of each board (0: never changed), in one round trip."""
        names = list(boards)
        if not names:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for board in names:
                pipe.get(keys_of(board)[4])
            found = await pipe.execute()
        return {board: int(version or 0) for board, version in zip(names, found, strict=True)}

    async def top(self, board: str, limit: int = 10, offset: int = 0) -> tuple[int, list[BoardEntry]]:
        z, _, _, x, v, _ = keys_of(board)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrevrange(z, offset, offset + limit - 1)
            pipe.get(v)
            members, version = await pipe.execute()
        users = [_user_of(member) for member in members]
        scores = await self._redis.hmget(x, users) if users else []
        entries = [
            BoardEntry(rank=offset + i + 1, user_id=user, score=int(score))
            for i, (user, score) in enumerate(zip(users, scores, strict=True))
            if score is not None
        ]
        return int(version or 0), entries

    async def rank_of(self, board: str, user_id: str) -> BoardEntry | None:
        z, m, _, x, _, _ = keys_of(board)
        member = await self._redis.hget(m, user_id)
        if member is None:
            return None
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrevrank(z, member)
            pipe.hget(x, user_id)
            rank, score = await pipe.execute()
        if rank is None or score is None:
            return None
        return BoardEntry(rank=int(rank) + 1, user_id=user_id, score=int(score))

    async def size(self, board: str) -> int:
        return int(await self._redis.zcard(keys_of(board)[0]))


    async def page(self, board: str, limit: int, offset: int, *, complete: bool = False) -> Page:
        """Ranks ``offset + 1 ..`` of the board, with its version and member count, read atomically.
        With ``complete``, raises ``BoardIncomplete`` unless the board is marked complete."""
        z, _, _, x, v, _ = keys_of(board)
        reply = await self._page(keys=[z, x, v, complete_key(board)],
                                 args=[offset, offset + limit - 1, int(complete)])
        _check(reply)
        return Page(int(reply[0]), int(reply[1]), _ranked(reply[2:], offset))

    async def placement(self, board: str, user_id: str, radius: int = 0, *,
                        complete: bool = False) -> Placement | None:
        """The user's rank and the ``radius`` entries above and below it; None if not ranked.
        With ``complete``, raises ``BoardIncomplete`` unless the board is marked complete."""
        z, m, _, x, v, _ = keys_of(board)
        reply = await self._around(keys=[z, m, x, v, complete_key(board)], args=[user_id, radius, int(complete)])
        _check(reply)
        start = int(reply[2])
        if start < 0:
            return None
        neighbours = _ranked(reply[3:], start)
        mine = [e for e in neighbours if e.user_id == user_id]
        if not mine:
            return None
        return Placement(int(reply[0]), int(reply[1]), mine[0], neighbours)

    async def version(self, board: str) -> int:
        return int(await self._redis.get(keys_of(board)[4]) or 0)

    async def tracked(self, board: str) -> int:
        """How many users the board holds a seq for, hidden (banned) ones included."""
        return int(await self._redis.hlen(keys_of(board)[2]))

    async def seq_of(self, board: str, user_id: str) -> int:
        """The seq of the newest standing of the user the board applied; -1 if none."""
        seq = await self._redis.hget(keys_of(board)[2], user_id)
        return -1 if seq is None else int(seq)


def _check(reply: list[bytes | str | int]) -> None:
    if reply and reply[0] in (b"incomplete", "incomplete"):
        raise BoardIncomplete()


def _ranked(flat: list[bytes | str], offset: int) -> tuple[BoardEntry, ...]:
    entries: list[BoardEntry] = []
    for i in range(0, len(flat) - 1, 2):
        user, score = _text(flat[i]), _text(flat[i + 1])
        if score:  # a member without an exact score is never written; skip it rather than guess
            entries.append(BoardEntry(rank=offset + i // 2 + 1, user_id=user, score=int(score)))
    return tuple(entries)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _user_of(member: bytes | str) -> str:
    text = member.decode() if isinstance(member, bytes) else member
    return text[17:]
