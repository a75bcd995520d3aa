"""Task forms as people fill them, in real Chromium with axe-core, German and English (issue
15.1 and the widgets of 15.0): the P1 intake form ("Anfrage erfassen", shipped catalogue) is
completed typing only what a person types (the state's name, the language's name, the date
as TT.MM.JJJJ) and the engine stores the codes the validators expect; a form with a list of
children gets two entries through "add entry" (server-side, the same without JavaScript),
shows a missing nested field at the field and in the error summary, and reads an amount
typed as German decimals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine import clock as engine_clock
from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.e2e.browser_helpers import axe_check, log_in
from tests.integration import test_catalogue_support as S

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
P2 = json.loads((ROOT / "bpmn/p2_support_plan/p2-assessment-schema.json").read_text("utf-8"))

TEXT = {
    "de": {"channel": ("Zugangsweg", "Offene Sprechstunde"), "first": "Vorname(n)",
           "last": "Familienname", "birth": "Geburtsdatum", "gender": ("Geschlecht", "weiblich"),
           "nat": ("Staatsangehörigkeit", "Syrien"), "langs": ("Sprachen", "Arabisch"),
           "interp": ("Dolmetschung nötig", "Ja"), "phone": "Telefon",
           "status": ("Aufenthaltsstatus", "Aufenthaltsgestattung"),
           "size": "Personen im Haushalt", "minors": "Davon minderjährig",
           "urgent": ("Dringend", "Nein"), "reason": "Anliegen", "submit": "Erledigen",
           "add": "Eintrag hinzufügen", "children": "Kinder", "kid_first": "Vorname",
           "school": ("Schule", "Besucht eine Schule", "Noch nicht schulpflichtig"),
           "rent": "Miete", "errors": "Bitte korrigieren"},
    "en": {"channel": ("Channel", "Walk-in"), "first": "First name(s)", "last": "Family name",
           "birth": "Date of birth", "gender": ("Gender", "female"),
           "nat": ("Nationality", "Syria"), "langs": ("Languages", "Arabic"),
           "interp": ("Interpreter needed", "Yes"), "phone": "Phone",
           "status": ("Residence status", "Permission to reside (asylum procedure)"),
           "size": "Household size", "minors": "Of whom minors",
           "urgent": ("Urgent", "No"), "reason": "Reason for the inquiry", "submit": "Complete",
           "add": "Add entry", "children": "Children", "kid_first": "First name",
           "school": ("School", "Attending", "Too young"),
           "rent": "Rent", "errors": "Please correct"},
}


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
    expected = "Failed to load resource: the server responded with a status of 4"
    assert [e for e in page_errors if expected not in e] == []


def _lab(scope, label: str):
    """The field labelled ``label`` (a required field's label ends in an aria-hidden *)."""
    return scope.get_by_label(re.compile("^" + re.escape(label) + r"( \*)?$"))


def _group(page, name: str):
    return page.get_by_role("group", name=re.compile("^" + re.escape(name)))


@pytest.mark.parametrize("lang", ["de", "en"])
def test_p1_intake_form_with_names_and_german_dates(live_server, page, eng, lang):
    x = TEXT[lang]
    with engine_clock.using(eng.clock):
        iid = eng.start("kim_intake_clearing", {}, f"K-FORM-{lang}")["instance_id"]
    (task,) = eng.tasks(instance_id=iid)
    assert task["element_id"] == "Task_RecordInquiry"
    log_in(page, live_server, "ko.demo")
    page.goto(f"{live_server.url}/tasks/{task['task_id']}?lang={lang}")
    nat = _lab(page, x["nat"][0])
    # a searchable field with the states' names, no code to know
    assert nat.get_attribute("list")
    assert page.locator(f"datalist#{nat.get_attribute('list')} option[value='{x['nat'][1]}']"
                        ).count() == 1
    birth = _lab(page, x["birth"])
    assert birth.get_attribute("type") == "text"
    expect(page.locator("#f-birth_date-hint0")).to_contain_text(
        "TT.MM.JJJJ" if lang == "de" else "DD.MM.YYYY")
    axe_check(page, f"intake form ({lang})")

    _lab(page, x["channel"][0]).select_option(label=x["channel"][1])
    _lab(page, x["first"]).press_sequentially("Amal")
    _lab(page, x["last"]).press_sequentially("Haddad")
    birth.press_sequentially("01.02.1990")
    _group(page, x["gender"][0]).get_by_label(x["gender"][1], exact=True).check()
    nat.press_sequentially(x["nat"][1])
    _group(page, x["langs"][0]).get_by_label(x["langs"][1], exact=True).check()
    _group(page, x["interp"][0]).get_by_label(x["interp"][1], exact=True).check()
    _lab(page, x["phone"]).press_sequentially("+49 521 123456")
    _lab(page, x["status"][0]).select_option(label=x["status"][1])
    _lab(page, x["size"]).press_sequentially("3")
    _lab(page, x["minors"]).press_sequentially("2")
    _group(page, x["urgent"][0]).get_by_label(x["urgent"][1], exact=True).check()
    _lab(page, x["reason"]).press_sequentially(
        "Beratung zu Sprachkurs und Arbeit")
    with page.expect_navigation():
        page.get_by_role("button", name=x["submit"], exact=True).click()
    assert "/tasks/" not in page.url, page.locator("#error-summary").all_inner_texts()

    (nxt,) = eng.tasks(instance_id=iid)
    data = S.task_data(eng, nxt["task_id"])
    assert data["nationality"] == "SYR" and data["languages"] == ["ar"]
    assert data["birth_date"] == "1990-02-01" and data["interpreter_needed"] is True
    assert data["household_size"] == 3 and data["minors_in_household"] == 2


def _children_process(eng) -> int:
    """A one-task process whose form has the P2 assessment's list of children (as shipped)
    and an amount in euros."""
    form = {"type": "object", "required": ["children", "rent"], "properties": {
        "children": {**P2["properties"]["children"], "minItems": 1},
        "rent": {"type": "number", "format": "eur", "title": "Miete (warm)",
                 "x-title-en": "Rent (gross)"}}}
    body = (B.user_task("Task_Kids", "Kinder erfassen", form="kids.json")
            + '<bpmn:startEvent id="Ev_Start"/><bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Kids") + B.flow("F2", "Task_Kids", "Ev_End"))
    xml = B.process("test_children_form", {"KIM_CM": ["Ev_Start", "Task_Kids", "Ev_End"]},
                    body)
    eng.deploy_files(B.files(kids__bpmn=xml, **{"kids__json": json.dumps(form)}))
    out = eng.start("test_children_form", {}, "KIDS-1", actor=Actor(user="cm.demo"))
    return out["instance_id"]


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_two_children_added_an_error_at_the_nested_field_and_an_amount(
        live_server, browser, page, eng, lang, javascript):
    x = TEXT[lang]
    iid = _children_process(eng)
    (task,) = eng.tasks(instance_id=iid)
    if not javascript:  # the data path needs no script: a context with JavaScript off
        page = browser.new_page(java_script_enabled=False)
    log_in(page, live_server, "cm.demo")
    url = f"{live_server.url}/tasks/{task['task_id']}?lang={lang}"
    page.goto(url)
    group = _group(page, x["children"])
    expect(group.locator(".lotse-repeat__empty")).to_be_visible()  # a clear empty state
    if javascript:  # axe is injected as a script; the same HTML is checked with JS on
        axe_check(page, f"children, empty ({lang})")
    for n in (1, 2):
        with page.expect_navigation():
            group.get_by_role("button", name=re.compile("^" + x["add"])).click()
        entry = page.locator(f"#f-children-{n - 1}")
        expect(entry).to_be_visible()
        if javascript:  # the new entry's first field has the focus
            expect(_lab(entry, x["kid_first"])).to_be_focused()
    if javascript:  # axe is injected as a script; the same HTML is checked with JS on
        axe_check(page, f"children, two entries ({lang})")
    first, second = page.locator("#f-children-0"), page.locator("#f-children-1")
    _lab(first, x["kid_first"]).press_sequentially("Lina")
    _lab(first, x["birth"]).press_sequentially("03.04.2016")
    _lab(first, x["school"][0]).select_option(label=x["school"][1])
    _lab(second, x["kid_first"]).press_sequentially("Omar")
    _lab(second, x["school"][0]).select_option(label=x["school"][2])
    page.get_by_label(re.compile("^" + x["rent"])).press_sequentially("1.850,00")
    with page.expect_navigation():
        page.get_by_role("button", name=x["submit"], exact=True).click()
    # Omar's birth date is missing: at the field and, linked, in the summary
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text(x["errors"])
    link = summary.locator("a[href='#f-children-1-child_birth_date']")
    expect(link).to_have_count(1)
    expect(page.locator("#f-children-1-child_birth_date-error")).to_be_visible()
    expect(page.locator("#f-children-1-child_birth_date")).to_have_attribute(
        "aria-invalid", "true")
    # what was typed is shown again as typed
    expect(_lab(first, x["birth"])).to_have_value("03.04.2016")
    expect(page.get_by_label(re.compile("^" + x["rent"]))).to_have_value("1.850,00")
    if javascript:  # axe is injected as a script; the same HTML is checked with JS on
        axe_check(page, f"children, error ({lang})")
    link.click()
    second = page.locator("#f-children-1")
    _lab(second, x["birth"]).press_sequentially("05.06.2019")
    with page.expect_navigation():
        page.get_by_role("button", name=x["submit"], exact=True).click()
    assert "/tasks/" not in page.url, page.locator("#error-summary").all_inner_texts()
    with eng.db.reader() as s:
        from engine.models import ProcessInstance

        inst = s.get(ProcessInstance, iid)
        assert inst is not None and inst.status == "completed", inst and inst.status
    done = eng.show(iid)["data"]
    assert done["children"] == [
        {"child_first_name": "Lina", "child_birth_date": "2016-04-03",
         "school_status": "attending"},
        {"child_first_name": "Omar", "child_birth_date": "2019-06-05",
         "school_status": "too_young"}]
    assert done["rent"] == 1850
