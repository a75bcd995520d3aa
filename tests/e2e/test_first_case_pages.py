"""The first steps of a new KIM case through the pages, on the shipped catalogue (issue 15.0):
every office the intake's first tasks reach has a demo account that can open its task."""

from __future__ import annotations

import pytest

from engine import clock as engine_clock
from tests.integration import test_catalogue_support as S
from tests.web_support import login, make_app
from web.demo_users import DEMO_USERS

WORKER_ROLES = {"caseworker", "case_manager", "team_lead"}


@pytest.fixture
def app(engine, tmp_path):
    with engine_clock.using(engine.clock):
        S.deploy_catalogue(engine)
    return make_app(engine, tmp_path)


def _demo_worker(office: str) -> str | None:
    return next((n for n, roles, offices in DEMO_USERS
                 if office in offices and set(roles) & WORKER_ROLES), None)


def test_every_office_of_the_intakes_first_tasks_has_a_demo_account(app, engine):
    """A new inquiry (P1, not a walk-in) goes to KIM coordination for recording and
    allocation; a demo account of that office opens the task."""
    with engine_clock.using(engine.clock):
        iid = engine.start("kim_intake_clearing", {}, "K-FIRST-1")["instance_id"]
    (first,) = engine.tasks(instance_id=iid)
    assert (first["office"], first["element_id"]) == ("KIM_KO", "Task_RecordInquiry")
    who = _demo_worker(first["office"])
    assert who == "ko.demo"
    c = app.test_client()
    assert login(c, who).status_code == 302
    r = c.get(f"/tasks/{first['task_id']}")
    assert r.status_code == 200 and "Anfrage erfassen" in r.text
    # the allocation reminder goes to the KIM_KO team lead: there is one
    assert ("lead.ko", ("team_lead",), ("KIM_KO",)) in DEMO_USERS
    # the lanes of the intake's user tasks all have an account (KIM_KO, KIM_CM)
    for office in ("KIM_KO", "KIM_CM"):
        assert _demo_worker(office), office


# ---------------------------------------------------------------- a. instructions
PERSON = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12"}
JC = {"office": "JC", "purpose": "JC:SGB2", "requested_service": "Bürgergeld prüfen"}


def _support_plan(engine, ref: str, **assessment) -> int:
    from processes import demo_catalogue as D

    with engine_clock.using(engine.clock):
        S.grant(engine, ref, "KIM_CM", "KIM_CM:CASE_MANAGEMENT",
                ["IDENT", "CONTACT", "RESIDENCE", "FAMILY", "EDU", "WORK", "FINANCE",
                 "HOUSING", "PLAN"])
        iid = engine.start("kim_support_plan", {"case_id": ref, "case_opened": D.days_ago(0),
                                                "person": PERSON, **PERSON},
                           case_ref=ref)["instance_id"]
        S.complete(engine, "KIM_CM", "Task_Assessment", D.assessment_data(**assessment), iid)
    return iid


def _instructions(c, task_id: str) -> str:
    r = c.get(f"/tasks/{task_id}")
    assert r.status_code == 200
    return r.text.split('id="instructions-heading"', 1)[1].split("</section>", 1)[0]


def test_instructions_fill_placeholders_from_the_tasks_data(app, engine):
    """The consent step of the support plan names the office of its loop item (the task's
    own data, not the instance's) by name; suggestions read as sentences; an empty list of
    referrals says "keine" instead of an empty label."""
    from processes import demo_catalogue as D

    with engine_clock.using(engine.clock):
        iid = _support_plan(engine, "K-INS-1", permit_valid_until=D.days_ahead(30))
    c = app.test_client()
    assert login(c, "cm.demo").status_code == 302
    plan = S.find(engine, "KIM_CM", "Task_SupportPlan", iid)
    text = _instructions(c, plan["task_id"])
    assert "Vorschläge: Ausländerbehörde: Titel läuft in höchstens 56 Tagen ab" in text
    assert "{{" not in text and "{&#39;" not in text and "{'" not in text
    with engine_clock.using(engine.clock):
        engine.complete(plan["task_id"], D.plan_data([JC]))
    consent = S.find(engine, "KIM_CM", "Task_RecordConsentPerOffice", iid)
    text = _instructions(c, consent["task_id"])
    assert "Einwilligung für Jobcenter / JC:SGB2." in text, text
    assert "{{" not in text
    with engine_clock.using(engine.clock):
        engine.complete(consent["task_id"], {"consent_given": False})
    review = S.find(engine, "KIM_CM", "Task_ReviewResults", iid)
    text = _instructions(c, review["task_id"])
    assert "Vermittlungen: keine" in text, text


def test_an_empty_suggestion_list_says_keine(app, engine):
    iid = _support_plan(engine, "K-INS-2")
    c = app.test_client()
    assert login(c, "cm.demo").status_code == 302
    plan = S.find(engine, "KIM_CM", "Task_SupportPlan", iid)
    assert S.task_data(engine, plan["task_id"])["suggested_referrals"] == []
    assert "Vorschläge: keine" in _instructions(c, plan["task_id"])


