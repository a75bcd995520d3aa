"""P0 (referral protocol in the receiving office) with the case manager's side
(kim_single_referral): every path, across processes through the message router, with the
SLA timers on the movable clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import clock as engine_clock
from engine.errors import FormInvalid
from processes import demo_catalogue as D
from processes.consent import revoke_consent
from processes.referrals import list_referrals
from tests.integration import test_catalogue_support as S


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


PERSON = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12",
          "phone": "+49 521 550001", "interview_summary": "vertraulich", "health_notes": "x"}


def _start(cat, office="JC", purpose="JC:SGB2", granted=True,
           categories=("IDENT", "CONTACT", "FINANCE"), also=()):
    consents = [S.grant(cat, "K-1", office, purpose, list(categories))] if granted else []
    consents += [S.grant(cat, "K-1", o, p) for o, p in also]
    data = {"case_id": "K-1", "referral": {"office": office, "purpose": purpose,
                                           "requested_service": "Bitte prüfen"},
            "consents": consents, "person": PERSON}
    return cat.start("kim_single_referral", data, case_ref="K-1")["instance_id"]


def _record(cat, iid):
    return cat.show(iid)["data"]["referral_record"]


def _referral(cat):
    (ref,) = [r for r in list_referrals(cat.db, now=cat.now(), case_id="K-1")
              if r["state"] not in ("forwarded",)] or list_referrals(cat.db, now=cat.now(),
                                                                      case_id="K-1")
    return ref


def test_acknowledged_and_granted(cat):
    iid = _start(cat)
    ack = S.find(cat, "JC", "Task_AckReferral")
    office_iid = ack["instance_id"]
    assert office_iid != iid and ack["case_ref"] == "K-1"
    # only consented categories travel; case-manager notes and health never do
    shared = S.task_data(cat, ack["task_id"])["shared_data"]
    assert shared == {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12",
                      "phone": "+49 521 550001"}
    assert _referral(cat)["state"] == "sent"
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    assert _referral(cat)["state"] == "acknowledged"
    S.complete(cat, "JC", "Task_ProcessReferral",
               D.result_data("granted", sgb2_benefit_start="2026-04-01", bg_number="BG-1"))
    record = _record(cat, iid)
    assert record["status"] == "completed" and record["outcome"] == "granted"
    assert record["result"]["sgb2_benefit_start"] == "2026-04-01"
    assert record["office_reference"] == "AZ-2026-001"
    assert cat.show(iid)["status"] == "completed"
    assert cat.show(office_iid)["status"] == "completed"
    assert _referral(cat)["state"] == "completed"
    assert {m["status"] for m in S.messages(cat)} == {"delivered"}


def test_appointment_and_rejection_are_results_too(cat):
    iid = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data("rejected"))
    assert _record(cat, iid)["outcome"] == "rejected"
    iid2 = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data("appointment_scheduled"))
    assert _record(cat, iid2)["outcome"] == "appointment_scheduled"


def test_invalid_answers_return_every_error_and_change_nothing(cat):
    _start(cat)
    ack = S.find(cat, "JC", "Task_AckReferral")
    with pytest.raises(FormInvalid) as exc:
        cat.complete(ack["task_id"], {"responsible": False, "suggested_office": "JC",
                                      "not_responsible_reason": "kurz"})
    assert set(exc.value.errors) == {"suggested_office", "not_responsible_reason"}
    with pytest.raises(FormInvalid) as exc:
        cat.complete(ack["task_id"], {"responsible": True})
    assert set(exc.value.errors) == {"office_reference", "expected_result_date"}
    assert S.find(cat, "JC", "Task_AckReferral")["task_id"] == ack["task_id"]
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    task = S.find(cat, "JC", "Task_ProcessReferral")
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], {"outcome": "info_needed"})
    assert set(exc.value.errors) == {"documents_missing", "required_by"}
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], {"outcome": "granted", "decision_date": "2099-01-01",
                                       "arrears_decision": "grant"})
    assert set(exc.value.errors) == {"decision_date", "arrears_amount_assumed",
                                     "uebernahmeerklaerung_date"}


def test_missing_consent_is_obtained_first(cat):
    iid = _start(cat, granted=False)
    assert S.names(cat, "JC") == []
    assert S.messages(cat) == []
    S.complete(cat, "KIM_CM", "Task_ObtainConsent",
               D.consent_data("JC", "JC:SGB2", ["IDENT", "WORK"]))
    ack = S.find(cat, "JC", "Task_AckReferral")
    assert S.task_data(cat, ack["task_id"])["shared_data"] == {
        "first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12"}
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data())
    record = _record(cat, iid)
    assert record["status"] == "completed"
    assert [c["purpose"] for c in record["new_consents"]] == ["JC:SGB2"]


def test_consent_outside_the_matrix_is_refused(cat):
    _start(cat, office="ABH", purpose="ABH:AUFENTHALT", granted=False)
    task = S.find(cat, "KIM_CM", "Task_ObtainConsent")
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], D.consent_data("ABH", "ABH:AUFENTHALT",
                                                     ["IDENT", "HEALTH"], includes_health=True))
    assert "data_categories.1" in exc.value.errors


def test_refused_consent_sends_nothing(cat):
    iid = _start(cat, granted=False)
    S.complete(cat, "KIM_CM", "Task_ObtainConsent", {"consent_given": False})
    assert _record(cat, iid)["status"] == "not_sent"
    assert S.messages(cat) == []


def test_forwarded_and_accepted_refers_to_the_named_office(cat, clock):
    iid = _start(cat, also=[("MBE", "MBE:BERATUNG")])
    clock.advance(timedelta(days=2))
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data(False))
    assert S.names(cat, "JC") == []
    S.complete(cat, "KIM_CM", "Task_ReviewForward", {"forward_decision": "accept",
                                                     "forward_purpose": "MBE:BERATUNG"})
    ack = S.find(cat, "MBE", "Task_AckReferral")
    data = S.task_data(cat, ack["task_id"])
    assert data["original_receipt_date"] == "2026-03-02"  # § 16 SGB I: the first receipt
    S.complete(cat, "MBE", "Task_AckReferral", D.ack_data())
    S.complete(cat, "MBE", "Task_ProcessReferral", D.result_data("granted"))
    record = _record(cat, iid)
    assert record["office"] == "MBE" and record["status"] == "completed"
    assert [h["status"] for h in record["history"]] == ["forwarded"]
    assert record["history"][0]["suggested_office"] == "MBE"
    states = sorted(r["state"] for r in list_referrals(cat.db, now=cat.now(), case_id="K-1"))
    assert states == ["completed", "forwarded"]


def test_forwarded_disputed_is_clarified_by_coordination(cat):
    iid = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data(False))
    S.complete(cat, "KIM_CM", "Task_ReviewForward", {
        "forward_decision": "dispute", "dispute_reason": "Das Jobcenter ist zuständig."})
    S.complete(cat, "KIM_KO", "Task_DisputeForward", {"resolution": "office_responsible"})
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())  # sent again to the JC
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data())
    assert _record(cat, iid)["status"] == "completed"
    iid2 = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data(False), case_ref="K-1")
    S.complete(cat, "KIM_CM", "Task_ReviewForward", {
        "forward_decision": "dispute", "dispute_reason": "Das Jobcenter ist zuständig."})
    S.complete(cat, "KIM_KO", "Task_DisputeForward", {"resolution": "withdrawn"})
    assert _record(cat, iid2)["status"] == "forwarded"
    assert S.names(cat, "JC") == []


def test_documents_requested_and_provided(cat):
    iid = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data("info_needed"))
    assert _referral(cat)["state"] == "info_requested"
    provide = S.find(cat, "KIM_CM", "Task_ProvideInfo")
    assert provide["due_at"] is not None
    S.complete(cat, "KIM_CM", "Task_ProvideInfo", {"documents_provided": ["Mietvertrag"],
                                                   "provided_on": D.days_ago(0)})
    assert _referral(cat)["state"] == "in_progress"
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data("granted"))
    assert _record(cat, iid)["status"] == "completed"


def test_no_documents_lets_the_office_reject_after_fourteen_days(cat, clock):
    iid = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data("info_needed"))
    clock.advance(timedelta(days=14 + 14 + 1))
    cat.fire_due_timers()
    # the office may keep waiting ...
    S.complete(cat, "JC", "Task_CloseNoCooperation", {"close_referral": False})
    assert S.names(cat, "JC") == ["Task_RemindResult"]  # due_result (21 days) passed too
    assert S.names(cat, "KIM_CM") == ["Task_ChaseResult", "Task_ProvideInfo"]
    iid2 = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data(), case_ref="K-1")
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data(
        "info_needed", required_by=D.days_ahead(3)))
    clock.advance(timedelta(days=18))
    cat.fire_due_timers()
    # ... or close the referral as rejected: the case manager's open task is closed
    S.complete(cat, "JC", "Task_CloseNoCooperation", {
        "close_referral": True, "notice_sent_date": D.days_ago(1),
        "close_reason": "Keine Unterlagen trotz schriftlichem Hinweis."})
    record = _record(cat, iid2)
    assert record["outcome"] == "rejected" and record["status"] == "completed"
    assert cat.show(iid)["status"] == "running"


def test_unanswered_referral_is_chased_escalated_and_closed_by_the_ack(cat, clock):
    iid = _start(cat)
    clock.advance(timedelta(days=4))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == []
    clock.advance(timedelta(days=2))  # past due_ack (P5D)
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_ChaseAck"]
    S.complete(cat, "KIM_CM", "Task_ChaseAck", D.acknowledge_data())
    clock.advance(timedelta(days=5))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_EscalateNoAck"]
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    assert S.names(cat, "KIM_KO") == []  # the acknowledgement closed the escalation
    cancelled = [t for t in cat.tasks(instance_id=iid, state="CANCELLED")]
    assert [t["element_id"] for t in cancelled] == ["Task_EscalateNoAck"]


def test_overdue_result_reminds_both_sides_and_the_result_closes_everything(cat, clock):
    iid = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    clock.advance(timedelta(days=22))  # JC result SLA 21 days
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_ChaseResult"]
    assert S.names(cat, "JC") == ["Task_ProcessReferral", "Task_RemindResult"]
    clock.advance(timedelta(days=21))  # sent + 2 x SLA
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_EscalateNoResult"]
    assert S.names(cat, "JC") == ["Task_EscalateOverdue", "Task_ProcessReferral",
                                  "Task_RemindResult"]
    S.complete(cat, "JC", "Task_RemindResult", D.acknowledge_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data())
    assert S.names(cat, "JC") == [] and S.names(cat, "KIM_CM") == []
    assert S.names(cat, "KIM_KO") == []
    assert _record(cat, iid)["status"] == "completed"


def test_revocation_withdraws_before_and_during_processing(cat):
    iid = _start(cat)
    consent_id = cat.show(iid)["data"]["consents"][0]["consent_id"]
    revoke_consent(cat, consent_id, channel="phone")
    assert S.names(cat, "JC") == []  # the office's task left its queue
    assert _record(cat, iid)["status"] == "suspended_consent_revoked"
    assert _referral(cat)["state"] == "suspended_consent_revoked"
    # during processing
    iid2 = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    consent_id = cat.show(iid2)["data"]["consents"][0]["consent_id"]
    revoke_consent(cat, consent_id, channel="letter")
    assert S.names(cat, "JC") == []
    assert _record(cat, iid2)["status"] == "suspended_consent_revoked"


def test_a_consent_the_register_does_not_hold_is_asked_for_and_nothing_is_sent(cat):
    # start data claiming a consent the register does not have: the process asks the
    # register (issue 14.2: no process keeps its own copy), so it asks for the consent
    # and nothing is sent (before, the copy passed the gateway and the gate refused)
    fake = D.consent_record("JC", "JC:SGB2")
    cat.start("kim_single_referral", {
        "case_id": "K-9", "referral": {"office": "JC", "purpose": "JC:SGB2"},
        "consents": [fake]}, case_ref="K-9")
    assert S.find(cat, "KIM_CM", "Task_ObtainConsent")["case_ref"] == "K-9"
    assert S.messages(cat) == []


def test_proxy_mode_for_an_external_office(cat):
    iid = _start(cat, office="FK", purpose="FK:KINDERGELD", categories=("IDENT", "FAMILY"))
    assert S.names(cat, "FK") == []
    ack = S.find(cat, "KIM_CM", "Task_AckReferral")
    assert ack["name"].startswith("Antwort der Stelle erfassen")
    with pytest.raises(FormInvalid) as exc:
        cat.complete(ack["task_id"], D.ack_data())
    assert set(exc.value.errors) == {"recorded_channel", "recorded_received_on"}
    S.complete(cat, "KIM_CM", "Task_AckReferral", D.proxy(D.ack_data()))
    S.complete(cat, "KIM_CM", "Task_ProcessReferral",
               D.proxy(D.result_data(kindergeld_start_month="2026-04")))
    record = _record(cat, iid)
    assert record["result"] == {"kindergeld_start_month": "2026-04"}
