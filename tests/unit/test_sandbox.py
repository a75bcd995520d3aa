"""The script sandbox, exercised through real SpiffWorkflow workflows (no mocks)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.errors import ScriptError
from engine.sandbox import (
    FORBIDDEN_NAMES,
    HelperRegistry,
    SandboxEnvironment,
    check_expression,
    check_script,
    make_script_engine,
)

REFUSED = "refused by sandbox"

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="x">'
    '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="start"/>'
)
TAIL = "</bpmn:process></bpmn:definitions>"


def _flow(fid: str, src: str, dst: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}"/>'
    return (
        f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )


def _script(tid: str, script: str) -> str:
    body = f"<bpmn:script>{escape(script)}</bpmn:script>"
    return f'<bpmn:scriptTask id="{tid}">{body}</bpmn:scriptTask>'


def script_process(script: str, *, wait_first: bool = False) -> str:
    """start -> [user task] -> script task -> end."""
    body = _script("run", script) + '<bpmn:endEvent id="end"/>' + _flow("f2", "run", "end")
    if wait_first:
        body += '<bpmn:userTask id="wait"/>' + _flow("f0", "start", "wait")
        body += _flow("f1", "wait", "run")
    else:
        body += _flow("f1", "start", "run")
    return HEAD + body + TAIL


def gateway_process(condition: str) -> str:
    """start -> exclusive gateway -> 'high' script if condition else 'normal' script."""
    return HEAD + (
        '<bpmn:exclusiveGateway id="gw" default="f_normal"/>'
        + _script("high", 'route = "high"') + _script("normal", 'route = "normal"')
        + '<bpmn:endEvent id="end"/>' + _flow("f1", "start", "gw")
        + _flow("f_high", "gw", "high", condition) + _flow("f_normal", "gw", "normal")
        + _flow("f2", "high", "end") + _flow("f3", "normal", "end")
    ) + TAIL


def engine(helpers: dict | None = None):
    """make_script_engine(), checked to really be the sandbox (every test depends on this)."""
    result = make_script_engine(helpers)
    assert isinstance(result.environment, SandboxEnvironment)
    return result


def start(bpmn: str, data: dict | None = None, helpers: dict | None = None, dmn: str | None = None):
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(bpmn.encode())
    if dmn:
        parser.add_dmn_str(dmn.encode())
    wf = BpmnWorkflow(parser.get_spec("p"), script_engine=engine(helpers))
    wf.get_next_task(spec_name="Start").data.update(data or {})
    return wf


def shout(text: str) -> str:
    return text.upper()


def task(wf: BpmnWorkflow, bpmn_id: str):
    return next(t for t in wf.get_tasks() if t.task_spec.bpmn_id == bpmn_id)


def assert_sandboxed(wf: BpmnWorkflow) -> None:
    """The workflow's engine really refuses a dunder walk (behavioural, not just a type check)."""
    with pytest.raises(ScriptError, match=REFUSED):
        wf.script_engine.environment.evaluate("().__class__", {})


def assert_refused(wf: BpmnWorkflow, bpmn_id: str | None = None) -> WorkflowTaskException:
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert REFUSED in str(info.value)
    if bpmn_id:
        assert task(wf, bpmn_id).state == TaskState.ERROR
    return info.value


# --- what works --------------------------------------------------------------------------------


def test_script_task_computes_values_and_cleans_task_data():
    script = """
greeting = f"Hallo {client['name']}!"
doubled = [n * factor for n in numbers]
total = sum(doubled)
label = shout(client['name'])
count = 0
for n in numbers:
    count += 1
def helper(x):
    return x
"""
    data = {"client": {"name": "Ada"}, "numbers": [1, 2, 3], "factor": 2, "_secret": "x"}
    wf = start(script_process(script), data, helpers={"shout": shout})
    wf.do_engine_steps()
    assert wf.is_completed()
    result = task(wf, "run").data
    assert result["greeting"] == "Hallo Ada!"
    assert result["doubled"] == [2, 4, 6] and result["total"] == 12 and result["count"] == 3
    assert result["label"] == "ADA"
    # helpers, functions defined in the script and _private names never stay in task data
    assert not {"shout", "helper", "_secret", "__builtins__"} & set(result)


@pytest.mark.parametrize(("priority", "route"), [("high", "high"), ("low", "normal")])
def test_gateway_condition_routes(priority, route):
    wf = start(gateway_process('priority == "high"'), {"priority": priority})
    wf.do_engine_steps()
    assert wf.is_completed()
    assert task(wf, route).state == TaskState.COMPLETED
    assert_sandboxed(wf)