# ---------------------------------------------------------------- c. "Fall starten"
def test_start_offers_only_hand_started_processes_with_the_intake_first(app, engine):
    """The case manager is offered the processes a person starts (a plain start event in a
    lane of KIM_CM, or the intake, whose walk-ins KIM_CM records), never the message-started
    office protocols; the intake comes first and is chosen; KIM coordination gets the
    intake too; an internal process cannot be opened by its URL either."""
    import re

    c = app.test_client()
    assert login(c, "cm.demo").status_code == 302
    page = c.get("/start").text
    offered = re.findall(r'<option value="([^"]+)"', page)
    assert offered[0] == "kim_intake_clearing"
    assert re.search(r'<option value="kim_intake_clearing"\s+selected', page)
    assert "kim_intake_request" not in offered and "kim_permit_watch" not in offered
    assert not [p for p in offered if p.startswith("office_referral")]
    assert "kim_housing_court_notice" not in offered
    assert {"kim_support_plan", "kim_case_closure", "kim_single_referral"} <= set(offered)
    assert c.get("/start?process=kim_intake_request").status_code == 403
    ko = app.test_client()
    assert login(ko, "ko.demo").status_code == 302
    assert re.findall(r'<option value="([^"]+)"', ko.get("/start").text) == [
        "kim_intake_clearing"]
    # the case manager starts the intake: the inquiry goes to KIM coordination
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = c.post("/start", data={"csrf_token": token, "process_id": "kim_intake_clearing",
                               "case_ref": "K-START-1"})
    assert r.status_code == 302, r.text[:2000]
    (task,) = [t for t in engine.tasks(office="KIM_KO") if t["case_ref"] == "K-START-1"]
    assert task["element_id"] == "Task_RecordInquiry"


# ---------------------------------------------------------------- d. whose case, prefill
def test_task_page_shows_whose_case_and_prefills_what_is_known(app, engine):
    """The case manager's assessment names the case and the person (the base consent
    covers identity) and preselects the residence status the inquiry recorded; KIM
    coordination, which may not read the case's personal data, sees the case reference but
    no name on its allocation task."""
    import re

    from processes import demo_catalogue as D

    with engine_clock.using(engine.clock):
        S.grant(engine, "K-WHO-1", "KIM_CM", "KIM_CM:CASE_MANAGEMENT",
                ["IDENT", "CONTACT", "RESIDENCE", "FAMILY"])
        iid = engine.start("kim_support_plan", {
            "case_id": "K-WHO-1", "case_opened": D.days_ago(0), "person": PERSON, **PERSON,
            "residence_status": "aufenthaltserlaubnis"}, case_ref="K-WHO-1")["instance_id"]
    task = S.find(engine, "KIM_CM", "Task_Assessment", iid)
    c = app.test_client()
    assert login(c, "cm.demo").status_code == 302
    page = c.get(f"/tasks/{task['task_id']}").text
    assert re.search(r'id="task-person">Amal Haddad<', page)
    assert "K-WHO-1" in page
    assert re.search(r'<option value="aufenthaltserlaubnis"\s+selected', page)
    assert not re.search(r'<option value="duldung"\s+selected', page)

    with engine_clock.using(engine.clock):
        pid = engine.start("kim_intake_clearing", {}, "K-WHO-2")["instance_id"]
        S.complete(engine, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(0), pid)
    alloc = S.find(engine, "KIM_KO", "Task_AllocateCase", pid)
    first = D.inquiry_data(0)["first_name"]
    ko = app.test_client()
    assert login(ko, "ko.demo").status_code == 302
    page = ko.get(f"/tasks/{alloc['task_id']}").text
    assert "K-WHO-2" in page and 'id="task-person"' not in page and first not in page
    # the case manager, once allocated, sees the name on the interview
    with engine_clock.using(engine.clock):
        engine.complete(alloc["task_id"], D.allocation_data("cm.demo"))
    interview = S.find(engine, "KIM_CM", "Task_IntakeInterview", pid)
    page = c.get(f"/tasks/{interview['task_id']}").text
    assert re.search(rf'id="task-person">{first} ', page), page[:200]


# ---------------------------------------------------------------- e. case page in words
def test_case_page_shows_titles_and_words_not_keys_and_json(app, engine):
    """Field titles from the form schemas (a process variable by its name), Ja/Nein, enum
    labels, lists in a line: no snake_case key, no JSON, no True."""
    import re

    from processes import demo_catalogue as D

    with engine_clock.using(engine.clock):
        S.grant(engine, "K-WORDS-1", "KIM_CM", "KIM_CM:CASE_MANAGEMENT",
                ["IDENT", "CONTACT", "RESIDENCE", "FAMILY"])
        pid = engine.start("kim_intake_clearing", {}, "K-WORDS-1")["instance_id"]
        S.complete(engine, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(0), pid)
    c = app.test_client()
    assert login(c, "cm.demo").status_code == 302
    r = c.get("/cases/K-WORDS-1")
    assert r.status_code == 200
    section = r.text.split('id="case-data', 1)[-1] if 'id="case-data' in r.text else r.text
    keys = re.findall(r'<dt class="kern-description-list-item__key">([^<]*)</dt>', r.text)
    assert "Fallnummer" in keys and "Geschlecht" in keys, keys
    assert not [k for k in keys if re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", k.strip())], keys
    values = re.findall(r'<dd class="kern-description-list-item__value">([^<]*)</dd>', section)
    assert not [v for v in values if v.strip() in ("True", "False", "None")], values
    assert not [v for v in values if v.strip().startswith(("[", "{"))], values
    gender = D.inquiry_data(0)["gender"]
    assert {"f": "weiblich", "m": "männlich"}[gender] in values
