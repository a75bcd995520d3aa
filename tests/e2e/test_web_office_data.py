"""Issue 14.1: the receiving office sees the data the case manager shared - exactly the
categories its active consent names - on the case page, the task page and the REST API,
and every read is logged as ``data.read`` with its categories (never values).

One case, three referrals through the shipped catalogue (kim_single_referral -> the one
office_referral, its lane the office), consents for JC, ABH and AA with different categories; SQLite
and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import clock as engine_clock
from engine.models import AuditEvent
from tests.integration import test_catalogue_support as S
from tests.web_support import make_app, token_for
from tests.web_support import signed_in as _browser
from web import accounts

CASE = "K-14"
PERSON = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12",
          "phone": "+49 521 550001", "residence_status": "Aufenthaltserlaubnis-befristet",
          "german_level": "B1-Zertifikat", "employment_status": "arbeitsuchend-seit-2025",
          "income": 1387, "housing_situation": "Gemeinschaftsunterkunft",
          "health_needs": "Diabetes Typ 2", "interview_summary": "vertraulich-notiz"}
# field -> its value as the pages show it (the values are unique strings on purpose)
SHOWN = {"first_name": "Amal", "last_name": "Haddad", "phone": "+49 521 550001",
         "residence_status": "Aufenthaltserlaubnis-befristet", "german_level": "B1-Zertifikat",
         "employment_status": "arbeitsuchend-seit-2025", "income": "1387",
         "housing_situation": "Gemeinschaftsunterkunft",
         "health_needs": "Diabetes Typ 2", "interview_summary": "vertraulich-notiz"}
CATEGORY = {"first_name": "IDENT", "last_name": "IDENT", "birth_date": "IDENT",
            "phone": "CONTACT", "residence_status": "RESIDENCE", "german_level": "EDU",
            "employment_status": "WORK", "income": "FINANCE", "housing_situation": "HOUSING",
            "health_needs": "HEALTH", "interview_summary": "CM_NOTES"}
# office -> (user, purpose, consented categories, includes_health)
OFFICES = {
    "JC": ("jc.demo", "JC:SGB2", ["IDENT", "CONTACT", "FINANCE", "HEALTH"], True),
    "ABH": ("abh.demo", "ABH:AUFENTHALT", ["IDENT", "RESIDENCE"], False),
    "AA": ("aa.demo", "AA:VERMITTLUNG", ["IDENT", "EDU", "WORK"], False),
}
LABELS = {"IDENT": "Identität", "CONTACT": "Kontakt", "RESIDENCE": "Aufenthaltsrecht",
          "FAMILY": "Haushalt", "EDU": "Sprache und Bildung", "WORK": "Arbeit",
          "FINANCE": "Finanzen", "HOUSING": "Wohnen", "HEALTH": "Gesundheit (Art. 9 DSGVO)",
          "YOUTH": "Jugendhilfe (§ 65 SGB VIII)", "PLAN": "Hilfeplan",
          "CM_NOTES": "Notizen des Fallmanagements"}


def seed(engine) -> dict[str, str]:
    """The case with three referrals; returns office -> its open Task_AckReferral id."""
    with engine_clock.using(engine.clock):
        S.deploy_catalogue(engine)
        consents = [S.grant(engine, CASE, office, purpose, cats, includes_health=health)
                    for office, (_, purpose, cats, health) in OFFICES.items()]
        for office, (_, purpose, _, _) in OFFICES.items():
            engine.start("kim_single_referral",
                         {"case_id": CASE, "consents": consents, "person": dict(PERSON),
                          "referral": {"office": office, "purpose": purpose,
                                       "requested_service": f"Bitte prüfen ({office})"}},
                         case_ref=CASE)
        return {o: S.find(engine, o, "Task_AckReferral")["task_id"] for o in OFFICES}


@pytest.fixture
def office_case(engine, tmp_path):
    app = make_app(engine, tmp_path)
    accounts.create_user(engine.db, "aa.demo", roles=("caseworker",), offices=("AA",),
                         password_hash=accounts.hash_password("lotse-demo"))
    return app, engine, seed(engine)


def _reads(engine, actor: str) -> list[AuditEvent]:
    with engine.db.reader() as s:
        return [e for e in s.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "data.read", AuditEvent.actor == actor)
            .order_by(AuditEvent.id)) if e.details.get("case_id") == CASE]


def _expected(office: str) -> tuple[set[str], set[str]]:
    """(fields the office must see, fields it must not see)."""
    cats = set(OFFICES[office][2])
    seen = {f for f, c in CATEGORY.items() if c in cats and f in SHOWN}
    return seen, set(SHOWN) - seen


def _leaf_values(data) -> dict:
    """Every field name -> value at any depth of a JSON answer."""
    out: dict = {}
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, dict):
                out.update(_leaf_values(v))
            else:
                out[k] = v
    return out


def test_each_office_sees_exactly_its_categories_everywhere_and_each_read_is_logged(
        office_case):
    app, engine, tasks = office_case
    for office, (user, purpose, cats, _) in OFFICES.items():
        seen, unseen = _expected(office)
        released = set(cats)
        browser = _browser(app, user)
        headers = token_for(app, user)
        # the case page
        page = case_page = browser.get(f"/cases/{CASE}").get_data(as_text=True)
        for f in seen:
            assert SHOWN[f] in page, (office, "case page", f)
        for f in unseen:
            assert SHOWN[f] not in page, (office, "case page", f)
        for cat, label in LABELS.items():
            named = f"{label}: nicht freigegeben"
            assert (named in page) == (cat not in released), (office, "case page", cat)
        # the task page
        r = browser.get(f"/tasks/{tasks[office]}")
        assert r.status_code == 200
        page = r.get_data(as_text=True)
        for f in seen:
            assert SHOWN[f] in page, (office, "task page", f)
        for f in unseen:
            assert SHOWN[f] not in page, (office, "task page", f)
        for cat, label in LABELS.items():
            named = f"{label}: nicht freigegeben"
            assert (named in page) == (cat not in released), (office, "task page", cat)
        # the REST API: the task and the case
        r = browser.get(f"/api/tasks/{tasks[office]}", headers=headers)
        assert r.status_code == 200
        body = r.get_json()
        leaves = _leaf_values(body["data"])
        assert {f for f in SHOWN if f in leaves} == seen, (office, "api task")
        assert {c["category"] for c in body["not_shared"]} == (set(LABELS) - released)
        r = browser.get(f"/api/cases/{CASE}", headers=headers)
        assert r.status_code == 200
        # what is not shared, by code and German name, as the case page names it; no values
        named_on_page = [c for c in LABELS if f"{LABELS[c]}: nicht freigegeben" in case_page]
        assert r.get_json()["not_shared"] == [{"category": c, "label": LABELS[c]}
                                              for c in named_on_page], office
        assert {c for c in named_on_page} == set(LABELS) - released
        (inst,) = r.get_json()["instances"]
        leaves = _leaf_values(inst["data"])
        assert {f for f in SHOWN if f in leaves} == seen, (office, "api case")
        assert leaves["first_name"] == "Amal"
        # one data.read per read, naming the categories, never values
        reads = _reads(engine, user)
        assert [e.details["channel"] for e in reads] == ["page", "page", "api", "api"], office
        person_cats = {CATEGORY[f] for f in seen}
        for e in reads:
            assert e.office == office
            assert e.details["purposes"] == [purpose]
            # REFERRAL: the office's own referral protocol data (received_at, ...), seen on
            # the referral's own basis, not a consent category
            assert person_cats <= set(e.details["categories"]) <= released | {"REFERRAL"}, \
                (office, e.details)
            assert {f"shared_data.{f}" for f in seen} <= set(e.details["fields"])
            blob = json.dumps(e.details, ensure_ascii=False)
            for v in SHOWN.values():
                assert v not in blob
        assert reads[1].details["task_id"] == tasks[office]
        assert reads[2].details["task_id"] == tasks[office]


def test_asking_for_categories_cuts_inside_the_shared_data_too(office_case):
    app, engine, _ = office_case
    headers = token_for(app, "jc.demo")
    client = app.test_client()
    r = client.get(f"/api/cases/{CASE}/data?category=FINANCE", headers=headers)
    assert r.status_code == 200 and r.get_json()["categories"] == ["FINANCE"]
    (inst,) = r.get_json()["instances"]
    assert inst["data"]["shared_data"] == {"income": 1387}
    assert {f for f in SHOWN if f in _leaf_values(inst["data"])} == {"income"}
    (read,) = _reads(engine, "jc.demo")
    assert read.details["categories"] == ["FINANCE"]
    assert set(read.details["fields"]) == {"shared_data.income", "referral.data.income"}
    r = client.get(f"/api/cases/{CASE}/data?category=RESIDENCE", headers=headers)
    assert r.status_code == 403 and r.get_json()["error"] == "CONSENT_SCOPE"


def test_the_office_sees_what_its_own_referral_protocol_recorded(office_case):
    """Issue 14: what the receiving office's P0 sets (received_at, office_reference,
    expected_result_date, ...) is referral process data (REFERRAL): the office that wrote it
    sees it on the case page, the task page and the API although its consent (ABH: IDENT,
    RESIDENCE) names no such category; the case manager sees it too; another office does not;
    the reads name REFERRAL, never the values."""
    app, engine, tasks = office_case
    ref_no = "ABH-AZ-4711-XQ"
    with engine_clock.using(engine.clock):
        due = engine.now().date().isoformat()
        out = engine.complete(tasks["ABH"], {"responsible": True, "office_reference": ref_no,
                                              "expected_result_date": due})
    assert out["status"] != "error", out
    work = S.find(engine, "ABH", "Task_ProcessReferral", case_ref=CASE)["task_id"]
    browser = _browser(app, "abh.demo")
    headers = token_for(app, "abh.demo")
    for url in (f"/cases/{CASE}", f"/tasks/{work}"):
        page = browser.get(url).get_data(as_text=True)
        assert ref_no in page, url
        assert 'data-key="office_reference"' in page or "Aktenzeichen" in page, url
        assert "Vermittlungsvorgang: nicht freigegeben" not in page, url
        assert "Haushalt: nicht freigegeben" in page, url  # FAMILY is still not released
    body = browser.get(f"/api/cases/{CASE}", headers=headers).get_json()
    (inst,) = body["instances"]
    assert inst["data"]["office_reference"] == ref_no
    assert inst["data"]["expected_result_date"] == due
    assert "received_at" in inst["data"]
    assert "REFERRAL" in body["categories"]
    r = browser.get(f"/api/cases/{CASE}/data?category=REFERRAL", headers=headers)
    assert r.status_code == 200
    (inst,) = r.get_json()["instances"]
    assert inst["data"]["office_reference"] == ref_no and "shared_data" not in inst["data"]
    api_task = browser.get(f"/api/tasks/{work}", headers=headers).get_json()
    assert api_task["data"]["office_reference"] == ref_no
    assert "REFERRAL" not in {c["category"] for c in api_task["not_shared"]}
    reads = _reads(engine, "abh.demo")
    assert len(reads) == 5
    for e in reads:
        assert "REFERRAL" in e.details["categories"], e.details
        assert ref_no not in json.dumps(e.details)
    assert "office_reference" in reads[0].details["fields"]
    # the case manager sees the office's answer; JC (another office of the case) does not
    cm = _browser(app, "cm.demo")
    assert ref_no in cm.get(f"/cases/{CASE}").get_data(as_text=True)
    jc = _browser(app, "jc.demo")
    assert ref_no not in jc.get(f"/cases/{CASE}").get_data(as_text=True)
    r = jc.get(f"/api/cases/{CASE}", headers=token_for(app, "jc.demo"))
    assert ref_no not in r.get_data(as_text=True)


def test_a_consent_cannot_name_the_referral_category(office_case):
    app, _engine, _ = office_case
    cm = _browser(app, "cm.demo")
    page = cm.get(f"/cases/{CASE}").get_data(as_text=True)
    assert 'value="REFERRAL"' not in page  # not offered in the consent form
    r = cm.post(f"/api/cases/{CASE}/consents", headers=token_for(app, "cm.demo"),
                json={"office": "JC", "purpose": "JC:SGB2", "categories": ["REFERRAL"],
                      "valid_from": "2026-01-01", "valid_until": "2026-06-30"})
    assert r.status_code == 400, r.get_json()


# ---------------------------------------------------------------- the task page in Chromium
@pytest.fixture
def office_server(sqlite_db, clock, tmp_path):
    from processes.wiring import build_engine
    from tests.web_support import LiveServer

    eng, _ = build_engine(sqlite_db, clock=clock)
    tasks = seed(eng)
    with LiveServer(make_app(eng, tmp_path)) as server:
        yield server, eng, tasks


@pytest.mark.browser
def test_task_page_of_a_receiving_office_in_chromium(office_server, page, blocked_requests,
                                                     page_errors):
    from playwright.sync_api import expect

    from tests.e2e.browser_helpers import axe_check, log_in

    server, engine, tasks = office_server
    log_in(page, server, "abh.demo")
    assert page.goto(f"{server.url}/tasks/{tasks['ABH']}").status == 200
    section = page.locator("#case-data")
    expect(section.get_by_role("heading", name="Freigegebene Falldaten")).to_be_visible()
    for field in ("first_name", "last_name", "residence_status"):
        expect(section.get_by_text(SHOWN[field], exact=True).first).to_be_visible()
    text = section.inner_text()
    for field in ("phone", "income", "health_needs", "german_level", "interview_summary"):
        assert SHOWN[field] not in page.content(), field
    named = [li.inner_text() for li in section.locator("[data-category]").all()]
    assert named == [f"{LABELS[c]}: nicht freigegeben" for c in LABELS
                     if c not in ("IDENT", "RESIDENCE")]
    assert "Gesundheit (Art. 9 DSGVO): nicht freigegeben" in text
    assert page.locator("html").get_attribute("lang") == "de"
    axe_check(page, "task page of a receiving office")
    (read,) = [e for e in _reads(engine, "abh.demo") if e.details["channel"] == "page"]
    assert read.details["task_id"] == tasks["ABH"]
    assert set(read.details["categories"]) == {"IDENT", "RESIDENCE", "REFERRAL"}
    assert blocked_requests == []
    assert page_errors == []
