"""P2 support plan (kim_support_plan): assessment and suggestions, plan with case conference,
consents per office, parallel referrals routed to the right instance, monitoring with its
timers, re-assessment, 12-month justification, permit watch start, closure hand-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import clock as engine_clock
from processes import demo_catalogue as D
from processes.consent import Consent
from tests.integration import test_catalogue_support as S


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


PERSON = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12"}


def _start(cat, **data):
    base = {"case_id": "K-1", "case_opened": D.days_ago(0), "person": PERSON, **PERSON}
    return cat.start("kim_support_plan", {**base, **data}, case_ref="K-1")["instance_id"]


def _plan(cat, iid, referrals, **plan):
    S.complete(cat, "KIM_CM", "Task_SupportPlan", D.plan_data(referrals, **plan), iid)


def _consent_all(cat, iid):
    while True:
        tasks = [t for t in cat.tasks(office="KIM_CM")
                 if t["element_id"] == "Task_RecordConsentPerOffice"]
        if not tasks:
            return
        data = S.task_data(cat, tasks[0]["task_id"])["consent_request"]
        cat.complete(tasks[0]["task_id"], D.consent_data(data["office"], data["purpose"]))


JC = {"office": "JC", "purpose": "JC:SGB2", "requested_service": "Bürgergeld prüfen"}
ABH = {"office": "ABH", "purpose": "ABH:AUFENTHALT", "requested_service": "Titel verlängern"}


def test_assessment_suggests_referrals_for_the_plan(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(
        permit_valid_until=D.days_ahead(30), benefits_current="asylblg",
        employment_status="unemployed", integration_course_status="entitled_not_registered",
        children=[{"child_first_name": "Omar", "child_birth_date": "2017-05-01",
                   "school_status": "not_enrolled"}], kindergeld_status="none"), iid)
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_SupportPlan")["task_id"])
    purposes = [s["purpose"] for s in data["suggested_referrals"]]
    assert purposes == ["ABH:AUFENTHALT", "JC:SGB2", "SOZ:LEISTUNG", "KI_SEB:SCHULPLATZ",
                        "IKT:KURSANMELDUNG", "FK:KINDERGELD", "AA:VERMITTLUNG"]
    abh = data["suggested_referrals"][0]
    assert abh["process"] == "kim_recognition_transition" and "§ 81" in abh["reason"]
    assert all(s["reason"] for s in data["suggested_referrals"])
    assert data["children"][0]["schulpflichtig"] is True


def test_parallel_referrals_are_each_answered_in_their_own_instance(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [JC, ABH])
    _consent_all(cat, iid)
    with cat.db.reader() as s:
        assert sorted(c.purpose for c in s.scalars(select(Consent))) == ["ABH:AUFENTHALT",
                                                                         "JC:SGB2"]
    assert S.names(cat, "JC") == ["Task_AckReferral"]
    assert S.names(cat, "ABH") == ["Task_AckReferral"]
    # answer in the opposite order of sending: each answer reaches its own referral
    S.complete(cat, "ABH", "Task_AckReferral", D.ack_data(office_reference="ABH-1"))
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data(office_reference="JC-1"))
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data(
        "granted", sgb2_benefit_start=D.days_ahead(30)))
    assert S.names(cat, "KIM_CM") == []
    S.complete(cat, "ABH", "Task_ProcessReferral", D.result_data(
        "granted", permit_valid_until=D.days_ahead(700)))
    review = S.find(cat, "KIM_CM", "Task_ReviewResults", iid)
    refs = {r["office"]: r for r in S.task_data(cat, review["task_id"])["referrals"]}
    assert refs["JC"]["office_reference"] == "JC-1"
    assert refs["JC"]["result"]["sgb2_benefit_start"] == D.days_ahead(30)
    assert refs["ABH"]["office_reference"] == "ABH-1"
    assert refs["ABH"]["result"]["permit_valid_until"] == D.days_ahead(700)


def test_refused_consent_keeps_the_referral_unsent(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [JC])
    S.complete(cat, "KIM_CM", "Task_RecordConsentPerOffice", {"consent_given": False}, iid)
    assert S.names(cat, "JC") == []
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_ReviewResults", iid)["task_id"])
    assert data["referrals_refused"] == [JC] and data["referrals"] == []


def test_case_conference_can_change_the_plan(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [], conference_requested=True)
    S.complete(cat, "KIM_KO", "Task_CaseConference", {
        "conference_date": D.days_ago(0), "participants": ["JC", "ABH"],
        "agreements": "JC prüft zuerst den Leistungsanspruch.", "plan_changes": True}, iid)
    assert S.names(cat, "KIM_CM") == ["Task_SupportPlan"]
    _plan(cat, iid, [])
    assert S.names(cat, "KIM_CM") == ["Task_ReviewResults"]


def test_monitoring_waits_for_the_review_date_and_reminds_of_contact(cat, clock):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [])
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data("monitor"), iid)
    assert S.names(cat, "KIM_CM") == []
    clock.advance(timedelta(days=43))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_MonitoringContact"]
    S.complete(cat, "KIM_CM", "Task_MonitoringContact", {
        "contact_made_on": D.days_ago(0), "contact_made_channel": "phone"}, iid)
    clock.advance(timedelta(days=48))  # the review date (90 days)
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_MonitoringTalk"]
    S.complete(cat, "KIM_CM", "Task_MonitoringTalk", {
        "contact_date": D.days_ago(0), "contact_channel": "in_person"}, iid)
    assert S.names(cat, "KIM_CM") == ["Task_ReviewResults"]


def test_three_months_without_contact_proposes_closure(cat, clock):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [])
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data(
        "monitor", next_review_date=D.days_ahead(150)), iid)
    clock.advance(timedelta(days=93))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_MonitoringContact", "Task_ProposeClosure"]
    clock.advance(timedelta(days=60))
    cat.fire_due_timers()
    S.complete(cat, "KIM_CM", "Task_MonitoringTalk", {
        "contact_date": D.days_ago(0), "contact_channel": "phone"}, iid)
    # the talk ends the waiting period: the open reminders close themselves
    assert S.names(cat, "KIM_CM") == ["Task_ReviewResults"]


def test_new_needs_start_a_new_cycle_with_history(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [])
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data("reassess"), iid)
    task = S.find(cat, "KIM_CM", "Task_Assessment", iid)
    data = S.task_data(cat, task["task_id"])
    assert data["cycle"] == 1 and len(data["plan_history"]) == 1
    assert data["goals"] is None and data["selected_referrals"] is None
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(eviction_risk=True), iid)
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_SupportPlan", iid)["task_id"])
    assert data["cycle"] == 2
    assert [s["purpose"] for s in data["suggested_referrals"]] == ["WOHN:SICHERUNG"]


def test_closing_hands_over_to_the_closure_process(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [])
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data("close"), iid)
    assert S.names(cat, "KIM_CM") == ["Task_PrepareClosure"]


def test_continuation_is_justified_after_twelve_months(cat, clock):
    iid = _start(cat)
    clock.advance(timedelta(days=366))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_Rejustify"]
    S.complete(cat, "KIM_KO", "Task_Rejustify", {
        "continue_case": True, "justification": "Die Wohnungssuche dauert noch an."}, iid)
    assert S.names(cat, "KIM_CM") == ["Task_Assessment"]


def test_a_limited_permit_starts_the_permit_watch_once(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    (msg,) = S.messages(cat, "permit_watch_requested")
    assert msg["status"] == "delivered"
    watch = cat.show(msg["target_instance_id"])
    assert watch["process_id"] == "kim_permit_watch" and watch["status"] == "running"
    _plan(cat, iid, [])
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data("reassess"), iid)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    assert len(S.messages(cat, "permit_watch_requested")) == 1


def test_health_details_need_the_explicit_health_consent(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(
        health_need=True, health_notes="Diabetes"), iid)
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_SupportPlan", iid)["task_id"])
    assert data["health_data_dropped"] is True
    assert data["health_notes"] is None and data["assessment"]["health_need"] is None
    # the register decides (issue 14.2): the base consent with the explicit health flag is
    # recorded there, as on the case page, not handed to the process as a copy
    S.grant(cat, "K-2", "KIM_CM", "KIM_CM:CASE_MANAGEMENT", ["IDENT", "HEALTH"],
            includes_health=True)
    iid2 = cat.start("kim_support_plan", {"case_id": "K-2", "case_opened": D.days_ago(0),
                                          "person": PERSON, **PERSON},
                     case_ref="K-2")["instance_id"]
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(
        health_need=True, health_notes="Diabetes"), iid2)
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_SupportPlan", iid2)["task_id"])
    assert data["health_data_dropped"] is False and data["health_notes"] == "Diabetes"


def test_structural_issues_naming_the_client_are_not_passed_on(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [])
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data(
        "reassess", structural_issue_observed=True,
        structural_issue_text="Frau Haddad wartet seit Monaten auf einen Termin."), iid)
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_Assessment", iid)["task_id"])
    assert data["structural_issue_rejected"] is True and data["structural_issues"] == []
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    _plan(cat, iid, [])
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data(
        "reassess", structural_issue_observed=True,
        structural_issue_text="Lange Wartezeiten für Termine bei der Ausländerbehörde."), iid)
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_Assessment", iid)["task_id"])
    assert [i["text"][:5] for i in data["structural_issues"]] == ["Lange"]
