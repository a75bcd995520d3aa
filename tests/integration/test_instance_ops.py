"""Issue 15.2 (engine part): suspend, resume and terminate an instance, as Camunda Cockpit
does. A suspended instance fires no timer, its tasks refuse claims and completions with
409 INSTANCE_SUSPENDED, a message for it waits (pending) and is delivered on resume; every
action needs a reason and is audited. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.audit import verify
from engine.errors import InstanceNotRunning, InstanceSuspended, InvalidInput
from engine.models import AuditEvent
from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.integration.test_referrals import CASE_DATA, consent_for
from tests.referral_models import cm_process, office_process
from tests.timer_models import boundary_process

ADMIN = Actor(user="admin.demo")


def _names(engine, iid):
    return sorted(t["name"] for t in engine.tasks(instance_id=iid))


def _events(db, iid):
    with db.reader() as s:
        return [(e.event_type, e.actor, (e.details or {}).get("reason"))
                for e in s.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid)
                                   .order_by(AuditEvent.id))
                if e.event_type.startswith("instance.")]


def test_a_suspended_instance_fires_no_timer_and_refuses_its_tasks(engine, db, clock):
    engine.deploy_files(B.files(p__bpmn=boundary_process("ops_t", interrupting=True,
                                                         timer='"P5D"')))
    iid = engine.start("ops_t", {})["instance_id"]
    (task,) = engine.tasks(instance_id=iid)
    out = engine.suspend(iid, reason="Prüfung der Akte", actor=ADMIN)
    assert out["status"] == "suspended"

    clock.advance(timedelta(days=6))
    assert engine.fire_due_timers() == 0  # held: the deadline has passed, nothing fires
    worker = Actor(user="jc.demo", offices=frozenset({task["office"]}))
    with pytest.raises(InstanceSuspended) as exc:
        engine.claim(task["task_id"], actor=worker)
    assert exc.value.code == "INSTANCE_SUSPENDED"
    with pytest.raises(InstanceSuspended):
        engine.complete(task["task_id"], {}, actor=worker)
    assert engine.show(iid)["status"] == "suspended"
    with pytest.raises(InstanceNotRunning):
        engine.suspend(iid, reason="noch einmal", actor=ADMIN)

    assert engine.resume(iid, reason="Prüfung beendet", actor=ADMIN)["status"] == "running"
    assert engine.fire_due_timers() == 1  # overdue since the suspension: fires now
    assert _names(engine, iid) == ["Frist überschritten"]
    assert [e for e in _events(db, iid) if e[0] != "instance.started"] == [
        ("instance.suspended", "admin.demo", "Prüfung der Akte"),
        ("instance.resumed", "admin.demo", "Prüfung beendet")]
    assert verify(db)["ok"]


def test_a_message_for_a_suspended_instance_waits_until_it_is_resumed(engine, db):
    engine.deploy_files(B.files(cm__bpmn=cm_process(), office__bpmn=office_process()))
    consent_for(engine)
    cm = engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")["instance_id"]
    (ack,) = engine.tasks(office="JC")
    engine.suspend(cm, reason="Klärung", actor=ADMIN)
    # the office acknowledges: its message to the suspended case-management instance waits
    engine.complete(ack["task_id"], {})
    assert [m["status"] for m in engine.messages() if m["name"] == "referral_acknowledged"] \
        == ["pending"]
    assert engine.deliver_pending() == 0
    engine.resume(cm, reason="geklärt", actor=ADMIN)
    assert [m["status"] for m in engine.messages() if m["name"] == "referral_acknowledged"] \
        == ["delivered"]
    assert verify(db)["ok"]


def test_terminate_ends_the_instance_and_its_tasks_with_the_reason(engine, db):
    engine.deploy_files(B.files(p__bpmn=boundary_process("ops_x", interrupting=True,
                                                         timer='"P5D"')))
    iid = engine.start("ops_x", {})["instance_id"]
    engine.suspend(iid, reason="angehalten", actor=ADMIN)
    out = engine.terminate(iid, reason="Doppelt angelegt", actor=ADMIN)
    assert out["status"] == "cancelled"
    assert engine.tasks(instance_id=iid) == []
    assert engine.show(iid)["next_timer_at"] is None
    assert ("instance.terminated", "admin.demo", "Doppelt angelegt") in _events(db, iid)
    with pytest.raises(InstanceNotRunning):
        engine.terminate(iid, reason="noch einmal", actor=ADMIN)
    with pytest.raises(InstanceNotRunning):
        engine.resume(iid, reason="zurück", actor=ADMIN)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_every_action_needs_a_reason(engine, reason):
    engine.deploy_files(B.files(p__bpmn=boundary_process("ops_r", interrupting=True,
                                                         timer='"P5D"')))
    iid = engine.start("ops_r", {})["instance_id"]
    for action in (engine.suspend, engine.terminate):
        with pytest.raises(InvalidInput):
            action(iid, reason=reason, actor=ADMIN)
    assert engine.show(iid)["status"] == "running"
