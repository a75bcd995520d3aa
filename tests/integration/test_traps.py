"""SpiffWorkflow's traps, closed: sandbox after reload, lanes, depth, logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.errors import DeployError, WorkflowDepthExceeded
from engine.models import ProcessInstance
from engine.sandbox import Budget
from processes.wiring import build_engine
from tests import bpmn_builder as B
from tests.integration.test_engine import PERSON


def _script_after_user_task(script: str) -> str:
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + B.user_task("Task_First", "Erfassen")
        + B.script_task("Task_Script", script)
        + B.user_task("Task_Second", "Weiter")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Task_First") + B.flow("F2", "Task_First", "Task_Script")
        + B.flow("F3", "Task_Script", "Task_Second") + B.flow("F4", "Task_Second", "Ev_End")
    )
    return B.process("script_proc", {"KIM_CM": ["Ev_Start", "Task_First", "Task_Script",
                                                "Task_Second", "Ev_End"]}, body)


@pytest.mark.parametrize("script", [
    "__import__('os').system('touch /tmp/lotse-pwned')",
    "x = ().__class__.__base__.__subclasses__()",
    "import os",
])
def test_deploy_refuses_scripts_the_sandbox_rejects(engine, script):
    with pytest.raises(DeployError) as exc:
        engine.deploy_files(B.files(s__bpmn=_script_after_user_task(script)))
    assert exc.value.problems[0]["element"] == "Task_Script"


def test_sandbox_holds_after_reload_and_the_instance_records_the_error(db, clock, tmp_path):
    # passes every static check; only the runtime guard (size limit) can stop it
    script = "x = list(range(1000000))"
    eng, _ = build_engine(db, clock=clock)
    eng.deploy_files(B.files(s__bpmn=_script_after_user_task(script)))
    iid = eng.start("script_proc", {"case_id": "C-1"})["instance_id"]
    task = eng.tasks(instance_id=iid)[0]
    # a second engine: the workflow is loaded from the database before the script runs
    eng2, _ = build_engine(db, clock=clock)
    out = eng2.complete(task["task_id"], {})
    assert out["status"] == "error"
    assert "refused by sandbox" in out["error"]
    shown = eng2.show(iid)
    assert shown["status"] == "error" and shown["error"]
    assert not [t for t in eng2.tasks(instance_id=iid)]  # Task_Second never became ready


def test_default_spiff_engine_would_have_run_it(tmp_path):
    """Documents the trap the tests above guard against: Spiff's own engine runs anything."""
    marker = tmp_path / "pwned"
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(_script_after_user_task(
        f"x = open({str(marker)!r}, 'w').write('owned')").encode())
    wf = BpmnWorkflow(parser.get_spec("script_proc"))
    wf.do_engine_steps()
    t = wf.get_tasks(state=16, manual=True)[0]
    t.run()
    wf.do_engine_steps()
    assert marker.exists()


def test_deploy_refuses_open(engine, tmp_path):
    script = f"x = open({str(tmp_path / 'p')!r}, 'w').write('owned')"
    with pytest.raises(DeployError, match="open"):
        engine.deploy_files(B.files(s__bpmn=_script_after_user_task(script)))


def _messages_only(i: int) -> str:
    return (B.HEAD.format(pid=f"m{i}") + f'<bpmn:message id="Msg_{i}" name="m{i}"/>'
            "</bpmn:definitions>\n")


def _lane_process(i: int, office: str) -> str:
    body = (f'<bpmn:startEvent id="S{i}"/>' + B.user_task(f"U{i}", f"Aufgabe {i}")
            + B.flow(f"F{i}", f"S{i}", f"U{i}"))
    return B.process(f"p{i}", {office: [f"S{i}", f"U{i}"]}, body)


