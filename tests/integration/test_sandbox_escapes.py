"""Issue 12.1: user input never becomes a live object, and the sandbox touches only plain data.

Before the fix, a dict in start data, completion data or a message payload whose ``typename``
named a registered SpiffWorkflow class (here a genuine serialized ``BpmnWorkflow``) came back
from the serializer as a live object. A restored workflow carries SpiffWorkflow's unrestricted
default script engine, so ``w.script_engine.environment.execute("...")`` in a script, a gateway
condition, a ``due`` property or a message payload ran any Python as the server user. Each test
below ran the marker code on the old main; now none does, and the typed dict comes back to the
case exactly as it was typed.

The catalogue of payloads lives in ``ESCAPES`` (scripts) and ``EXPRESSION_ESCAPES``; add new ones
there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select

from engine import serialization as ser
from engine.models import ProcessInstance
from tests import bpmn_builder as B

LANE = "KIM_CM"
FORM = "free.json"


def _files(text: str):
    """The BPMN plus the open form every user task here names."""
    return B.files(p__bpmn=text, free__json='{"type": "object", "properties": {}}')


def _live_workflow_dict() -> dict:
    """What an attacker posts: a genuine serialized BpmnWorkflow, as JSON."""
    parser = SpiffBpmnParser()
    text = B.process("tiny", {}, '<bpmn:startEvent id="S"/><bpmn:endEvent id="E"/>'
                     + B.flow("F", "S", "E"))
    parser.add_bpmn_str(text.encode("utf-8"))
    wf = BpmnWorkflow(parser.get_spec("tiny"))
    return json.loads(json.dumps(BpmnWorkflowSerializer().to_dict(wf)))


def _marker_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('pwned')"


def _run_it(marker: Path) -> str:
    """The call that ran arbitrary code through the restored workflow's default engine."""
    return f"w.script_engine.environment.execute({_marker_code(marker)!r}, {{}}, {{}})"


def _proc(pid: str, body: str, ids: list[str]) -> str:
    return B.process(pid, {LANE: ids}, body)


def _script_process(pid: str, script: str) -> str:
    body = ('<bpmn:startEvent id="Ev_Start"/>' + B.script_task("Task_Script", script)
            + B.user_task("Task_After", "Danach", form=FORM) + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Script") + B.flow("F2", "Task_Script", "Task_After")
            + B.flow("F3", "Task_After", "Ev_End"))
    return _proc(pid, body, ["Ev_Start", "Task_Script", "Task_After", "Ev_End"])


def _gateway_process(pid: str, condition: str) -> str:
    body = ('<bpmn:startEvent id="Ev_Start"/>' + B.user_task("Task_Enter", "Erfassen", form=FORM)
            + '<bpmn:exclusiveGateway id="Gw" default="F_no"/>'
            + B.user_task("Task_Yes", "Ja", form=FORM) + B.user_task("Task_No", "Nein", form=FORM)
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Enter") + B.flow("F2", "Task_Enter", "Gw")
            + B.flow("F_yes", "Gw", "Task_Yes", condition) + B.flow("F_no", "Gw", "Task_No")
            + B.flow("F3", "Task_Yes", "Ev_End") + B.flow("F4", "Task_No", "Ev_End"))
    return _proc(pid, body, ["Ev_Start", "Task_Enter", "Gw", "Task_Yes", "Task_No", "Ev_End"])


def _due_process(pid: str, due: str) -> str:
    body = ('<bpmn:startEvent id="Ev_Start"/>' + B.user_task("Task_Enter", "Erfassen", form=FORM)
            + B.user_task("Task_Due", "Mit Frist", form=FORM, extra_props={"due": due})
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Enter") + B.flow("F2", "Task_Enter", "Task_Due")
            + B.flow("F3", "Task_Due", "Ev_End"))
    return _proc(pid, body, ["Ev_Start", "Task_Enter", "Task_Due", "Ev_End"])


def _message_pair(payload: str, receiver_script: str) -> str:
    """Process A throws M_esc with ``payload``; process B starts on it and runs a script."""
    head = B.HEAD.format(pid="esc_msgs")
    a = ('<bpmn:process id="esc_sender" isExecutable="true">'
         '<bpmn:laneSet id="LS_a"><bpmn:lane id="La" name="KIM_CM">'
         + "".join(f"<bpmn:flowNodeRef>{e}</bpmn:flowNodeRef>" for e in ("A_S", "A_T", "A_E"))
         + '</bpmn:lane></bpmn:laneSet><bpmn:startEvent id="A_S"/>'
         '<bpmn:intermediateThrowEvent id="A_T"><bpmn:messageEventDefinition messageRef="M_esc">'
         f"<spiffworkflow:messagePayload>{payload}</spiffworkflow:messagePayload>"
         '</bpmn:messageEventDefinition></bpmn:intermediateThrowEvent><bpmn:endEvent id="A_E"/>'
         + B.flow("AF1", "A_S", "A_T") + B.flow("AF2", "A_T", "A_E") + "</bpmn:process>")
    b = ('<bpmn:process id="esc_receiver" isExecutable="true">'
         '<bpmn:laneSet id="LS_b"><bpmn:lane id="Lb" name="KIM_CM">'
         + "".join(f"<bpmn:flowNodeRef>{e}</bpmn:flowNodeRef>"
                   for e in ("B_S", "B_Script", "B_Task", "B_E"))
         + '</bpmn:lane></bpmn:laneSet>'
         '<bpmn:startEvent id="B_S"><bpmn:messageEventDefinition messageRef="M_esc">'
         "<spiffworkflow:messageVariable>m</spiffworkflow:messageVariable>"
         "</bpmn:messageEventDefinition></bpmn:startEvent>"
         + B.script_task("B_Script", receiver_script)
         + B.user_task("B_Task", "Empfangen", form=FORM)
         + '<bpmn:endEvent id="B_E"/>'
         + B.flow("BF1", "B_S", "B_Script") + B.flow("BF2", "B_Script", "B_Task")
         + B.flow("BF3", "B_Task", "B_E") + "</bpmn:process>")
    return (head + '<bpmn:message id="M_esc" name="escape_probe"/>' + a + b
            + "</bpmn:definitions>\n")


