"""The data-protection and auditor pages in real Chromium with axe-core: audit search,
case timeline, replay on the diagram, chain verification, consents on the case page with
a revocation in the middle of a running referral, and the Art. 15 report. The demo
person's name never appears on an auditor page. Nothing is loaded from outside."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.conftest import BPMN_DIR
from tests.e2e.test_web_browser import CASE, axe_check, log_in, start_case
from tests.e2e.test_web_dataprotection import REF_DATA, referral_process
from tests.referral_models import office_process
from tests.web_support import base_consent, refer

pytestmark = pytest.mark.browser
NAMES = ("Amal", "Haddad")


@pytest.fixture
def eng(sqlite_app):
    return sqlite_app.extensions["lotse"].engine


@pytest.fixture(autouse=True)
def _offline_and_clean(blocked_requests, page_errors):
    yield
    assert blocked_requests == [], blocked_requests
    expected = "Failed to load resource: the server responded with a status of 4"
    assert [e for e in page_errors if expected not in e] == []


def _log_out(page):
    page.get_by_role("button", name="Abmelden").click()
    page.wait_for_url(re.compile("/login"))


def _no_names(page, label):
    text = page.content()
    for name in NAMES:
        assert name not in text, (label, name)


def test_auditor_pages_with_axe_and_no_names(live_server, page, eng):
    iid = start_case(eng, "AUD-1", CASE)
    base_consent(eng, "AUD-1", ["IDENT", "RESIDENCE"])
    refer(eng, "AUD-1", "JC", "JC:SGB2", ["IDENT"])
    log_in(page, live_server, "cm.demo")
    page.goto(live_server.url + "/cases/AUD-1")
    assert "Amal" in page.locator("main").inner_text()  # the case manager sees the name
    _log_out(page)
    log_in(page, live_server, "abh.demo")
    assert page.goto(live_server.url + "/cases/AUD-1").status == 404  # refused, logged
    _log_out(page)

    log_in(page, live_server, "auditor.demo")
    page.get_by_role("link", name="Prüfprotokoll").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Prüfprotokoll")
    axe_check(page, "audit search")
    _no_names(page, "audit search")
    page.get_by_label("Ereignis").select_option("data.read_denied")
    page.get_by_role("button", name="Anwenden").click()
    rows = page.locator("#audit-entries tbody tr")
    expect(rows).to_have_count(1)
    assert "abh.demo" in rows.first.inner_text()
    axe_check(page, "audit search filtered")
    rows.first.get_by_role("link", name="AUD-1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Prüfverlauf Fall AUD-1")
    reads = page.locator("#audit-reads").inner_text()
    assert "cm.demo" in reads and "abh.demo" in reads and "first_name" in reads
    axe_check(page, "case timeline")
    _no_names(page, "case timeline")
    page.get_by_role("link", name=f"#{iid} – Ablauf im Diagramm").click()
    page.wait_for_selector(".lotse-diagram[data-rendered='true']", timeout=15000)
    done = page.locator('g.djs-element[data-element-id="Task_Erfassen"]')
    assert "lotse-completed" in done.get_attribute("class")
    active = page.locator('g.djs-element[data-element-id="Task_Aufenthalt_Pruefen"]')
    assert "lotse-active" in active.get_attribute("class")
    assert page.locator(".lotse-order").count() >= 3  # the path is numbered
    first = page.locator("#replay-path tbody tr").first.inner_text()
    assert first.startswith("1")
    erfassen = page.locator('#replay-path tr[data-element="Task_Erfassen"]').inner_text()
    assert "cm.demo" in erfassen
    axe_check(page, "replay")
    _no_names(page, "replay")
    page.goto(live_server.url + "/audit/verify")
    expect(page.locator("#verify-result")).to_have_attribute("data-ok", "true")
    axe_check(page, "verify")
    page.goto(live_server.url + "/audit/cases/AUD-1?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail of case AUD-1")
    axe_check(page, "case timeline en")
    page.goto(live_server.url + "/cases/AUD-1?lang=de")
    axe_check(page, "case page as auditor")
    _no_names(page, "case page as auditor")


def test_revocation_in_the_browser_takes_the_task_off_the_worklist(live_server, page, eng):
    eng.deploy_files(B.files(cm__bpmn=referral_process(), office__bpmn=office_process("JC")))
    eng.deploy([BPMN_DIR / "kim_consent_followup"])
    cm = Actor(user="cm.demo", offices=frozenset({"KIM_CM"}))
    eng.start("test_dp_referral", dict(REF_DATA), "R-1", actor=cm)
    (prep,) = eng.tasks(office="KIM_CM")

    log_in(page, live_server, "cm.demo")
    page.goto(live_server.url + "/cases/R-1")
    axe_check(page, "case page with consents")
    form = page.locator("form.lotse-consent-form")
    form.get_by_label("Stelle").select_option("JC")
    form.get_by_label("Zweck").select_option("JC:SGB2")
    form.get_by_label("Identität (IDENT)").check()
    form.get_by_label("Finanzen (FINANCE)").check()
    form.get_by_label("Gültig bis").fill("2027-12-31")
    form.get_by_role("button", name="Einwilligung speichern").click()
    expect(page.locator(".lotse-flashes")).to_contain_text("Einwilligung für JC (JC:SGB2)")
    expect(page.locator('#consent-table tr[data-status="active"]')).to_have_count(1)
    eng.complete(prep["task_id"], {}, actor=cm)  # the referral goes out
    (ack,) = eng.tasks(office="JC")
    eng.complete(ack["task_id"], {}, actor=Actor(user="jc.demo", offices=frozenset({"JC"})))
    assert [t["name"] for t in eng.tasks(office="JC")] == ["Anliegen bearbeiten"]

    page.reload()
    row = page.locator('#consent-table tr[data-status="active"]')
    row.get_by_label(re.compile("^Widerruf erhalten")).select_option("oral")
    row.get_by_role("button", name=re.compile("^Widerruf erfassen")).click()
    expect(page.locator(".lotse-flashes")).to_contain_text("1 offene Vermittlung(en) ausgesetzt")
    expect(page.locator('#consent-table tr[data-status="revoked"]')).to_have_count(1)
    axe_check(page, "case page after revocation")
    assert eng.tasks(office="JC") == []
    _log_out(page)

    log_in(page, live_server, "jc.demo")
    page.goto(live_server.url + "/offices/JC/tasks")
    expect(page.locator("#worklist-results")).to_contain_text("Keine Aufgaben gefunden")
    assert page.goto(live_server.url + "/cases/R-1").status == 404


def test_access_report_page(live_server, page, eng):
    start_case(eng, "REP-1", CASE)
    base_consent(eng, "REP-1", ["IDENT", "RESIDENCE"])
    log_in(page, live_server, "cm.demo")
    page.goto(live_server.url + "/cases/REP-1")
    page.get_by_role("link", name="Auskunft nach Art. 15 DSGVO erstellen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Auskunft nach Art. 15 DSGVO – Fall REP-1")
    assert "Haddad" in page.locator("main").inner_text()
    axe_check(page, "access report")
    page.emulate_media(media="print")
    expect(page.locator(".lotse-header")).to_be_hidden()
    page.emulate_media(media="screen")
    _log_out(page)
    log_in(page, live_server, "dpo.demo")
    page.get_by_role("link", name="Auskunft").click()
    axe_check(page, "access report start")
    page.get_by_label("Fallnummer").fill("REP-1")
    page.get_by_role("button", name="Auskunft erstellen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fall REP-1")
    page.goto(live_server.url + "/cases/REP-1/access-report?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Access report (Art. 15 GDPR) – case REP-1")
    axe_check(page, "access report en")


def _fact(row, key: str) -> str:
    return row.locator(f'[data-fact="{key}"] dd').inner_text()


def test_case_audit_page_names_messages_offices_and_reasons_in_german(live_server, page,
                                                                     eng):
    """Issue 14.3: the case timeline shows, labelled in German, which office sent which
    message to which office for which referral, who received it, and why a task went."""
    from datetime import timedelta

    from processes.consent import record_consent, revoke_consent

    eng.deploy_files(B.files(cm__bpmn=referral_process(), office__bpmn=office_process("JC")))
    eng.deploy([BPMN_DIR / "kim_consent_followup"])
    today = eng.now().date()
    consent = record_consent(eng, case_id="R-1", office="JC", purpose="JC:SGB2",
                             categories=["IDENT", "FINANCE"], valid_from=today,
                             valid_until=today + timedelta(days=365))
    cm = Actor(user="cm.demo", offices=frozenset({"KIM_CM"}))
    eng.start("test_dp_referral", dict(REF_DATA), "R-1", actor=cm)
    (prep,) = eng.tasks(office="KIM_CM")
    eng.complete(prep["task_id"], {}, actor=cm)  # the referral goes out to JC
    (ack,) = eng.tasks(office="JC")
    eng.complete(ack["task_id"], {}, actor=Actor(user="jc.demo", offices=frozenset({"JC"})))
    (work,) = eng.tasks(office="JC")
    revoke_consent(eng, consent["consent_id"], actor=cm)
    assert eng.tasks(office="JC") == []

    log_in(page, live_server, "auditor.demo")
    page.goto(live_server.url + "/audit/cases/R-1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Prüfverlauf Fall R-1")
    table = page.locator("#audit-entries")
    sent = table.locator('tr[data-event="message.sent"]').filter(has_text="referral_sent")
    expect(sent).to_have_count(1)
    assert "Von Stelle" in sent.inner_text() and "An Stelle" in sent.inner_text()
    assert (_fact(sent, "from_office"), _fact(sent, "to_office")) == ("KIM_CM", "JC")
    assert _fact(sent, "referral_id") == "R-1-R1"
    message_id = _fact(sent, "message_id")
    received = table.locator('tr[data-event="message.received"]').filter(has_text=message_id)
    expect(received).to_have_count(1)
    assert "Nachricht empfangen" in received.inner_text()
    assert _fact(received, "to_office") == "JC" and _fact(received, "name") == "referral_sent"
    answer = table.locator('tr[data-event="message.sent"]').filter(
        has_text="referral_acknowledged")
    assert (_fact(answer, "from_office"), _fact(answer, "to_office")) == ("JC", "KIM_CM")
    withdrawn = table.locator('tr[data-event="message.sent"]').filter(
        has_text="referral_withdrawn")
    assert _fact(withdrawn, "reason") == "Einwilligung widerrufen"
    status = table.locator('tr[data-event="referral.status_changed"]').filter(
        has_text="ausgesetzt")
    assert _fact(status, "to") == "ausgesetzt: Einwilligung widerrufen"
    assert _fact(status, "reason") == "Einwilligung widerrufen"
    gone = table.locator('tr[data-event="task.cancelled"]').filter(has_text=work["task_id"])
    expect(gone).to_have_count(1)
    assert "Aufgabe abgebrochen" in gone.inner_text()
    assert _fact(gone, "element") == "Anliegen bearbeiten"  # by its name in the diagram
    assert _fact(gone, "reason") == "Vorgang abgebrochen"
    assert _fact(gone, "cause") == "Einwilligung widerrufen"
    axe_check(page, "case timeline with messages")
    _no_names(page, "case timeline with messages")
    for secret in ("private note", "diabetes"):
        assert secret not in page.content()

    # the auditor's search still filters, now also by the receiving office
    page.goto(live_server.url + "/audit?event_type=message.received&office=JC")
    rows = page.locator("#audit-entries tbody tr")
    expect(rows).to_have_count(1)
    assert _fact(rows.first, "referral_id") == "R-1-R1"
    axe_check(page, "audit search message.received")
    page.goto(live_server.url + "/audit/cases/R-1?lang=en")
    assert "From office" in page.locator("#audit-entries").inner_text()
