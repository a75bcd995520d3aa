"""The operations console (issue 15.2) in real Chromium with axe-core in German and
English: the administrator follows the navigation link, retries an incident from the
list, suspends and resumes an instance with a reason (a missing reason shows the error
summary), creates a user and revokes one of its tokens. Nothing is loaded from outside.
With LOTSE_SCREENSHOTS=1 it also takes docs/screenshots/ops-console.png."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine.models import AuditEvent
from tests import bpmn_builder as B
from tests.e2e.browser_helpers import axe_check, log_in
from tests.timer_models import boundary_process
from web import accounts

pytestmark = pytest.mark.browser
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "ops-console.png"


@pytest.fixture
def eng(sqlite_app):
    return sqlite_app.extensions["lotse"].engine


@pytest.fixture(autouse=True)
def _offline_and_clean(blocked_requests, page_errors):
    yield
    assert blocked_requests == [], blocked_requests
    expected = "Failed to load resource: the server responded with a status of 4"
    assert [e for e in page_errors if expected not in e] == []


def _audit(eng, event_type: str) -> list[AuditEvent]:
    with eng.db.reader() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


def _setup(eng) -> tuple[int, int]:
    eng.deploy_files(B.files(p__bpmn=B.process(
        "ops_fail", {"KIM_CM": ["S", "T", "E"]},
        '<bpmn:startEvent id="S"/>' + B.script_task("T", "x = 1 / divisor")
        + '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "T") + B.flow("f2", "T", "E"))))
    broken = eng.start("ops_fail", {"divisor": 0}, "OPS-B1")["instance_id"]
    eng.deploy_files(B.files(p__bpmn=boundary_process("ops_wait", interrupting=True,
                                                      timer='"P5D"')))
    waiting = eng.start("ops_wait", {}, "OPS-B2")["instance_id"]
    return broken, waiting


def test_admin_retries_an_incident_and_suspends_and_resumes(live_server, page, eng):
    broken, waiting = _setup(eng)
    log_in(page, live_server, "admin.demo")
    page.get_by_role("link", name="Betrieb").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Betrieb")
    row = page.locator(f'#incident-table tr[data-instance="{broken}"]')
    expect(row).to_contain_text("ZeroDivisionError")
    axe_check(page, "ops console")
    if os.environ.get("LOTSE_SCREENSHOTS"):  # opt-in: a test run leaves the tree alone
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    # retry from the incident list: the step fails again, said so in the notice
    row.get_by_role("button", name=re.compile("Erneut ausführen")).click()
    expect(page.locator(".lotse-flashes")).to_contain_text(
        f"Vorgang #{broken} wurde erneut ausgeführt")
    assert [e.actor for e in _audit(eng, "instance.retried")] == ["admin.demo"]
    axe_check(page, "ops console after retry")

    # search, open the waiting instance, suspend without and then with a reason
    page.get_by_label("Fall").fill("OPS-B2")
    page.get_by_role("button", name="Suchen").click()
    expect(page.locator("#instance-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"#{waiting}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Vorgang #{waiting}")
    axe_check(page, "ops instance")
    form = page.locator("#form-suspend")
    form.get_by_role("button", name="Anhalten").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("Bitte geben Sie eine Begründung an.")
    axe_check(page, "ops instance with error summary")
    page.locator("#error-summary").get_by_role("link").click()
    expect(page.locator("#suspend-reason")).to_be_focused()
    page.locator("#suspend-reason").fill("Rückfrage beim Amt")
    page.locator("#form-suspend").get_by_role("button", name="Anhalten").click()
    expect(page.locator(".lotse-flashes")).to_contain_text(f"Vorgang #{waiting} ist angehalten.")
    expect(page.locator("#instance-facts")).to_have_attribute("data-status", "suspended")
    expect(page.locator("#ops-history")).to_contain_text("Rückfrage beim Amt")
    axe_check(page, "ops instance suspended")
    assert eng.show(waiting)["status"] == "suspended"

    page.get_by_role("textbox", name="Begründung (Vorgang fortsetzen)").fill("Rückfrage geklärt")
    page.get_by_role("button", name="Fortsetzen").click()
    expect(page.locator(".lotse-flashes")).to_contain_text("wird fortgesetzt")
    expect(page.locator("#instance-facts")).to_have_attribute("data-status", "running")
    (entry,) = _audit(eng, "instance.resumed")
    assert entry.actor == "admin.demo" and entry.details["reason"] == "Rückfrage geklärt"

    page.goto(live_server.url + f"/ops/instances/{waiting}?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Instance #{waiting}")
    axe_check(page, "ops instance en")
    page.goto(live_server.url + "/ops?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
    axe_check(page, "ops console en")


def test_admin_creates_a_user_and_revokes_a_token(live_server, page, eng):
    log_in(page, live_server, "admin.demo")
    page.goto(live_server.url + "/ops/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Benutzer")
    axe_check(page, "ops users")
    form = page.locator("#create-user")
    form.get_by_label("Benutzername").fill("neu.kollege")
    form.get_by_label("Anzeigename").fill("Neuer Kollege")
    form.get_by_label("Sachbearbeitung").check()
    form.get_by_role("button", name="Benutzer anlegen").click()
    # no office and no password: both named in the summary
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("mindestens eine Stelle")
    expect(summary).to_contain_text("mindestens 10 Zeichen")
    axe_check(page, "ops users with error summary")
    form = page.locator("#create-user")
    form.get_by_label(re.compile("^JC – ")).check()
    form.get_by_label("Erstes Passwort").fill("anfangs-passwort")
    form.get_by_role("button", name="Benutzer anlegen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Benutzer neu.kollege")
    expect(page.locator(".lotse-flashes")).to_contain_text("ist angelegt")
    expect(page.locator("#user-offices")).to_have_text("JC")
    axe_check(page, "ops user")
    assert accounts.account(eng.db, "neu.kollege")["roles"] == ["caseworker"]

    token = accounts.issue_token(eng.db, "neu.kollege", label="Fachverfahren")
    page.reload()
    row = page.locator("#token-table tbody tr", has_text="Fachverfahren")
    expect(row).to_have_attribute("data-revoked", "false")
    assert token not in page.content()
    row.get_by_role("button", name=re.compile("Widerrufen")).click()
    expect(page.locator(".lotse-flashes")).to_contain_text("ist widerrufen")
    expect(page.locator("#token-table tbody tr", has_text="Fachverfahren")).to_have_attribute(
        "data-revoked", "true")
    assert accounts.resolve_token(eng.db, token) is None
    assert [e.actor for e in _audit(eng, "auth.token_revoked")] == ["admin.demo"]
    axe_check(page, "ops user after revoke")
    page.goto(live_server.url + "/ops/users/neu.kollege?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text("User neu.kollege")
    axe_check(page, "ops user en")
    page.goto(live_server.url + "/ops/users?lang=en")
    axe_check(page, "ops users en")


def test_a_caseworker_has_no_link_and_gets_403(live_server, page, eng):
    log_in(page, live_server, "jc.demo")
    expect(page.get_by_role("link", name="Betrieb")).to_have_count(0)
    assert page.goto(live_server.url + "/ops").status == 403
    assert page.goto(live_server.url + "/ops/users").status == 403
