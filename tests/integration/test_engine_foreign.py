"""Issue 12: incidents without personal values (and always with an element), a failing
preScript of the next task, event subprocesses after a reload, multi-instance order, and
consents recorded through a process."""

from __future__ import annotations

import json

from sqlalchemy import select

from engine import store
from engine.models import AuditEvent, ProcessInstance
from processes.wiring import build_engine
from tests import bpmn_builder as B


def _manual(tid: str, name: str, pre: str | None = None) -> str:
    """A manual task (a human step without a form), optionally with a preScript."""
    ext = (f"<bpmn:extensionElements><spiffworkflow:preScript>{pre}</spiffworkflow:preScript>"
           "</bpmn:extensionElements>" if pre else "")
    return f'<bpmn:manualTask id="{tid}" name="{name}">{ext}</bpmn:manualTask>'


def _audit_text(db) -> str:
    with db.reader() as s:
        return json.dumps([{c.name: str(getattr(e, c.name)) for c in AuditEvent.__table__.columns}
                           for e in s.scalars(select(AuditEvent))], ensure_ascii=False)


def _user_then_script(pid: str, script: str) -> str:
    body = ('<bpmn:startEvent id="Ev_Start"/>' + _manual("Task_First", "Erfassen")
            + B.script_task("Task_X", script) + _manual("Task_Next", "Weiter")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_First") + B.flow("F2", "Task_First", "Task_X")
            + B.flow("F3", "Task_X", "Task_Next") + B.flow("F4", "Task_Next", "Ev_End"))
    return B.process(pid, {"KIM_CM": ["Ev_Start", "Task_First", "Task_X", "Task_Next",
                                      "Ev_End"]}, body)


# ------------------------------------------------------------------ 5: incident text
def test_incident_text_keeps_personal_values_out_of_audit_and_auditor_view(engine, db):
    engine.deploy_files(B.files(p__bpmn=_user_then_script("inc_pd", "x = int(name)")))
    iid = engine.start("inc_pd", {"name": "Zeynep"}, case_ref="C-5")["instance_id"]
    task = engine.tasks(instance_id=iid)[0]
    out = engine.complete(task["task_id"], {})
    assert out["status"] == "error"
    assert "Zeynep" not in json.dumps(out)
    shown = engine.show(iid)
    assert shown["error_element"] == "Task_X"
    assert shown["error_type"] == "ValueError"
    assert shown["error"] == "ValueError in script of Task_X"
    assert "Zeynep" not in json.dumps(shown["error"]) + json.dumps(shown["error_element"])
    audit = _audit_text(db)
    assert "instance.error" in audit and "Zeynep" not in audit
    with db.reader() as s:
        inst = s.get(ProcessInstance, iid)
        assert "Zeynep" not in (inst.error or "")
    # the full text stays reachable for administrators (CLI `lotse incident`)
    detail = engine.incident(iid)
    assert detail["element"] == "Task_X" and "Zeynep" in detail["detail"]


def test_sandbox_refusal_text_written_by_lotse_stays_visible(engine):
    engine.deploy_files(B.files(p__bpmn=_user_then_script("inc_sb", "x = list(range(1000000))")))
    iid = engine.start("inc_sb", {})["instance_id"]
    out = engine.complete(engine.tasks(instance_id=iid)[0]["task_id"], {})
    assert out["status"] == "error" and "refused by sandbox" in out["error"]
    assert engine.show(iid)["error_element"] == "Task_X"


def test_pseudonymisation_drops_the_full_incident_text(engine):
    engine.deploy_files(B.files(p__bpmn=_user_then_script("inc_ps", "x = int(name)")))
    iid = engine.start("inc_ps", {"name": "Zeynep"})["instance_id"]
    engine.complete(engine.tasks(instance_id=iid)[0]["task_id"], {})
    engine.rewrite_data(iid, lambda d: {**d, "name": "X"} if "name" in d else d)
    assert "Zeynep" not in json.dumps(engine.incident(iid))


# ------------------------------------------------------------------ 9: preScript of the next task
def _pre_script_process(pid: str) -> str:
    nxt = _manual("Task_Next", "Weiter", pre="y = missing + 1")
    body = ('<bpmn:startEvent id="Ev_Start"/>' + _manual("Task_First", "Erfassen") + nxt
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_First") + B.flow("F2", "Task_First", "Task_Next")
            + B.flow("F3", "Task_Next", "Ev_End"))
    return B.process(pid, {"KIM_CM": ["Ev_Start", "Task_First", "Task_Next", "Ev_End"]}, body)


