"""Notices in real Chromium (issue 15.5): a claim through the worklist row (htmx) and a
completion through the task form each say what happened in the page's role=status live
region, the completion naming the next task and its office; axe-core on both pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.runtime import Actor
from tests.e2e.browser_helpers import axe_check, log_in

pytestmark = pytest.mark.browser

CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}


@pytest.fixture(autouse=True)
def _offline_and_clean(blocked_requests, page_errors):
    yield
    assert blocked_requests == [], blocked_requests
    expected = "Failed to load resource: the server responded with a status of 4"
    assert [e for e in page_errors if expected not in e] == []


def test_claim_and_completion_are_announced(live_server, page, sqlite_app):
    eng = sqlite_app.extensions["lotse"].engine
    iid = eng.start("kim_first_referral", {}, "FB-BR", actor=Actor(user="cm.demo"))["instance_id"]
    eng.complete(eng.tasks(office="KIM_CM")[0]["task_id"], CASE, actor=Actor(user="cm.demo"))
    abh = eng.tasks(office="ABH")[0]["task_id"]
    eng.complete(abh, {"abh_result": "granted", "abh_valid_until": "2027-01-01"},
                 actor=Actor(user="abh.demo"))
    log_in(page, live_server, "jc.demo")
    region = page.locator("#lotse-notices")
    expect(region).to_have_attribute("role", "status")
    page.goto(live_server.url + "/offices/JC/tasks")
    row = page.locator("#worklist-results tbody tr").first
    row.get_by_role("button", name=re.compile("^Übernehmen")).click()
    # the htmx row answer is said through the page's live region (once: the row's own
    # message gives up its role)
    expect(region).to_contain_text("Aufgabe übernommen: „Leistungsanspruch prüfen“")
    expect(page.locator(".lotse-row-message[role=status]")).to_have_count(0)
    axe_check(page, "worklist after claim")
    row.get_by_role("link").first.click()
    page.get_by_label("Anspruch besteht", exact=True).check()
    page.get_by_role("button", name="Erledigen").click()
    page.wait_for_url(re.compile(r"/offices/JC/tasks$"))
    expect(region).to_have_attribute("data-announced", "true")
    expected = ("Aufgabe „Leistungsanspruch prüfen“ erledigt; nächste Aufgabe: "
                "„Vermittlung abschließen“ bei KIM-Case-Management.")
    visible = region.locator(".kern-alert")
    expect(visible).to_have_text(expected)
    # the notice the page loaded with is said once, after load, by the live region
    expect(visible).to_have_attribute("aria-hidden", "true")
    expect(region.locator("p.kern-sr-only")).to_have_text(expected)
    assert [t["name"] for t in eng.tasks(instance_id=iid)] == ["Vermittlung abschließen"]
    axe_check(page, "worklist after completion")
    page.goto(live_server.url + "/offices/JC/tasks?lang=en")
    expect(region.locator(".kern-alert")).to_have_count(0)  # said once