def test_timer_expression_evaluates():
    bpmn = HEAD + (
        '<bpmn:intermediateCatchEvent id="timer"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT2S"</bpmn:timeDuration>'
        '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="end"/>'
        + _flow("f1", "start", "timer") + _flow("f2", "timer", "end")
    ) + TAIL
    wf = start(bpmn)
    before = timer.datetime.now(UTC)  # whatever clock Spiff's timer module reads (may be patched)
    wf.do_engine_steps()
    after = timer.datetime.now(UTC)
    waiting = task(wf, "timer")
    assert waiting.state == TaskState.WAITING
    due = datetime.fromisoformat(waiting._get_internal_data("event_value"))
    assert before + timedelta(seconds=2) <= due <= after + timedelta(seconds=2)
    assert_sandboxed(wf)


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd" name="d" namespace="x">
  <decision id="prio" name="Priority">
    <decisionTable id="t" hitPolicy="UNIQUE">
      <input id="i1" label="Permit"><inputExpression id="e1" typeRef="string">
        <text>permit_status</text></inputExpression></input>
      <input id="i2" label="Visits"><inputExpression id="e2" typeRef="integer">
        <text>visits</text></inputExpression></input>
      <output id="o1" label="Priority" name="priority" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1a"><text>"expired"</text></inputEntry>
        <inputEntry id="r1b"><text>-</text></inputEntry>
        <outputEntry id="r1o"><text>"high"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2a"><text>-</text></inputEntry>
        <inputEntry id="r2b"><text>&gt;= 3</text></inputEntry>
        <outputEntry id="r2o"><text>"high"</text></outputEntry></rule>
      <rule id="r3"><inputEntry id="r3a"><text>-</text></inputEntry>
        <inputEntry id="r3b"><text>-</text></inputEntry>
        <outputEntry id="r3o"><text>"normal"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


@pytest.mark.parametrize(
    ("permit", "visits", "expected"),
    [("expired", 0, "high"), ("valid", 3, "high"), ("valid", 1, "normal")],
)
def test_dmn_table_under_sandbox(permit, visits, expected):
    bpmn = HEAD + (
        '<bpmn:businessRuleTask id="decide"><bpmn:extensionElements>'
        "<spiffworkflow:calledDecisionId>prio</spiffworkflow:calledDecisionId>"
        '</bpmn:extensionElements></bpmn:businessRuleTask><bpmn:endEvent id="end"/>'
        + _flow("f1", "start", "decide") + _flow("f2", "decide", "end")
    ) + TAIL
    wf = start(bpmn, {"permit_status": permit, "visits": visits}, dmn=DMN)
    wf.do_engine_steps()
    assert wf.is_completed()
    assert task(wf, "decide").data["priority"] == expected
    assert_sandboxed(wf)


# --- what is refused -----------------------------------------------------------------------------


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


ATTACK_SCRIPTS = [
    "__import__('os').system('touch {m}')",
    "import os\nos.system('touch {m}')",
    "from os import system\nsystem('touch {m}')",
    "x = ().__class__.__base__.__subclasses__()",
    "data = open('/etc/passwd').read()",
    "g = shout.__globals__['os'].system('touch {m}')",
    "c = getattr(shout, '__class__')",
    "eval(\"__import__('os').system('touch {m}')\")",
    "exec('x = 1')",
    "c = compile('1', 'f', 'eval')",
    "g = globals()",
    "f = '{{0.__class__}}'.format(1)",
]


@pytest.mark.parametrize("attack", ATTACK_SCRIPTS)
def test_attack_script_is_refused(attack, marker):
    wf = start(script_process(attack.format(m=marker)), helpers={"shout": shout})
    assert_refused(wf, "run")
    assert not marker.exists()


ATTACK_CONDITIONS = [
    "__import__('os').system('touch {m}') == 0",
    "().__class__.__base__.__subclasses__() != []",
    "shout.__globals__['os'].system('touch {m}') == 0",
    "getattr(shout, '__class__') is not None",
    "open('/etc/passwd').read() != ''",
    "eval('1') == 1",
    "(lambda: 1)() == 1",
]


@pytest.mark.parametrize("attack", ATTACK_CONDITIONS)
def test_attack_condition_is_refused(attack, marker):
    wf = start(gateway_process(attack.format(m=marker)), helpers={"shout": shout})
    exc = assert_refused(wf, "gw")
    assert exc.task.task_spec.bpmn_id == "gw"
    assert not marker.exists()


def test_module_smuggled_into_task_data_gives_no_access(marker):
    env = engine().environment
    with pytest.raises(ScriptError, match=REFUSED):
        env.execute(f"os.system('touch {marker}')", {"os": os})
    with pytest.raises(ScriptError, match=REFUSED):
        env.execute(f"d['m'].system('touch {marker}')", {"d": {"m": os}})
    with pytest.raises(ScriptError, match=REFUSED):
        env.evaluate(f"os.system('touch {marker}') == 0", {"os": os})
    assert not marker.exists()


def test_unregistered_function_is_denied():
    env = engine({"shout": shout}).environment
    assert env.evaluate("shout('a')", {}) == "A"
    with pytest.raises(ScriptError, match=REFUSED):
        env.evaluate("whisper('a')", {})
    with pytest.raises(NameError):
        env.execute("x = whisper('a')", {})