def test_failing_prescript_of_the_next_task_commits_the_completion_with_an_incident(db, clock):
    eng, _ = build_engine(db, clock=clock)
    eng.deploy_files(B.files(p__bpmn=_pre_script_process("pre")))
    iid = eng.start("pre", {})["instance_id"]
    first = eng.tasks(instance_id=iid)[0]
    out = eng.complete(first["task_id"], {})  # no traceback: an incident on the next element
    assert out["status"] == "error"
    shown = eng.show(iid)
    assert shown["error_element"] == "Task_Next" and shown["error_type"] == "NameError"
    assert [t["state"] for t in shown["tasks"]] == ["COMPLETED"]
    assert "instance.error" in _audit_text(db)
    eng2, _ = build_engine(db, clock=clock)  # retry from the database, not the warm cache
    again = eng2.retry(iid)  # still failing: a new incident, not a crash
    assert again["status"] == "error" and eng2.show(iid)["error_element"] == "Task_Next"
    eng2.rewrite_data(iid, lambda d: {**d, "missing": 1})  # the data change that fixes it
    eng3, _ = build_engine(db, clock=clock)
    assert eng3.retry(iid)["status"] == "running"
    nxt = eng3.tasks(instance_id=iid)
    assert [t["element_id"] for t in nxt] == ["Task_Next"]
    assert eng3.complete(nxt[0]["task_id"], {})["status"] == "completed"
    assert eng3.show(iid)["data"]["y"] == 2  # the preScript ran on retry, once


# ------------------------------------------------------------------ 11: event subprocess, cold
def _signal_event_subprocess(pid: str) -> str:
    body = (
        '<bpmn:startEvent id="Ev_Start"/>' + _manual("Task_Main", "Haupt")
        + '<bpmn:intermediateThrowEvent id="Ev_Sig"><bpmn:signalEventDefinition '
        'signalRef="Sig_1"/></bpmn:intermediateThrowEvent>'
        + _manual("Task_After", "Danach") + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Task_Main") + B.flow("F2", "Task_Main", "Ev_Sig")
        + B.flow("F3", "Ev_Sig", "Task_After") + B.flow("F4", "Task_After", "Ev_End")
        + '<bpmn:subProcess id="Sub_Event" triggeredByEvent="true">'
        '<bpmn:startEvent id="Ev_SigStart" isInterrupting="false"><bpmn:signalEventDefinition '
        'signalRef="Sig_1"/></bpmn:startEvent>'
        + _manual("Task_Handle", "Behandeln") + '<bpmn:endEvent id="Ev_SubEnd"/>'
        + B.flow("S1", "Ev_SigStart", "Task_Handle") + B.flow("S2", "Task_Handle", "Ev_SubEnd")
        + "</bpmn:subProcess>")
    xml = B.process(pid, {"KIM_CM": ["Ev_Start", "Task_Main", "Ev_Sig", "Task_After", "Ev_End",
                                     "Sub_Event", "Ev_SigStart", "Task_Handle", "Ev_SubEnd"]},
                    body)
    return xml.replace("</bpmn:definitions>",
                       '<bpmn:signal id="Sig_1" name="sig"/></bpmn:definitions>')


def test_event_subprocess_runs_on_after_a_reload_with_cold_caches(db, clock):
    eng, _ = build_engine(db, clock=clock)
    eng.deploy_files(B.files(p__bpmn=_signal_event_subprocess("evsig")))
    iid = eng.start("evsig", {})["instance_id"]
    for element in ("Task_Main", "Task_Handle", "Task_After"):
        store.ser.SPEC_CACHE._items.clear()  # a fresh process: spec and workflow from the rows
        fresh, _ = build_engine(db, clock=clock)
        task = next(t for t in fresh.tasks(instance_id=iid) if t["element_id"] == element)
        out = fresh.complete(task["task_id"], {})
        assert out["status"] != "error", fresh.show(iid)["error"]
    assert out["status"] == "completed"


