"""Referrals across processes: messages, SLA timers, correlation, referral records."""

from __future__ import annotations

from datetime import timedelta

from processes.referrals import list_referrals
from tests import bpmn_builder as B
from tests.referral_models import _throw, cm_process, office_process

CASE_DATA = {
    "case_id": "K-1",
    "first_name": "Amal",
    "notes": "private note",
    "health_needs": "diabetes",
    "income": 450,
}


def consent_for(
    engine,
    case_id="K-1",
    office="JC",
    purpose="JC:SGB2",
    categories=("IDENT", "CONTACT", "FINANCE", "HEALTH"),
    days=365,
    health=False,
):
    from processes.consent import record_consent

    today = engine.now().date()
    return record_consent(
        engine,
        case_id=case_id,
        office=office,
        purpose=purpose,
        categories=list(categories),
        valid_from=today,
        valid_until=today + timedelta(days=days),
        includes_health=health,
    )


def _setup(engine):
    engine.deploy_files(B.files(cm__bpmn=cm_process(), office__bpmn=office_process()))
    consent_for(engine)
    cm = engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")["instance_id"]
    return cm


def _names(engine, **kw):
    return sorted(t["name"] for t in engine.tasks(**kw))


def _referral(engine):
    (ref,) = list_referrals(engine.db, now=engine.now(), case_id="K-1")
    return ref


def test_round_trip_sent_acknowledged_result(engine):
    cm = _setup(engine)
    assert _referral(engine)["state"] == "sent"
    (ack,) = engine.tasks(office="JC")
    office_iid = ack["instance_id"]
    assert office_iid != cm and ack["case_ref"] == "K-1"
    engine.complete(ack["task_id"], {})
    assert _referral(engine)["state"] == "acknowledged"
    (work,) = engine.tasks(office="JC")
    engine.complete(work["task_id"], {"outcome": "granted"})
    assert _referral(engine)["state"] == "completed"
    assert _referral(engine)["outcome"] == "granted"
    (review,) = engine.tasks(office="KIM_CM")
    assert review["name"] == "Ergebnis auswerten" and review["instance_id"] == cm
    assert engine.show(cm)["data"]["result"] == {"referral_id": "K-1-R1", "outcome": "granted"}
    assert engine.show(office_iid)["status"] == "completed"
    assert all(m["status"] == "delivered" for m in engine.messages())


def test_unanswered_referral_reminds_escalates_and_ack_closes_reminders(engine, clock):
    cm = _setup(engine)
    clock.advance(timedelta(days=4))
    assert engine.fire_due_timers() == 0
    assert _names(engine, office="KIM_CM") == []
    clock.advance(timedelta(days=2))  # past due_ack (5 days)
    assert engine.fire_due_timers() == 1
    assert _names(engine, office="KIM_CM") == ["Erinnerung senden"]
    assert _referral(engine)["overdue_ack"] is True
    clock.advance(timedelta(days=40))  # past sent + 2 x 21 days (JC result SLA)
    assert engine.fire_due_timers() == 1
    assert _names(engine, office="KIM_KO") == ["Unbeantwortete Vermittlung klären"]
    assert engine.fire_due_timers() == 0  # each timer fires once
    # the office finally acknowledges: the open reminder and escalation are closed
    (ack,) = engine.tasks(office="JC")
    engine.complete(ack["task_id"], {})
    assert _names(engine, office="KIM_CM") == [] and _names(engine, office="KIM_KO") == []
    states = {t["name"]: t["state"] for t in engine.show(cm)["tasks"]}
    assert states["Erinnerung senden"] == "CANCELLED"
    assert states["Unbeantwortete Vermittlung klären"] == "CANCELLED"
    assert _referral(engine)["state"] == "acknowledged"
    assert engine.show(cm)["next_timer_at"] is None


def _rogue(referral_id: str) -> str:
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + _throw("Msg_Ack", "M_ack", '{"referral_id": "' + referral_id + '"}')
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Msg_Ack")
        + B.flow("F2", "Msg_Ack", "Ev_End")
    )
    doc = B.process("rogue", {"JC": ["Ev_Start", "Msg_Ack", "Ev_End"]}, body)
    return doc.replace(
        "</bpmn:process>", '</bpmn:process><bpmn:message id="M_ack" name="referral_acknowledged"/>'
    )


def test_wrong_correlation_does_not_reach_the_waiting_instance(engine):
    cm = _setup(engine)
    engine.deploy_files(B.files(rogue__bpmn=_rogue("K-1-WRONG")))
    engine.start("rogue", {})
    (unmatched,) = engine.messages(status="unmatched")
    assert unmatched["name"] == "referral_acknowledged"
    assert "K-1-WRONG" in unmatched["reason"]
    assert _referral(engine)["state"] == "sent"
    waiting = engine.show(cm)
    assert waiting["status"] == "running" and "ack" not in waiting["data"]
    # the right correlation value reaches it
    engine.deploy_files(B.files(rogue__bpmn=_rogue("K-1-R1")))
    engine.start("rogue", {})
    assert _referral(engine)["state"] == "acknowledged"
    assert engine.show(cm)["data"]["ack"] == {"referral_id": "K-1-R1"}


