"""The first steps of a new KIM case in real Chromium, as the offices walk it (issue 15.0):
the case manager starts the intake (P1) from "Fall starten", KIM coordination records and
allocates the inquiry, the case manager holds the first interview. Every page visited
passes axe (0 serious/critical) and shows no template placeholder, no Python ``True`` and
no snake_case field key. With LOTSE_SCREENSHOTS=1 each step is saved under
docs/screenshots/first-case-NN-*.png (opt-in: a test run leaves the tree alone)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine import clock as engine_clock
from tests.e2e.browser_helpers import axe_check, log_in
from tests.integration import test_catalogue_support as S
from tests.web_support import LiveServer, make_app

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# a snake_case key as a page would show it: two or more lower-case words joined by "_"
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


@pytest.fixture
def eng(sqlite_db, clock):
    from processes.wiring import build_engine

    engine, _ = build_engine(sqlite_db, clock=clock)
    with engine_clock.using(engine.clock):
        S.deploy_catalogue(engine)
    return engine


@pytest.fixture
def server(eng, tmp_path):
    with LiveServer(make_app(eng, tmp_path)) as live:
        yield live


@pytest.fixture(autouse=True)
def _offline_and_clean(blocked_requests, page_errors):
    yield
    assert blocked_requests == [], blocked_requests
    assert page_errors == [], page_errors


class Walk:
    def __init__(self, page):
        self.page = page
        self.step = 0

    def check(self, label: str) -> None:
        """The page as a person reads it: no placeholder, no True, no snake_case key;
        axe; a screenshot when asked for."""
        page = self.page
        text = page.locator("main").inner_text()
        assert "{{" not in text and "}}" not in text, f"{label}: placeholder"
        assert not re.search(r"\bTrue\b|\bFalse\b|\bNone\b", text), f"{label}: Python value"
        keys = SNAKE.findall(text)
        if os.environ.get("WALK_COLLECT"):
            print("WALK", label, sorted(set(keys)))
            keys = []
        assert not keys, f"{label}: snake_case keys {keys[:5]}"
        axe_check(page, label)
        self.step += 1
        if os.environ.get("LOTSE_SCREENSHOTS"):
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 1280, "height": 900})
            name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
            page.screenshot(path=str(SHOTS / f"first-case-{self.step:02d}-{name}.png"),
                            full_page=True)


def _log_out(page):
    page.get_by_role("button", name="Abmelden").click()
    page.wait_for_url(re.compile("/login"))


def _choose(page, label: str, option: str) -> None:
    """A choice as a person makes it: a select's option, or the radio of a group."""
    group = page.get_by_role("group", name=re.compile(re.escape(label)))
    if group.count():
        group.first.get_by_label(option, exact=True).check()
        return
    page.get_by_label(label, exact=False).first.select_option(label=option)


def _submit(page) -> None:
    page.locator("#task-form").get_by_role("button", name="Erledigen").last.click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert not summary.count(), summary.inner_text()
    expect(page.locator(".lotse-flashes")).to_contain_text("erledigt")


def _open_task(page, server, office: str, name: str) -> None:
    page.goto(f"{server.url}/offices/{office}/tasks")
    page.get_by_role("link", name=name, exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def test_a_new_case_walked_through_the_pages(server, page, eng):
    walk = Walk(page)
    # 1. the case manager starts the intake: it is offered first and chosen
    log_in(page, server, "cm.demo")
    page.get_by_role("link", name="Fall starten").first.click()
    expect(page.get_by_label("Prozess")).to_have_value("kim_intake_clearing")
    walk.check("start page")
    ref = page.get_by_label("Fallnummer").input_value()
    page.get_by_role("button", name="Fall starten").click()
    expect(page.locator(".lotse-flashes")).to_be_visible()
    walk.check("after start")
    (task,) = eng.tasks(office="KIM_KO")
    assert task["case_ref"] == ref and task["element_id"] == "Task_RecordInquiry"
    _log_out(page)

    # 2. KIM coordination records the inquiry, typing what a person types
    log_in(page, server, "ko.demo")
    _open_task(page, server, "KIM_KO", "Anfrage erfassen")
    walk.check("record inquiry")
    form = page.locator("#task-form")
    _choose(form, "Zugangsweg", "Telefonisch / selbst")
    form.get_by_label("Vorname(n)").fill("Amal")
    form.get_by_label(re.compile(r"^Familienname\s*\*?$")).fill("Haddad")
    form.get_by_label("Geburtsdatum").fill("12.04.1989")
    _choose(form, "Geschlecht", "weiblich")
    nat = form.get_by_label("Staatsangehörigkeit")
    nat.fill("Syrien")
    langs = form.get_by_role("group", name=re.compile("Sprachen"))
    if langs.count():
        langs.first.get_by_label("Arabisch", exact=True).check()
    else:  # the languages are still a JSON text box on this page (widgets being rebuilt)
        form.get_by_label("Sprachen").fill('["ar"]')
    _choose(form, "Dolmetschung nötig", "Ja")
    _choose(form, "Aufenthaltsstatus", "Aufenthaltserlaubnis")
    form.get_by_label("Telefon").fill("0521 555 0101")
    form.get_by_label("Personen im Haushalt").fill("3")
    form.get_by_label("Davon minderjährig").fill("1")
    _choose(form, "Dringend", "Nein")
    form.get_by_label("Anliegen").fill("Braucht Unterstützung bei Wohnung und Arbeit.")
    _submit(page)
    walk.check("inquiry recorded")

    # 3. KIM coordination allocates the case to the case manager; no personal data shown
    _open_task(page, server, "KIM_KO", "Fall zuweisen")
    expect(page.locator("#task-person")).to_have_count(0)
    assert "Haddad" not in page.locator("main").inner_text()
    walk.check("allocate case")
    form = page.locator("#task-form")
    form.get_by_label("Fallmanager:in (Kennung)").fill("cm.demo")
    _choose(form, "Bezirk", "Mitte")
    _submit(page)
    _log_out(page)

    # 4. the case manager opens the first interview: whose case it is
    log_in(page, server, "cm.demo")
    _open_task(page, server, "KIM_CM", "Erstgespräch durchführen und informieren")
    expect(page.locator("#task-person")).to_have_text("Amal Haddad")
    walk.check("first interview")
    page.goto(f"{server.url}/cases/{ref}")
    page.wait_for_selector(".lotse-diagram[data-rendered='true']", timeout=15000)
    walk.check("case page")
