"""REST API for what the case pages and the designer do (issue 14.4), every role allowed
and refused, every error, on SQLite and PostgreSQL: case list and search, a case's
referrals with history and SLA dates, one data category of a case, an instance's history,
the Art. 15 report and deploying a process definition."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from tests import bpmn_builder as B
from tests.e2e.test_web_dataprotection import (
    NAMES,
    REF_DATA,
    assert_no_values_in_log,
    deploy_referral,
    entries,
    start_case,
)
from tests.web_support import base_consent, refer, token_for

ROLES = ("cm.demo", "abh.demo", "jc.demo", "lead.jc", "auditor.demo", "dpo.demo",
         "designer.demo", "admin.demo")
NO_CASE_ROLES = ("dpo.demo", "designer.demo", "admin.demo")  # see no cases at all


@pytest.fixture
def api(web_app):
    c = web_app.test_client()
    c.h = {n: token_for(web_app, n) for n in ROLES}
    return c


def assert_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.is_json and r.json["error"] == code and isinstance(r.json["message"], str)
    return r.json


def assert_german_first(body):
    """Messages of the new endpoints: German, then ' / ', then English."""
    assert " / " in body["message"], body


# ---------------------------------------------------------------- case list and search
def test_case_list_and_search_within_what_the_caller_may_see(api, eng, clock):
    ids = {}
    for ref in ("L-1", "L-2", "M-1"):
        ids[ref] = start_case(eng, ref)
        clock.advance(timedelta(minutes=1))
    cm = api.h["cm.demo"]
    r = api.get("/api/cases", headers=cm)
    assert r.status_code == 200, r.json
    assert [i["case_ref"] for i in r.json["items"]] == ["M-1", "L-2", "L-1"]  # newest first
    assert r.json["next"] is None
    item = r.json["items"][0]
    assert set(item) == {"instance_id", "case_ref", "process_id", "process_name", "version",
                         "status", "created_at", "completed_at"}
    assert item["instance_id"] == ids["M-1"] and item["process_id"] == "kim_first_referral"
    # filters
    assert [i["case_ref"] for i in api.get("/api/cases?ref=L-", headers=cm).json["items"]] \
        == ["L-2", "L-1"]
    assert [i["case_ref"] for i in api.get("/api/cases?ref=L-1", headers=cm).json["items"]] \
        == ["L-1"]
    assert api.get("/api/cases?ref=L_", headers=cm).json["items"] == []  # no LIKE wildcard
    assert len(api.get("/api/cases?status=running", headers=cm).json["items"]) == 3
    assert api.get("/api/cases?status=completed", headers=cm).json["items"] == []
    assert len(api.get("/api/cases?process_id=kim_first_referral",
                       headers=cm).json["items"]) == 3
    assert api.get("/api/cases?process_id=other", headers=cm).json["items"] == []
    assert len(api.get("/api/cases?office=JC", headers=cm).json["items"]) == 3
    assert api.get("/api/cases?office=BAMF", headers=cm).json["items"] == []
    # keyset paging, one per page
    seen, after = [], ""
    for _ in range(5):
        page = api.get(f"/api/cases?limit=1{after}", headers=cm).json
        seen += [i["case_ref"] for i in page["items"]]
        if not page["next"]:
            break
        after = f"&after={page['next']}"
    assert seen == ["M-1", "L-2", "L-1"]
    # JC has a task in every instance but no referral: it sees none of the cases ...
    jc = api.h["jc.demo"]
    assert api.get("/api/cases", headers=jc).json == {"items": [], "next": None}
    # ... until a referral with consent opens one
    refer(eng, "L-2", "JC", "JC:SGB2", ["IDENT"])
    assert [i["case_ref"] for i in api.get("/api/cases", headers=jc).json["items"]] == ["L-2"]
    assert [i["case_ref"] for i in api.get("/api/cases", headers=api.h["lead.jc"])
            .json["items"]] == ["L-2"]
    assert api.get("/api/cases", headers=api.h["abh.demo"]).json["items"] == []
    assert len(api.get("/api/cases", headers=api.h["auditor.demo"]).json["items"]) == 3
    for who in NO_CASE_ROLES:
        assert_german_first(assert_error(api.get("/api/cases", headers=api.h[who]), 403,
                                         "FORBIDDEN"))
    assert_error(api.get("/api/cases"), 401, "UNAUTHORIZED")
    # a list carries no case data: nothing to log as a read
    assert not entries(eng, "data.read")


def test_case_list_paging_skips_cases_the_caller_may_not_see(api, eng, clock):
    for i in range(5):
        start_case(eng, f"P-{i}")
        clock.advance(timedelta(minutes=1))
    refer(eng, "P-0", "JC", "JC:SGB2", ["IDENT"])
    refer(eng, "P-3", "JC", "JC:SGB2", ["IDENT"])
    jc = api.h["jc.demo"]
    first = api.get("/api/cases?limit=1", headers=jc).json
    assert [i["case_ref"] for i in first["items"]] == ["P-3"] and first["next"]
    second = api.get(f"/api/cases?limit=1&after={first['next']}", headers=jc).json
    assert [i["case_ref"] for i in second["items"]] == ["P-0"] and second["next"] is None


def _invisible_instances(eng, n: int, *, created_by: str, like_ref: str, prefix: str) -> None:
    """``n`` newer instances of the process of case ``like_ref`` with their own case
    references, started by ``created_by`` (so the office condition holds) but without any
    referral: direct inserts, cheap."""
    from sqlalchemy import insert, select

    from engine.models import ProcessInstance

    with eng.db.unit_of_work() as s:
        proto = s.scalars(select(ProcessInstance).where(
            ProcessInstance.case_ref == like_ref)).first()
        now = eng.now()
        s.execute(insert(ProcessInstance), [
            {"definition_id": proto.definition_id, "process_id": proto.process_id,
             "case_ref": f"{prefix}{i:05d}", "status": "running",
             "created_at": now + timedelta(seconds=i + 1),
             "updated_at": now + timedelta(seconds=i + 1), "created_by": created_by,
             "revision": 0, "next_seq": 0, "audit_seq": 0}
            for i in range(n)])


def test_case_list_finds_the_visible_case_behind_thousands_of_invisible_ones(
        api, eng, web_app):
    """Issue 14: the case list is scoped in SQL (referral + consent), so a caller with 2,100
    newer cases it may not see still gets its one visible case on page 1 - the API and the
    case list page alike (before: at most 2,000 rows were looked at, the page came back
    empty with a cursor, the page showed nothing)."""
    start_case(eng, "V-1")
    refer(eng, "V-1", "JC", "JC:SGB2", ["IDENT"])
    _invisible_instances(eng, 2100, created_by="jc.demo", like_ref="V-1", prefix="X-")
    jc = api.h["jc.demo"]
    r = api.get("/api/cases?limit=5", headers=jc)
    assert r.status_code == 200, r.json
    assert [i["case_ref"] for i in r.json["items"]] == ["V-1"] and r.json["next"] is None
    assert [i["case_ref"] for i in api.get("/api/cases?ref=V", headers=jc)
            .json["items"]] == ["V-1"]
    from tests.e2e.test_web_dataprotection import browser_for

    page = browser_for(web_app, "jc.demo").get("/cases").get_data(as_text=True)
    assert "V-1" in page and "X-00001" not in page
    # the case manager sees all of them: exact pages of 200 with a cursor
    cm = api.h["cm.demo"]
    first = api.get("/api/cases?limit=200", headers=cm).json
    assert len(first["items"]) == 200 and first["next"]
    assert first["items"][0]["case_ref"] == "X-02099"
    second = api.get(f"/api/cases?limit=200&after={first['next']}", headers=cm).json
    assert second["items"][0]["case_ref"] == "X-01899"


def test_case_list_scope_in_sql_says_what_case_access_says(api, eng):
    """Every reason a case stays closed to the office, next to one that is open: the list
    holds exactly the cases GET /api/cases/{ref} answers with 200."""
    from sqlalchemy import update

    from processes.consent import Consent
    from processes.models import Referral

    refs = ("S-open", "S-withdrawn", "S-forwarded", "S-revoked", "S-expired",
            "S-other-purpose", "S-other-office", "S-none", "S-no-purpose")
    for ref in refs:
        start_case(eng, ref)
    for ref in ("S-open", "S-withdrawn", "S-forwarded", "S-revoked", "S-expired",
                "S-no-purpose"):
        refer(eng, ref, "JC", "JC:SGB2", ["IDENT"])
    refer(eng, "S-other-office", "ABH", "ABH:AUFENTHALT", ["IDENT"])
    c = refer(eng, "S-other-purpose", "JC", "JC:SGB2", ["IDENT"])
    today = eng.now().date()
    with eng.db.unit_of_work() as s:
        for ref, state in (("S-withdrawn", "withdrawn"), ("S-forwarded", "forwarded")):
            s.execute(update(Referral).where(Referral.case_id == ref).values(state=state))
        s.execute(update(Consent).where(Consent.case_id == "S-revoked").values(
            status="revoked"))
        s.execute(update(Consent).where(Consent.case_id == "S-expired").values(
            valid_from=today - timedelta(days=30), valid_until=today - timedelta(days=1)))
        s.execute(update(Referral).where(Referral.case_id == "S-other-purpose").values(
            purpose="JC:OTHER"))
        # a referral record without a purpose: any active consent of the office opens it
        s.execute(update(Referral).where(Referral.case_id == "S-no-purpose").values(
            purpose=None))
    assert c["case_id"] == "S-other-purpose"
    jc = api.h["jc.demo"]
    listed = [i["case_ref"] for i in api.get("/api/cases", headers=jc).json["items"]]
    opened = [ref for ref in reversed(refs)
              if api.get(f"/api/cases/{ref}", headers=jc).status_code == 200]
    assert listed == opened == ["S-no-purpose", "S-open"]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "status=bogus",
                                   "ref=%3Cscript%3E", "process_id=1x", "office=A%20B",
                                   "after=%%%", "after=bm90LWEtY3Vyc29y",
                                   "after=WyJjYXNlcyIsIjIwMjYtMDEtMDFUMDA6MDA6MDAiLDFd"])
def test_case_list_bad_query(api, query):
    body = assert_error(api.get(f"/api/cases?{query}", headers=api.h["cm.demo"]), 400,
                        "INVALID_INPUT")
    if query.startswith("after=") and query != "after=%%%":
        assert_german_first(body)


# ---------------------------------------------------------------- referrals
def _referral_case(api, eng):
    """R-1: KIM_CM sent a referral to JC under a consent; JC acknowledged it."""
    deploy_referral(eng)
    r = api.post("/api/process-instances", headers=api.h["cm.demo"], json={
        "process_id": "test_dp_referral", "case_ref": "R-1", "data": REF_DATA})
    assert r.status_code == 201, r.json
    consent = api.post("/api/cases/R-1/consents", headers=api.h["cm.demo"], json={
        "office": "JC", "purpose": "JC:SGB2", "categories": ["IDENT", "FINANCE"],
        "valid_from": "2026-01-01", "valid_until": "2027-01-01"}).json
    (prep,) = eng.tasks(office="KIM_CM")
    assert api.post(f"/api/tasks/{prep['task_id']}/complete", headers=api.h["cm.demo"],
                    json={"data": {}}).status_code == 200
    (ack,) = eng.tasks(office="JC")
    assert api.post(f"/api/tasks/{ack['task_id']}/complete", headers=api.h["jc.demo"],
                    json={"data": {}}).status_code == 200
    return consent


def test_referrals_of_a_case_with_history_sla_and_overdue_flags(api, eng, clock):
    consent = _referral_case(api, eng)
    r = api.get("/api/cases/R-1/referrals", headers=api.h["cm.demo"])
    assert r.status_code == 200, r.json
    assert r.json["case_ref"] == "R-1"
    (ref,) = r.json["referrals"]
    assert ref["referral_id"] == "R-1-R1" and ref["office"] == "JC"
    assert ref["purpose"] == "JC:SGB2" and ref["state"] == "acknowledged"
    assert ref["acknowledged_at"] and ref["closed_at"] is None
    assert ref["due_ack"] > ref["sent_at"] and ref["due_result"] > ref["due_ack"]
    assert ref["overdue_ack"] is False and ref["overdue_result"] is False
    assert ref["first_overdue_at"] is None
    assert [(h["event"], h["from"], h["to"]) for h in ref["history"]] == [
        ("sent", None, "sent"), ("acknowledged", "sent", "acknowledged")]
    assert ref["history"][0]["at"] == ref["sent_at"]
    # the receiving office sees its referral, the auditor every one
    jc = api.get("/api/cases/R-1/referrals", headers=api.h["jc.demo"])
    assert jc.status_code == 200 and [x["referral_id"] for x in jc.json["referrals"]] \
        == ["R-1-R1"]
    assert api.get("/api/cases/R-1/referrals", headers=api.h["lead.jc"]).status_code == 200
    aud = api.get("/api/cases/R-1/referrals", headers=api.h["auditor.demo"])
    assert aud.status_code == 200 and len(aud.json["referrals"]) == 1
    # past the result SLA: overdue
    clock.advance(timedelta(days=120))
    (late,) = api.get("/api/cases/R-1/referrals", headers=api.h["cm.demo"]).json["referrals"]
    assert late["overdue_result"] is True and late["overdue_ack"] is False
    assert late["first_overdue_at"] == late["due_result"]
    # withdrawn by revoking the consent: the history says so
    clock.advance(timedelta(days=-120))
    assert api.post(f"/api/consents/{consent['consent_id']}/revoke", headers=api.h["cm.demo"],
                    json={"channel": "oral"}).status_code == 200
    (gone,) = api.get("/api/cases/R-1/referrals", headers=api.h["cm.demo"]).json["referrals"]
    assert gone["state"] == "suspended_consent_revoked" and gone["closed_at"]
    assert [h["event"] for h in gone["history"]] == ["sent", "acknowledged", "withdrawn"]
    assert gone["history"][-1]["to"] == "suspended_consent_revoked"
    assert gone["history"][-1]["reason"] == "consent_revoked"
    assert gone["history"][0]["reason"] is None
    assert gone["overdue_result"] is False
    # JC no longer sees the case
    assert_error(api.get("/api/cases/R-1/referrals", headers=api.h["jc.demo"]), 404,
                 "CASE_NOT_FOUND")


def test_referral_result_closes_it_in_the_history(api, eng):
    _referral_case(api, eng)
    (work,) = eng.tasks(office="JC")
    r = api.post(f"/api/tasks/{work['task_id']}/complete", headers=api.h["jc.demo"],
                 json={"data": {"outcome": "granted"}})
    assert r.status_code == 200, r.json
    (ref,) = api.get("/api/cases/R-1/referrals", headers=api.h["cm.demo"]).json["referrals"]
    assert ref["state"] == "completed" and ref["outcome"] == "granted" and ref["closed_at"]
    assert [h["event"] for h in ref["history"]] == ["sent", "acknowledged", "result"]
    assert ref["history"][-1]["to"] == "completed"
    assert ref["overdue_ack"] is False and ref["overdue_result"] is False
    (aud,) = api.get("/api/cases/R-1/referrals",
                     headers=api.h["auditor.demo"]).json["referrals"]
    assert aud["outcome"] == "granted"  # a code: auditors see it (free text is masked)


def test_referrals_refused_roles_and_errors(api, eng):
    _referral_case(api, eng)
    for who in ("abh.demo", *NO_CASE_ROLES):
        body = assert_error(api.get("/api/cases/R-1/referrals", headers=api.h[who]), 404,
                            "CASE_NOT_FOUND")
        assert_german_first(body)
    denied = entries(eng, "data.read_denied", case_id="R-1")
    assert {e.actor for e in denied} >= {"abh.demo", "dpo.demo"}
    assert {e.details["route"] for e in denied} == {"/api/cases/<path:case_ref>/referrals"}
    assert_error(api.get("/api/cases/NOPE/referrals", headers=api.h["cm.demo"]), 404,
                 "CASE_NOT_FOUND")
    assert_error(api.get("/api/cases/%3Cx%3E/referrals", headers=api.h["cm.demo"]), 404,
                 "CASE_NOT_FOUND")
    assert_error(api.get("/api/cases/R-1/referrals"), 401, "UNAUTHORIZED")
    assert not entries(eng, "data.read_denied", case_id="NOPE")  # no such case: no refusal


def test_an_office_sees_only_its_own_referrals(api, eng):
    start_case(eng, "T-1")
    refer(eng, "T-1", "JC", "JC:SGB2", ["IDENT"])
    refer(eng, "T-1", "ABH", "ABH:AUFENTHALT", ["IDENT"])
    jc = api.get("/api/cases/T-1/referrals", headers=api.h["jc.demo"]).json["referrals"]
    assert [r["office"] for r in jc] == ["JC"]
    abh = api.get("/api/cases/T-1/referrals", headers=api.h["abh.demo"]).json["referrals"]
    assert [r["office"] for r in abh] == ["ABH"]
    cm = api.get("/api/cases/T-1/referrals", headers=api.h["cm.demo"]).json["referrals"]
    assert sorted(r["office"] for r in cm) == ["ABH", "JC"]
    assert all(r["history"] == [] for r in cm)  # records made without messages
    # an outcome in free text: the case manager reads it, the auditor gets it masked
    from sqlalchemy import update

    from processes.models import Referral

    with eng.db.unit_of_work() as s:
        s.execute(update(Referral).where(Referral.office == "ABH")
                  .values(outcome="Frau Haddad ist umgezogen"))
    cm = api.get("/api/cases/T-1/referrals", headers=api.h["cm.demo"]).json["referrals"]
    assert {r["office"]: r["outcome"] for r in cm}["ABH"] == "Frau Haddad ist umgezogen"
    aud = api.get("/api/cases/T-1/referrals", headers=api.h["auditor.demo"]).json
    assert {r["office"]: r["outcome"] for r in aud["referrals"]} == {"ABH": "•••", "JC": None}
    assert "Haddad" not in json.dumps(aud)


# ---------------------------------------------------------------- one data category
def test_one_data_category_with_consent_is_logged_as_a_read(api, eng):
    iid = start_case(eng, "S-1")
    refer(eng, "S-1", "JC", "JC:SGB2", ["IDENT"])
    r = api.get("/api/cases/S-1/data/IDENT", headers=api.h["jc.demo"])
    assert r.status_code == 200, r.json
    assert r.json["category"] == "IDENT" and r.json["label"] == "Identität"
    assert r.json["label_en"] == "Identity"
    (inst,) = r.json["instances"]
    assert inst["instance_id"] == iid
    assert inst["fields"]["first_name"] == "Amal" and inst["fields"]["last_name"] == "Haddad"
    assert "residence_status" not in inst["fields"] and "language" not in inst["fields"]
    (read,) = entries(eng, "data.read", case_id="S-1")
    assert read.actor == "jc.demo" and read.details["categories"] == ["IDENT"]
    assert read.details["route"] == "/api/cases/<path:case_ref>/data/<category>"
    assert "first_name" in read.details["fields"] and "residence_status" not in \
        read.details["fields"]
    assert read.office == "JC" and read.details["purposes"] == ["JC:SGB2"]
    assert_no_values_in_log(eng, *NAMES, "1990-04-01")
    # the team lead of JC as well
    assert api.get("/api/cases/S-1/data/IDENT", headers=api.h["lead.jc"]).status_code == 200


def test_one_data_category_outside_the_consent_is_403_and_logged(api, eng):
    start_case(eng, "S-2")
    refer(eng, "S-2", "JC", "JC:SGB2", ["IDENT"])
    body = assert_error(api.get("/api/cases/S-2/data/RESIDENCE", headers=api.h["jc.demo"]),
                        403, "CONSENT_SCOPE")
    assert body["categories"] == ["RESIDENCE"]
    (denied,) = entries(eng, "data.read_denied", case_id="S-2")
    assert denied.details["reason"] == "consent_scope" and denied.actor == "jc.demo"
    assert denied.details["categories"] == ["RESIDENCE"]
    assert not entries(eng, "data.read", case_id="S-2")
    # the auditor sees no values: every category is outside
    assert_error(api.get("/api/cases/S-2/data/IDENT", headers=api.h["auditor.demo"]), 403,
                 "CONSENT_SCOPE")
    assert len(entries(eng, "data.read_denied", case_id="S-2", reason="consent_scope")) == 2
    # the case manager: what the base consent covers
    base_consent(eng, "S-2", ["IDENT", "RESIDENCE"])
    r = api.get("/api/cases/S-2/data/RESIDENCE", headers=api.h["cm.demo"])
    assert r.status_code == 200 and r.json["instances"][0]["fields"] == {
        "residence_status": "temporary"}
    assert_error(api.get("/api/cases/S-2/data/HEALTH", headers=api.h["cm.demo"]), 403,
                 "CONSENT_SCOPE")


def test_one_data_category_refused_roles_and_errors(api, eng):
    start_case(eng, "S-3")
    refer(eng, "S-3", "JC", "JC:SGB2", ["IDENT"])
    for who in ("abh.demo", *NO_CASE_ROLES):
        assert_german_first(assert_error(
            api.get("/api/cases/S-3/data/IDENT", headers=api.h[who]), 404, "CASE_NOT_FOUND"))
    assert {e.details["reason"] for e in entries(eng, "data.read_denied", case_id="S-3")} \
        == {"no_referral_or_consent"}
    body = assert_error(api.get("/api/cases/S-3/data/BOGUS", headers=api.h["jc.demo"]), 400,
                        "INVALID_INPUT")
    assert body["categories"] == ["BOGUS"]
    assert_german_first(body)
    assert_error(api.get("/api/cases/NOPE/data/IDENT", headers=api.h["jc.demo"]), 404,
                 "CASE_NOT_FOUND")
    assert_error(api.get("/api/cases/S-3/data/IDENT"), 401, "UNAUTHORIZED")
    # the route with the category next to the one with ?category=
    r = api.get("/api/cases/S-3/data?category=IDENT", headers=api.h["jc.demo"])
    assert r.status_code == 200 and "instances" in r.json and "category" not in r.json
    assert not entries(eng, "data.read", case_id="S-3", route="/api/cases/<path:case_ref>"
                                                              "/data/<category>")


# ---------------------------------------------------------------- instance history
def test_instance_history_in_order_with_who_and_when(api, eng, clock):
    iid = start_case(eng, "H-1")
    refer(eng, "H-1", "JC", "JC:SGB2", ["IDENT"])
    r = api.get(f"/api/process-instances/{iid}/history", headers=api.h["cm.demo"])
    assert r.status_code == 200, r.json
    body = r.json
    assert body["instance_id"] == iid and body["case_ref"] == "H-1"
    assert body["process_id"] == "kim_first_referral" and body["status"] == "running"
    done = [s for s in body["steps"] if s["state"] == "completed"]
    assert [s["n"] for s in done] == list(range(1, len(done) + 1))
    assert done[0]["type"] == "startEvent"
    (capture,) = [s for s in done if s["name"] == "Fall erfassen"]
    assert capture["type"] == "userTask" and capture["who"] == "cm.demo"
    assert capture["via"] == "task.completed" and capture["at"] and capture["office"] \
        == "KIM_CM"
    assert all(s["at"] for s in done)
    open_steps = [s for s in body["steps"] if s["state"] != "completed"]
    assert open_steps and all(s["n"] is None and s["who"] is None for s in open_steps)
    assert {s["type"] for s in open_steps} <= {"userTask", "receiveTask",
                                               "intermediateCatchEvent", "parallelGateway",
                                               "boundaryEvent", "exclusiveGateway"}
    assert body["steps"].index(open_steps[0]) == len(done)  # completed first, then open
    for who in ("jc.demo", "lead.jc"):
        assert api.get(f"/api/process-instances/{iid}/history",
                       headers=api.h[who]).json == body
    aud = api.get(f"/api/process-instances/{iid}/history", headers=api.h["auditor.demo"])
    assert aud.status_code == 200 and aud.json["steps"] == body["steps"]
    (read,) = entries(eng, "audit.read", view="replay")
    assert read.actor == "auditor.demo" and read.details["instance"] == iid
    assert read.details["channel"] == "api"


def test_instance_history_refused_roles_and_errors(api, eng):
    iid = start_case(eng, "H-2")  # JC has a task but no referral
    for who in ("jc.demo", "abh.demo", *NO_CASE_ROLES):
        assert_german_first(assert_error(api.get(f"/api/process-instances/{iid}/history",
                                                 headers=api.h[who]), 404,
                                         "INSTANCE_NOT_FOUND"))
    assert {e.actor for e in entries(eng, "data.read_denied", case_id="H-2")} == {
        "jc.demo", "abh.demo", *NO_CASE_ROLES}
    for bad in (0, iid + 1000, 2**70):
        assert_error(api.get(f"/api/process-instances/{bad}/history",
                             headers=api.h["cm.demo"]), 404, "INSTANCE_NOT_FOUND")
    assert api.get("/api/process-instances/x/history", headers=api.h["cm.demo"]) \
        .status_code == 404
    assert_error(api.get(f"/api/process-instances/{iid}/history"), 401, "UNAUTHORIZED")


# ---------------------------------------------------------------- Art. 15 report
def test_access_report_for_every_role(api, eng):
    start_case(eng, "A-9")
    base_consent(eng, "A-9", ["IDENT"])
    for who in ("cm.demo", "dpo.demo"):
        r = api.get("/api/cases/A-9/access-report", headers=api.h[who])
        assert r.status_code == 200, (who, r.json)
        assert r.json["case_id"] == "A-9"
        assert r.json["data_by_category"]["IDENT"]["last_name"] == "Haddad"
    for who in ("abh.demo", "jc.demo", "lead.jc", "auditor.demo", "designer.demo",
                "admin.demo"):
        assert_german_first(assert_error(api.get("/api/cases/A-9/access-report",
                                                 headers=api.h[who]), 403, "FORBIDDEN"))
    assert [e.actor for e in entries(eng, "data.export", case_id="A-9")] == [
        "cm.demo", "dpo.demo"]
    body = assert_error(api.get("/api/cases/NOPE/access-report", headers=api.h["dpo.demo"]),
                        404, "CASE_NOT_FOUND")
    assert_german_first(body)
    assert_error(api.get("/api/cases/%3Cx%3E/access-report", headers=api.h["dpo.demo"]),
                 404, "CASE_NOT_FOUND")
    assert_error(api.get("/api/cases/A-9/access-report"), 401, "UNAUTHORIZED")
    assert not entries(eng, "data.export", case_id="NOPE")


# ---------------------------------------------------------------- deploy
def _process(pid="api_deploy_ok", lane="KIM_CM", name="Erfassen") -> str:
    return B.process(pid, {lane: ["Ev_Start", "Task_A", "Ev_End"]},
                     '<bpmn:startEvent id="Ev_Start"/>'
                     + B.user_task("Task_A", name, form="a-schema.json")
                     + '<bpmn:endEvent id="Ev_End"/>' + B.flow("F1", "Ev_Start", "Task_A")
                     + B.flow("F2", "Task_A", "Ev_End"))


def _upload(api, who, *files, field="files"):
    data = {field: [(io.BytesIO(content if isinstance(content, bytes) else content.encode()),
                     name) for name, content in files]}
    return api.post("/api/process-definitions", headers=api.h[who] if who else {},
                    data=data, content_type="multipart/form-data")


FORM = ("a-schema.json", B.simple_form("note"))


def test_deploy_a_process_definition(api, eng):
    r = _upload(api, "designer.demo", ("api.bpmn", _process()), FORM)
    assert r.status_code == 201, r.json
    (out,) = r.json["outcomes"]
    assert out["process_id"] == "api_deploy_ok" and out["version"] == 1 and out["changed"]
    assert isinstance(out["definition_id"], int)
    # the KIM rule set warns about this bare test model (lanes without property office,
    # ...); a deploy goes through with warnings, never with an error
    assert r.json["findings"], "the KIM rule set reports nothing for a bare model"
    assert {f["severity"] for f in r.json["findings"]} <= {"warning", "info"}, r.json["findings"]
    # the new process starts at once (the definitions cache sees this deploy)
    started = api.post("/api/process-instances", headers=api.h["cm.demo"],
                       json={"process_id": "api_deploy_ok", "case_ref": "D-1", "data": {}})
    assert started.status_code == 201, started.json
    # the same content again: no new version
    again = _upload(api, "designer.demo", ("api.bpmn", _process()), FORM)
    assert again.status_code == 201 and again.json["outcomes"][0] == {**out, "changed": False}
    changed = _upload(api, "designer.demo", ("api.bpmn", _process(name="Neu erfassen")), FORM)
    assert changed.status_code == 201 and changed.json["outcomes"][0]["version"] == 2


def test_deploy_with_lint_errors_is_422_with_the_lint_report(api, eng):
    r = _upload(api, "designer.demo", ("api.bpmn", _process(lane="NOPE_OFFICE")), FORM)
    body = assert_error(r, 422, "LINT_ERRORS")
    assert_german_first(body)
    (finding,) = [f for f in body["findings"] if f["severity"] == "error"]
    assert finding["rule"] == "lane-without-office" and finding["file"] == "api.bpmn"
    assert "NOPE_OFFICE" in finding["message"]
    script = B.process("api_deploy_script", {"KIM_CM": ["Ev_Start", "Task_S", "Ev_End"]},
                       '<bpmn:startEvent id="Ev_Start"/>'
                       + B.script_task("Task_S", "import os")
                       + '<bpmn:endEvent id="Ev_End"/>' + B.flow("F1", "Ev_Start", "Task_S")
                       + B.flow("F2", "Task_S", "Ev_End"))
    r = _upload(api, "designer.demo", ("s.bpmn", script))
    body = assert_error(r, 422, "LINT_ERRORS")
    assert [f["element"] for f in body["findings"] if f["severity"] == "error"] == ["Task_S"]
    assert _no_definition(eng, "api_deploy_script") and _no_definition(eng, "api_deploy_ok")


def _no_definition(eng, pid) -> bool:
    from sqlalchemy import select

    from engine.models import ProcessDefinition

    with eng.db.reader() as s:
        return s.scalar(select(ProcessDefinition.id).where(
            ProcessDefinition.process_id == pid)) is None


def test_deploy_refused_by_the_engine_is_422_with_problems(api, eng):
    noexec = _process().replace('isExecutable="true"', 'isExecutable="false"')
    r = _upload(api, "designer.demo", ("api.bpmn", noexec), FORM)
    body = assert_error(r, 422, "DEPLOY_REFUSED")
    assert_german_first(body)
    assert any("no executable process" in p["problem"] for p in body["problems"])
    assert [f["rule"] for f in body["findings"]] == ["no-executable-process"]  # a warning
    body = assert_error(_upload(api, "designer.demo", FORM), 422, "DEPLOY_REFUSED")
    assert body["problems"] and body["findings"] == []
    assert _no_definition(eng, "api_deploy_ok")


def test_deploy_refused_roles_and_bad_uploads(api, eng):
    for who in ("cm.demo", "abh.demo", "jc.demo", "lead.jc", "auditor.demo", "dpo.demo",
                "admin.demo"):
        assert_german_first(assert_error(
            _upload(api, who, ("api.bpmn", _process()), FORM), 403, "FORBIDDEN"))
    assert_error(_upload(api, None, ("api.bpmn", _process()), FORM), 401, "UNAUTHORIZED")
    d = "designer.demo"
    for body in (
        assert_error(api.post("/api/process-definitions", headers=api.h[d],
                              data={}, content_type="multipart/form-data"), 400,
                     "INVALID_INPUT"),
        assert_error(_upload(api, d, ("api.bpmn", _process()), field="file"), 400,
                     "INVALID_INPUT"),
        assert_error(_upload(api, d, ("notes.txt", "hello")), 400, "INVALID_INPUT"),
        assert_error(_upload(api, d, (".bpmn", "x")), 400, "INVALID_INPUT"),
        assert_error(_upload(api, d, ("a.bpmn", _process()), ("a.bpmn", _process())), 400,
                     "INVALID_INPUT"),
        assert_error(_upload(api, d, *[(f"f{i}.json", "{}") for i in range(51)]), 400,
                     "INVALID_INPUT"),
    ):
        assert_german_first(body)
    assert_error(api.post("/api/process-definitions", headers=api.h[d],
                          json={"files": ["x"]}), 400, "INVALID_INPUT")
    r = _upload(api, d, ("big.bpmn", "x" * (3 * 1024 * 1024)))
    assert r.status_code == 413 and r.is_json and r.json["error"]
    assert _no_definition(eng, "api_deploy_ok")


def test_deploy_of_a_model_over_the_element_limit_is_413(api, eng):
    """Issue 16.6: as the designer's requests, before lint spends time on it."""
    big = B.large_process(2400, pid="api_too_big")  # ~6,000 elements in 1.8 MB
    r = _upload(api, "designer.demo", ("big.bpmn", big))
    body = assert_error(r, 413, "MODEL_TOO_LARGE")
    assert_german_first(body)
    assert _no_definition(eng, "api_too_big")


