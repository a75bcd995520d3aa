"""Engine behaviour through the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.errors import FormInvalid, InvalidInput, ProcessNotFound, TaskNotFound, TaskNotOpen
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskRow
from engine.runtime import Actor
from tests import bpmn_builder as B

PERSON = {
    "first_name": "Amal",
    "last_name": "Haddad",
    "birth_date": "1990-04-12",
    "nationality": "SYR",
    "language": "ar",
    "residence_status": "temporary",
}


def _one(engine, **kw):
    tasks = engine.tasks(**kw)
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_happy_path_across_three_offices(first_process):
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="C-1", actor=Actor("cm"))["instance_id"]
    t = _one(eng, office="KIM_CM")
    assert t["name"] == "Fall erfassen" and t["instance_id"] == iid
    eng.complete(t["task_id"], PERSON, actor=Actor("cm"))
    # parallel split: one task each at ABH and JC, none left at KIM_CM
    assert eng.tasks(office="KIM_CM") == []
    abh, jc = _one(eng, office="ABH"), _one(eng, office="JC")
    eng.complete(jc["task_id"], {"jc_result": "granted"}, actor=Actor("jc"))
    assert eng.tasks(office="KIM_CM") == []  # join waits for ABH
    eng.complete(abh["task_id"], {"abh_result": "granted", "abh_valid_until": "2027-01-31"},
                 actor=Actor("abh"))
    last = _one(eng, office="KIM_CM")
    assert last["element_id"] == "Task_Abschliessen"  # default flow of Gw_Ergebnis
    shown = eng.show(iid)
    # both branches' keys survive the join
    assert shown["data"]["abh_result"] == "granted" and shown["data"]["jc_result"] == "granted"
    assert shown["data"]["needs_permit_check"] is True  # the script task ran
    eng.complete(last["task_id"], {"client_informed": True, "closed_on": "2026-03-02"},
                 actor=Actor("cm"))
    shown = eng.show(iid)
    assert shown["status"] == "completed"
    assert [t["state"] for t in shown["tasks"]] == ["COMPLETED"] * 4


def test_rejection_takes_conditional_flow(first_process):
    eng = first_process
    eng.start("kim_first_referral", {}, case_ref="C-2")
    eng.complete(_one(eng, office="KIM_CM")["task_id"], PERSON)
    eng.complete(_one(eng, office="ABH")["task_id"],
                 {"abh_result": "rejected", "abh_rejection_reason": "Unterlagen fehlen"})
    eng.complete(_one(eng, office="JC")["task_id"], {"jc_result": "granted"})
    assert _one(eng, office="KIM_CM")["element_id"] == "Task_Klaeren"


def test_invalid_form_reports_every_field_and_changes_nothing(first_process):
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="C-3")["instance_id"]
    t = _one(eng, office="KIM_CM")
    before_data = eng.show(iid)["data"]
    assert before_data == {"case_id": "C-3"}  # the case reference is the case id (issue 14.2)
    with eng.db.reader() as s:
        before_rows = s.scalar(select(func.count()).select_from(TaskRow))
        before_audit = s.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(FormInvalid) as exc:
        eng.complete(t["task_id"], {"first_name": "   ", "birth_date": "2999-01-01", "bogus": 1})
    errors = exc.value.errors
    assert {"first_name", "last_name", "nationality", "birth_date", "bogus"} <= set(errors)
    with eng.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(TaskRow)) == before_rows
        # the only new row: a task.validation_failed entry naming the fields, no values
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before_audit + 1
        failed = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert failed.event_type == "task.validation_failed"
    assert set(failed.details["fields"]) == set(errors) and "2999" not in str(failed.details)
    assert _one(eng, office="KIM_CM")["task_id"] == t["task_id"]
    assert eng.show(iid)["data"] == before_data


def test_double_completion_is_refused_and_changes_nothing(first_process):
    eng = first_process
    eng.start("kim_first_referral", {}, case_ref="C-4")
    t = _one(eng, office="KIM_CM")
    eng.complete(t["task_id"], PERSON, actor=Actor("anna"))
    with eng.db.reader() as s:
        rows = s.execute(select(TaskRow.guid, TaskRow.state, TaskRow.data_hash)).all()
    with pytest.raises(TaskNotOpen) as exc:
        eng.complete(t["task_id"], PERSON, actor=Actor("bert"))
    assert "already completed by anna" in exc.value.message
    with eng.db.reader() as s:
        assert s.execute(select(TaskRow.guid, TaskRow.state, TaskRow.data_hash)).all() == rows


def test_claim_unclaim_and_office_scope(first_process):
    eng = first_process
    eng.start("kim_first_referral", {}, case_ref="C-5")
    t = _one(eng, office="KIM_CM")
    cm = Actor("anna", frozenset({"KIM_CM"}))
    jc = Actor("jens", frozenset({"JC"}))
    with pytest.raises(TaskNotFound):  # another office's task does not exist for them
        eng.claim(t["task_id"], actor=jc)
    with pytest.raises(TaskNotFound):
        eng.complete(t["task_id"], PERSON, actor=jc)
    assert eng.claim(t["task_id"], actor=cm)["assignee"] == "anna"
    with pytest.raises(Exception) as exc:
        eng.claim(t["task_id"], actor=Actor("carl", frozenset({"KIM_CM"})))
    assert exc.value.code == "TASK_CLAIMED"
    with pytest.raises(Exception) as exc:
        eng.complete(t["task_id"], PERSON, actor=Actor("carl", frozenset({"KIM_CM"})))
    assert exc.value.code == "TASK_CLAIMED"
    assert eng.unclaim(t["task_id"], actor=cm)["assignee"] is None
    assert _one(eng, office="KIM_CM")["assignee"] is None


def test_unknown_ids_and_bad_input(first_process):
    eng = first_process
    with pytest.raises(ProcessNotFound):
        eng.start("no_such_process")
    with pytest.raises(TaskNotFound):
        eng.complete("not-a-uuid", {})
    with pytest.raises(TaskNotFound):
        eng.complete("00000000-0000-0000-0000-000000000000", {})
    with pytest.raises(InvalidInput):
        eng.start("kim_first_referral", ["not", "a", "dict"])  # type: ignore[arg-type]
    from engine.errors import InstanceNotFound

    with pytest.raises(InstanceNotFound):
        eng.show(424242)


def test_worklist_reads_the_projection_only(first_process):
    eng = first_process
    for i in range(3):
        eng.start("kim_first_referral", {}, case_ref=f"W-{i}")
    # remove the workflow rows: a worklist must still answer from the projection alone
    with eng.db.unit_of_work() as s:
        s.execute(TaskRow.__table__.delete())
    assert len(eng.tasks(office="KIM_CM")) == 3


def test_worklist_query_uses_an_index(first_process, db):
    from sqlalchemy import text

    first_process.start("kim_first_referral", {}, case_ref="I-1")
    q = ("SELECT id FROM human_task WHERE office = 'KIM_CM' AND state = 'READY' "
         "ORDER BY created_at, id LIMIT 50")
    with db.engine.connect() as conn:
        if db.is_sqlite:
            plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN QUERY PLAN " + q)))
            assert "ix_human_task_office_state_created" in plan
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in conn.execute(text("EXPLAIN " + q)))
            assert "ix_human_task_office_state_created" in plan


def test_engine_uses_its_clock(first_process, clock):
    eng = first_process
    eng.start("kim_first_referral", {}, case_ref="K-1")
    t = _one(eng, office="KIM_CM")
    assert t["created_at"] == clock.now().isoformat()
    clock.advance(timedelta(days=3))
    eng.complete(t["task_id"], PERSON)
    with eng.db.reader() as s:
        done = s.get(HumanTask, t["task_id"])
    assert done.completed_at == clock.now()


TIMER_FORM = B.simple_form("note")


def _timer_process(duration: str) -> str:
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + B.user_task("Task_Wait", "Antwort abwarten")
        + '<bpmn:boundaryEvent id="Timer_Late" attachedToRef="Task_Wait" cancelActivity="true">'
        f'<bpmn:timerEventDefinition><bpmn:timeDuration>"{duration}"</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        + B.user_task("Task_Escalate", "Eskalation bearbeiten")
        + '<bpmn:endEvent id="End1"/><bpmn:endEvent id="End2"/>'
        + B.flow("F1", "Ev_Start", "Task_Wait") + B.flow("F2", "Task_Wait", "End1")
        + B.flow("F3", "Timer_Late", "Task_Escalate") + B.flow("F4", "Task_Escalate", "End2")
    )
    return B.process("timer_proc", {"KIM_CM": ["Ev_Start", "Task_Wait", "End1"],
                                    "KIM_KO": ["Timer_Late", "Task_Escalate", "End2"]}, body)


def test_timer_due_time_comes_from_the_engine_clock(engine, clock):
    engine.deploy_files(B.files(timer__bpmn=_timer_process("P5D")))
    iid = engine.start("timer_proc", {})["instance_id"]
    with engine.db.reader() as s:
        inst = s.get(ProcessInstance, iid)
    assert inst.next_timer_at == clock.now() + timedelta(days=5)


def test_running_instances_keep_their_version(engine):
    v1 = B.loop_process("versioned")
    assert engine.deploy_files(B.files(v__bpmn=v1))[0].version == 1
    iid = engine.start("versioned", {})["instance_id"]
    again = engine.deploy_files(B.files(v__bpmn=v1))[0]
    assert (again.version, again.changed) == (1, False)
    v2 = v1.replace("Runde bearbeiten", "Runde bearbeiten (neu)")
    assert engine.deploy_files(B.files(v__bpmn=v2))[0].version == 2
    old = engine.tasks(instance_id=iid)[0]
    assert old["name"] == "Runde bearbeiten"
    engine.complete(old["task_id"], {"done": False})
    assert engine.tasks(instance_id=iid)[0]["name"] == "Runde bearbeiten"
    assert engine.show(iid)["version"] == 1
    new = engine.start("versioned", {})["instance_id"]
    assert engine.tasks(instance_id=new)[0]["name"] == "Runde bearbeiten (neu)"


def test_keyset_paging_does_not_skip_tasks_created_at_the_same_moment(first_process):
    eng = first_process
    for i in range(3):
        iid = eng.start("kim_first_referral", {}, case_ref=f"P-{i}")["instance_id"]
        eng.complete(eng.tasks(instance_id=iid)[0]["task_id"], PERSON)
    everything = eng.tasks(state="READY")
    assert len(everything) == 6  # ABH and JC tasks share their created_at per instance
    paged, after = [], None
    while True:
        page = eng.tasks(state="READY", limit=2, after=after)
        if not page:
            break
        paged += page
        last = page[-1]
        from datetime import datetime

        after = (datetime.fromisoformat(last["created_at"]), last["task_id"])
    assert [t["task_id"] for t in paged] == [t["task_id"] for t in everything]


def test_team_lead_assigns_in_one_step(first_process):
    eng = first_process
    eng.start("kim_first_referral", {}, case_ref="AS-1")
    t = _one(eng, office="KIM_CM")
    eng.claim(t["task_id"], actor=Actor("anna"))
    out = eng.assign(t["task_id"], "bert", actor=Actor("lead", frozenset({"KIM_CM"})))
    assert out["assignee"] == "bert"
    with pytest.raises(TaskNotFound):
        eng.assign(t["task_id"], "x", actor=Actor("lead.jc", frozenset({"JC"})))
    with eng.db.reader() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "task.assigned")).one()
    assert ev.actor == "lead" and ev.details == {"assignee": "bert", "previous": "anna"}
