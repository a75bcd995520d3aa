"""P6 case closure (kim_case_closure, kim_case_reopening): withdrawal of open referrals,
approval, statistics, structural issues, case_closed to the permit watch, reopening within six
months (also back into the support plan) and pseudonymisation after 36 months."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import clock as engine_clock
from engine.errors import FormInvalid
from processes import demo_catalogue as D
from tests.integration import test_catalogue_support as S


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


CASE = {"case_id": "K-6", "first_name": "Yonas", "last_name": "Tesfaye",
        "birth_date": "1996-01-17", "gender": "m", "residence_status": "aufenthaltserlaubnis",
        "street": "Hauptstr. 1", "phone": "+49 521 1", "handlungsfelder_need": ["wohnen"],
        "interview_summary": "vertraulich"}


def _closure(cat, **data):
    return cat.start("kim_case_closure", {**CASE, "case_opened": D.days_ago(100), **data},
                     case_ref="K-6")["instance_id"]


def test_open_referrals_are_withdrawn_and_the_case_closes(cat):
    consent = S.grant(cat, "K-6", "JC", "JC:SGB2")
    cm = cat.start("kim_single_referral", {
        "case_id": "K-6", "consents": [consent],
        "referral": {"office": "JC", "purpose": "JC:SGB2"}}, case_ref="K-6")["instance_id"]
    rid = S.task_data(cat, S.find(cat, "JC", "Task_AckReferral")["task_id"])["referral_id"]
    watch_consent = S.grant(cat, "K-6", "ABH", "ABH:AUFENTHALT")
    (mid,) = cat.publish("permit_watch_requested", {
        "case_id": "K-6", "permit_valid_until": D.days_ahead(300),
        "consents": [watch_consent]})
    watch = [m for m in cat.messages() if m["message_id"] == mid][0]["target_instance_id"]
    iid = _closure(cat, case_opened=D.days_ago(400), referrals=[
        {"referral_id": rid, "office": "JC", "purpose": "JC:SGB2", "status": "sent",
         "sent_at": D.days_ago(3)},
        {"referral_id": "R-old", "office": "ABH", "status": "completed",
         "sent_at": D.days_ago(60), "closed_at": D.days_ago(40)}])
    S.complete(cat, "KIM_CM", "Task_PrepareClosure", D.closure_data(
        structural_issue=True, structural_issue_category="waiting_times",
        structural_issue_text="Lange Wartezeiten bei Terminen."), iid)
    assert S.names(cat, "JC") == []  # withdrawn: the office's task left its queue
    assert cat.show(cm)["data"]["referral_record"]["status"] == "withdrawn"
    # over a year: the team lead approves
    S.complete(cat, "KIM_CM", "Task_ApproveClosure", {"closure_approved": True}, iid)
    S.complete(cat, "KIM_KO", "Task_StructuralIssues", {"structural_action": "working_group"},
               iid)
    assert cat.show(watch)["status"] == "completed"  # case_closed ended the permit watch
    assert S.names(cat, "KIM_CM") == [] and S.names(cat, "KIM_KO") == []
    shown = cat.show(iid)
    assert shown["status"] == "running"  # the reopening window is open


def test_statistics_are_anonymous_and_the_case_is_pseudonymised(cat, clock):
    iid = _closure(cat)
    S.complete(cat, "KIM_CM", "Task_PrepareClosure", D.closure_data(), iid)
    assert S.names(cat, "KIM_CM") == [] and S.names(cat, "KIM_KO") == []
    clock.advance(timedelta(days=190))  # the reopening window closes after six months
    cat.fire_due_timers()
    assert cat.show(iid)["status"] == "running"
    clock.set(clock.now().replace(year=2029, month=3, day=3))
    cat.fire_due_timers()
    shown = cat.show(iid)
    assert shown["status"] == "completed"
    data = shown["data"]
    assert data["case_status"] == "pseudonymised"
    assert data["first_name"].startswith("P-") and data["last_name"] is None
    assert data["birth_date"] == "1996"
    assert data["street"] is None and data["phone"] is None
    assert data["interview_summary"] is None and data["final_summary"] is None
    stats = data["stats_record"]
    assert stats == {"handlungsfelder": ["wohnen"], "duration_days": 100,
                     "turnaround_by_office": {}, "goal_outcomes": ["achieved"],
                     "closure_reason": "goals_achieved", "age_band": "27-44", "gender": "m",
                     "residence_status_at_start": "aufenthaltserlaubnis", "referral_count": 0}
    assert "Yonas" not in str(stats)
    assert data["pseudonymise_on"] == "2029-03-02" and data["audit_purge_on"] == "2031-03-02"


def test_closure_form_rules_and_approval_for_lost_contact(cat):
    iid = _closure(cat)
    task = S.find(cat, "KIM_CM", "Task_PrepareClosure", iid)
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], D.closure_data(closure_reason="no_contact",
                                                     contact_attempts=[
                                                         {"date": D.days_ago(40),
                                                          "channel": "phone"}]))
    assert set(exc.value.errors) == {"contact_attempts"}
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], D.closure_data(closure_reason="transferred"))
    assert set(exc.value.errors) == {"transferred_to"}
    S.complete(cat, "KIM_CM", "Task_PrepareClosure", D.closure_data(
        closure_reason="no_contact", contact_attempts=[
            {"date": D.days_ago(40), "channel": "phone"},
            {"date": D.days_ago(20), "channel": "letter"},
            {"date": D.days_ago(5), "channel": "home_visit"}]), iid)
    assert S.names(cat, "KIM_CM") == ["Task_ApproveClosure"]


def test_a_structural_issue_naming_the_person_is_not_passed_on(cat):
    iid = _closure(cat)
    S.complete(cat, "KIM_CM", "Task_PrepareClosure", D.closure_data(
        structural_issue=True, structural_issue_category="legal_barriers",
        structural_issue_text="Herr Tesfaye bekam keinen Termin."), iid)
    assert S.names(cat, "KIM_KO") == []


def test_reopening_within_six_months(cat):
    iid = _closure(cat)
    S.complete(cat, "KIM_CM", "Task_PrepareClosure", D.closure_data(), iid)
    cat.start("kim_case_reopening", {"case_id": "K-6"}, case_ref="K-6")
    S.complete(cat, "KIM_CM", "Task_RequestReopen", {
        "reopen_reason": "Neue Kündigung der Wohnung erhalten."})
    S.complete(cat, "KIM_CM", "Task_ReopenConsentCheck", {
        "consent_confirmed": True, "reopened_on": D.days_ago(0)}, iid)
    shown = cat.show(iid)
    assert shown["status"] == "completed" and shown["data"]["case_status"] == "reopened"


def test_reopened_case_returns_to_the_support_plan(cat):
    plan = cat.start("kim_support_plan", {**CASE, "case_opened": D.days_ago(0)},
                     case_ref="K-6")["instance_id"]
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), plan)
    S.complete(cat, "KIM_CM", "Task_SupportPlan", D.plan_data([]), plan)
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data("close"), plan)
    S.complete(cat, "KIM_CM", "Task_PrepareClosure", D.closure_data(), plan)
    cat.start("kim_case_reopening", {"case_id": "K-6"}, case_ref="K-6")
    S.complete(cat, "KIM_CM", "Task_RequestReopen", {
        "reopen_reason": "Die Person meldet sich mit neuen Fragen."})
    S.complete(cat, "KIM_CM", "Task_ReopenConsentCheck", {
        "consent_confirmed": True, "reopened_on": D.days_ago(0)}, plan)
    task = S.find(cat, "KIM_CM", "Task_Assessment", plan)
    assert S.task_data(cat, task["task_id"])["cycle"] == 1
    assert cat.show(plan)["status"] == "running"
