"""Date rules against data of earlier tasks of the case (``$$key`` bounds, form_dates) through
Engine.complete on both databases: a date before the referenced case date is refused with the
field named and the task stays open with nothing written; the boundary day completes it.

P1 intake_date >= inquiry_date and consent_date >= intake_date, P0 decision_date >= the
acknowledgement (acknowledged_on), P3 first_school_day >= start_date - 7 days, P6
closure_date >= the last monitoring contact (last_contact_date, passed on by P2)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import clock as engine_clock
from engine.errors import FormInvalid
from processes import demo_catalogue as D
from tests.integration import test_catalogue_support as S
from tests.integration import test_catalogue_support_plan as SP


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


def _refused(cat, office: str, element: str, data: dict, instance_id: int | None = None
             ) -> dict[str, list[str]]:
    """Complete with ``data``, expect FormInvalid; the task is still open, its data unchanged."""
    task = S.find(cat, office, element, instance_id)
    before = S.task_data(cat, task["task_id"])
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], data)
    again = S.find(cat, office, element, instance_id)  # still open, the same task
    assert again["task_id"] == task["task_id"]
    assert S.task_data(cat, task["task_id"]) == before
    return exc.value.errors


def test_p1_interview_and_consent_not_before_the_earlier_dates(cat, clock):
    iid = cat.start("kim_intake_clearing", {"case_id": "K-1"}, case_ref="K-1")["instance_id"]
    S.complete(cat, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(0), iid)  # 2026-03-02
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    clock.advance(timedelta(days=3))  # today 2026-03-05
    interview = S.find(cat, "KIM_CM", "Task_IntakeInterview", iid)
    assert S.task_data(cat, interview["task_id"])["inquiry_date"] == "2026-03-02"

    errors = _refused(cat, "KIM_CM", "Task_IntakeInterview",
                      D.interview_data(intake_date="2026-03-01"), iid)
    assert errors == {"intake_date": ["Frühestens 02.03.2026"]}
    S.complete(cat, "KIM_CM", "Task_IntakeInterview",
               D.interview_data(intake_date="2026-03-02"), iid)  # the boundary day

    # every field error at once: the case-data rule together with a missing field
    errors = _refused(cat, "KIM_CM", "Task_RecordCmConsent",
                      D.cm_consent_data(consent_date="2026-03-01", consent_form=None), iid)
    assert errors["consent_date"] == ["Frühestens 02.03.2026"]
    assert "consent_form" in errors
    S.complete(cat, "KIM_CM", "Task_RecordCmConsent",
               D.cm_consent_data(consent_date="2026-03-02"), iid)
    assert S.names(cat, "KIM_CM") == ["Task_Clearing"]


def test_p0_decision_not_before_the_acknowledgement(cat, clock):
    consent = S.grant(cat, "K-1", "JC", "JC:SGB2", ["IDENT", "CONTACT", "FINANCE"])
    cat.start("kim_single_referral", {
        "case_id": "K-1", "consents": [consent],
        "referral": {"office": "JC", "purpose": "JC:SGB2", "requested_service": "Bitte prüfen"}},
        case_ref="K-1")
    clock.advance(timedelta(days=2))  # acknowledged on 2026-03-04
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    clock.advance(timedelta(days=5))  # today 2026-03-09
    work = S.find(cat, "JC", "Task_ProcessReferral")
    assert S.task_data(cat, work["task_id"])["acknowledged_on"] == "2026-03-04"

    errors = _refused(cat, "JC", "Task_ProcessReferral",
                      D.result_data("granted", decision_date="2026-03-03"))
    assert errors == {"decision_date": ["Frühestens 04.03.2026"]}
    S.complete(cat, "JC", "Task_ProcessReferral",
               D.result_data("granted", decision_date="2026-03-04"))
    assert S.names(cat, "JC") == []


def test_p3_first_school_day_at_most_seven_days_before_the_start(cat):
    iid = cat.start("kim_school_enrolment", {"case_id": "K-3"}, case_ref="K-3")["instance_id"]
    S.complete(cat, "KI_SEB", "Task_NewcomerCounselling", D.counselling_data("2016-05-01"), iid)
    S.complete(cat, "SCHUL", "Task_AssignSchool",
               D.school_data(start_date="2026-03-20"), iid)  # written in the SCHUL branch
    S.complete(cat, "GA", "Task_HealthExam", D.exam_data(), iid)

    errors = _refused(cat, "SCHULE", "Task_ConfirmAdmission",
                      D.admission_data(first_school_day="2026-03-12"), iid)
    assert errors == {"first_school_day": ["Frühestens 13.03.2026"]}
    S.complete(cat, "SCHULE", "Task_ConfirmAdmission",
               D.admission_data(first_school_day="2026-03-13"), iid)
    assert S.instance_status(cat, iid) == "completed"


def test_p6_closure_not_before_the_last_monitoring_contact(cat, clock):
    iid = SP._start(cat)
    S.complete(cat, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    SP._plan(cat, iid, [])
    clock.advance(timedelta(days=10))  # the closing review's contact: 2026-03-12
    S.complete(cat, "KIM_CM", "Task_ReviewResults", D.review_data("close"), iid)
    clock.advance(timedelta(days=2))  # today 2026-03-14; P6 is called with P2's data

    errors = _refused(cat, "KIM_CM", "Task_PrepareClosure",
                      D.closure_data(closure_date="2026-03-11"))
    assert errors == {"closure_date": ["Frühestens 12.03.2026"]}
    S.complete(cat, "KIM_CM", "Task_PrepareClosure", D.closure_data(closure_date="2026-03-12"))


def test_p6_without_a_recorded_contact_the_rule_does_not_apply(cat):
    """A closure started without monitoring data: no last_contact_date, so only the field's
    own rules (a past date) apply."""
    iid = cat.start("kim_case_closure", {"case_id": "K-6", "case_opened": D.days_ago(100)},
                    case_ref="K-6")["instance_id"]
    S.complete(cat, "KIM_CM", "Task_PrepareClosure",
               D.closure_data(closure_date="2025-12-01"), iid)


# --- cross-field rules against the case data (issue 14.7): x-lotse-compare with a sum of
# $$keys, x-lotse-case-if (engine/form_case.py), checked by Engine.complete ----------------


def _years_ago(cat, years: int, days: int = 0) -> str:
    today = cat.now().astimezone(engine_clock.BERLIN).date()
    return (today.replace(year=today.year - years) + timedelta(days=days)).isoformat()


def test_p0_payer_assumes_at_most_arrears_plus_two_monthly_rents(cat):
    consent = S.grant(cat, "K-5", "JC", "JC:SGB2", ["IDENT", "FINANCE", "HOUSING"])
    iid = cat.start("kim_housing_emergency", {"case_id": "K-5", "consents": [consent]},
                    case_ref="K-5")["instance_id"]
    S.complete(cat, "KIM_CM", "Task_RecordHousingEmergency",  # arrears 2400, rent 800
               D.housing_data(), iid)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    result = D.result_data("granted", arrears_decision="grant",
                           uebernahmeerklaerung_date=D.days_ago(0))
    errors = _refused(cat, "JC", "Task_ProcessReferral",
                      {**result, "arrears_amount_assumed": 4000.01})
    assert errors == {"arrears_amount_assumed": [
        "„Übernommener Betrag“ darf nicht größer sein als Mietrückstand + 2 × "
        "Bruttowarmmiete (4000)"]}
    # a rejection needs its reason (brief 4.6 b), also for the arrears decision
    errors = _refused(cat, "JC", "Task_ProcessReferral", {
        "outcome": "granted", "decision_date": D.days_ago(0), "arrears_decision": "rejected"})
    assert list(errors) == ["rejection_reason"]
    S.complete(cat, "JC", "Task_ProcessReferral", {**result, "arrears_amount_assumed": 4000})


def test_p1_consent_signer_follows_the_clients_age(cat):
    iid = cat.start("kim_intake_clearing", {"case_id": "K-2"}, case_ref="K-2")["instance_id"]
    S.complete(cat, "KIM_KO", "Task_RecordInquiry",  # 16 since yesterday
               D.inquiry_data(0, birth_date=_years_ago(cat, 16, -1)), iid)
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    S.complete(cat, "KIM_CM", "Task_IntakeInterview", D.interview_data(), iid)
    errors = _refused(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(), iid)
    assert errors == {"guardian_name": ["Pflichtfeld"], "guardian_cosigned": ["Pflichtfeld"]}
    errors = _refused(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(
        signed_by="parent_guardian", guardian_name="Amal Haddad", guardian_cosigned=True), iid)
    assert errors == {"signed_by": ["Mit 16 oder 17 Jahren unterschreibt die Person selbst "
                                    "(und Sorgeberechtigte zusätzlich)"]}
    S.complete(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(
        guardian_name="Amal Haddad", guardian_cosigned=True), iid)


def test_p1_a_child_under_16_does_not_sign_alone(cat):
    iid = cat.start("kim_intake_clearing", {"case_id": "K-3"}, case_ref="K-3")["instance_id"]
    S.complete(cat, "KIM_KO", "Task_RecordInquiry",  # turns 16 tomorrow
               D.inquiry_data(0, birth_date=_years_ago(cat, 16, 1)), iid)
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    S.complete(cat, "KIM_CM", "Task_IntakeInterview", D.interview_data(), iid)
    errors = _refused(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(), iid)
    assert errors == {"signed_by": ["Unter 16 Jahren unterschreiben Sorgeberechtigte oder "
                                    "Vormund, nicht die Person selbst"]}
    S.complete(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(
        signed_by="parent_guardian", guardian_name="Amal Haddad"), iid)


def test_p3_school_form_must_fit_the_track(cat):
    iid = cat.start("kim_school_enrolment", {"case_id": "K-4"}, case_ref="K-4")["instance_id"]
    S.complete(cat, "KI_SEB", "Task_NewcomerCounselling", D.counselling_data("2016-05-01"),
               iid)  # 9 years old: primary
    errors = _refused(cat, "SCHUL", "Task_AssignSchool",
                      D.school_data(school_form="gymnasium"), iid)
    assert errors == {"school_form": [
        "Passt nicht zum Bildungsweg Primarstufe: Grundschule, Förderschule"]}
    S.complete(cat, "SCHUL", "Task_AssignSchool", D.school_data(), iid)
