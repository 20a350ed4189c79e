"""The console in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): log in, open a
patient's trends and see the charts drawn with data, and the care manager's queue. Screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_api_support import PASSWORD, World

pytest_plugins = ["tests.test_api_support"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the playwright Python package is missing: pip install playwright (never `playwright install`)"
        )
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _login(browser: object, api_url: str, email: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.goto(f"{api_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    return page


def test_clinician_sees_trend_charts_with_data(browser: object, api_url: str, api_world: World) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = _login(browser, api_url, api_world.a.users["clinician"])
    assert page.url.endswith("/patients")
    page.get_by_role("link", name="Lovelace, Ada").click()
    page.wait_for_selector("svg.trend[data-metrics='systolic_mmhg diastolic_mmhg']")
    points = int(page.get_attribute("svg.trend[data-metrics='systolic_mmhg diastolic_mmhg']", "data-points"))
    assert points >= 150, "90 days of systolic and diastolic daily means"
    assert page.locator("svg.trend circle.reading").count() >= points
    assert page.locator("svg.trend .limit-high").count() >= 1, "the care plan's limits are drawn"
    assert page.locator("svg.trend .marker").count() == 1, "the open alert is marked"
    page.screenshot(path=str(SCREENSHOTS / "patient-trends-90d.png"), full_page=True)
    page.get_by_role("button", name="7 days").click()
    page.wait_for_function("document.getElementById('trend-status').textContent.includes('7 days')")
    assert page.get_by_role("button", name="7 days").get_attribute("aria-pressed") == "true"
    page.screenshot(path=str(SCREENSHOTS / "patient-trends-7d.png"), full_page=True)
    page.close()


def test_care_manager_queue_shows_the_alert_and_patient_context(
    browser: object, api_url: str, api_world: World
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = _login(browser, api_url, api_world.a.users["care_manager"])
    assert page.url.endswith("/queue")
    row = page.locator("tr[data-alert]")
    assert row.count() == 1
    assert "SBP 171" in row.inner_text()
    row.get_by_role("button", name="Ada Lovelace").click()
    page.wait_for_selector("#context section.context")
    context = page.inner_text("#context")
    assert "+1 312 555 0100" in context
    assert "Limits in force" in context
    assert "This month" in context
    page.screenshot(path=str(SCREENSHOTS / "queue-with-context.png"), full_page=True)
    page.close()
