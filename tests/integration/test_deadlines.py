"""Deadlines are due when they say (issue 14.5): one rule for writing and reading a due time.

A referral sent at a moment is due ``n`` calendar days later at the same Berlin wall time
(``processes.dates.due_in``), written as ISO 8601 with the Berlin offset. The referral record,
the chase timer and the office's task all use that one value, so the chase fires exactly at
the record's ``due_ack`` in winter time, in summer time and across the change of time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine import clock as engine_clock
from engine.clock import BERLIN
from processes import demo_catalogue as D
from processes.referrals import list_referrals
from tests.integration import test_catalogue_support as S
from tests.integration.test_catalogue_referral import _start
from web import audit_queries as aq


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


SENT = {
    "winter": datetime(2026, 1, 12, 15, 37, tzinfo=BERLIN),
    "summer": datetime(2026, 7, 13, 15, 37, tzinfo=BERLIN),
    "into_summer_time": datetime(2026, 3, 26, 15, 37, tzinfo=BERLIN),  # due 31 Mar, CEST
    "into_winter_time": datetime(2026, 10, 22, 15, 37, tzinfo=BERLIN),  # due 27 Oct, CET
}


def _ref(cat):
    (ref,) = list_referrals(cat.db, now=cat.now(), case_id="K-1")
    return ref


@pytest.mark.parametrize("season", list(SENT))
def test_the_chase_fires_exactly_at_the_referrals_due_ack(cat, clock, season):
    sent = SENT[season]
    clock.set(sent)
    iid = _start(cat)
    ref = _ref(cat)
    due_ack = datetime.fromisoformat(ref["due_ack"])
    due_result = datetime.fromisoformat(ref["due_result"])
    # five calendar days at the same Berlin wall time (JC: ack 5 days, result 21 days)
    assert due_ack.astimezone(BERLIN).replace(tzinfo=None) == datetime(
        sent.year, sent.month, sent.day + 5, 15, 37)
    assert (due_result.astimezone(BERLIN).date() - sent.date()).days == 21
    assert due_result.astimezone(BERLIN).strftime("%H:%M") == "15:37"
    # the chase timer is the next timer of the case manager's instance, at due_ack exactly
    assert datetime.fromisoformat(cat.show(iid)["next_timer_at"]) == due_ack
    # the office's task shows the same due time
    ack = S.find(cat, "JC", "Task_AckReferral")
    assert datetime.fromisoformat(ack["due_at"]) == due_ack
    clock.set(due_ack - timedelta(minutes=1))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_CM") == []
    assert _ref(cat)["overdue_ack"] is False
    clock.set(due_ack + timedelta(minutes=1))
    assert cat.fire_due_timers() >= 1
    assert S.names(cat, "KIM_CM") == ["Task_ChaseAck"]
    assert _ref(cat)["overdue_ack"] is True


def test_escalation_notifies_the_receiving_offices_team_lead(cat, clock):
    clock.set(SENT["into_summer_time"])
    _start(cat)
    due_ack = datetime.fromisoformat(_ref(cat)["due_ack"])
    escalate = due_ack.astimezone(BERLIN) + timedelta(days=5)  # same wall time, 5 days on
    clock.set(escalate - timedelta(minutes=1))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == [] and S.names(cat, "JC") == ["Task_AckReferral"]
    clock.set(escalate + timedelta(minutes=1))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_EscalateNoAck"]
    # the office's team lead gets a task in the office's own queue
    notice = S.find(cat, "JC", "Task_TeamLeadNoAck")
    assert notice["instance_id"] == S.find(cat, "JC", "Task_AckReferral")["instance_id"]
    data = S.task_data(cat, notice["task_id"])
    assert data["escalation"]["referral_id"] == _ref(cat)["referral_id"]
    assert data["escalation"]["reason"] == "no_ack"
    assert datetime.fromisoformat(data["escalation"]["due_ack"]) == due_ack
    # the acknowledgement closes the coordination's escalation and the team lead's notice
    # (brief 4.3: open chase/escalation tasks close with the reason "acknowledged")
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    assert S.names(cat, "KIM_KO") == []
    assert S.names(cat, "JC") == ["Task_ProcessReferral"]
    assert {m["status"] for m in S.messages(cat, "referral_escalated")} == {"delivered"}
    closed = {r["details"]["element"]: r for r in
              aq.export_rows(cat.db, aq.AuditFilter(case_ref="K-1"))
              if r["event_type"] == "task.cancelled"}
    assert set(closed) == {"Task_TeamLeadNoAck", "Task_EscalateNoAck", "Task_ChaseAck"}
    notice_closed = closed["Task_TeamLeadNoAck"]
    assert notice_closed["details"]["task_id"] == notice["task_id"]
    assert notice_closed["office"] == "JC"
    assert {k: notice_closed["details"].get(k) for k in ("reason", "cause")} == {
        "reason": "terminate_end_event", "cause": "acknowledged"}
    # the case manager's chase and the coordination's escalation close the same way
    assert {closed[e]["details"]["cause"] for e in ("Task_EscalateNoAck", "Task_ChaseAck")} \
        == {"acknowledged"}


def test_a_forwarding_closes_the_team_leads_notice_as_forwarded(cat, clock):
    clock.set(SENT["winter"])
    _start(cat)
    clock.advance(timedelta(days=11))
    cat.fire_due_timers()
    notice = S.find(cat, "JC", "Task_TeamLeadNoAck")
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data(responsible=False))
    assert "Task_TeamLeadNoAck" not in S.names(cat, "JC")
    (row,) = [r for r in aq.export_rows(cat.db, aq.AuditFilter(case_ref="K-1"))
              if r["event_type"] == "task.cancelled"
              and r["details"]["task_id"] == notice["task_id"]]
    assert row["details"]["cause"] == "forwarded"


# --- the permit watch (§ 81 Abs. 4 AufenthG) --------------------------------------------------


def _watch(cat, until: str) -> int:
    consents = [S.grant(cat, "K-5", "ABH", "ABH:AUFENTHALT", ["IDENT", "RESIDENCE"])]
    (mid,) = cat.publish("permit_watch_requested", {
        "case_id": "K-5", "permit_valid_until": until, "consents": consents,
        "person": {"first_name": "Yonas"}})
    (msg,) = [m for m in cat.messages() if m["message_id"] == mid]
    return msg["target_instance_id"]


def test_four_weeks_before_expiry_the_case_is_deadline_critical(cat, clock):
    iid = _watch(cat, "2026-06-30")
    due = datetime(2026, 6, 2, 8, 0, tzinfo=BERLIN)  # 28 days before expiry, 08:00 summer time
    clock.set(due - timedelta(minutes=1))
    cat.fire_due_timers()
    assert "Task_RenewalMissing" not in S.names(cat, "KIM_CM")
    clock.set(due + timedelta(minutes=1))
    cat.fire_due_timers()
    task = S.find(cat, "KIM_CM", "Task_RenewalMissing", iid)
    assert S.task_data(cat, task["task_id"])["deadline_critical"] is True


def test_a_late_renewal_warns_that_there_is_no_fiction(cat, clock):
    iid = _watch(cat, "2026-04-15")
    due = datetime(2026, 4, 16, 0, 5, tzinfo=BERLIN)  # the day after expiry, 00:05 summer time
    clock.set(due - timedelta(minutes=1))
    cat.fire_due_timers()
    assert "Task_LateApplication" not in S.names(cat, "KIM_CM")
    clock.set(due + timedelta(minutes=1))
    cat.fire_due_timers()
    task = S.find(cat, "KIM_CM", "Task_LateApplication", iid)
    data = S.task_data(cat, task["task_id"])
    assert data["fiktion_status"] == "keine_fiktion_verspaetet"
    assert data["fiktion_warning"] == "FIKTION_NOT_TRIGGERED"
    assert data["deadline_critical"] is True
