"""The virtual-time loop: agents wake in time order, their requests go through the admission model,
accepted completions are appended to their partition of the actions log and applied by the core.

Time is virtual (microseconds of simulated UTC): the loop jumps from one wake-up to the next, so two
days of play for thousands of users take seconds. Agents waking at the same microsecond act in the
order they were created, so a seed always gives the same run.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Sequence

from bench.simulation.admission import Admission
from bench.simulation.agents import Account, Agent, Answer, Request
from bench.simulation.core import SimCore
from bench.simulation.metrics import Recorder


def partition_for(user_id: str, partitions: int) -> int:
    """``producer_api.appender.partition_for``: CRC-32 of the user id, modulo the partition count."""
    return zlib.crc32(user_id.encode()) % partitions


class World:
    def __init__(self, agents: Sequence[Agent], admission: Admission, core: SimCore, recorder: Recorder,
                 partitions: int, end_us: int) -> None:
        self._agents = agents
        self._admission = admission
        self._core = core
        self._recorder = recorder
        self._partitions = partitions
        self._end_us = end_us
        self._accounts: dict[str, Account] = {a.user_id: a for agent in agents for a in agent.accounts}
        self._offsets = [0] * partitions
        self._now = 0

    def run(self) -> None:
        queue = [(agent.first_wake_us, i) for i, agent in enumerate(self._agents)
                 if 0 <= agent.first_wake_us < self._end_us]
        heapq.heapify(queue)
        while queue:
            at, i = heapq.heappop(queue)
            self._now = at
            following = self._agents[i].wake(at, self._submit)
            if following is not None and following < self._end_us:
                heapq.heappush(queue, (max(following, at + 1), i))

    def _submit(self, request: Request) -> Answer:
        account = self._accounts[request.user_id]
        answer, event = self._admission.handle(request, account, self._now)
        self._recorder.answered(request, answer, self._now)
        if event is not None:
            partition = partition_for(event.user_id, self._partitions)
            offset = self._offsets[partition]
            self._offsets[partition] = offset + 1
            self._recorder.applied(event, self._core.apply(event, partition, offset, account.known_since_us))
        return answer
