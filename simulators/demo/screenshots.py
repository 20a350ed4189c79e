"""Pictures of the running demo's console: the care manager's queue and a clinician's trend page.

Uses Debian's Chromium through Playwright (a development dependency, imported only here); it never
downloads a browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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


class ScreenshotError(Exception):
    """Chromium or Playwright is missing, or the console did not show what was expected."""


def take(
    console_url: str, care_manager: tuple[str, str], clinician: tuple[str, str], out_dir: Path
) -> list[Path]:
    """Log in as each user and save the queue and the first patient's trends; returns the files written."""
    if not CHROMIUM.exists():
        raise ScreenshotError(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ScreenshotError("the playwright package is missing: pip install playwright") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = _login(browser, console_url, *care_manager)
            page.goto(f"{console_url}/queue")
            page.wait_for_load_state("networkidle")
            written.append(out_dir / "demo-queue.png")
            page.screenshot(path=str(written[-1]), full_page=True)
            page.close()

            page = _login(browser, console_url, *clinician)
            page.goto(f"{console_url}/patients")
            page.locator("a[href^='/patients/']").first.click()
            page.wait_for_selector("svg.trend circle.reading")
            written.append(out_dir / "demo-patient-trends.png")
            page.screenshot(path=str(written[-1]), full_page=True)
            page.close()
        finally:
            browser.close()
    return written


def _login(browser: Browser, console_url: str, email: str, password: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{console_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    return page
