"""Timers of every kind fire once, on engine time; incidents and retry."""

from __future__ import annotations

from datetime import timedelta

from tests import bpmn_builder as B
from tests.timer_models import boundary_process, event_subprocess_process, intermediate_process


def _names(engine, iid):
    return sorted(t["name"] for t in engine.tasks(instance_id=iid))


def _states(engine, iid):
    return {t["name"]: t["state"] for t in engine.show(iid)["tasks"]}


def test_interrupting_boundary_cancels_the_task(engine, clock):
    engine.deploy_files(B.files(p__bpmn=boundary_process("b_int", interrupting=True,
                                                         timer='"P5D"')))
    iid = engine.start("b_int", {})["instance_id"]
    clock.advance(timedelta(days=5) - timedelta(seconds=1))
    assert engine.fire_due_timers() == 0
    clock.advance(timedelta(seconds=2))
    assert engine.fire_due_timers() == 1
    assert _names(engine, iid) == ["Frist überschritten"]
    assert _states(engine, iid)["Antwort bearbeiten"] == "CANCELLED"


def test_non_interrupting_boundary_keeps_the_task(engine, clock):
    engine.deploy_files(B.files(p__bpmn=boundary_process("b_non", interrupting=False,
                                                         timer='"P2D"')))
    iid = engine.start("b_non", {})["instance_id"]
    clock.advance(timedelta(days=3))
    assert engine.fire_due_timers() == 1
    assert _names(engine, iid) == ["Antwort bearbeiten", "Frist überschritten"]


def test_cycle_timer_fires_each_round_once(engine, clock):
    engine.deploy_files(B.files(p__bpmn=boundary_process("b_cycle", interrupting=False,
                                                         timer='"R3/P1D"', kind="timeCycle")))
    iid = engine.start("b_cycle", {})["instance_id"]
    fired = 0
    for _ in range(5):
        clock.advance(timedelta(days=1, minutes=1))
        fired += engine.fire_due_timers()
    assert fired == 3
    assert _names(engine, iid).count("Frist überschritten") == 3
    assert engine.show(iid)["next_timer_at"] is None


def test_date_timer_from_a_helper_in_berlin_time(engine, clock):
    # 2026-03-02 09:00 Berlin: the timer is a date expression built with the helpers
    engine.deploy_files(B.files(p__bpmn=boundary_process(
        "b_date", interrupting=True, timer='iso_at(add_days(today(), 1), "08:00")',
        kind="timeDate")))
    iid = engine.start("b_date", {})["instance_id"]
    assert engine.show(iid)["next_timer_at"] == "2026-03-03T07:00:00+00:00"


def test_intermediate_timer_and_overdue_timers_fire_oldest_first(engine, clock):
    engine.deploy_files(B.files(p__bpmn=intermediate_process("inter", '"PT1H"')))
    first = engine.start("inter", {})["instance_id"]
    clock.advance(timedelta(minutes=10))
    second = engine.start("inter", {})["instance_id"]
    clock.advance(timedelta(days=2))  # "downtime": both overdue
    assert engine.fire_due_timers(limit=1) == 1
    assert _names(engine, first) == ["Weiter bearbeiten"] and _names(engine, second) == []
    assert engine.fire_due_timers() == 1
    assert engine.show(second)["data"]["fired"] is True


def test_event_subprocess_timer(engine, clock):
    engine.deploy_files(B.files(p__bpmn=event_subprocess_process("evsub", '"P1D"')))
    iid = engine.start("evsub", {})["instance_id"]
    clock.advance(timedelta(days=1, minutes=1))
    assert engine.fire_due_timers() == 1
    assert _names(engine, iid) == ["Hauptaufgabe bearbeiten", "Zwischenstand prüfen"]


def test_timer_survives_reload_with_a_fresh_engine(db, clock):
    from processes.wiring import build_engine

    eng, _ = build_engine(db, clock=clock)
    eng.deploy_files(B.files(p__bpmn=intermediate_process("inter2", '"P3D"')))
    iid = eng.start("inter2", {})["instance_id"]
    clock.advance(timedelta(days=3, seconds=1))
    eng2, _ = build_engine(db, clock=clock)
    assert eng2.fire_due_timers() == 1
    assert _names(eng2, iid) == ["Weiter bearbeiten"]


def test_failing_step_records_an_incident_and_retry_resumes(engine, clock):
    # 2026-03-02 + 1 day: days_until(...) is 0 on the day the timer fires -> ZeroDivisionError
    engine.deploy_files(B.files(p__bpmn=intermediate_process(
        "incident", '"P1D"', after_script='x = 1 / days_until("2026-03-03")')))
    iid = engine.start("incident", {})["instance_id"]
    clock.advance(timedelta(days=1))
    assert engine.fire_due_timers() == 0  # due exactly now: fires once time has passed it
    clock.advance(timedelta(seconds=1))
    assert engine.fire_due_timers() == 1
    shown = engine.show(iid)
    # the message names type and element only (issue 12: exception texts may quote data)
    assert shown["status"] == "error" and shown["error_type"] == "ZeroDivisionError"
    assert shown["error"] == "ZeroDivisionError in script of Task_After"
    assert "division by zero" in engine.incident(iid)["detail"]
    assert shown["error_element"] == "Task_After"
    assert engine.fire_due_timers() == 0  # an instance with an incident is not retried blindly
    clock.advance(timedelta(days=1))  # now days_until is -1: the step can succeed
    out = engine.retry(iid)
    assert out["status"] == "running"
    assert _names(engine, iid) == ["Weiter bearbeiten"]


def test_timer_scheduled_and_fired_are_audited_with_due_times(engine, clock, db):
    from sqlalchemy import select

    from engine.models import AuditEvent

    engine.deploy_files(B.files(p__bpmn=boundary_process("b_aud", interrupting=True,
                                                         timer='"P5D"')))
    engine.start("b_aud", {})
    clock.advance(timedelta(days=5, seconds=1))
    engine.fire_due_timers()
    with db.reader() as s:
        rows = {e.event_type: e.details for e in s.scalars(
            select(AuditEvent).where(AuditEvent.event_type.like("timer.%")))}
    assert rows["timer.scheduled"]["due"] == rows["timer.fired"]["due"]
    assert rows["timer.fired"]["fired"] > rows["timer.fired"]["due"]
