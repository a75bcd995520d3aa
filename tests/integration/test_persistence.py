"""Persistence: a step writes what changed, and a reload continues identically."""

from __future__ import annotations

import json

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine import forms, store
from engine import serialization as ser
from engine.models import ProcessDefinition, ProcessInstance
from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.integration.test_engine import PERSON


def _view(wf: BpmnWorkflow) -> list:
    """Everything that must survive a reload, minus random ids and wall-clock stamps."""
    out = []
    for key, w in store.iter_workflows(wf):
        for t in w.tasks.values():
            depth = 0
            p = t.parent
            while p is not None:
                depth, p = depth + 1, p.parent
            out.append((bool(key), t.task_spec.name, depth, t.state,
                        json.dumps(ser.convert(t.data), sort_keys=True),
                        json.dumps(ser.convert(t.internal_data), sort_keys=True, default=str)))
    return sorted(out)


def _load(engine, iid):
    with engine.db.reader() as s:
        inst = s.get(ProcessInstance, iid)
        d = s.get(ProcessDefinition, inst.definition_id)
        wf, snap = store.load(s, inst, d.spec_hash)
    wf.script_engine = engine.script_engine
    return wf


def _ready_user(wf, element):
    return next(t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                if t.task_spec.bpmn_id == element)


def test_reload_restores_the_exact_workflow_and_continues_identically(first_process):
    """Drive the same case in memory and through the database; compare after every step."""
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="R-1")["instance_id"]
    mem = _load(eng, iid)  # the in-memory twin starts from the first reload
    steps = [
        ("Task_Erfassen", PERSON),
        ("Task_Leistung_Pruefen", {"jc_result": "granted"}),
        ("Task_Aufenthalt_Pruefen", {"abh_result": "granted", "abh_valid_until": "2027-01-31"}),
        ("Task_Abschliessen", {"client_informed": True, "closed_on": "2026-03-02"}),
    ]
    for element, data in steps:
        assert _view(_load(eng, iid)) == _view(mem)
        task = next(t for t in eng.tasks(instance_id=iid) if t["element_id"] == element)
        schema = eng.get_task(task["task_id"])["form_schema"]
        eng.complete(task["task_id"], data, actor=Actor("x"))
        t = _ready_user(mem, element)
        t.data.update({k: v for k, v in forms.with_cleared(schema, data).items()
                       if k in data or t.data.get(k) is not None})  # as the engine does
        t.run()
        mem.refresh_timers()
        mem.do_engine_steps()
    assert _view(_load(eng, iid)) == _view(mem)
    assert eng.show(iid)["status"] == "completed" and mem.is_completed()


def test_bytes_per_step_do_not_grow_with_history(engine):
    engine.deploy_files(B.files(loop__bpmn=B.loop_process()))
    iid = engine.start("loop_proc", {"case_id": "C-9", "note": "x" * 300})["instance_id"]
    written = []
    for i in range(120):
        task = engine.tasks(instance_id=iid)[0]
        engine.complete(task["task_id"], {"done": False, "round": i})
        written.append(engine.last_save.bytes_written)
    early, late = sorted(written[3:10])[3], sorted(written[-7:])[3]
    assert late <= early * 1.10, (early, late)
    assert late < 4096, late
    # and the whole history is still there after the last reload
    wf = _load(engine, iid)
    assert sum(1 for t in wf.tasks.values()
               if t.task_spec.bpmn_id == "Task_Work" and t.state == TaskState.COMPLETED) == 120


def test_task_data_is_stored_once_per_content(engine, db):
    from sqlalchemy import func, select

    from engine.models import JsonData, TaskRow

    engine.deploy_files(B.files(loop__bpmn=B.loop_process()))
    engine.start("loop_proc", {"blob": "y" * 2000})
    with db.reader() as s:
        tasks = s.scalar(select(func.count()).select_from(TaskRow))
        blobs = s.scalar(select(func.count()).select_from(JsonData))
    assert tasks > blobs  # identical data of several tasks shares one row


def test_two_engines_alternating_never_use_a_stale_cached_workflow(db, clock):
    from processes.wiring import build_engine

    a, _ = build_engine(db, clock=clock)
    b, _ = build_engine(db, clock=clock)
    a.deploy_files(B.files(loop__bpmn=B.loop_process()))
    iid = a.start("loop_proc", {})["instance_id"]
    for i in range(6):
        eng = a if i % 2 == 0 else b
        task = eng.tasks(instance_id=iid)[0]
        eng.complete(task["task_id"], {"done": False, "round": i})
    assert b.show(iid)["data"]["round"] == 5
    assert a.cache.take(iid, _revision(db, iid)) is None  # a's copy is older: never reused
    assert b.cache.take(iid, _revision(db, iid)) is not None  # b's is current
    task = a.tasks(instance_id=iid)[0]
    a.complete(task["task_id"], {"done": True})
    assert a.show(iid)["status"] == "completed"
    wf = _load(a, iid)
    rounds = sorted(t.data.get("round", -1) for t in wf.tasks.values()
                    if t.task_spec.bpmn_id == "Task_Work" and t.state == TaskState.COMPLETED)
    assert rounds == [0, 1, 2, 3, 4, 5, 5]


def _revision(db, iid):
    with db.reader() as s:
        return s.get(ProcessInstance, iid).revision


def test_failed_step_leaves_no_cached_state(first_process):
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="F-1")["instance_id"]
    task = eng.tasks(instance_id=iid)[0]
    import pytest

    from engine.errors import FormInvalid

    with pytest.raises(FormInvalid):
        eng.complete(task["task_id"], {"first_name": ""})
    eng.complete(task["task_id"], PERSON)
    assert {t["office"] for t in eng.tasks(instance_id=iid)} == {"ABH", "JC"}
