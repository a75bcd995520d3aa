"""The "Fristen / Deadlines" section of the case page in real Chromium with axe-core (issue
14.5): every deadline the processes computed is shown with its legal basis at the minute its
timer fires, for a referral sent in winter time and one sent in summer time; the permit
watch's deadline_critical flag and the missing Fortgeltungsfiktion (§ 81 Abs. 4 AufenthG)
after a late renewal are shown as warnings."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from playwright.sync_api import expect

from engine import clock as engine_clock
from engine.clock import BERLIN
from processes.referrals import list_referrals
from tests.e2e.test_web_browser import axe_check, log_in
from tests.integration import test_catalogue_support as S
from tests.web_support import base_consent, token_for

pytestmark = pytest.mark.browser

PERSON = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12"}


@pytest.fixture
def eng(sqlite_app, clock):
    engine = sqlite_app.extensions["lotse"].engine
    with engine_clock.using(clock):
        S.deploy_catalogue(engine)
    return engine


@pytest.fixture(autouse=True)
def _offline_and_clean(blocked_requests, page_errors):
    yield
    assert blocked_requests == [], blocked_requests
    assert page_errors == []


def _refer(eng, case_ref: str) -> dict:
    base_consent(eng, case_ref, ["IDENT", "CONTACT", "RESIDENCE"])
    consent = S.grant(eng, case_ref, "JC", "JC:SGB2", ["IDENT", "CONTACT"])
    eng.start("kim_single_referral", {
        "case_id": case_ref, "person": PERSON, "consents": [consent],
        "referral": {"office": "JC", "purpose": "JC:SGB2", "requested_service": "Prüfen"}},
        case_ref=case_ref)
    (ref,) = list_referrals(eng.db, now=eng.now(), case_id=case_ref)
    return ref


def _minute(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr")


def _check_referral_rows(page, ref: dict, expected: str) -> None:
    section = page.locator("#deadlines")
    ack = section.locator("tr[data-kind='due_ack']")
    expect(ack).to_have_count(1)
    expect(ack.locator("time")).to_have_text(expected)
    assert datetime.fromisoformat(ack.locator("time").get_attribute("datetime")) == \
        datetime.fromisoformat(ref["due_ack"])
    expect(ack).to_contain_text("§ 9 TIntG NRW")
    # the chase timer fires at that minute, shown with the basis of the chase it starts
    timer = section.locator("tr[data-element='Tmr_DueAck']")
    expect(timer.locator("time")).to_have_text(expected)
    expect(timer).to_contain_text("§ 9 TIntG NRW")
    result = section.locator("tr[data-kind='due_result']")
    expect(result.locator("time")).to_have_text(_minute(ref["due_result"]))


def _api_due_ack(app, case_ref: str) -> datetime:
    r = app.test_client().get(f"/api/cases/{case_ref}/referrals",
                              headers=token_for(app, "cm.demo"))
    assert r.status_code == 200, r.json
    (ref,) = r.json["referrals"]
    return datetime.fromisoformat(ref["due_ack"])


def test_deadlines_on_the_case_page_in_winter_and_summer_time(live_server, page, eng, clock,
                                                              sqlite_app):
    clock.set(datetime(2026, 1, 12, 15, 37, tzinfo=BERLIN))  # winter time
    winter = _refer(eng, "FR-W")
    assert datetime.fromisoformat(winter["due_ack"]) == datetime(2026, 1, 17, 15, 37,
                                                                 tzinfo=BERLIN)
    assert _api_due_ack(sqlite_app, "FR-W") == datetime.fromisoformat(winter["due_ack"])
    clock.set(datetime(2026, 1, 13, 9, 0, tzinfo=BERLIN))
    log_in(page, live_server, "cm.demo")
    page.goto(live_server.url + "/cases/FR-W")
    expect(page.get_by_role("heading", name="Fristen", exact=True)).to_be_visible()
    _check_referral_rows(page, winter, "17.01.2026, 15:37 Uhr")
    expect(page.locator("#deadlines [data-flag]")).to_have_count(0)
    page.goto(live_server.url + "/cases/FR-W?lang=en")
    expect(page.get_by_role("heading", name="Deadlines", exact=True)).to_be_visible()
    expect(page.locator("#deadlines tr[data-kind='due_ack'] time")).to_have_text(
        "2026-01-17 15:37")
    axe_check(page, "case deadlines (winter, English)")

    clock.set(datetime(2026, 7, 13, 15, 37, tzinfo=BERLIN))  # summer time
    summer = _refer(eng, "FR-S")
    assert datetime.fromisoformat(summer["due_ack"]) == datetime(2026, 7, 18, 15, 37,
                                                                 tzinfo=BERLIN)
    assert _api_due_ack(sqlite_app, "FR-S") == datetime.fromisoformat(summer["due_ack"])
    # a residence title that expired yesterday without a renewal application
    consents = [S.grant(eng, "FR-S", "ABH", "ABH:AUFENTHALT", ["IDENT", "RESIDENCE"])]
    eng.publish("permit_watch_requested", {
        "case_id": "FR-S", "permit_valid_until": date(2026, 7, 12).isoformat(),
        "consents": consents, "person": PERSON})
    eng.fire_due_timers()
    page.goto(live_server.url + "/cases/FR-S?lang=de")
    expect(page.get_by_role("heading", name="Fristen", exact=True)).to_be_visible()
    _check_referral_rows(page, summer, "18.07.2026, 15:37 Uhr")
    expect(page.locator("#deadlines [data-flag='deadline_critical']")).to_contain_text(
        "fristkritisch")
    late = page.locator("#deadlines [data-flag='fiktion_keine_fiktion_verspaetet']")
    expect(late).to_contain_text("Keine Fortgeltungsfiktion")
    expect(late).to_contain_text("§ 81 Abs. 4 S. 3 AufenthG")
    axe_check(page, "case deadlines (summer)")
