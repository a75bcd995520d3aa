"""Data protection on the server (issue 7, web side), through the Flask test client on
SQLite and PostgreSQL: read logging (DP-11), consent-gated visibility (DP-03/04),
CONSENT_MISSING (409), consents and revocation (DP-06) through the API and the pages,
auditor views without personal values, audit verification against SQL tampering, the
Art. 15 access report and the test clock."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from engine.models import AuditEvent
from engine.runtime import Actor
from processes.referrals import list_referrals
from tests import bpmn_builder as B
from tests.conftest import BPMN_DIR
from tests.referral_models import _throw, office_process
from tests.timer_models import intermediate_process
from tests.web_support import base_consent, refer, token_for
from tests.web_support import signed_in as browser_for

CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}
NAMES = ("Amal", "Haddad")
CM = Actor(user="cm.demo", offices=frozenset({"KIM_CM"}))


# ---------------------------------------------------------------- helpers
@pytest.fixture
def api(web_app):
    c = web_app.test_client()
    c.h = {n: token_for(web_app, n) for n in ("cm.demo", "abh.demo", "jc.demo", "lead.jc",
                                              "auditor.demo", "admin.demo", "dpo.demo")}
    return c


def start_case(eng, ref, data=CASE):
    out = eng.start("kim_first_referral", {}, ref, actor=CM)
    tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
    eng.complete(tid, dict(data), actor=CM)
    return out["instance_id"]


def entries(eng, event_type=None, **where) -> list[AuditEvent]:
    with eng.db.reader() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if event_type:
            q = q.where(AuditEvent.event_type == event_type)
        rows = s.scalars(q).all()
    return [e for e in rows if all(e.details.get(k) == v for k, v in where.items())]


def assert_no_values_in_log(eng, *values):
    """DP-12: no personal value anywhere in the audit log."""
    for e in entries(eng):
        blob = json.dumps(e.details, ensure_ascii=False)
        for v in values:
            assert v not in blob, (e.event_type, e.details)


def referral_process() -> str:
    """KIM_CM prepares a referral to JC (a user task), then sends it and waits."""
    prepare = 'referral_id = case_id + "-R1"\noffice = "JC"\npurpose = "JC:SGB2"'
    payload = ('{"referral_id": referral_id, "case_id": case_id, "office": office, '
               '"purpose": purpose, "data": {"first_name": first_name, "income": income, '
               '"health_needs": health_needs, "notes": notes}}')
    # the start data the API sends (REF_DATA), declared as the process's data inputs
    inputs = ("case_id", "first_name", "income", "health_needs", "notes")
    io = ('<bpmn:ioSpecification id="Io">'
          + "".join(f'<bpmn:dataInput id="In_{n}" name="{n}"/>' for n in inputs)
          + '<bpmn:inputSet id="IS"/><bpmn:outputSet id="OS"/></bpmn:ioSpecification>')
    body = (io + '<bpmn:startEvent id="Ev_Start"/>'
            + B.user_task("Task_Prepare", "Vermittlung vorbereiten")
            + B.script_task("Task_Ids", prepare)
            + _throw("Msg_Send", "M_sent", payload)
            + B.user_task("Task_Wait", "Rückmeldung abwarten")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Prepare") + B.flow("F2", "Task_Prepare", "Task_Ids")
            + B.flow("F3", "Task_Ids", "Msg_Send") + B.flow("F4", "Msg_Send", "Task_Wait")
            + B.flow("F5", "Task_Wait", "Ev_End"))
    doc = B.process("test_dp_referral", {"KIM_CM": ["Ev_Start", "Task_Prepare", "Task_Ids",
                                                    "Msg_Send", "Task_Wait", "Ev_End"]}, body)
    msgs = ('<bpmn:message id="M_sent" name="referral_sent"/>'
            '<bpmn:message id="M_ack" name="referral_acknowledged"/>'
            '<bpmn:message id="M_result" name="referral_result"/>')
    return doc.replace("</bpmn:process>", "</bpmn:process>" + msgs)


def instructions_process() -> str:
    """A JC task whose instructions name identity and health fields."""
    task = ('<bpmn:userTask id="Task_Check" name="Anspruch prüfen"><bpmn:extensionElements>'
            "<spiffworkflow:instructionsForEndUser>Für: {{ last_name }}, {{ first_name }}; "
            "Gesundheit: {{ health_needs }}</spiffworkflow:instructionsForEndUser>"
            "</bpmn:extensionElements></bpmn:userTask>")
    body = ('<bpmn:startEvent id="Ev_Start"/>' + task + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Check") + B.flow("F2", "Task_Check", "Ev_End"))
    return B.process("test_dp_instructions", {"JC": ["Ev_Start", "Task_Check", "Ev_End"]}, body)


REF_DATA = {"case_id": "R-1", "first_name": "Amal", "income": 450,
            "health_needs": "diabetes", "notes": "private note"}


def deploy_referral(eng):
    eng.deploy_files(B.files(cm__bpmn=referral_process(), office__bpmn=office_process("JC")))
    eng.deploy([BPMN_DIR / "kim_consent_followup"])


# ---------------------------------------------------------------- visibility and read log
def test_reads_are_logged_with_categories_and_never_values(web_app, eng, api):
    iid = start_case(eng, "L-1")
    base_consent(eng, "L-1", ["IDENT", "CONTACT", "RESIDENCE"])
    cm = browser_for(web_app, "cm.demo")
    assert "Amal" in cm.get("/cases/L-1").text
    (page,) = entries(eng, "data.read", case_id="L-1")
    assert page.actor == "cm.demo" and page.office == "KIM_CM"
    assert page.details["channel"] == "page" and page.details["route"] == "/cases/<path:case_ref>"
    assert {"first_name", "last_name", "residence_status"} <= set(page.details["fields"])
    assert set(page.details["categories"]) == {"IDENT", "RESIDENCE", "CM_NOTES"}  # no EDU
    assert page.details["instances"] == [iid]
    assert page.details["purposes"] == ["KIM_CM:CASE_MANAGEMENT"]
    # the API answers are logged the same way
    r = api.get(f"/api/process-instances/{iid}", headers=api.h["cm.demo"])
    assert r.status_code == 200 and r.json["data"]["first_name"] == "Amal"
    r = api.get("/api/cases/L-1", headers=api.h["cm.demo"])
    assert r.status_code == 200 and r.json["instances"][0]["data"]["last_name"] == "Haddad"
    reads = entries(eng, "data.read", case_id="L-1")
    assert [e.details["channel"] for e in reads] == ["page", "api", "api"]
    # an answer without case data writes nothing; a failed one neither
    before = len(entries(eng))
    assert api.get("/api/offices", headers=api.h["cm.demo"]).status_code == 200
    assert api.get("/api/cases/NOPE-1", headers=api.h["cm.demo"]).status_code == 404
    assert len(entries(eng)) == before
    assert_no_values_in_log(eng, *NAMES, "1990-04-01")


def test_office_without_referral_gets_404_and_the_refusal_is_logged(web_app, eng, api):
    iid = start_case(eng, "V-1")  # JC has a task in this instance, but no referral
    jc = browser_for(web_app, "jc.demo")
    assert jc.get("/cases/V-1").status_code == 404
    assert jc.get(f"/instances/{iid}").status_code == 404
    assert jc.get(f"/instances/{iid}/diagram.bpmn").status_code == 404
    assert api.get("/api/cases/V-1", headers=api.h["jc.demo"]).status_code == 404
    r = api.get(f"/api/process-instances/{iid}", headers=api.h["jc.demo"])
    assert r.status_code == 404 and r.json["error"] == "INSTANCE_NOT_FOUND"
    denied = entries(eng, "data.read_denied", case_id="V-1")
    assert len(denied) == 5 and {e.actor for e in denied} == {"jc.demo"}
    assert {e.office for e in denied} == {"JC"}
    assert {e.details["reason"] for e in denied} == {"no_referral_or_consent"}
    assert not entries(eng, "data.read", case_id="V-1")
    # a consent alone is not enough (need-to-know: no referral) ...
    from processes.consent import record_consent

    record_consent(eng, case_id="V-1", office="JC", purpose="JC:SGB2", categories=["IDENT"],
                   valid_from=date(2026, 1, 1), valid_until=date(2027, 1, 1))
    assert jc.get("/cases/V-1").status_code == 404
    # ... and a referral without an active consent neither (ABH)
    c = refer(eng, "V-1", "ABH", "ABH:AUFENTHALT", ["IDENT"])
    from processes.consent import revoke_consent

    revoke_consent(eng, c["consent_id"])
    assert browser_for(web_app, "abh.demo").get("/cases/V-1").status_code == 404
    # the task page still works for JC (its work), without the case's data
    tid = eng.tasks(office="JC")[0]["task_id"]
    assert jc.get(f"/tasks/{tid}").status_code == 200
    # another office's task is a refused read too
    abh_tid = eng.tasks(office="ABH")[0]["task_id"]
    assert jc.get(f"/tasks/{abh_tid}").status_code == 404
    assert api.get(f"/api/tasks/{abh_tid}", headers=api.h["jc.demo"]).status_code == 404
    refused = entries(eng, "data.read_denied", reason="another_office_task")
    assert [e.details["task_id"] for e in refused] == [abh_tid, abh_tid]
    assert {e.details["case_id"] for e in refused} == {"V-1"}
    assert jc.get("/tasks/not-a-task").status_code == 404  # nothing to log
    assert len(entries(eng, "data.read_denied", reason="another_office_task")) == 2


def test_fields_outside_the_consent_are_left_out_and_explicit_asks_are_403(web_app, eng, api):
    iid = start_case(eng, "S-1")
    refer(eng, "S-1", "JC", "JC:SGB2", ["IDENT"])
    r = api.get("/api/cases/S-1", headers=api.h["jc.demo"])
    # REFERRAL: the referral's own process data, no consent category (issue 14)
    assert r.status_code == 200 and r.json["categories"] == ["IDENT", "REFERRAL"]
    (inst,) = r.json["instances"]
    assert inst["instance_id"] == iid and inst["data"]["first_name"] == "Amal"
    assert "residence_status" not in inst["data"] and "case_summary" not in inst["data"]
    assert inst["hidden_fields"] >= 2
    page = browser_for(web_app, "jc.demo").get("/cases/S-1").text
    assert "Amal" in page and "Befristete Aufenthaltserlaubnis" not in page
    assert "Einwilligung deckt sie" in page
    # explicit categories: inside the scope 200, outside 403 CONSENT_SCOPE
    r = api.get("/api/cases/S-1/data?category=IDENT", headers=api.h["jc.demo"])
    assert r.status_code == 200 and r.json["categories"] == ["IDENT"]
    assert set(r.json["instances"][0]["data"]) <= {"first_name", "last_name", "birth_date",
                                                   "nationality", "case_id"}
    for cat in ("HEALTH", "RESIDENCE", "CM_NOTES"):
        r = api.get(f"/api/cases/S-1/data?category={cat}", headers=api.h["jc.demo"])
        assert r.status_code == 403 and r.json["error"] == "CONSENT_SCOPE", r.json
        assert r.json["categories"] == [cat]
    refused = entries(eng, "data.read_denied", case_id="S-1")
    assert [e.details["categories"] for e in refused] == [["HEALTH"], ["RESIDENCE"],
                                                         ["CM_NOTES"]]
    assert {e.details["reason"] for e in refused} == {"consent_scope"}
    r = api.get("/api/cases/S-1/data?category=NOPE", headers=api.h["jc.demo"])
    assert r.status_code == 400 and r.json["error"] == "INVALID_INPUT"
    # the case manager without a base consent: identity and contact only
    r = api.get("/api/cases/S-1/data?category=RESIDENCE", headers=api.h["cm.demo"])
    assert r.status_code == 403 and r.json["error"] == "CONSENT_SCOPE"
    base_consent(eng, "S-1", ["IDENT", "RESIDENCE"])
    r = api.get("/api/cases/S-1/data?category=RESIDENCE", headers=api.h["cm.demo"])
    assert r.status_code == 200
    assert r.json["instances"][0]["data"]["residence_status"] == "temporary"
    r = api.get("/api/cases/S-1/data?category=HEALTH", headers=api.h["cm.demo"])
    assert r.status_code == 403  # health only with the explicit health consent
    # auditors never get values
    r = api.get("/api/cases/S-1/data", headers=api.h["auditor.demo"])
    assert r.status_code == 403 and r.json["error"] == "FORBIDDEN"
    # the case itself: masked values and no "not shared" list for auditors; the JC worker
    # gets its list, the categories only (issue 14)
    r = api.get("/api/cases/S-1", headers=api.h["auditor.demo"])
    assert r.status_code == 200 and r.json["not_shared"] == []
    r = api.get("/api/cases/S-1", headers=api.h["jc.demo"])
    assert [c["category"] for c in r.json["not_shared"]] == [
        "CONTACT", "RESIDENCE", "FAMILY", "EDU", "WORK", "FINANCE", "HOUSING", "HEALTH", "YOUTH",
        "PLAN", "CM_NOTES"]
    assert r.json["not_shared"][0] == {"category": "CONTACT", "label": "Kontakt"}


def test_task_instructions_show_only_consented_fields_escaped_once(web_app, eng):
    eng.deploy_files(B.files(i__bpmn=instructions_process()))
    data = {"first_name": "Amal", "last_name": "O'Brien", "health_needs": "diabetes"}
    eng.start("test_dp_instructions", data, "T-1", actor=CM)
    tid = eng.tasks(office="JC")[0]["task_id"]
    refer(eng, "T-1", "JC", "JC:SGB2", ["IDENT"])
    page = browser_for(web_app, "jc.demo").get(f"/tasks/{tid}").text
    assert "Für: O&#39;Brien, Amal; Gesundheit: nicht freigegeben" in page  # escaped once
    assert "diabetes" not in page
    (read,) = entries(eng, "data.read", case_id="T-1")
    assert read.details["fields"] == ["first_name", "last_name"]
    assert read.details["categories"] == ["IDENT"] and read.details["task_id"] == tid
    assert read.office == "JC" and read.details["purposes"] == ["JC:SGB2"]
    assert_no_values_in_log(eng, "Amal", "Brien", "diabetes")


# ---------------------------------------------------------------- consents and referrals
def test_referral_without_consent_is_409_and_nothing_changes(web_app, eng, api):
    deploy_referral(eng)
    iid = eng.start("test_dp_referral", dict(REF_DATA), "R-1", actor=CM)["instance_id"]
    (task,) = eng.tasks(instance_id=iid)
    seq_before = len(entries(eng))
    r = api.post(f"/api/tasks/{task['task_id']}/complete", headers=api.h["cm.demo"],
                 json={"data": {}})
    assert r.status_code == 409, r.json
    assert r.json["error"] == "CONSENT_MISSING"
    assert r.json["office"] == "JC" and r.json["purpose"] == "JC:SGB2"
    # nothing changed: the task is open, no referral, no message, no office task
    assert eng.get_task(task["task_id"])["state"] == "READY"
    assert list_referrals(eng.db, now=eng.now()) == [] and eng.messages() == []
    assert eng.tasks(office="JC") == [] and len(entries(eng)) == seq_before
    # the page answers the same, keeps the form and names office and purpose
    cm = browser_for(web_app, "cm.demo")
    page = cm.post(f"/tasks/{task['task_id']}", data={"csrf_token": cm.token})
    assert page.status_code == 409 and "Keine gültige Einwilligung" in page.text
    assert "JC:SGB2" in page.text and eng.get_task(task["task_id"])["state"] == "READY"
    # with a consent (recorded through the API) the referral goes out, cut to its scope
    r = api.post("/api/cases/R-1/consents", headers=api.h["cm.demo"], json={
        "office": "JC", "purpose": "JC:SGB2", "categories": ["IDENT", "FINANCE"],
        "valid_from": "2026-01-01", "valid_until": "2027-01-01"})
    assert r.status_code == 201, r.json
    r = api.post(f"/api/tasks/{task['task_id']}/complete", headers=api.h["cm.demo"],
                 json={"data": {}})
    assert r.status_code == 200, r.json
    (jc_task,) = eng.tasks(office="JC")
    received = eng.show(jc_task["instance_id"])["data"]["referral"]["data"]
    assert received == {"first_name": "Amal", "income": 450}


def test_consent_api_checks_and_lists(web_app, eng, api):
    start_case(eng, "C-1")
    h = api.h["cm.demo"]
    good = {"office": "JC", "purpose": "JC:SGB2", "categories": ["IDENT"],
            "valid_from": "2026-01-01", "valid_until": "2027-01-01"}
    for bad, field in [({"categories": ["YOUTH"]}, "categories"),
                       ({"categories": ["HEALTH"]}, "includes_health"),
                       ({"purpose": "ABH:AUFENTHALT"}, "purpose"),
                       ({"office": "NOPE"}, "office"),
                       ({"purpose": "X:Y"}, "purpose"),
                       ({"valid_until": "2025-01-01"}, "valid_until"),
                       ({"categories": ["CM_NOTES"]}, "categories")]:
        r = api.post("/api/cases/C-1/consents", headers=h, json={**good, **bad})
        assert r.status_code == 400 and r.json["field"] == field, (bad, r.json)
    r = api.post("/api/cases/C-1/consents", headers=h, json={**good, "categories": []})
    assert r.status_code == 400
    assert api.post("/api/cases/C-1/consents", headers=api.h["jc.demo"],
                    json=good).status_code == 403
    assert api.post("/api/cases/NOPE/consents", headers=h, json=good).status_code == 404
    r = api.post("/api/cases/C-1/consents", headers=h,
                 json={**good, "categories": ["IDENT", "HEALTH"], "includes_health": True})
    assert r.status_code == 201 and r.json["includes_health"] is True
    cid = r.json["consent_id"]
    listed = api.get("/api/cases/C-1/consents", headers=h).json
    assert [c["consent_id"] for c in listed] == [cid] and listed[0]["status"] == "active"
    assert api.get("/api/cases/C-1/consents", headers=api.h["jc.demo"]).status_code == 403
    assert api.get("/api/cases/C-1/consents",
                   headers=api.h["auditor.demo"]).status_code == 200
    r = api.post(f"/api/consents/{cid}/revoke", headers=h, json={"channel": "fax"})
    assert r.status_code == 400
    assert api.post(f"/api/consents/{cid}/revoke", headers=api.h["jc.demo"],
                    json={}).status_code == 403
    r = api.post(f"/api/consents/{cid}/revoke", headers=h, json={"channel": "oral"})
    assert r.status_code == 200 and r.json["status"] == "revoked"
    r = api.post(f"/api/consents/{cid}/revoke", headers=h, json={"channel": "oral"})
    assert r.status_code == 409  # never revoked twice, never reactivated
    assert api.post("/api/consents/nope/revoke", headers=h, json={}).status_code == 404
    (rec,) = entries(eng, "consent.recorded", case_id="C-1")
    assert rec.details["categories"] == ["HEALTH", "IDENT"] and rec.actor == "cm.demo"


def _running_referral(eng, api):
    deploy_referral(eng)
    r = api.post("/api/process-instances", headers=api.h["cm.demo"], json={
        "process_id": "test_dp_referral", "case_ref": "R-1", "data": REF_DATA})
    assert r.status_code == 201
    consent = api.post("/api/cases/R-1/consents", headers=api.h["cm.demo"], json={
        "office": "JC", "purpose": "JC:SGB2", "categories": ["IDENT", "FINANCE"],
        "valid_from": "2026-01-01", "valid_until": "2027-01-01"}).json
    (prep,) = eng.tasks(office="KIM_CM")
    assert api.post(f"/api/tasks/{prep['task_id']}/complete", headers=api.h["cm.demo"],
                    json={"data": {}}).status_code == 200
    (ack,) = eng.tasks(office="JC")
    assert api.post(f"/api/tasks/{ack['task_id']}/complete", headers=api.h["jc.demo"],
                    json={"data": {}}).status_code == 200
    items = api.get("/api/offices/JC/tasks", headers=api.h["jc.demo"]).json["items"]
    assert [t["name"] for t in items] == ["Anliegen bearbeiten"]
    r = api.get("/api/cases/R-1", headers=api.h["jc.demo"])
    assert r.status_code == 200 and r.json["categories"] == ["FINANCE", "IDENT", "REFERRAL"]
    return consent


def test_revocation_in_the_middle_of_a_referral_through_the_api(web_app, eng, api):
    consent = _running_referral(eng, api)
    r = api.post(f"/api/consents/{consent['consent_id']}/revoke", headers=api.h["cm.demo"],
                 json={"channel": "oral"})
    assert r.status_code == 200 and r.json["status"] == "revoked"
    assert r.json["effects"]["withdrawn"] == ["R-1-R1"]
    # at once: the office's task left its worklist, the case is gone for JC
    assert api.get("/api/offices/JC/tasks", headers=api.h["jc.demo"]).json["items"] == []
    assert api.get("/api/cases/R-1", headers=api.h["jc.demo"]).status_code == 404
    (ref,) = list_referrals(eng.db, now=eng.now(), case_id="R-1")
    assert ref["state"] == "suspended_consent_revoked"
    names = [t["name"] for t in eng.tasks(office="KIM_CM")]
    assert "Hilfeplan nach Widerruf anpassen" in names
    (rev,) = entries(eng, "consent.revoked")
    assert rev.actor == "cm.demo" and rev.details["office"] == "JC"


def test_revocation_through_the_case_page(web_app, eng, api):
    consent = _running_referral(eng, api)
    cm = browser_for(web_app, "cm.demo")
    page = cm.get("/cases/R-1").text
    assert 'id="consents"' in page and consent["consent_id"] in page
    assert "Kopien in den eigenen Akten" in page
    url = f"/cases/R-1/consents/{consent['consent_id']}/revoke"
    assert browser_for(web_app, "jc.demo").post(url, data={"channel": "oral"}).status_code \
        in (400, 403)  # no CSRF token / not the case manager
    r = cm.post(url, data={"csrf_token": cm.token, "channel": "written"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/cases/R-1#consents")
    page = cm.get("/cases/R-1").text
    assert "Widerruf für JC (JC:SGB2) erfasst: 1 offene Vermittlung(en) ausgesetzt" in page
    assert 'data-status="revoked"' in page
    assert api.get("/api/offices/JC/tasks", headers=api.h["jc.demo"]).json["items"] == []
    assert browser_for(web_app, "jc.demo").get("/cases/R-1").status_code == 404


def test_recording_a_consent_on_the_case_page(web_app, eng):
    start_case(eng, "P-1")
    cm = browser_for(web_app, "cm.demo")
    form = {"csrf_token": cm.token, "office": "JC", "purpose": "JC:SGB2",
            "categories": ["IDENT", "YOUTH"], "valid_from": "2026-01-01",
            "valid_until": "2027-01-01"}
    r = cm.post("/cases/P-1/consents", data=form)
    assert r.status_code == 422 and 'id="consent-error"' in r.text and "YOUTH" in r.text
    assert 'value="YOUTH" checked' in r.text  # the form keeps what was entered
    r = cm.post("/cases/P-1/consents", data={**form, "categories": ["IDENT", "WORK"]})
    assert r.status_code == 302
    assert 'data-status="active"' in cm.get("/cases/P-1").text
    # only the case manager records consents; JC does not even see the case
    jc = browser_for(web_app, "jc.demo")
    assert jc.post("/cases/P-1/consents", data={**form, "csrf_token": jc.token}
                   ).status_code == 403


# ---------------------------------------------------------------- auditor
def _busy_case(web_app, eng, api):
    """A case with data, a referral, reads, a refused read and a revocation."""
    consent = _running_referral(eng, api)
    iid = start_case(eng, "R-1")
    base_consent(eng, "R-1", ["IDENT", "RESIDENCE", "HEALTH"], health=True)
    browser_for(web_app, "cm.demo").get("/cases/R-1")
    browser_for(web_app, "abh.demo").get("/cases/R-1")  # refused
    api.post(f"/api/consents/{consent['consent_id']}/revoke", headers=api.h["cm.demo"],
             json={"channel": "oral"})
    return iid


def test_the_auditor_never_sees_a_name(web_app, eng, api):
    iid = _busy_case(web_app, eng, api)
    aud = browser_for(web_app, "auditor.demo")
    cm_iid = eng.tasks(office="KIM_CM")[0]["instance_id"]
    pages = ["/", "/cases", "/cases/R-1", "/audit", "/audit?case=R-1",
             "/audit?event_type=data.read", "/audit?office=JC&user=jc.demo",
             "/audit/cases/R-1", f"/audit/instances/{iid}", f"/audit/instances/{cm_iid}",
             "/audit/verify", "/audit/export.csv", "/audit/export.json?case=R-1",
             "/audit/cases/R-1/export.csv", "/audit/cases/R-1/export.json",
             f"/audit?lang=en&from={date.today() - timedelta(days=3650)}"]
    for path in pages:
        r = aud.get(path)
        assert r.status_code == 200, path
        for name in NAMES:
            assert name not in r.text, (path, name)
    for path in ["/api/audit/events", "/api/audit/events?case=R-1", "/api/cases/R-1",
                 f"/api/process-instances/{iid}", "/api/audit/verify",
                 "/api/cases/R-1/consents"]:
        r = api.get(path, headers=api.h["auditor.demo"])
        assert r.status_code == 200, path
        for name in NAMES:
            assert name not in r.get_data(as_text=True), (path, name)
    # what the auditor sees answers "who saw this person's data"
    timeline = aud.get("/audit/cases/R-1?lang=de").text
    assert "Daten gelesen" in timeline and "Lesezugriff verweigert" in timeline
    assert "cm.demo" in timeline and "abh.demo" in timeline and "jc.demo" in timeline
    assert "Einwilligung widerrufen" in timeline
    # each auditor view was itself logged
    views = {e.details["view"] for e in entries(eng, "audit.read")}
    assert {"search", "case_timeline", "replay", "verify", "export", "case_page",
            "case_data"} <= views
    assert all(e.actor == "auditor.demo" for e in entries(eng, "audit.read"))
    # exports: CSV with a header and one row per entry, JSON the same entries
    csv_text = aud.get("/audit/cases/R-1/export.csv").text
    assert csv_text.splitlines()[0].startswith("id,stream,seq,at,event_type,actor,office,")
    js = aud.get("/audit/cases/R-1/export.json").get_json()
    csv_ids = [int(line.split(",", 1)[0]) for line in csv_text.strip().splitlines()[1:]]
    assert [e["id"] for e in js["entries"]][:len(csv_ids)] == csv_ids
    assert js["entries"][-1]["event_type"] == "audit.read"  # the CSV export, logged
    assert {"data.read", "data.read_denied", "consent.revoked"} <= {
        e["event_type"] for e in js["entries"]}
    # the auditor pages are for auditors only
    cm = browser_for(web_app, "cm.demo")
    assert cm.get("/audit").status_code == 403 and cm.get("/audit/cases/R-1").status_code == 403
    assert api.get("/api/audit/events", headers=api.h["cm.demo"]).status_code == 403


def test_audit_search_filters_and_keyset_paging(web_app, eng, api):
    for i in range(3):
        start_case(eng, f"F-{i}")
    aud = browser_for(web_app, "auditor.demo")
    first = api.get("/api/audit/events?limit=4", headers=api.h["auditor.demo"]).json
    assert len(first["items"]) == 4 and first["next"]
    ids = [e["id"] for e in first["items"]]  # newest first, across all chains
    assert ids == sorted(ids, reverse=True)
    second = api.get(f"/api/audit/events?limit=4&after={first['next']}",
                     headers=api.h["auditor.demo"]).json
    assert max(e["id"] for e in second["items"]) < min(ids)
    only = api.get("/api/audit/events?event_type=task.completed&user=cm.demo",
                   headers=api.h["auditor.demo"]).json["items"]
    assert len(only) == 3 and {e["event_type"] for e in only} == {"task.completed"}
    assert {e["office"] for e in api.get("/api/audit/events?office=KIM_CM",
                                         headers=api.h["auditor.demo"]).json["items"]} \
        == {"KIM_CM"}
    case = api.get("/api/audit/events?case=F-1", headers=api.h["auditor.demo"]).json["items"]
    assert case and {e["case_id"] for e in case} == {"F-1"}
    today = eng.now().date()
    later = api.get(f"/api/audit/events?from={today + timedelta(days=1)}",
                    headers=api.h["auditor.demo"]).json["items"]
    # logins are stamped with wall-clock time, the engine's test clock stands in March
    assert [e for e in later if not e["event_type"].startswith("auth.")] == []
    for bad in ("from=gestern", "office=<x>", "after=abc", "event_type=DROP TABLE",
                f"from={today}&to={today - timedelta(days=1)}"):
        r = api.get(f"/api/audit/events?{bad}", headers=api.h["auditor.demo"])
        assert r.status_code == 400 and r.json["error"] == "INVALID_INPUT", bad
        assert aud.get(f"/audit?{bad}").status_code == 400
    page = aud.get("/audit?event_type=task.completed").text
    assert page.count('data-event="task.completed"') == 3


def test_replay_shows_the_path_with_who_and_when(web_app, eng):
    iid = start_case(eng, "RP-1")
    aud = browser_for(web_app, "auditor.demo")
    page = aud.get(f"/audit/instances/{iid}").text
    assert 'data-element="Task_Erfassen"' in page and 'data-element="Task_Pruefen"' in page
    assert "data-order=" in page and "Fall erfassen" in page
    row = page.split('data-element="Task_Erfassen"', 1)[1].split("</tr>", 1)[0]
    assert "cm.demo" in row and "Aufgabe erledigt" in row
    assert "Task_Aufenthalt_Pruefen" in page  # active now
    assert aud.get("/audit/instances/999999").status_code == 404


def test_verify_endpoint_finds_a_row_tampered_with_in_sql(web_app, eng, api):
    start_case(eng, "X-1")
    r = api.get("/api/audit/verify", headers=api.h["auditor.demo"])
    assert r.status_code == 200 and r.json["ok"] is True and r.json["entries"] >= 3
    assert api.get("/api/audit/verify", headers=api.h["admin.demo"]).json["ok"] is True
    assert api.get("/api/audit/verify", headers=api.h["jc.demo"]).status_code == 403
    with eng.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' "
                          "WHERE stream = 0 AND seq = 2"))
    # before the last verification's checkpoint: found by the full run (issue 16.7)
    r = api.get("/api/audit/verify?full=1", headers=api.h["auditor.demo"])
    assert r.json["ok"] is False and r.json["first_bad"]["seq"] == 2
    assert r.json["first_bad"]["problem"].startswith("changed")
    assert r.json["mode"] == "full"
    page = browser_for(web_app, "auditor.demo").get("/audit/verify?full=1").text
    assert 'data-ok="false"' in page and '<dd class="kern-description-list-item__value" ' \
        'id="bad-seq">2</dd>' in page
    with eng.db.engine.begin() as conn:  # repair, then remove an entry instead
        conn.execute(text("UPDATE audit_event SET actor = 'cm.demo' "
                          "WHERE stream = 0 AND seq = 2"))
        conn.execute(text("DELETE FROM audit_event WHERE stream = 0 AND seq = 3"))
    r = api.get("/api/audit/verify?full=1", headers=api.h["admin.demo"])
    assert r.json["ok"] is False and r.json["first_bad"]["problem"].startswith("removed")


# ---------------------------------------------------------------- Art. 15
def test_access_report_json_and_printable_page(web_app, eng, api):
    start_case(eng, "A-1")
    base_consent(eng, "A-1", ["IDENT", "RESIDENCE"])
    r = api.get("/api/cases/A-1/access-report", headers=api.h["cm.demo"])
    assert r.status_code == 200, r.json
    rep = r.json
    assert rep["case_id"] == "A-1" and rep["data_by_category"]["IDENT"]["first_name"] == "Amal"
    assert rep["consents"][0]["purpose"] == "KIM_CM:CASE_MANAGEMENT"
    assert len(rep["rights"]) >= 5 and rep["answer_due_by"]
    assert api.get("/api/cases/A-1/access-report", headers=api.h["dpo.demo"]).status_code == 200
    for who in ("jc.demo", "auditor.demo", "admin.demo"):
        r = api.get("/api/cases/A-1/access-report", headers=api.h[who])
        assert r.status_code == 403, who
    assert api.get("/api/cases/NOPE/access-report", headers=api.h["dpo.demo"]).status_code \
        == 404
    exports = entries(eng, "data.export", case_id="A-1")
    assert [e.actor for e in exports] == ["cm.demo", "dpo.demo"]
    cm = browser_for(web_app, "cm.demo")
    assert "Auskunft nach Art. 15 DSGVO erstellen" in cm.get("/cases/A-1").text
    page = cm.get("/cases/A-1/access-report")
    assert page.status_code == 200 and "Auskunft nach Art. 15 DSGVO – Fall A-1" in page.text
    assert "Haddad" in page.text and "Ihre Rechte" in page.text and "data-print" in page.text
    en = cm.get("/cases/A-1/access-report?lang=en").text
    assert "Access report (Art. 15 GDPR) – case A-1" in en and "Your rights" in en
    dpo = browser_for(web_app, "dpo.demo")
    r = dpo.get("/access-report?ref=A-1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/cases/A-1/access-report")
    assert dpo.get("/access-report").status_code == 200
    assert dpo.get("/cases/A-1").status_code == 404  # the DPO reads values only via reports
    assert browser_for(web_app, "jc.demo").get("/cases/A-1/access-report").status_code == 403
    assert len(entries(eng, "data.export", case_id="A-1")) == 4


# ---------------------------------------------------------------- test clock
NESTED = {"first_name": "Amal", "children": [{"first_name": "Kinda", "birth_date": "2016-03-04"}],
          "goals": [{"text": "Sprachkurs B2", "office": "BAMF"}],
          "shared_data": {"income": 1387, "health_needs": "Asthma-Kind"},
          "documents_missing": ["Mietvertrag", "Lohnzettel"]}


def test_art15_report_and_the_auditor_view_show_nested_records_field_by_field(
        web_app, eng, api):
    """Issue 14: children, goals and a stored referral's shared_data are no single values:
    the Art. 15 report lists each field under its own category (a container's fields by
    their own names, a record's fields under the record's category) - JSON and page - and
    the auditor sees each field by path and category, masked."""
    eng.start("kim_first_referral", dict(NESTED), "N-1", actor=CM)
    rep = api.get("/api/cases/N-1/access-report", headers=api.h["cm.demo"]).json
    by = rep["data_by_category"]
    assert by["FAMILY"]["children[0].first_name"] == "Kinda"
    assert by["FAMILY"]["children[0].birth_date"] == "2016-03-04"
    assert by["PLAN"] == {"goals[0].text": "Sprachkurs B2", "goals[0].office": "BAMF"}
    assert by["FINANCE"]["shared_data.income"] == 1387
    assert by["HEALTH"]["shared_data.health_needs"] == "Asthma-Kind"
    assert by["REFERRAL"]["documents_missing"] == ["Mietvertrag", "Lohnzettel"]
    assert by["IDENT"]["first_name"] == "Amal"
    assert "children" not in by.get("FAMILY", {}) and "shared_data" not in json.dumps(
        by.get("CM_NOTES", {}))
    page = browser_for(web_app, "cm.demo").get("/cases/N-1/access-report").text
    assert "children[0].first_name" in page and "Kinda" in page
    assert "shared_data.health_needs" in page and "Mietvertrag, Lohnzettel" in page
    # the auditor: the same paths with their categories, no value
    r = api.get("/api/cases/N-1", headers=api.h["auditor.demo"])
    (inst,) = r.json["instances"]
    assert inst["data"]["children[0].first_name"] == "•••"
    assert inst["field_categories"]["children[0].first_name"] == "FAMILY"
    assert inst["field_categories"]["shared_data.health_needs"] == "HEALTH"
    assert inst["field_categories"]["goals[0].text"] == "PLAN"
    assert set(inst["data"].values()) == {"•••"}
    aud = browser_for(web_app, "auditor.demo").get("/cases/N-1").text
    assert "children[0].first_name" in aud and "(Haushalt)" in aud
    assert 'data-category="HEALTH">(Gesundheit (Art. 9 DSGVO))' in aud
    for value in ("Kinda", "Asthma-Kind", "Sprachkurs", "Mietvertrag", "Amal"):
        assert value not in aud and value not in r.get_data(as_text=True)
    masked = entries(eng, "audit.read", view="case_data", case_id="N-1")
    assert len(masked) == 2  # the API answer and the page, each with the field paths
    assert all("children[0].first_name" in e.details["fields"] for e in masked)


def test_test_clock_fires_due_timers(web_app, eng, api):
    eng.deploy_files(B.files(t__bpmn=intermediate_process("clk", '"P5D"')))
    iid = eng.start("clk", {}, "CLK-1", actor=CM)["instance_id"]
    assert eng.tasks(instance_id=iid) == []
    start = eng.now()
    r = api.post("/api/test/clock", headers=api.h["cm.demo"], json={"advance": "P4D"})
    assert r.status_code == 200 and r.json["timers_fired"] == 0
    r = api.post("/api/test/clock", headers=api.h["cm.demo"], json={"advance": "P2D"})
    assert r.status_code == 200 and r.json["timers_fired"] == 1, r.json
    assert [t["name"] for t in eng.tasks(instance_id=iid)] == ["Weiter bearbeiten"]
    assert r.json["now"].startswith((start + timedelta(days=6)).date().isoformat())
    r = api.post("/api/test/clock", headers=api.h["cm.demo"],
                 json={"set": "2030-01-01T09:00:00+01:00"})
    assert r.status_code == 200 and r.json["now"].startswith("2030-01-01T08:00:00")
    assert api.post("/api/test/clock", headers=api.h["cm.demo"],
                    json={"advance": "fünf Tage"}).status_code == 400
    assert api.post("/api/test/clock", json={"advance": "P1D"}).status_code == 401


def test_test_clock_expires_consents(web_app, eng, api):
    start_case(eng, "E-1")
    refer(eng, "E-1", "JC", "JC:SGB2", ["IDENT"], days=3)
    assert api.get("/api/cases/E-1", headers=api.h["jc.demo"]).status_code == 200
    r = api.post("/api/test/clock", headers=api.h["cm.demo"], json={"advance": "P5D"})
    assert len(r.json["consents_expired"]) == 1
    assert api.get("/api/cases/E-1", headers=api.h["jc.demo"]).status_code == 404


def test_test_clock_is_404_in_production_and_the_web_engine_clock_is_movable(tmp_path,
                                                                           sqlite_db):
    from engine.clock import SystemClock
    from engine.stored_clock import StoredOffsetClock
    from web import accounts
    from web.app import create_app
    from web.settings import Settings

    def app_for(env):
        settings = Settings(database_url=str(sqlite_db.url), env=env, offices_file=None,
                            secret_key="s" * 48, instance_dir=tmp_path)
        return create_app(settings)

    dev = app_for("development")
    assert isinstance(dev.extensions["lotse"].engine.clock, StoredOffsetClock)
    prod = app_for("production")
    assert isinstance(prod.extensions["lotse"].engine.clock, SystemClock)
    accounts.use_fast_hashing()
    accounts.create_user(sqlite_db, "ops", roles=["admin"], offices=[], password="geheim-123")
    tok = accounts.issue_token(sqlite_db, "ops")
    c = prod.test_client()
    r = c.post("/api/test/clock", headers={"Authorization": f"Bearer {tok}"},
               json={"advance": "P5D"})
    assert r.status_code == 404 and r.json["error"] == "NOT_FOUND"
    assert "/api/test/clock" not in c.get("/api/openapi.json").json["paths"]
    r = dev.test_client().post("/api/test/clock", headers={"Authorization": f"Bearer {tok}"},
                               json={"advance": "P1D"})
    assert r.status_code == 200