@pytest.mark.parametrize("files", [
    [("broken.bpmn", "<bpmn:definitions")],
    [("binary.bpmn", b"\xff\xfe\x00\x81garbage")],
    [("ok.bpmn", _process()), ("a-schema.json", b"\xff\xfe not utf-8")],
    [("ok.bpmn", _process()), ("a-schema.json", "[1, 2]")],
    [("entity.bpmn", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
                     '"file:///etc/passwd">]><x>&e;</x>')],
])
def test_broken_files_are_422_not_a_500(api, files):
    r = _upload(api, "designer.demo", *files)
    body = assert_error(r, 422, r.json.get("error") if r.is_json else "?")
    assert body["error"] in ("LINT_ERRORS", "DEPLOY_REFUSED")
    assert body["findings"] or body["problems"]
    assert "root:" not in json.dumps(body)  # no external entity was read


# ---------------------------------------------------------------- OpenAPI document
def test_new_endpoints_are_in_the_openapi_document(api):
    spec = api.get("/api/openapi.json").json
    paths = spec["paths"]
    for path, method, codes in [
            ("/api/cases", "get", {"200", "400", "401", "403"}),
            ("/api/cases/{case_ref}/referrals", "get", {"200", "401", "404"}),
            ("/api/cases/{case_ref}/data/{category}", "get",
             {"200", "400", "401", "403", "404"}),
            ("/api/process-instances/{instance_id}/history", "get", {"200", "401", "404"}),
            ("/api/cases/{case_ref}/access-report", "get", {"200", "401", "403", "404"}),
            ("/api/process-definitions", "post",
             {"201", "400", "401", "403", "413", "422"})]:
        assert codes <= set(paths[path][method]["responses"]), (path, method)
    body = paths["/api/process-definitions"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    for name in ("CaseList", "CaseReferrals", "CaseCategory", "InstanceHistory",
                 "DeployResult", "DeployRefused"):
        assert name in spec["components"]["schemas"], name