def _statuses(engine, *iids) -> list[str]:
    return [engine.show(i)["status"] for i in iids]


def test_start_data_with_a_workflow_dict_never_runs_code(engine, tmp_path):
    marker = tmp_path / "pwned"
    engine.deploy_files(_files(_script_process("esc_start", "x = " + _run_it(marker))))
    out = engine.start("esc_start", {"w": _live_workflow_dict(), "case_id": "C-1"})
    assert not marker.exists()
    shown = engine.show(out["instance_id"])
    assert shown["status"] == "error"
    assert "refused by sandbox" in shown["error"]


def test_completion_data_in_a_gateway_condition_never_runs_code(engine, tmp_path):
    marker = tmp_path / "pwned"
    engine.deploy_files(_files(_gateway_process("esc_gw", _run_it(marker))))
    iid = engine.start("esc_gw", {"case_id": "C-1"})["instance_id"]
    task = engine.tasks(instance_id=iid)[0]
    engine.complete(task["task_id"], {"w": _live_workflow_dict()})
    assert not marker.exists()
    assert _statuses(engine, iid) == ["error"]


def test_completion_data_in_a_due_property_never_runs_code(engine, tmp_path):
    marker = tmp_path / "pwned"
    engine.deploy_files(_files(_due_process("esc_due", _run_it(marker))))
    iid = engine.start("esc_due", {"case_id": "C-1"})["instance_id"]
    task = engine.tasks(instance_id=iid)[0]
    engine.complete(task["task_id"], {"w": _live_workflow_dict()})
    assert not marker.exists()
    (due_task,) = engine.tasks(instance_id=iid)
    assert due_task["due_at"] is None  # the expression was refused, so no deadline


def test_message_payload_expression_never_runs_code(engine, tmp_path):
    marker = tmp_path / "pwned"
    engine.deploy_files(_files(_message_pair(_run_it(marker), "y = 1")))
    iid = engine.start("esc_sender", {"w": _live_workflow_dict(), "case_id": "C-1"})["instance_id"]
    assert not marker.exists()
    assert _statuses(engine, iid) == ["error"]


def test_message_payload_carrying_the_dict_never_becomes_an_object(engine, tmp_path):
    marker = tmp_path / "pwned"
    receiver = "x = m['w'].script_engine.environment.execute(" + repr(_marker_code(marker)) \
        + ", {}, {})"
    engine.deploy_files(_files(_message_pair('{"w": w}', receiver)))
    engine.start("esc_sender", {"w": _live_workflow_dict(), "case_id": "C-1"})
    assert not marker.exists()
    with engine.db.reader() as s:
        receivers = s.scalars(select(ProcessInstance.status)
                              .where(ProcessInstance.process_id == "esc_receiver")).all()
    assert receivers == ["error"]  # delivered, started, and its script refused


def test_a_typed_dict_comes_back_exactly_as_typed(engine):
    engine.deploy_files(_files(_script_process("esc_keep", "kept = w")))
    typed = _live_workflow_dict()
    lookalike = {"typename": "date", "value": "2020-01-01"}
    iid = engine.start("esc_keep", {"w": typed, "d": lookalike, "case_id": "C-1"})["instance_id"]
    data = engine.show(iid)["data"]
    assert data["kept"] == typed and data["d"] == lookalike
    # and the stored form is escaped: no row holds a dict that restore would interpret
    assert ser.restore(ser.convert(typed)) == typed


def test_rows_written_before_the_fix_restore_as_plain_dicts():
    """A json_data row stored by the old code (typed dict unescaped) stays a dict."""
    old_row = {"w": _live_workflow_dict()}
    restored = ser.restore(old_row)
    assert type(restored["w"]) is dict and restored["w"]["typename"] == "BpmnWorkflow"


@pytest.mark.parametrize("script", [
    "x = w.script_engine",
    "x = w['tasks']",  # a restored object's mapping interface is not plain data
    "x = d.today()",  # wall clock instead of the engine clock
    "x = (1).__class__",
])
def test_sandbox_refuses_attributes_outside_the_allow_list(engine, script):
    from datetime import date

    from engine import sandbox

    env = sandbox.SandboxEnvironment()

    class Live:  # stands for any object that is not plain data
        script_engine = "secret"

        def __getitem__(self, key):
            return "secret"

    with pytest.raises((sandbox.SandboxViolation, SyntaxError)):
        env.execute(script, {"w": Live(), "d": date(2026, 1, 1)})