# ------------------------------------------------------------------ 12: multi-instance order
def _mi_process(pid: str) -> str:
    mi = ('<bpmn:manualTask id="Task_Plan" name="Plan">'
          '<bpmn:multiInstanceLoopCharacteristics>'
          "<bpmn:loopDataInputRef>members</bpmn:loopDataInputRef>"
          "<bpmn:loopDataOutputRef>plans</bpmn:loopDataOutputRef>"
          '<bpmn:inputDataItem id="member" name="member"/>'
          '<bpmn:outputDataItem id="plan" name="plan"/>'
          "</bpmn:multiInstanceLoopCharacteristics></bpmn:manualTask>")
    body = ('<bpmn:startEvent id="Ev_Start"/>' + mi + _manual("Task_Done", "Fertig")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Plan") + B.flow("F2", "Task_Plan", "Task_Done")
            + B.flow("F3", "Task_Done", "Ev_End"))
    return B.process(pid, {"KIM_CM": ["Ev_Start", "Task_Plan", "Task_Done", "Ev_End"]}, body)


def _members_of(db, iid: int, tasks: list[dict]) -> list[str]:
    from uuid import UUID

    with db.reader() as s:
        inst = s.get(ProcessInstance, iid)
        from engine.models import ProcessDefinition
        wf, _ = store.load(s, inst, s.get(ProcessDefinition, inst.definition_id).spec_hash)
    return [wf.get_task_from_id(UUID(t["task_id"])).data["member"] for t in tasks]


def test_parallel_multi_instance_outputs_and_worklist_follow_the_instance_index(engine, db):
    engine.deploy_files(B.files(p__bpmn=_mi_process("mi")))
    for n in range(4):  # four instances: a random (UUID) order would show at least once
        iid = engine.start("mi", {"members": ["m1", "m2", "m3"]})["instance_id"]
        tasks = engine.tasks(instance_id=iid)
        assert _members_of(db, iid, tasks) == ["m1", "m2", "m3"], n  # stable worklist order
        by_member = dict(zip(_members_of(db, iid, tasks), tasks, strict=True))
        for m in ("m3", "m1", "m2"):  # completed out of order
            engine.complete(by_member[m]["task_id"], {"plan": f"plan-{m}"})
        done = engine.tasks(instance_id=iid)
        assert [t["element_id"] for t in done] == ["Task_Done"]
        engine.complete(done[0]["task_id"], {})
        assert engine.show(iid)["data"]["plans"] == ["plan-m1", "plan-m2", "plan-m3"]


# ------------------------------------------------------------------ 7: consents via processes
def test_every_demo_consent_has_its_consent_recorded_entry(sqlite_db, clock):
    from processes import demo_catalogue as D
    from processes.consent import Consent
    from tests.integration import test_catalogue_support as S

    engine, _ = build_engine(sqlite_db, clock=clock)
    S.deploy_catalogue(engine)
    D.seed_catalogue(engine)
    with sqlite_db.reader() as s:
        consents = {c.consent_id: c for c in s.scalars(select(Consent))}
        entries = list(s.scalars(select(AuditEvent)
                                 .where(AuditEvent.event_type == "consent.recorded")))
    recorded = {e.details["consent_id"] for e in entries}
    via_process = [e for e in entries if e.details.get("via") == "process"]
    assert len(consents) > 20 and via_process
    assert set(consents) - recorded == set()  # no consent without its entry
    assert len(entries) == len(consents)  # and exactly one each
    # no personal values: ids, office, purpose, categories, case id, the sending instance
    for e in via_process:
        assert set(e.details) <= {"consent_id", "office", "purpose", "categories", "case_id",
                                  "via", "from_instance"}
        assert e.details["case_id"] == consents[e.details["consent_id"]].case_id


# ------------------------------------------------------------------ CLI: no traceback, full text
def test_cli_complete_with_failing_prescript_reports_an_incident_not_a_traceback(db, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")

    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "web.cli", *args, "--json"], cwd=root,
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        return json.loads(proc.stdout)

    (tmp_path / "pre.bpmn").write_text(_pre_script_process("pre_cli"), encoding="utf-8")
    cli("deploy", str(tmp_path / "pre.bpmn"))
    iid = cli("start", "pre_cli", "--data", json.dumps({"name": "Zeynep"}))["instance_id"]
    tid = cli("tasks", "--instance", str(iid))[0]["task_id"]
    assert cli("complete", tid, "--data", "{}")["status"] == "error"
    shown = cli("show", str(iid))
    assert shown["error"] == "NameError in preScript of Task_Next"
    full = cli("incident", str(iid))
    assert full["element"] == "Task_Next" and "missing" in full["detail"]
