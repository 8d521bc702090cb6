"""The live dashboard in headless Chromium against the real gateway: rows change as actions are
posted, movements are marked, the page reconnects by itself after a gateway restart."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from testkit.system import System, wait_ready
from tests.support.client import ApiClient
from tests.support.utc_day import clear_of_utc_midnight

pytestmark = pytest.mark.e2e
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"


def panel(page: Page, board: str) -> str:
    return f'section.board[data-board="{board}"]'


def post(api: ApiClient, user: str, times: int, action: str = "win-match") -> None:
    for _ in range(times):
        response = api.complete(user, action)
        assert response.status_code == 202, response.text


def test_the_dashboard_shows_live_rows_movements_and_reconnects(system: System, browser: Browser,
                                                                 artifacts: Path) -> None:
    """Three boards go live; posted actions appear as rows in order; a user overtaking is marked
    'up'; after a gateway restart every panel says reconnecting, then live again by itself."""
    clear_of_utc_midnight()  # the daily and weekly panels follow the UTC day: keep the actions on one
    api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
    run = uuid.uuid4().hex[:4]
    ana, bo, cy = f"ana-{run}", f"bo-{run}", f"cy-{run}"
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(system.gateway_url + "/")
    for board in ("global", "daily", "weekly"):
        expect(page.locator(f"{panel(page, board)} .status")).to_have_text("live", timeout=15_000)

    post(api, ana, 1)
    post(api, bo, 2)
    post(api, cy, 3)
    global_rows = page.locator(f"{panel(page, 'global')} tbody tr")
    for board in ("global", "daily", "weekly"):
        row = page.locator(f'{panel(page, board)} tr[data-user="{cy}"]')
        expect(row.locator("td.score")).to_have_text("300", timeout=15_000)
    expect(page.locator(f'{panel(page, "global")} tr[data-user="{ana}"] td.score')).to_have_text("100")
    ranks = {u: page.locator(f'{panel(page, "global")} tr[data-user="{u}"] td.rank').inner_text()
             for u in (ana, bo, cy)}
    assert int(ranks[cy]) < int(ranks[bo]) < int(ranks[ana])
    version_before = int(page.locator(f"{panel(page, 'global')} .version").inner_text())

    post(api, ana, 3)  # 400 points: ana overtakes bo and cy
    ana_row = page.locator(f'{panel(page, "global")} tr[data-user="{ana}"]')
    expect(ana_row.locator("td.score")).to_have_text("400", timeout=15_000)
    expect(ana_row).to_have_attribute("data-move", "up")
    expect(ana_row.locator(".visually-hidden")).to_contain_text("moved up")
    assert int(page.locator(f"{panel(page, 'global')} .version").inner_text()) > version_before
    assert global_rows.count() <= 10
    assert page.locator(f'{panel(page, "global")} th.user[scope="row"]').count() == global_rows.count()
    assert page.locator('[role="status"]').count() == 3

    screenshot = artifacts / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("SCOREBOARD_UPDATE_DOCS_SCREENSHOT"):
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)

    gateway = next(p for p in system.processes if p.role == "gateway")
    gateway.stop()
    for board in ("global", "daily", "weekly"):
        expect(page.locator(f"{panel(page, board)} .status")).to_have_text("reconnecting", timeout=15_000)
    wait_ready(system.start("gateway"))
    for board in ("global", "daily", "weekly"):
        expect(page.locator(f"{panel(page, board)} .status")).to_have_text("live", timeout=20_000)
    post(api, bo, 3)  # 500 points: bo leads, pushed through the new gateway
    expect(page.locator(f'{panel(page, "global")} tr[data-user="{bo}"] td.score')).to_have_text("500",
                                                                                            timeout=15_000)
    page.close()


def test_the_dashboard_fits_a_phone_screen_without_sideways_scrolling(system: System, browser: Browser,
                                                                       artifacts: Path) -> None:
    """At 390 px wide the panels stack and nothing overflows horizontally."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(system.gateway_url + "/")
    expect(page.locator(f"{panel(page, 'weekly')} .status")).to_have_text("live", timeout=15_000)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(artifacts / "dashboard-phone.png"), full_page=True)
    page.close()