def test_resource_bounds():
    env = engine().environment
    for expression in ("2 ** 10 ** 8", "'x' * 10 ** 9", "len(range(10 ** 9))"):
        with pytest.raises(ScriptError, match=REFUSED):
            env.evaluate(expression, {})
    for script in ("x = list(range(10 ** 9))", "s = 'x'\ns *= 10 ** 9", "n = 7\nn **= 10 ** 8",
                   "x = [0] * 10 ** 9", "s = 'ab' * 10 ** 9", "n = 2 ** 10 ** 8",
                   "x = 10 ** 9 * [0]", "x = [[0] * 10] * 10 ** 8"):
        with pytest.raises(ScriptError, match=REFUSED):
            env.execute(script, {})


def test_small_products_and_powers_still_work_in_scripts():
    ctx = {"n": 3}
    engine().environment.execute("a = n * 4\nb = 2 ** 10\nc = [1, 2] * n\nd = '-' * 5\n"
                                 "e = 1.5 * 2", ctx)
    assert ctx == {"n": 3, "a": 12, "b": 1024, "c": [1, 2] * 3, "d": "-----", "e": 3.0}


def test_refused_script_reports_line_number():
    wf = start(script_process("a = 1\nb = ().__class__"))
    exc = assert_refused(wf, "run")
    assert exc.line_number == 2
    assert "__class__" in exc.error_line


def test_failed_script_leaves_task_data_untouched():
    env = engine().environment
    data = {"a": 1}
    with pytest.raises(ZeroDivisionError):
        env.execute("a = 2\nb = 1 / 0", data)
    assert data == {"a": 1}


def test_helper_registry_is_explicit():
    registry = HelperRegistry()
    assert len(registry) == 0 and "shout" not in registry
    registry.register("shout", shout)
    assert registry["shout"] is shout and list(registry) == ["shout"]
    bad = [("_hidden", shout), ("open", shout), ("eval", eval), ("ga", getattr), ("x", 1)]
    for name, func in bad:
        with pytest.raises((ValueError, TypeError)):
            registry.register(name, func)
    env = make_script_engine(registry).environment
    assert env.evaluate("shout(name)", {"name": "a"}) == "A"
    with pytest.raises(ScriptError, match=REFUSED):
        env.evaluate("open('/etc/passwd')", {})


def test_forbidden_names():
    expected = {"__import__", "open", "eval", "exec", "compile", "globals", "getattr"}
    assert expected <= FORBIDDEN_NAMES


# --- deploy-time checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ['priority == "high"', '"PT2S"', "len(items) >= 3 and unknown_var", "x if y else z"],
)
def test_check_expression_accepts_good_code(expression):
    assert check_expression(expression) is None


@pytest.mark.parametrize(
    "expression",
    ["__import__('os')", "().__class__", "open('x')", "eval('1')", "a ==", "lambda: 1", "(a := 1)"],
)
def test_check_expression_rejects_bad_code(expression):
    message = check_expression(expression)
    assert isinstance(message, str) and message


def test_check_expression_reports_unknown_functions_only_when_helpers_given():
    assert check_expression("shout(x) == 'A'", names=["shout"]) is None
    assert "whisper" in check_expression("whisper(x)", names=["shout"])
    assert check_expression("whisper(x)") is None


def test_check_expression_does_not_evaluate(marker):
    assert check_expression(f"shout('touch {marker}') == 1 / 0") is None
    assert not marker.exists()


def test_check_script():
    assert check_script("total = sum([n * 2 for n in items])\nlabel = f'{total} Euro'") is None
    for bad in ("import os", "x = ().__class__", "open('x')", "x = (", "class A: pass"):
        message = check_script(bad)
        assert isinstance(message, str) and message


# --- persistence: the engine is not serialized -------------------------------------------------


def _save_and_restore(wf: BpmnWorkflow) -> BpmnWorkflow:
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return serializer.deserialize_json(serializer.serialize_json(wf))


def test_sandbox_in_force_after_restore_when_reattached(marker):
    wf = start(script_process(f"__import__('os').system('touch {marker}')", wait_first=True))
    wf.do_engine_steps()
    restored = _save_and_restore(wf)
    restored.script_engine = engine()
    restored.run_task_from_id(task(restored, "wait").id)
    assert_refused(restored, "run")
    assert not marker.exists()


def test_restored_workflow_without_reattach_is_unsandboxed():
    """Documents the trap: SpiffWorkflow restores with its default, unrestricted engine."""
    wf = start(script_process("name = ().__class__.__name__", wait_first=True))
    wf.do_engine_steps()
    restored = _save_and_restore(wf)
    assert not isinstance(restored.script_engine.environment, SandboxEnvironment)
    assert type(restored.script_engine.environment) is TaskDataEnvironment
    restored.run_task_from_id(task(restored, "wait").id)
    restored.do_engine_steps()  # the dunder walk runs unchecked
    assert task(restored, "run").data["name"] == "tuple"
