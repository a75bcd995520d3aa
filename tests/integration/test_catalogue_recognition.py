"""P4 recognition transition (kim_recognition_transition) and the residence-permit watch
(kim_permit_watch): parallel referrals, deadlines from the BAMF decision, benefit gap,
course and child-benefit reminders, and every watch path on the movable clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import clock as engine_clock
from processes import demo_catalogue as D
from tests.integration import test_catalogue_support as S


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


def _consents(cat, case, *pairs):
    return [S.grant(cat, case, o, p) for o, p in pairs]


def _start_p4(cat, *pairs, **bamf):
    consents = _consents(cat, "K-4", *pairs)
    iid = cat.start("kim_recognition_transition", {"case_id": "K-4", "consents": consents},
                    case_ref="K-4")["instance_id"]
    S.complete(cat, "KIM_CM", "Task_RecordBamfDecision", D.bamf_data(**bamf), iid)
    return iid


def _answer(cat, office, result, proxy=False):
    lane = "KIM_CM" if proxy else office
    wrap = D.proxy if proxy else (lambda d: d)
    acks = [t for t in cat.tasks(office=lane) if t["element_id"] == "Task_AckReferral"
            and (not proxy or S.task_data(cat, t["task_id"])["office"] == office)]
    cat.complete(acks[0]["task_id"], wrap(D.ack_data()))
    works = [t for t in cat.tasks(office=lane) if t["element_id"] == "Task_ProcessReferral"
             and (not proxy or S.task_data(cat, t["task_id"])["office"] == office)]
    cat.complete(works[0]["task_id"], wrap(result))


def test_transition_with_gap_course_and_permit_watch(cat):
    iid = _start_p4(cat, ("ABH", "ABH:AUFENTHALT"), ("JC", "JC:SGB2"), ("SOZ", "SOZ:LEISTUNG"),
                    ("IKT", "IKT:KURSANMELDUNG"))
    task = S.find(cat, "JC", "Task_AckReferral")
    data = S.task_data(cat, task["task_id"])
    # decision 2026-02-25: AsylbLG ends 2026-02-28, SGB II from 2026-03-01, apply by 03-31
    assert data["referral"]["legal_deadline"] == {"date": "2026-03-31",
                                                  "basis": "§ 37 Abs. 2 SGB II"}
    assert data["urgency"] == "urgent"
    soz = S.task_data(cat, S.find(cat, "SOZ", "Task_AckReferral")["task_id"])
    assert "2026-02-28" in soz["requested_service"]
    _answer(cat, "ABH", D.result_data("granted", permit_issue_date=D.days_ago(0),
                                      permit_valid_until=D.days_ahead(1095),
                                      integration_course_obligation=True))
    # the course provider (external: proxy mode) gets its referral after the ABH result
    _answer(cat, "IKT", D.result_data("granted", course_start_date=D.days_ahead(30)),
            proxy=True)
    _answer(cat, "JC", D.result_data("granted", sgb2_benefit_start="2026-04-01"))
    _answer(cat, "SOZ", D.result_data("granted", asylblg_end_date="2026-02-28"))
    S.complete(cat, "KIM_CM", "Task_CheckTransition", {"sgb2_benefit_start": "2026-04-01"},
               iid)
    S.complete(cat, "KIM_CM", "Task_BridgeGap", {
        "bridging_measure": "vorschuss_42_sgb1", "bridging_requested_on": D.days_ago(0)}, iid)
    shown = cat.show(iid)
    assert shown["status"] == "completed"
    assert sorted(r["office"] for r in shown["data"]["referrals"]) == ["ABH", "IKT", "JC",
                                                                       "SOZ"]
    (watch,) = S.messages(cat, "permit_watch_requested")
    assert watch["status"] == "delivered"


def test_no_gap_no_course_and_child_benefit_reminder(cat, clock):
    iid = _start_p4(cat, ("ABH", "ABH:AUFENTHALT"), ("JC", "JC:SGB2"), ("SOZ", "SOZ:LEISTUNG"),
                    ("FK", "FK:KINDERGELD"), children_in_household=2)
    clock.advance(timedelta(days=31))
    cat.fire_due_timers()
    assert "Task_KindergeldReminder" in S.names(cat, "KIM_CM")
    _answer(cat, "FK", D.result_data("granted", kindergeld_start_month="2026-03"),
            proxy=True)
    assert "Task_KindergeldReminder" not in S.names(cat, "KIM_CM")
    _answer(cat, "ABH", D.result_data("granted", integration_course_obligation=False,
                                      permit_valid_until=D.days_ahead(1000)))
    _answer(cat, "JC", D.result_data("granted", sgb2_benefit_start="2026-03-01"))
    _answer(cat, "SOZ", D.result_data("granted"))
    S.complete(cat, "KIM_CM", "Task_CheckTransition", {"sgb2_benefit_start": "2026-03-01"},
               iid)
    assert cat.show(iid)["status"] == "completed"
    assert "IKT" not in {r["office"] for r in cat.show(iid)["data"]["referrals"]}


def test_missing_job_centre_application_warns_and_escalates(cat, clock):
    _start_p4(cat, ("ABH", "ABH:AUFENTHALT"), ("JC", "JC:SGB2"), ("SOZ", "SOZ:LEISTUNG"))
    clock.advance(timedelta(days=19))  # 2026-03-21 08:00: ten days before 03-31
    cat.fire_due_timers()
    assert "Task_JcApplicationMissing" in S.names(cat, "KIM_CM")
    clock.advance(timedelta(days=10))
    cat.fire_due_timers()
    assert "Task_EscalateJcApplication" in S.names(cat, "KIM_KO")
    _answer(cat, "JC", D.result_data("granted", jc_application_date=D.days_ago(2)))
    assert "Task_JcApplicationMissing" not in S.names(cat, "KIM_CM")
    assert "Task_EscalateJcApplication" not in S.names(cat, "KIM_KO")


def test_course_entitlement_lapsing_warning(cat, clock):
    _start_p4(cat, ("ABH", "ABH:AUFENTHALT"), ("JC", "JC:SGB2"), ("SOZ", "SOZ:LEISTUNG"),
              ("IKT", "IKT:KURSANMELDUNG"))
    _answer(cat, "ABH", D.result_data("granted", permit_issue_date=D.days_ago(0),
                                      permit_valid_until=D.days_ahead(1095)))
    clock.advance(timedelta(days=276))  # nine months after the permit
    cat.fire_due_timers()
    assert "Task_CourseEntitlementLapsing" in S.names(cat, "KIM_CM")


# --- the permit watch ---------------------------------------------------------------------------

def _watch(cat, until: str, applied: str | None = None) -> int:
    consents = _consents(cat, "K-5", ("ABH", "ABH:AUFENTHALT"))
    (mid,) = cat.publish("permit_watch_requested", {
        "case_id": "K-5", "permit_valid_until": until, "renewal_applied_date": applied,
        "consents": consents, "person": {"first_name": "Yonas"}})
    (msg,) = [m for m in cat.messages() if m["message_id"] == mid]
    return msg["target_instance_id"]


def test_renewal_prepared_in_time_keeps_the_title_and_restarts(cat, clock):
    iid = _watch(cat, "2026-06-30")
    clock.set(clock.now().replace(month=5, day=5, hour=9))  # 56 days before expiry
    cat.fire_due_timers()
    S.complete(cat, "KIM_CM", "Task_PrepareRenewal", {
        "renewal_applied": True, "renewal_applied_date": D.days_ago(0)}, iid)
    ack = S.find(cat, "ABH", "Task_AckReferral")
    data = S.task_data(cat, ack["task_id"])
    assert "§ 81 Abs. 4 S. 1" in data["requested_service"]
    S.complete(cat, "ABH", "Task_AckReferral", D.ack_data())
    S.complete(cat, "ABH", "Task_ProcessReferral", D.result_data(
        "granted", permit_valid_until="2028-06-30", fiktion_issued=True))
    assert S.names(cat, "ABH") == []
    # the watch restarted for the new date: nothing until 56 days before 2028-06-30
    assert cat.show(iid)["status"] == "running"
    clock.set(clock.now().replace(year=2028, month=5, day=5))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_PrepareRenewal"]
    cat.publish("case_closed", {"case_id": "K-5", "closure_reason": "moved_away"})
    assert cat.show(iid)["status"] == "completed"
    assert S.names(cat, "KIM_CM") == []


def test_application_recorded_later_but_before_expiry(cat, clock):
    iid = _watch(cat, "2026-06-30")
    clock.set(clock.now().replace(month=5, day=5, hour=9))
    cat.fire_due_timers()
    S.complete(cat, "KIM_CM", "Task_PrepareRenewal", {"renewal_applied": False}, iid)
    clock.set(clock.now().replace(month=6, day=3, hour=9))  # 27 days before expiry
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == ["Task_RecordRenewalApplication", "Task_RenewalMissing"]
    assert S.names(cat, "KIM_KO") == ["Task_RenewalMissingKo"]
    S.complete(cat, "KIM_CM", "Task_RecordRenewalApplication", {
        "renewal_applied_date": D.days_ago(0)}, iid)
    assert S.names(cat, "KIM_CM") == [] and S.names(cat, "KIM_KO") == []
    data = S.task_data(cat, S.find(cat, "ABH", "Task_AckReferral")["task_id"])
    assert data["requested_service"].startswith("Verlängerung")


def test_late_application_gets_no_fiction(cat, clock):
    iid = _watch(cat, "2026-04-15")
    clock.set(clock.now().replace(month=4, day=16, hour=9))
    cat.fire_due_timers()
    names = S.names(cat, "KIM_CM")
    assert "Task_LateApplication" in names and "Task_PrepareRenewal" in names
    S.complete(cat, "KIM_CM", "Task_LateApplication", {
        "renewal_applied_date": D.days_ago(0),
        "hardship_reason": "Krankenhausaufenthalt während der Frist."}, iid)
    assert S.names(cat, "KIM_CM") == [] and S.names(cat, "KIM_KO") == []
    data = S.task_data(cat, S.find(cat, "ABH", "Task_AckReferral")["task_id"])
    assert "§ 81 Abs. 4 S. 3" in data["requested_service"]
    assert data["urgency"] == "critical"


def test_watch_started_with_an_application_goes_straight_to_the_authority(cat):
    _watch(cat, "2026-06-30", applied="2026-02-20")
    data = S.task_data(cat, S.find(cat, "ABH", "Task_AckReferral")["task_id"])
    assert data["requested_service"].startswith("Verlängerung")
