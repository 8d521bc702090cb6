"""The moderation page (gateway ``/moderation``) in headless Chromium against the real api, worker and
gateway: a flagged user appears in the queue without a reload, their held points grow live, one click
decides, and the live top 10 beside the queue shows the outcome. The page calls the api on its own
origin (CORS), as it would in production."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from devstack.ports import free_port
from devstack.worlds import isolated_world
from scoreboard.adapters.auth import mint_token
from testkit.system import System, wait_ready
from testkit.waits import wait_until
from tests.support.client import ApiClient
from tests.support.suite import SUITE_ENV

pytestmark = pytest.mark.e2e
SHOWN = 15_000  # ms: from an api call to what the page shows (a poll a second, the worker, the push)
REASON = "browser test: looks scripted"


@pytest.fixture(scope="module")
def moderated() -> Iterator[System]:
    """The suite's system, but on ports chosen first: the api must allow the gateway's origin and the
    gateway must tell its page the api's URL, and ``running_system`` picks both ports inside."""
    api_port, gateway_port = free_port(), free_port()
    api_url, gateway_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{gateway_port}"
    env = SUITE_ENV | {
        "SCOREBOARD_API_PORT": str(api_port),
        "SCOREBOARD_GATEWAY_PORT": str(gateway_port),
        "SCOREBOARD_ALLOWED_ORIGINS": gateway_url,
        "SCOREBOARD_PUBLIC_API_URL": api_url,
    }
    with isolated_world() as world, System(world, world.env | env) as system:
        started = [system.start(role) for role in ("api", "worker", "gateway")]
        for process in started:
            wait_ready(process)
        yield system


@pytest.fixture(scope="module")
def api(moderated: System) -> ApiClient:
    return ApiClient(moderated.api_url, moderated.env["SCOREBOARD_JWT_SECRET"])


def post(api: ApiClient, user: str, times: int, action: str = "win-match") -> None:
    for _ in range(times):
        response = api.complete(user, action)
        assert response.status_code == 202, response.text


def admin_headers(api: ApiClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token('moderator-test', roles=('admin',))}"}


def flag(api: ApiClient, user: str) -> None:
    """Put ``user`` under review by hand (detector "manual"), as a moderator would."""
    response = api.http.post(f"/v1/admin/users/{user}/flag", json={"reason": REASON},
                             headers=admin_headers(api))
    assert response.status_code == 202, response.text


def review_of(api: ApiClient, user: str, status: str) -> dict[str, Any] | None:
    response = api.http.get("/v1/admin/reviews", params={"status": status, "limit": 50},
                            headers=admin_headers(api))
    assert response.status_code == 200, response.text
    return next((r for r in response.json()["reviews"] if r["user_id"] == user), None)


