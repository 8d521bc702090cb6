"""The Python client (clients/python) against the real api, worker and gateway: a completion whose
answers get lost is retried with the same key and counts once; reads; a subscription gets the snapshot
and then the update a completion causes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scoreboard.adapters.auth import mint_token
from testkit.system import System
from testkit.waits import wait_until
from tests.support.python_client import AsyncScoreboardClient, ProblemError, ScoreboardClient
from tests.support.suite import TEST_CATALOG, running_system

pytestmark = pytest.mark.e2e

PRIZE = 7 * 10**12  # far above what other tests sharing the actions topic score: our user makes the top 10


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    catalog = tmp_path_factory.mktemp("catalog") / "actions.toml"
    catalog.write_text(TEST_CATALOG.read_text() + f'\n[actions.py-client-prize]\npoints = {PRIZE}\n'
                       'daily_cap = 1000\n')
    with running_system({"SCOREBOARD_ACTIONS_FILE": str(catalog)}) as running:
        yield running


def token(system: System, user: str) -> str:
    return mint_token(system.env["SCOREBOARD_JWT_SECRET"], user)


class LosesAnswers(httpx.BaseTransport):
    """The real network, except that the first ``lose`` answers to a completion are thrown away and the
    call fails as if the connection dropped after the api took the request."""

    def __init__(self, lose: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.lose = lose
        self.seen: list[tuple[str | None, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.url.path.endswith("/complete"):
            self.seen.append((request.headers.get("idempotency-key"), response.status_code))
            if self.lose > 0:
                self.lose -= 1
                response.close()
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def score_reaches(client: Any, user: str, score: int) -> int | None:
    found = client.rank("global", user)
    return found["score"] if found is not None and found["score"] >= score else None


def test_a_completion_whose_answers_are_lost_is_retried_with_its_key_and_counts_once(system: System) -> None:
    user = f"py-{uuid.uuid4().hex[:8]}"
    transport = LosesAnswers(lose=2)
    with ScoreboardClient(system.api_url, token(system, user), transport=transport) as client:
        receipt = client.complete("win-match")
        keys = {key for key, _ in transport.seen}
        assert len(transport.seen) >= 3 and len(keys) == 1, transport.seen
        assert transport.seen[0][1] == 202 and receipt["status"] == "duplicate" and receipt["points"] == 100
        wait_until(lambda: score_reaches(client, user, 100), timeout_s=60, what="the first action counted")

        # A later action of the same user is processed after the retries (same partition, in order).
        assert client.complete("win-match")["status"] == "accepted"
        final = wait_until(lambda: score_reaches(client, user, 200), timeout_s=60, what="the second action")
        assert final == 200, "a retried key was counted more than once"
        assert client.complete("win-match", key=keys.pop())["status"] == "duplicate"


def test_reads_through_the_client(system: System) -> None:
    user = f"py-{uuid.uuid4().hex[:8]}"
    with ScoreboardClient(system.api_url, token(system, user)) as client:
        assert client.rank("global", user) is None and client.around("daily", user) is None
        client.complete("py-client-prize")
        wait_until(lambda: score_reaches(client, user, PRIZE), timeout_s=60, what="the prize counted")
        rank = client.rank("global", user)
        assert rank is not None and rank["score"] >= PRIZE and rank["rank"] <= 10
        page = client.board("global", limit=10)
        assert page["board"] == "global" and any(e["user_id"] == user for e in page["entries"])
        around = client.around("global", user, radius=1)
        assert around is not None and around["user"]["user_id"] == user
        me = client.me()
        mine = me["boards"]["global"]
        assert me["user_id"] == user and mine is not None and mine["score"] == rank["score"]
        with pytest.raises(ProblemError) as raised:
            client.complete("no-such-action")
        assert raised.value.status == 404 and raised.value.problem["status"] == 404


def test_a_subscription_gets_the_snapshot_then_the_update_of_a_completion(system: System) -> None:
    user = f"py-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        async with AsyncScoreboardClient(system.api_url, token(system, user),
                                         gateway_url=system.gateway_url) as client:
            frames = client.subscribe("global")
            try:
                snapshot = await asyncio.wait_for(anext(frames), 30)
                assert snapshot.kind == "snapshot" and snapshot.board == "global"
                await client.complete("py-client-prize")
                deadline = time.monotonic() + 60
                last = snapshot.version
                while True:
                    frame = await asyncio.wait_for(anext(frames), max(0.1, deadline - time.monotonic()))
                    assert frame.kind == "update" and frame.version > last
                    last = frame.version
                    if any(entry["user_id"] == user for entry in frame.entries):
                        break
            finally:
                await frames.aclose()

    asyncio.run(scenario())
