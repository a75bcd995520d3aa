"""P5 housing emergency (kim_housing_emergency, kim_housing_court_notice): both entries, both
payers, debt counselling, emergency accommodation and the grace-period timers."""

from __future__ import annotations

import pytest

from engine import clock as engine_clock
from processes import demo_catalogue as D
from tests.integration import test_catalogue_support as S


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


def _start(cat, *pairs, **form):
    consents = [S.grant(cat, "K-5", o, p) for o, p in pairs]
    iid = cat.start("kim_housing_emergency", {"case_id": "K-5", "consents": consents},
                    case_ref="K-5")["instance_id"]
    S.complete(cat, "KIM_CM", "Task_RecordHousingEmergency", D.housing_data(**form), iid)
    return iid


LANDLORD = {"landlord_contacted_on": "2026-03-02", "landlord_position": "accepts_payment"}
OUTCOME = {"housing_outcome": "tenancy_secured", "outcome_date": "2026-03-02"}


def test_sgb2_household_with_high_arrears_and_an_imminent_eviction(cat):
    iid = _start(cat, ("JC", "JC:SGB2"), notice_type="raeumungstermin",
                 eviction_date=D.days_ahead(5))
    data = S.task_data(cat, S.find(cat, "WOHN", "Task_LandlordContact")["task_id"])
    # suit served 2026-02-20 -> 2026-04-20 (Monday), decision by 04-06, reminder 03-23
    assert data["schonfrist_end"] == "2026-04-20"
    assert data["decision_deadline"] == "2026-04-06"
    assert data["decision_reminder"] == "2026-03-23"
    assert data["arrears_months"] == 3 and data["payer"] == "JC"
    assert S.names(cat, "ORD") == ["Task_EmergencyAccommodation"]
    ack = S.task_data(cat, S.find(cat, "JC", "Task_AckReferral")["task_id"])
    assert ack["requested_service"] == "Mietschuldenübernahme prüfen und entscheiden"
    assert ack["urgency"] == "critical"
    # debt counselling: no consent yet, so the case manager asks for it first
    S.complete(cat, "KIM_CM", "Task_ObtainConsent", D.consent_data(
        "FWT", "FWT:SCHULDNERBERATUNG", ["IDENT", "CONTACT", "FINANCE"]))
    S.complete(cat, "KIM_CM", "Task_AckReferral", D.proxy(D.ack_data()))
    S.complete(cat, "KIM_CM", "Task_ProcessReferral", D.proxy(D.result_data(
        "appointment_scheduled")))
    S.complete(cat, "WOHN", "Task_LandlordContact", LANDLORD, iid)
    S.complete(cat, "ORD", "Task_EmergencyAccommodation", {
        "accommodation_address": "Notunterkunft Nord", "accommodation_date": D.days_ahead(5)},
        iid)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data(
        "granted", arrears_decision="loan", arrears_amount_assumed=2400,
        uebernahmeerklaerung_date=D.days_ago(0)))
    S.complete(cat, "WOHN", "Task_HousingOutcome", OUTCOME, iid)
    shown = cat.show(iid)
    assert shown["status"] == "completed"
    assert shown["data"]["payer_result"]["arrears_decision"] == "loan"


def test_court_notice_at_the_unit_with_the_social_welfare_office_as_payer(cat):
    consent = S.grant(cat, "K-6", "SOZ", "SOZ:LEISTUNG")
    cat.publish("court_eviction_notice", {"case_id": "K-6", "court_reference": "5 C 12/26",
                                          "served_date": D.days_ago(3)})
    assert S.names(cat, "KIM_CM") == []
    task = S.find(cat, "WOHN", "Task_RecordHousingEmergencyWohn")
    assert S.task_data(cat, task["task_id"])["court_reference"] == "5 C 12/26"
    cat.complete(task["task_id"], D.housing_data(
        benefits_current="asylblg", arrears_amount=700, eviction_suit_served_date=D.days_ago(3)))
    assert S.names(cat, "ORD") == []
    # the SOZ consent is in the register only: the process asks the register and does not
    # ask again (issue 14.2; before, it asked because its own copy was empty)
    assert S.names(cat, "KIM_CM") == []
    assert consent["purpose"] == "SOZ:LEISTUNG"
    S.complete(cat, "SOZ", "Task_AckReferral", D.ack_data())
    S.complete(cat, "SOZ", "Task_ProcessReferral", D.result_data(
        "rejected", arrears_decision="rejected"))
    S.complete(cat, "WOHN", "Task_LandlordContact", LANDLORD)
    S.complete(cat, "WOHN", "Task_HousingOutcome", {**OUTCOME,
                                                    "housing_outcome": "with_relatives"})
    assert all(m["status"] != "unmatched" for m in S.messages(cat))


def test_grace_period_timers(cat, clock):
    iid = _start(cat, ("SOZ", "SOZ:LEISTUNG"), benefits_current="none", arrears_amount=800)
    assert S.names(cat, "SOZ") == ["Task_AckReferral"]
    clock.set(clock.now().replace(month=3, day=22, hour=23))
    cat.fire_due_timers()
    assert "Task_RemindPayerDecision" not in S.names(cat, "KIM_CM")
    clock.set(clock.now().replace(month=3, day=23, hour=1))  # reminder 28 days before
    cat.fire_due_timers()
    assert "Task_RemindPayerDecision" in S.names(cat, "KIM_CM")
    clock.set(clock.now().replace(month=4, day=6))  # 14 days before
    cat.fire_due_timers()
    assert "Task_SchonfristAtRisk" in S.names(cat, "KIM_KO")
    clock.set(clock.now().replace(month=4, day=21))  # grace period over
    cat.fire_due_timers()
    assert "Task_SchonfristExpired" in S.names(cat, "WOHN")
    S.complete(cat, "SOZ", "Task_AckReferral", D.ack_data())
    S.complete(cat, "SOZ", "Task_ProcessReferral", D.result_data("granted"))
    # the decision closes the open grace-period tasks
    assert S.names(cat, "KIM_CM") == [] and S.names(cat, "KIM_KO") == []
    assert S.names(cat, "WOHN") == ["Task_LandlordContact"]
    assert cat.show(iid)["status"] == "running"


def test_ordinary_termination_has_no_grace_period(cat):
    iid = _start(cat, ("JC", "JC:SGB2"), notice_type="ordentliche_kuendigung",
                 eviction_suit_served_date=None)
    data = S.task_data(cat, S.find(cat, "WOHN", "Task_LandlordContact")["task_id"])
    assert data["schonfrist_end"] is None and data["arrears_months"] == 3
    assert cat.show(iid)["status"] == "running"
