"""The care manager's queue in real headless Chromium: claim and acknowledge an alert in two clicks with the
review timer running, the alert's evidence and the patient's context beside the queue, the credited minutes
shown and present in the time log; the same by keyboard alone. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from careteam_api.auth.passwords import hash_password
from tests.test_api_alerts import Clinic
from tests.test_api_support import PASSWORD, World, seed_practice
from tests.test_console_browser import SCREENSHOTS, _login
from tests.test_console_browser import browser as browser  # the fixture

pytest_plugins = ["tests.test_api_support"]


@pytest.fixture(scope="module")
def clinic(api_world: World, api_url: str) -> Iterator[Clinic]:
    """A practice of its own, so the queue holds exactly what this module puts in it."""
    with psycopg.connect(api_world.database_url, autocommit=True) as conn:
        practice = seed_practice(conn, f"cq{uuid.uuid4().hex[:4]}", hash_password(PASSWORD))
        yield Clinic(practice, {}, conn, api_url)


def _alert_for_grace(clinic: Clinic) -> tuple[uuid.UUID, int]:
    patient_id, alert_id, _ = clinic.crisis()
    clinic.conn.execute(
        "INSERT INTO patient_contacts (patient_id, phone, preferred_contact) VALUES (%s, '+1 773 555 0142',"
        " 'phone')",
        (patient_id,),
    )
    return patient_id, alert_id


def _review_entries(clinic: Clinic, alert_id: int) -> list[tuple[int, str, str]]:
    return clinic.conn.execute(
        "SELECT minutes, program, note FROM time_entries WHERE alert_id = %s AND activity = 'alert_review'",
        (alert_id,),
    ).fetchall()


def test_claim_and_acknowledge_in_two_clicks_shows_the_credited_minutes(
    browser: object, clinic: Clinic
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _, alert_id = _alert_for_grace(clinic)
    page = _login(browser, clinic.url, clinic.practice.users["care_manager"])
    assert page.url.endswith("/queue")
    page.evaluate("window.clicks = 0; document.addEventListener('click', () => window.clicks++, true)")
    row = page.locator(f"tr[data-alert='{alert_id}']")
    assert "critical" in row.inner_text().lower()

    row.get_by_role("button", name="Claim").click()
    panel = page.locator("#context section.alert-detail")
    panel.wait_for()
    page.wait_for_function("document.querySelector('#context .timer').textContent.startsWith('Reviewing')")
    page.wait_for_selector("#context section.context")
    assert row.locator(".state").inner_text() == "claimed (you)"
    assert page.evaluate("document.activeElement.id") == "alert-note", "focus goes to the note after a claim"
    assert "SBP 186, DBP 96" in panel.locator("table.evidence").inner_text()
    assert "systolic mmhg\n180" in panel.locator("dl").inner_text(), "the rule's parameters"
    context = page.inner_text("#context section.context")
    assert "+1 773 555 0142" in context
    assert "Limits in force" in context
    page.screenshot(path=str(SCREENSHOTS / "queue-claimed-reviewing.png"), full_page=True)

    clinic.reviewing_for(alert_id, "care_manager", 4.1)  # the minutes spent reading and calling
    page.get_by_label("Note").fill("Called the patient: repeat 150/88, had missed the morning dose.")
    panel.get_by_role("button", name="Acknowledge").click()
    result = panel.locator(".result")
    page.wait_for_function("document.querySelector('#context .result').textContent.includes('credited')")
    assert result.inner_text().startswith("Acknowledged. 4 min credited to RPM")
    assert page.locator("#context form.alert-actions").is_hidden()
    assert page.inner_text("#context .alert-state") == "State: acknowledged"
    assert page.inner_text("#context .timer") == "4 min logged"
    assert row.locator(".state").inner_text() == "acknowledged"
    assert page.evaluate("window.clicks") == 2
    assert _review_entries(clinic, alert_id) == [
        (4, "rpm", "alert review: Called the patient: repeat 150/88, had missed the morning dose.")
    ]
    page.wait_for_selector("#context section.context")
    page.screenshot(path=str(SCREENSHOTS / "queue-acknowledged-minutes.png"), full_page=True)
    page.close()


def test_the_queue_works_from_the_keyboard(browser: object, clinic: Clinic) -> None:
    _, alert_id = _alert_for_grace(clinic)
    page = _login(browser, clinic.url, clinic.practice.users["care_manager"])
    row = page.locator(f"tr[data-alert='{alert_id}']")
    row.get_by_role("button", name="Claim").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'alert-note'")
    clinic.reviewing_for(alert_id, "care_manager", 2)
    page.keyboard.type("Reviewed with the patient by phone.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Acknowledge"
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#context .result').textContent.includes('credited')")
    assert page.evaluate("document.activeElement.classList.contains('result')"), "the outcome gets focus"
    assert _review_entries(clinic, alert_id)[0][:2] == (2, "rpm")
    page.screenshot(path=str(SCREENSHOTS / "queue-keyboard-acknowledged.png"), full_page=True)
    page.close()


def test_an_admin_reads_the_evidence_but_has_no_actions(browser: object, clinic: Clinic) -> None:
    _, alert_id = _alert_for_grace(clinic)
    page = _login(browser, clinic.url, clinic.practice.users["admin"])
    page.goto(f"{clinic.url}/queue")
    row = page.locator(f"tr[data-alert='{alert_id}']")
    assert row.get_by_role("button", name="Claim").count() == 0
    row.get_by_role("button", name="Grace Hopper").click()
    page.locator("#context table.evidence").wait_for()
    assert page.locator("#context form.alert-actions").count() == 0
    assert page.inner_text("#context .timer") == "", "an admin's reading is no review"
    page.close()