def open_moderation(browser: Browser, system: System, token: str, errors: list[str]) -> Page:
    """The page with ``token`` entered; uncaught script errors and console errors (a CSP violation, say)
    land in ``errors``, except the browser's own line for each 4xx answer."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.goto(system.gateway_url + "/moderation")
    page.get_by_label("Admin token (JWT)").fill(token)
    page.get_by_role("button", name="Use token").click()
    return page


def expect_queue_live(page: Page) -> None:
    """The queue answered; if not, fail with what the page tells the moderator."""
    try:
        expect(page.locator(".queue-status")).to_have_text("live", timeout=SHOWN)
    except AssertionError as failure:
        said = page.locator(".queue-error").inner_text()
        raise AssertionError(f"the moderation queue is not live; the page says: {said!r}") from failure


def top10(page: Page) -> Locator:
    return page.locator('aside.board[data-board="global"]')


def queue_row(page: Page, user: str) -> Locator:
    return page.locator(f'ol.queue li.review[data-user="{user}"]')


def record_top10_scores(page: Page) -> None:
    """Record every (user, score) the top-10 panel ever renders, in ``window.shownScores``."""
    page.evaluate("""() => {
        window.shownScores = [];
        const body = document.querySelector('aside.board tbody');
        const note = () => { for (const row of body.querySelectorAll('tr')) {
            window.shownScores.push([row.dataset.user, Number(row.querySelector('.score').textContent)]); } };
        note();
        new MutationObserver(note).observe(body, { childList: true });
    }""")


def test_a_flagged_user_appears_live_and_approve_puts_their_held_points_on_the_board(
        moderated: System, api: ApiClient, browser: Browser, artifacts: Path) -> None:
    """Flagged by hand: the row appears without a reload and the user leaves the top 10; an action while
    under review grows the held points live and stays off the board; Approve removes the row at once and
    the top 10 shows the user back with the held points."""
    run = uuid.uuid4().hex[:6]
    ana, bo = f"ana-{run}", f"bo-{run}"
    post(api, ana, 3)
    post(api, bo, 2)
    errors: list[str] = []
    admin = api.token(f"mod-{run}", roles=("admin",))
    page = open_moderation(browser, moderated, admin, errors)
    expect_queue_live(page)
    expect(top10(page).locator(".status")).to_have_text("live", timeout=SHOWN)
    expect(top10(page).locator(f'tr[data-user="{ana}"] td.score')).to_have_text("300", timeout=SHOWN)
    expect(queue_row(page, ana)).to_have_count(0)
    assert admin not in page.url

    flag(api, ana)
    row = queue_row(page, ana)
    expect(row).to_be_visible(timeout=SHOWN)
    expect(row.locator(".detector")).to_have_text("manual")
    expect(row.locator(".held-points")).to_have_text("0")
    expect(row.locator(".summary")).to_have_text(REASON)
    expect(top10(page).locator(f'tr[data-user="{ana}"]')).to_have_count(0, timeout=SHOWN)

    post(api, ana, 1)  # under review: held, not counted
    expect(row.locator(".held-points")).to_have_text("100", timeout=SHOWN)
    expect(row.locator('.actions tr[data-state="held"] td.points')).to_have_text(["100"])
    post(api, bo, 2)  # the board moves on (bo 400) without ana's held points
    expect(top10(page).locator(f'tr[data-user="{bo}"] td.score')).to_have_text("400", timeout=SHOWN)
    expect(top10(page).locator(f'tr[data-user="{ana}"]')).to_have_count(0)
    page.screenshot(path=str(artifacts / "moderation.png"), full_page=True)

    row.get_by_label("Reason").fill("checked by hand: a human's pace")
    row.get_by_role("button", name=f"Approve {ana}").click()
    expect(row).to_have_count(0, timeout=5_000)  # leaves on the 202, before the worker applies it
    logged = page.locator(f'.decision-log li[data-user="{ana}"]')
    expect(logged).to_contain_text(f"Approved {ana}")
    expect(top10(page).locator(f'tr[data-user="{ana}"] td.score')).to_have_text("400", timeout=SHOWN)
    expect(logged.locator(".applied")).to_have_text("applied", timeout=SHOWN)  # gone from the api's queue
    expect(row).to_have_count(0)
    assert errors == []
    page.close()


def test_a_rejected_users_held_points_never_reach_the_board(moderated: System, api: ApiClient,
                                                            browser: Browser) -> None:
    """Reject needs a reason (the page says so and sends nothing without one); once rejected, the held
    points are voided: the top 10 never shows them, before or after the worker applied the decision."""
    run = uuid.uuid4().hex[:6]
    cy, eve = f"cy-{run}", f"eve-{run}"
    post(api, cy, 2)
    errors: list[str] = []
    page = open_moderation(browser, moderated, api.token(f"mod-{run}", roles=("admin",)), errors)
    expect(top10(page).locator(f'tr[data-user="{cy}"] td.score')).to_have_text("200", timeout=SHOWN)
    record_top10_scores(page)

    flag(api, cy)
    row = queue_row(page, cy)
    expect(row).to_be_visible(timeout=SHOWN)
    post(api, cy, 1)
    expect(row.locator(".held-points")).to_have_text("100", timeout=SHOWN)

    reject = row.get_by_role("button", name=f"Reject {cy}")
    reject.click()
    expect(row.locator(".decide-error")).to_have_text("A reason is required to reject.")
    expect(row.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    assert review_of(api, cy, "pending") is not None, "a reject without a reason reached the api"
    row.get_by_label("Reason").fill("scripted timing")
    reject.click()
    expect(row).to_have_count(0, timeout=5_000)
    expect(page.locator(f'.decision-log li[data-user="{cy}"]')).to_contain_text(f"Rejected {cy}")

    decided = wait_until(lambda: review_of(api, cy, "decided"), timeout_s=SHOWN / 1000,
                         what=f"the rejection of {cy} applied")
    assert decided["status"] == "rejected" and decided["decision"]["reason"] == "scripted timing"
    post(api, eve, 1)  # a change after the decision: the panel has caught up once eve shows
    expect(top10(page).locator(f'tr[data-user="{eve}"] td.score')).to_have_text("100", timeout=SHOWN)
    shown = [score for user, score in page.evaluate("window.shownScores") if user == cy]
    assert shown and max(shown) == 200, shown  # seen before the flag, never with the voided 100
    board = api.rank(cy)
    assert board is None or board["score"] == 200, board
    assert errors == []
    page.close()


def test_a_token_without_the_admin_role_is_told_it_is_not_a_moderator(moderated: System, api: ApiClient,
                                                                      browser: Browser) -> None:
    """A user's token gets a clear "not a moderator" (403), a badly signed one "refused" (401); the
    token stays in the tab across a reload, never in the URL, until forgotten."""
    errors: list[str] = []
    player = api.token(f"player-{uuid.uuid4().hex[:6]}")
    page = open_moderation(browser, moderated, player, errors)
    alert = page.locator(".queue-error")
    expect(alert).to_contain_text("Not a moderator", timeout=SHOWN)
    expect(page.locator(".queue-status")).to_have_text("not a moderator")
    expect(page.locator("ol.queue li")).to_have_count(0)

    page.reload()
    expect(alert).to_contain_text("Not a moderator", timeout=SHOWN)
    assert player not in page.url
    assert page.evaluate("Object.values(sessionStorage)") == [player]

    forged = mint_token("not-the-secret-" + "x" * 32, "mallory", roles=("admin",))
    page.get_by_label("Admin token (JWT)").fill(forged)
    page.get_by_role("button", name="Use token").click()
    expect(alert).to_contain_text("refused this token (401)", timeout=SHOWN)

    page.get_by_role("button", name="Forget token").click()
    expect(page.locator("#token-state")).to_have_text("No token yet.")
    assert page.evaluate("sessionStorage.length") == 0
    page.close()