def test_message_is_consumed_once(engine):
    _setup(engine)
    (ack,) = engine.tasks(office="JC")
    engine.complete(ack["task_id"], {})
    delivered = [m["message_id"] for m in engine.messages() if m["status"] == "delivered"]
    before = engine.messages()
    assert engine.deliver(delivered) == 0  # delivering twice changes nothing
    assert engine.deliver_pending() == 0
    assert engine.messages() == before


def test_unmatched_message_is_requeued_when_a_receiver_starts_waiting(engine):
    engine.deploy_files(B.files(rogue__bpmn=_rogue("K-1-R1")))
    engine.start("rogue", {})  # the ack arrives before the referral is even sent
    assert len(engine.messages(status="unmatched")) == 1
    engine.deploy_files(B.files(cm__bpmn=cm_process(), office__bpmn=office_process()))
    consent_for(engine)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    assert engine.deliver_pending() == 1
    assert engine.messages(status="unmatched") == []


def _thrower(name: str) -> str:
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + _throw("Msg_Out", "M_out", "payload")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Msg_Out")
        + B.flow("F2", "Msg_Out", "Ev_End")
    )
    doc = B.process(f"throw_{name}", {"KIM_CM": ["Ev_Start", "Msg_Out", "Ev_End"]}, body)
    return doc.replace(
        "</bpmn:process>", f'</bpmn:process><bpmn:message id="M_out" name="{name}"/>'
    )


def _send(engine, name: str, **payload):
    engine.start(f"throw_{name}", {"payload": {"referral_id": "R-9", **payload}})


def _state(engine) -> str:
    (ref,) = list_referrals(engine.db, now=engine.now())
    return ref["state"]


NAMES = [
    "referral_sent",
    "referral_acknowledged",
    "referral_forwarded",
    "referral_info_requested",
    "referral_info_provided",
    "referral_result",
    "referral_withdrawn",
]


def test_referral_state_machine(engine):
    engine.deploy_files([f for n in NAMES for f in B.files(**{f"{n}__bpmn": _thrower(n)})])
    consent_for(engine, case_id="K-9", office="ABH", purpose="ABH:AUFENTHALT")
    _send(engine, "referral_sent", case_id="K-9", office="ABH", purpose="ABH:AUFENTHALT")
    (ref,) = list_referrals(engine.db, now=engine.now())
    assert ref["state"] == "sent" and ref["office"] == "ABH"
    # ABH's SLA from offices.toml: acknowledgement 5 days, result 28 days
    from datetime import datetime

    from engine.clock import BERLIN

    # calendar days at the same Berlin wall time (sent in winter time, 2 March; the result is
    # due on 30 March in summer time: 28 days on the calendar, 27 days 23 hours in UTC)
    sent = datetime.fromisoformat(ref["sent_at"]).astimezone(BERLIN)
    due_ack = datetime.fromisoformat(ref["due_ack"]).astimezone(BERLIN)
    due_result = datetime.fromisoformat(ref["due_result"]).astimezone(BERLIN)
    assert due_ack.replace(tzinfo=None) - sent.replace(tzinfo=None) == timedelta(days=5)
    assert due_result.replace(tzinfo=None) - sent.replace(tzinfo=None) == timedelta(days=28)
    assert due_result.utcoffset() - sent.utcoffset() == timedelta(hours=1)
    _send(engine, "referral_result", outcome="granted")  # not allowed before acknowledgement
    assert _state(engine) == "sent"
    _send(engine, "referral_acknowledged")
    assert _state(engine) == "acknowledged"
    _send(engine, "referral_info_requested")
    assert _state(engine) == "info_requested"
    _send(engine, "referral_info_provided")
    assert _state(engine) == "in_progress"
    _send(engine, "referral_result", outcome="granted")
    assert _state(engine) == "completed"
    _send(engine, "referral_withdrawn", reason="client_request")  # terminal: stays completed
    assert _state(engine) == "completed"
    from sqlalchemy import select

    from engine.models import AuditEvent

    with engine.db.reader() as s:
        changes = [(e.details["from"], e.details["to"]) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "referral.status_changed")
            .order_by(AuditEvent.id))]
    assert changes == [(None, "sent"), ("sent", "acknowledged"),
                       ("acknowledged", "info_requested"), ("info_requested", "in_progress"),
                       ("in_progress", "completed")]


def test_revoked_consent_suspends_and_forwarding_ends(engine):
    engine.deploy_files([f for n in NAMES for f in B.files(**{f"{n}__bpmn": _thrower(n)})])
    consent_for(engine, case_id="K-9")
    _send(engine, "referral_sent", case_id="K-9", office="JC", purpose="JC:SGB2")
    _send(engine, "referral_withdrawn", reason="consent_revoked")
    assert _state(engine) == "suspended_consent_revoked"
    with engine.db.unit_of_work() as s:
        from processes.models import Referral

        s.query(Referral).delete()
    _send(engine, "referral_sent", case_id="K-9", office="JC", purpose="JC:SGB2")
    _send(engine, "referral_forwarded", suggested_office="AA")
    assert _state(engine) == "forwarded"
