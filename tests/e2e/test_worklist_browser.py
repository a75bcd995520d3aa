"""The worklist with saved filters (issue 15.4) in real Chromium with axe-core in German
and English: a caseworker narrows the JC worklist to overdue tasks, saves it under a name,
sees the tab with its count (also in English) and deletes it; rows show the person's name
only with a consent that covers identity data and say when the case is not shared.
Nothing is loaded from outside."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from engine.models import HumanTask
from engine.runtime import Actor
from tests.e2e.browser_helpers import axe_check, log_in
from tests.web_support import refer

pytestmark = pytest.mark.browser
CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}


@pytest.fixture
def eng(sqlite_app):
    return sqlite_app.extensions["lotse"].engine


@pytest.fixture(autouse=True)
def _offline_and_clean(blocked_requests, page_errors):
    yield
    assert blocked_requests == [], blocked_requests
    assert page_errors == []


def _setup(eng, clock):
    cm = Actor(user="cm.demo")
    for ref in ("WB-1", "WB-2", "WB-3"):
        out = eng.start("kim_first_referral", {}, ref, actor=cm)
        tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
        eng.complete(tid, CASE, actor=cm)
        clock.advance(timedelta(minutes=1))
    refer(eng, "WB-1", "JC", "JC:SGB2", ["IDENT"])
    refer(eng, "WB-2", "JC", "JC:SGB2", ["CONTACT"])  # WB-3: not shared with JC
    with eng.db.unit_of_work() as s:
        s.execute(update(HumanTask).where(HumanTask.office == "JC",
                                          HumanTask.case_ref.in_(["WB-1", "WB-3"]))
                  .values(due_at=eng.now() - timedelta(days=2)))


def test_caseworker_saves_a_filter_and_sees_its_count(live_server, page, eng, clock):
    _setup(eng, clock)
    log_in(page, live_server, "jc.demo")
    page.goto(live_server.url + "/offices/JC/tasks")
    rows = page.locator("#worklist-results tbody tr")
    expect(rows).to_have_count(3)
    # the name only where the consent covers identity data; the unshared case says why
    expect(page.locator("tr", has_text="WB-1")).to_contain_text("Amal Haddad")
    expect(page.locator("tr", has_text="WB-2")).not_to_contain_text("Amal")
    wb3 = page.locator("tr", has_text="WB-3")
    expect(wb3).to_contain_text("Fall für Ihr Amt nicht freigegeben")
    expect(wb3.get_by_role("link", name="WB-3")).to_have_count(0)
    axe_check(page, "worklist")
    page.get_by_label("Ansicht").select_option("overdue")
    page.get_by_label("Sortierung").select_option("overdue_first")
    page.get_by_role("button", name="Anwenden").click()
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"state=overdue"))
    page.get_by_label("Name des Filters").fill("Überfällig JC")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter speichern").click()
    tab = page.get_by_role("navigation", name="Gespeicherte Filter").get_by_role(
        "link", name=re.compile("Überfällig JC"))
    expect(tab).to_contain_text("2")
    expect(tab).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("status").first).to_be_attached()
    expect(rows).to_have_count(2)
    axe_check(page, "worklist with a saved filter")
    # the task link carries the filtered page to return to after the submit
    link = rows.first.get_by_role("link").first
    expect(link).to_have_attribute(
        "href", re.compile(r"^/tasks/[^?]+\?next=/offices/JC/tasks\?state%3Doverdue"))
    # English
    page.goto(live_server.url + "/offices/JC/tasks?lang=en")
    tab_en = page.get_by_role("navigation", name="Saved filters").get_by_role(
        "link", name=re.compile("Überfällig JC"))
    expect(tab_en).to_contain_text("2")
    expect(page.locator("tr", has_text="WB-3")).to_contain_text(
        "Case not shared with your office")
    expect(page.get_by_label("View")).to_be_visible()
    axe_check(page, "worklist en")
    tab_en.click()
    expect(rows).to_have_count(2)
    axe_check(page, "worklist with a saved filter en")
    # delete
    page.get_by_role("button", name="Delete filter “Überfällig JC”").click()
    expect(page.get_by_role("navigation", name="Saved filters")).to_contain_text(
        "No saved filters yet")