def test_lanes_never_become_none(engine, tmp_path):
    offices = ["ABH", "JC", "KIM_CM", "WOHN"]
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"a{i:03d}_messages.bpmn").write_text(_messages_only(i))
        (folder / f"b{i:03d}_process.bpmn").write_text(_lane_process(i, offices[i % 4]))
    engine.deploy([folder])
    for i in range(60):
        engine.start(f"p{i}", {})
    seen = {(t["element_id"], t["office"]) for t in engine.tasks()}
    assert seen == {(f"U{i}", offices[i % 4]) for i in range(60)}


def test_plain_parser_loses_lanes_in_the_same_setup(tmp_path):
    """Documents SpiffWorkflow 3.2's lane cache bug that the deploy parser works around."""
    parser = SpiffBpmnParser()
    lost = 0
    for i in range(60):
        p1, p2 = tmp_path / f"c{i}.bpmn", tmp_path / f"t{i}.bpmn"
        p1.write_text(_messages_only(i))
        p2.write_text(_lane_process(i, "JC"))
        parser.add_bpmn_file(str(p1))
        parser.add_bpmn_file(str(p2))
    for i in range(60):
        lost += parser.get_spec(f"p{i}").task_specs[f"U{i}"].lane is None
    assert lost > 0


def _script_loop(rounds: int) -> str:
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + B.script_task("Task_Init", "n = 0")
        + B.script_task("Task_Count", "n = n + 1")
        + '<bpmn:exclusiveGateway id="Gw" default="F_back"/>'
        + B.user_task("Task_Done", "Ergebnis prüfen")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Task_Init") + B.flow("F2", "Task_Init", "Task_Count")
        + B.flow("F3", "Task_Count", "Gw") + B.flow("F_out", "Gw", "Task_Done", f"n >= {rounds}")
        + B.flow("F_back", "Gw", "Task_Count") + B.flow("F5", "Task_Done", "Ev_End")
    )
    return B.process("deep_loop", {"KIM_CM": ["Ev_Start", "Task_Init", "Task_Count", "Gw",
                                              "Task_Done", "Ev_End"]}, body)


def test_depth_trap_fails_loudly(db, clock):
    # SpiffWorkflow slows down on deep trees: a long budget, so the depth trap answers first
    engine, _ = build_engine(db, clock=clock, script_budget=Budget(seconds=120, memory_mb=0))
    engine.deploy_files(B.files(loop__bpmn=_script_loop(600)))
    with pytest.raises(WorkflowDepthExceeded) as exc:
        engine.start("deep_loop", {})
    assert "subprocess" in exc.value.message
    with db.reader() as s:  # nothing half-applied
        assert s.query(ProcessInstance).count() == 0


def test_short_loop_still_runs(engine):
    engine.deploy_files(B.files(loop__bpmn=_script_loop(20)))
    iid = engine.start("deep_loop", {})["instance_id"]
    assert engine.tasks(instance_id=iid)[0]["element_id"] == "Task_Done"
    assert engine.show(iid)["data"]["n"] == 20


def test_spiff_alone_reports_the_deep_loop_completed():
    """Documents the trap: SpiffWorkflow claims completion although Task_Done never ran."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(_script_loop(600).encode())
    wf = BpmnWorkflow(parser.get_spec("deep_loop"))
    wf.do_engine_steps()
    assert wf.is_completed()
    assert not any(t.task_spec.bpmn_id == "Task_Done" and t.state == 16 for t in wf.tasks.values())


def test_task_data_never_reaches_the_logs(first_process, caplog):
    secret = "P-PASS-0815-GEHEIM"
    logging.getLogger("spiff.task").setLevel(logging.DEBUG)  # someone turns on debugging
    with caplog.at_level(logging.DEBUG):
        eng = first_process
        iid = eng.start("kim_first_referral", {"passport_no": secret}, case_ref="L-1")[
            "instance_id"]
        task = eng.tasks(instance_id=iid)[0]
        eng.complete(task["task_id"], {**PERSON, "notes": secret})
    assert caplog.records
    for rec in caplog.records:
        assert secret not in rec.getMessage()
        assert secret not in repr(rec.__dict__)


def test_bpmn_dir_exists():
    assert (Path(__file__).resolve().parents[2] / "bpmn").is_dir()
