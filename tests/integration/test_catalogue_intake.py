"""P1 intake and clearing (kim_intake_clearing, kim_intake_request): every path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import clock as engine_clock
from engine.errors import FormInvalid
from processes import demo_catalogue as D
from processes.consent import Consent
from tests.integration import test_catalogue_support as S


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


def _start(cat, **data):
    return cat.start("kim_intake_clearing", {"case_id": "K-1", **data},
                     case_ref="K-1")["instance_id"]


def _to_clearing(cat, iid, walk_in=False, consent=True):
    office = "KIM_CM" if walk_in else "KIM_KO"
    element = "Task_RecordInquiryWalkIn" if walk_in else "Task_RecordInquiry"
    S.complete(cat, office, element, D.inquiry_data(0), iid)
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    S.complete(cat, "KIM_CM", "Task_IntakeInterview", D.interview_data(), iid)
    S.complete(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(consent), iid)


def test_walk_in_with_consent_and_indication_opens_the_support_plan(cat):
    iid = _start(cat, walk_in=True)
    assert S.names(cat, "KIM_KO") == []
    _to_clearing(cat, iid, walk_in=True)
    with cat.db.reader() as s:  # the base consent went into the consent register
        (base,) = s.scalars(select(Consent).where(Consent.case_id == "K-1")).all()
    assert (base.recipient_office, base.purpose) == ("KIM_CM", "KIM_CM:CASE_MANAGEMENT")
    assert "HEALTH" in base.categories and base.includes_health is False
    S.complete(cat, "KIM_CM", "Task_Clearing", D.clearing_data(True), iid)
    assert S.names(cat, "KIM_CM") == ["Task_Assessment"]
    data = S.task_data(cat, S.find(cat, "KIM_CM", "Task_Assessment")["task_id"])
    assert data["case_status"] == "active" and data["case_opened"] == "2026-03-02"
    assert data["person"]["first_name"] == "Amal"
    assert {m["name"] for m in S.messages(cat)} == {"consent_recorded"}


def test_inquiry_is_recorded_by_coordination_by_default(cat):
    iid = _start(cat)
    assert S.names(cat, "KIM_KO") == ["Task_RecordInquiry"]
    assert S.names(cat, "KIM_CM") == []
    _to_clearing(cat, iid)
    assert S.names(cat, "KIM_CM") == ["Task_Clearing"]


def test_without_consent_short_advice_and_anonymisation(cat):
    iid = _start(cat)
    _to_clearing(cat, iid, consent=False)
    S.complete(cat, "KIM_CM", "Task_ShortAdviceNoConsent", D.short_advice_data(), iid)
    shown = cat.show(iid)
    assert shown["status"] == "completed"
    assert shown["data"]["case_status"] == "short_advice"
    assert shown["data"]["anonymise_on"] == "2026-04-01"
    with cat.db.reader() as s:
        assert s.scalars(select(Consent)).all() == []


def test_not_indicated_without_existing_service_is_short_advice(cat):
    iid = _start(cat)
    _to_clearing(cat, iid)
    S.complete(cat, "KIM_CM", "Task_Clearing", D.clearing_data(False), iid)
    S.complete(cat, "KIM_CM", "Task_ShortAdvice", D.short_advice_data(), iid)
    assert cat.show(iid)["status"] == "completed"
    assert cat.show(iid)["data"]["case_status"] == "short_advice"


def test_not_indicated_with_existing_service_hands_over_through_a_referral(cat):
    iid = _start(cat)
    _to_clearing(cat, iid)
    task = S.find(cat, "KIM_CM", "Task_Clearing")
    with pytest.raises(FormInvalid) as exc:  # handover office required when another CM exists
        cat.complete(task["task_id"], D.clearing_data(False, existing_case_management="mbe"))
    assert set(exc.value.errors) == {"handover_office"}
    S.complete(cat, "KIM_CM", "Task_Clearing", D.clearing_data(
        False, existing_case_management="mbe", handover_office="MBE"), iid)
    S.complete(cat, "KIM_CM", "Task_Handover", {"handover_purpose": "MBE:BERATUNG",
                                               "handover_note": "Übergabe an die MBE."}, iid)
    S.complete(cat, "KIM_CM", "Task_ObtainConsent", D.consent_data(
        "MBE", "MBE:BERATUNG", ["IDENT", "CONTACT", "RESIDENCE"]))
    S.complete(cat, "MBE", "Task_AckReferral", D.ack_data())
    S.complete(cat, "MBE", "Task_ProcessReferral", D.result_data("granted"))
    shown = cat.show(iid)
    assert shown["status"] == "completed"
    assert shown["data"]["case_status"] == "handed_over"
    assert shown["data"]["referrals"][0]["office"] == "MBE"


def test_intake_request_from_a_referring_office_and_feedback(cat):
    cat.publish("intake_request", {"intake_id": "IN-7", "referring_office": "JC",
                                   "reason": "Mehrere Bedarfe", "case_id": "K-7"})
    task = S.find(cat, "KIM_KO", "Task_RecordInquiry")
    assert task["case_ref"] == "K-7"
    S.complete(cat, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(
        3, source_channel="referral_office", referring_office="JC"))
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data())
    S.complete(cat, "KIM_CM", "Task_IntakeInterview", D.interview_data())
    S.complete(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(
        feedback_to_referrer=True))
    S.complete(cat, "KIM_CM", "Task_Clearing", D.clearing_data(True))
    (ack,) = S.messages(cat, "intake_acknowledged")
    assert ack["status"] == "unmatched"  # for the referrer's adapter; no process receives it
    # the referrer correlates on intake_id; the case reference goes along (lint-clean)
    assert ack["correlation"] == {"case_id": "K-7"}
    with cat.db.reader() as s:
        purposes = sorted(c.purpose for c in s.scalars(select(Consent)))
    assert purposes == ["KIM:FEEDBACK_REFERRER", "KIM_CM:CASE_MANAGEMENT"]


def test_no_feedback_without_the_referrer_consent(cat):
    cat.publish("intake_request", {"intake_id": "IN-8", "referring_office": "JC",
                                   "case_id": "K-8"})
    S.complete(cat, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(
        3, source_channel="referral_office", referring_office="JC"))
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data())
    S.complete(cat, "KIM_CM", "Task_IntakeInterview", D.interview_data())
    # a referred inquiry must answer the feedback question (brief F1.4, 422 without it)
    task = S.find(cat, "KIM_CM", "Task_RecordCmConsent")
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], D.cm_consent_data())
    assert list(exc.value.errors) == ["feedback_to_referrer"]
    S.complete(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(
        feedback_to_referrer=False))
    S.complete(cat, "KIM_CM", "Task_Clearing", D.clearing_data(True))
    assert S.messages(cat, "intake_acknowledged") == []


@pytest.mark.parametrize(("urgent", "days"), [(False, 5), (True, 1)])
def test_allocation_reminder_after_the_sla_closes_with_the_allocation(cat, clock, urgent, days):
    iid = _start(cat)
    data = D.inquiry_data(0, urgent=urgent)
    if urgent:
        data["urgent_reason"] = "Räumungstermin in zwei Wochen."
    S.complete(cat, "KIM_KO", "Task_RecordInquiry", data, iid)
    clock.advance(timedelta(days=days) - timedelta(hours=1))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_AllocateCase"]
    clock.advance(timedelta(hours=2))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_AllocateCase", "Task_RemindAllocation"]
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    assert S.names(cat, "KIM_KO") == []  # the reminder closed itself


def test_first_contact_and_clearing_reminders(cat, clock):
    iid = _start(cat)
    S.complete(cat, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(0), iid)
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    clock.advance(timedelta(days=15))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_IntakeInterview", "Task_RemindFirstContact"]
    assert S.names(cat, "KIM_KO") == ["Task_RemindFirstContactKo"]
    S.complete(cat, "KIM_CM", "Task_RemindFirstContact", D.acknowledge_data(), iid)
    S.complete(cat, "KIM_CM", "Task_IntakeInterview", D.interview_data(), iid)
    assert S.names(cat, "KIM_KO") == []
    S.complete(cat, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(), iid)
    clock.advance(timedelta(days=31))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_Clearing", "Task_RemindClearing"]
    S.complete(cat, "KIM_CM", "Task_Clearing", D.clearing_data(True), iid)
    assert S.names(cat, "KIM_CM") == ["Task_Assessment"]


def test_inquiry_form_rules(cat):
    _start(cat)
    task = S.find(cat, "KIM_KO", "Task_RecordInquiry")
    bad = D.inquiry_data(1, urgent=True, street="Hauptstr. 1", languages=["arabic"],
                         first_name="Олена 1", birth_date="2090-01-01")
    del bad["phone"]
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], bad)
    # every error at once: conditional requirement, address all-or-none, at least one contact
    # channel (the address is incomplete and the phone is missing), V-09, V-02, V-03
    assert set(exc.value.errors) == {"urgent_reason", "postcode", "city", "_form",
                                     "languages.0", "first_name", "birth_date"}
    no_contact = D.inquiry_data(1)
    del no_contact["phone"]
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], no_contact)
    assert list(exc.value.errors) == ["_form"]
    # any script is a valid name, stored exactly as entered
    S.complete(cat, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(5))
    data = S.task_data(cat, S.find(cat, "KIM_KO", "Task_AllocateCase")["task_id"])
    assert data["person"]["first_name"] == "ሰላም"


def test_inquiry_refuses_more_minors_than_household_members(cat):
    """F1.1: minors_in_household <= household_size is enforced by the engine (not only a help
    text), reported with every other field error at once and naming both fields; the task
    stays open and its data unchanged."""
    iid = _start(cat)
    task = S.find(cat, "KIM_KO", "Task_RecordInquiry")
    before = S.task_data(cat, task["task_id"])
    bad = D.inquiry_data(0, household_size=2, minors_in_household=3, languages=["arabic"])
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], bad)
    assert set(exc.value.errors) == {"minors_in_household", "languages.0"}
    (msg,) = exc.value.errors["minors_in_household"]
    assert "Davon minderjährig" in msg and "Personen im Haushalt" in msg and "(2)" in msg
    assert S.find(cat, "KIM_KO", "Task_RecordInquiry")["task_id"] == task["task_id"]
    assert S.task_data(cat, task["task_id"]) == before
    assert S.names(cat, "KIM_KO") == ["Task_RecordInquiry"]
    # an unaccompanied minor: household of one, one minor
    S.complete(cat, "KIM_KO", "Task_RecordInquiry",
               D.inquiry_data(0, household_size=1, minors_in_household=1), iid)
    assert S.names(cat, "KIM_KO") == ["Task_AllocateCase"]


def test_interview_needs_the_art13_information(cat):
    iid = _start(cat)
    S.complete(cat, "KIM_KO", "Task_RecordInquiry", D.inquiry_data(0), iid)
    S.complete(cat, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    task = S.find(cat, "KIM_CM", "Task_IntakeInterview")
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], D.interview_data(informed_art13=False))
    assert set(exc.value.errors) == {"informed_art13"}
