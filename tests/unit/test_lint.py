"""engine.lint: one positive and one negative case per rule, the shipped models, the CLI."""

from __future__ import annotations

import json
from itertools import pairwise
from xml.sax.saxutils import escape

import click
import pytest
from click.testing import CliRunner

from engine.deploy import SourceFile, collect_files
from engine.lint import ERROR, RULES, WARNING, has_errors, lint_files
from processes.offices import OfficeRegistry
from processes.wiring import script_helpers
from tests import bpmn_builder as B
from tests.conftest import BPMN_DIR

REGISTRY = OfficeRegistry.load()
HELPERS = sorted(script_helpers(REGISTRY))
FORM = B.simple_form("note")


def lint(*docs: str, form: str | None = FORM, helpers=None, **named: str):
    files = [SourceFile(f"p{i}.bpmn", d.encode()) for i, d in enumerate(docs)]
    files += B.files(**named)
    if form is not None:
        files.append(SourceFile("f.json", form.encode()))
    return lint_files(files, resolve_lane=REGISTRY.resolve_lane, helpers=helpers)


def hits(findings, rule: str, severity: str | None = None):
    return [f for f in findings if f.rule == rule and (severity is None or f.severity == severity)]


def chain(*elements: str, pid: str = "proc", lane: str = "KIM_CM", extra: str = "") -> str:
    """Start -> each element (id from its markup) -> end, all in one lane."""
    ids = ["Ev_Start"] + [e.split('id="', 1)[1].split('"', 1)[0] for e in elements] + ["Ev_End"]
    body = '<bpmn:startEvent id="Ev_Start"/>' + "".join(elements) + '<bpmn:endEvent id="Ev_End"/>'
    body += "".join(B.flow(f"F{i}", a, b) for i, (a, b) in enumerate(pairwise(ids)))
    body += extra
    extra_ids = [x.split('"', 1)[0] for x in extra.split(' id="')[1:]]
    return B.process(pid, {lane: ids + [i for i in extra_ids if not i.startswith("F")]}, body)


def task(tid: str = "Task_A") -> str:
    return B.user_task(tid, "Aufgabe", form="f.json")


def timer(kind: str, value: str, eid: str = "Ev_Timer") -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{eid}"><bpmn:timerEventDefinition>'
        f"<bpmn:{kind}>{escape(value)}</bpmn:{kind}></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )


MESSAGE = '<bpmn:message id="Msg_m1" name="m1"/>'


def throw(payload: str | None, eid: str = "Ev_Throw") -> str:
    ext = (
        ""
        if payload is None
        else "<bpmn:extensionElements><spiffworkflow:messagePayload>"
        f"{escape(payload)}</spiffworkflow:messagePayload></bpmn:extensionElements>"
    )
    return (
        f'<bpmn:intermediateThrowEvent id="{eid}"><bpmn:messageEventDefinition '
        f'id="{eid}_def" messageRef="Msg_m1">{ext}</bpmn:messageEventDefinition>'
        "</bpmn:intermediateThrowEvent>"
    )


def catch(eid: str = "Ev_Catch") -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{eid}"><bpmn:messageEventDefinition '
        f'id="{eid}_def" messageRef="Msg_m1"><bpmn:extensionElements>'
        "<spiffworkflow:messageVariable>m</spiffworkflow:messageVariable>"
        "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>"
    )


# ------------------------------------------------------------------------------ baseline
def test_clean_model_has_no_findings():
    assert lint(chain(task())) == []


def test_every_rule_has_an_id_and_description():
    assert all(rule and text for rule, text in RULES.items())


# ------------------------------------------------------------------------------ lanes
def test_lane_without_office():
    bad = lint(chain(task(), lane="Hausmeister"))
    (f,) = hits(bad, "lane-without-office")
    assert (f.severity, f.file, f.element) == (ERROR, "p0.bpmn", "Lane_0")
    assert "Hausmeister" in f.message
    assert not hits(lint(chain(task(), lane="Jobcenter")), "lane-without-office")


def test_lane_of_non_executable_process_is_not_checked():
    doc = chain(task(), lane="Hausmeister").replace('isExecutable="true"', 'isExecutable="false"')
    assert not hits(lint(doc), "lane-without-office")


def test_task_without_lane():
    doc = chain(task()).replace("<bpmn:flowNodeRef>Task_A</bpmn:flowNodeRef>", "")
    (f,) = hits(lint(doc), "task-without-lane")
    assert (f.severity, f.element) == (ERROR, "Task_A")
    assert not hits(lint(chain(task())), "task-without-lane")


# ------------------------------------------------------------------------------ forms
def test_user_task_without_form():
    findings = lint(chain(B.user_task("Task_A", "Ohne Formular")))
    (f,) = hits(findings, "user-task-without-form")
    assert (f.severity, f.element) == (ERROR, "Task_A") and "names no form" in f.message
    assert not hits(lint(chain(task())), "user-task-without-form")


def test_user_task_form_missing_or_invalid():
    missing = lint(chain(task()), form=None)
    assert "not among the files" in hits(missing, "user-task-without-form")[0].message
    invalid = lint(chain(task()), form='{"type": 12}')
    assert "not a valid JSON Schema" in hits(invalid, "user-task-without-form")[0].message


# ------------------------------------------------------------------------------ expressions
def _gateway(cond: str) -> str:
    return chain(
        extra=(
            '<bpmn:exclusiveGateway id="Gw" default="F_def"/>'
            + B.flow("F_in", "Ev_Start", "Gw")
            + B.flow("F_cond", "Gw", "Ev_End", cond)
            + B.flow("F_def", "Gw", "Ev_End")
        )
    )


@pytest.mark.parametrize(
    "doc, element, what",
    [
        (lambda: _gateway("approved =="), "F_cond", "condition"),
        (lambda: chain(B.script_task("Task_S", "import os")), "Task_S", "script"),
        (lambda: chain(timer("timeDuration", '"P5D" +')), "Ev_Timer", "timer"),
        (lambda: chain(throw('{"case_id": case_id,'), catch()), "Ev_Throw", "message payload"),
        (
            lambda: chain(
                B.user_task("Task_M", "MI", form="f.json").replace(
                    "</bpmn:userTask>",
                    "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>"
                    "len(members</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
                    "</bpmn:userTask>",
                )
            ),
            "Task_M",
            "multi-instance cardinality",
        ),
        (
            lambda: chain(
                B.user_task(
                    "Task_D", "Due", form="f.json", extra_props={"due": "add_days(today(), "}
                )
            ),
            "Task_D",
            "due",
        ),
    ],
)
def test_expression_does_not_compile(doc, element, what):
    findings = hits(lint(_with_message(doc())), "expression-does-not-compile")
    assert [(f.severity, f.element) for f in findings] == [(ERROR, element)]
    assert findings[0].message.startswith(what)


def _with_message(doc: str) -> str:
    return doc.replace("<bpmn:process", MESSAGE + "<bpmn:process", 1)


def test_expressions_that_compile_pass():
    doc = _with_message(
        chain(
            B.script_task("Task_S", "x = 1\ny = x + 1"),
            timer("timeDuration", '"P5D"'),
            throw('{"case_id": case_id}'),
            catch(),
            B.user_task(
                "Task_D", "Due", form="f.json", extra_props={"due": "add_days(today(), 5)"}
            ),
        )
    )
    assert not hits(lint(doc), "expression-does-not-compile")
    assert not hits(lint(_gateway('approved == "yes"')), "expression-does-not-compile")


def test_unknown_function_only_when_helpers_are_given():
    doc = _gateway("no_such_helper(x)")
    (f,) = hits(lint(doc, helpers=HELPERS), "unknown-function")
    assert f.severity == WARNING and "no_such_helper" in f.message
    assert not hits(lint(doc), "unknown-function")
    assert not hits(lint(_gateway("add_days(today(), 1) > x"), helpers=HELPERS), "unknown-function")


# ------------------------------------------------------------------------------ timers
@pytest.mark.parametrize(
    "kind, value",
    [
        ("timeDuration", '"P5X"'),
        ("timeDuration", "P5D"),  # not quoted: a Python name, not a string
        ("timeDuration", '"P1D" if urgent else "5 Tage"'),
        ("timeDate", '"2026-13-01T08:00:00"'),
        ("timeDate", '"P5D"'),
        ("timeCycle", '"PT1H"'),
    ],
)
def test_timer_not_iso8601(kind, value):
    (f,) = hits(lint(chain(timer(kind, value))), "timer-not-iso8601")
    assert (f.severity, f.element) == (ERROR, "Ev_Timer")


@pytest.mark.parametrize(
    "kind, value",
    [
        ("timeDuration", '"P5D"'),
        ("timeDuration", '"PT2H30M"'),
        ("timeDuration", '"P1D" if urgent else "P5D"'),
        ("timeDuration", 'f"P{days}D"'),  # not a literal: only compiled
        ("timeDate", '"2026-04-01T08:00:00+02:00"'),
        ("timeDate", 'iso_at(add_days(today(), 3), "08:00")'),
        ("timeCycle", '"R3/PT1H"'),
    ],
)
def test_valid_timers(kind, value):
    findings = lint(chain(timer(kind, value)))
    assert not hits(findings, "timer-not-iso8601")
    assert not hits(findings, "expression-does-not-compile")


# ------------------------------------------------------------------------------ gateways
def test_exclusive_gateway_without_default():
    doc = chain(
        extra=(
            '<bpmn:exclusiveGateway id="Gw"/>'
            + B.flow("F_in", "Ev_Start", "Gw")
            + B.flow("F_a", "Gw", "Ev_End", "x == 1")
            + B.flow("F_b", "Gw", "Ev_End", "x == 2")
        )
    )
    (f,) = hits(lint(doc), "exclusive-gateway-without-default")
    assert (f.severity, f.element) == (WARNING, "Gw")
    fixed = doc.replace(
        '<bpmn:exclusiveGateway id="Gw"/>', '<bpmn:exclusiveGateway id="Gw" default="F_b"/>'
    )
    assert not hits(lint(fixed), "exclusive-gateway-without-default")


def test_exclusive_gateway_with_foreign_default_is_an_error():
    doc = _gateway("x == 1").replace('default="F_def"', 'default="F0"')
    (f,) = hits(lint(doc), "exclusive-gateway-without-default")
    assert f.severity == ERROR and "F0" in f.message


def test_exclusive_gateway_with_one_outgoing_flow_needs_no_default():
    doc = chain('<bpmn:exclusiveGateway id="Gw"/>')
    assert not hits(lint(doc), "exclusive-gateway-without-default")


# ------------------------------------------------------------------------------ structure
def test_unreachable_element():
    doc = chain(task(), extra=task("Task_Lost") + B.flow("F_lost", "Task_Lost", "Ev_End"))
    (f,) = hits(lint(doc), "unreachable-element")
    assert (f.severity, f.element) == (WARNING, "Task_Lost")
    assert not hits(lint(chain(task())), "unreachable-element")


def test_boundary_event_and_event_subprocess_are_reachable():
    doc = chain(
        task(),
        extra=(
            '<bpmn:boundaryEvent id="Bnd" attachedToRef="Task_A"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
            '</bpmn:boundaryEvent><bpmn:endEvent id="Ev_Late"/>'
            + B.flow("F_late", "Bnd", "Ev_Late")
            + '<bpmn:subProcess id="Sub_Ev" triggeredByEvent="true"><bpmn:startEvent id="S_St">'
            '<bpmn:timerEventDefinition><bpmn:timeDuration>"P9D"</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition></bpmn:startEvent><bpmn:endEvent id="S_End"/>'
            + B.flow("SF", "S_St", "S_End")
            + "</bpmn:subProcess>"
        ),
    )
    findings = lint(doc)
    assert not hits(findings, "unreachable-element") and not hits(findings, "dead-end")


def test_dead_end():
    doc = chain(extra=task("Task_Stuck") + B.flow("F_x", "Ev_Start", "Task_Stuck"))
    (f,) = hits(lint(doc), "dead-end")
    assert (f.severity, f.element) == (WARNING, "Task_Stuck")
    assert not hits(lint(chain(task())), "dead-end")


def test_boundary_event_without_outgoing_flow_is_a_dead_end():
    doc = chain(
        task(),
        extra=(
            '<bpmn:boundaryEvent id="Bnd" attachedToRef="Task_A"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
            "</bpmn:boundaryEvent>"
        ),
    )
    assert [f.element for f in hits(lint(doc), "dead-end")] == ["Bnd"]


def _boundary(attached: str | None) -> str:
    at = f' attachedToRef="{attached}"' if attached is not None else ""
    return (f'<bpmn:boundaryEvent id="Bnd"{at} cancelActivity="false">'
            '<bpmn:timerEventDefinition><bpmn:timeDuration>"P1D"</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="Ev_Late"/>'
            + B.flow("F_late", "Bnd", "Ev_Late"))


DANGLING = [
    # (document, element the error names, words it must contain)
    (chain(task()).replace('targetRef="Ev_End"', 'targetRef="Ev_Nope"'), "F1",
     ["'F1'", "target", "'Ev_Nope'", "does not exist"]),
    (chain(task()).replace('sourceRef="Ev_Start"', 'sourceRef="Ev_Nope"'), "F0",
     ["'F0'", "source", "'Ev_Nope'", "does not exist"]),
    (chain(task()).replace(' targetRef="Ev_End"', ""), "F1", ["'F1'", "no target"]),
    (chain(task()).replace(' sourceRef="Ev_Start"', ""), "F0", ["'F0'", "no source"]),
    (chain(task(), extra=_boundary("Task_Nope")), "Bnd",
     ["'Bnd'", "'Task_Nope'", "does not exist"]),
    (chain(task(), extra=_boundary(None)), "Bnd", ["'Bnd'", "attached to no activity"]),
    (chain(task(), extra=_boundary("F1")), "Bnd", ["'Bnd'", "'F1'", "not a flow node"]),
    (chain(task(), extra=_boundary("Ev_End")), "Bnd", ["'Bnd'", "'Ev_End'", "endEvent"]),
]


@pytest.mark.parametrize("doc,element,words", DANGLING)
def test_reference_missing(doc, element, words):
    """A flow or boundary event pointing at nothing is an error naming the flow/event and
    the missing target, instead of SpiffWorkflow's unrelated message (or nothing at all)."""
    findings = lint(doc)
    (f,) = hits(findings, "reference-missing")
    assert (f.severity, f.element) == (ERROR, element)
    assert all(w in f.message for w in words), f.message
    assert not hits(findings, "bpmn-invalid"), hits(findings, "bpmn-invalid")


def test_reference_missing_in_a_subprocess_names_the_subprocess():
    sub = ('<bpmn:subProcess id="Sub_A" name="Teil"><bpmn:startEvent id="S1"/>'
           '<bpmn:endEvent id="S2"/>' + B.flow("SF1", "S1", "Ev_End") + "</bpmn:subProcess>")
    (f,) = hits(lint(chain(sub)), "reference-missing")
    assert f.element == "SF1" and "'Ev_End'" in f.message and "subprocess 'Teil'" in f.message
    assert not hits(lint(chain(task())), "reference-missing")


def test_back_edge_loop():
    (f,) = hits(
        lint(
            B.loop_process().replace(
                '<bpmn:userTask id="Task_Work" name="Runde bearbeiten">',
                '<bpmn:userTask id="Task_Work" name="Runde bearbeiten"><bpmn:extensionElements>'
                '<spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" '
                'value="f.json"/></spiffworkflow:properties></bpmn:extensionElements>',
            )
        ),
        "back-edge-loop",
    )
    assert (f.severity, f.element) == (WARNING, "F_back")
    assert "subprocess" in f.message and "250" in f.message
    assert not hits(lint(chain(task(), task("Task_B"))), "back-edge-loop")


def test_back_edge_loop_also_in_non_executable_process():
    doc = B.loop_process().replace('isExecutable="true"', 'isExecutable="false"')
    assert hits(lint(doc), "back-edge-loop")


# ------------------------------------------------------------------------------ messages
def test_message_payload_without_correlation_key_for_a_waiting_receiver():
    doc = _with_message(chain(throw('{"note": note}'), catch()))
    found = {f.element: f for f in hits(lint(doc), "message-without-correlation")}
    assert found["Ev_Throw"].severity == ERROR and "referral_id" in found["Ev_Throw"].message
    assert found["Ev_Catch"].severity == WARNING  # and so nobody is known to correlate it


def test_message_with_correlation_key_is_clean():
    for payload in ('{"case_id": case_id, "note": note}', "dict(referral_id=rid, x=1)"):
        doc = _with_message(chain(throw(payload), catch()))
        assert not hits(lint(doc), "message-without-correlation"), payload


def test_message_without_payload_that_only_starts_a_process_is_a_warning():
    (f,) = hits(lint(_with_message(chain(throw(None)))), "message-without-correlation")
    assert f.severity == WARNING and "only start a process" in f.message


def test_message_payload_that_is_not_a_literal_cannot_be_verified():
    found = {
        f.element: f
        for f in hits(
            lint(_with_message(chain(throw("payload"), catch()))), "message-without-correlation"
        )
    }
    assert found["Ev_Throw"].severity == WARNING
    assert "cannot be verified" in found["Ev_Throw"].message


def test_caught_message_nobody_throws_cannot_be_verified():
    (f,) = hits(lint(_with_message(chain(catch()))), "message-without-correlation")
    assert (f.severity, f.element) == (WARNING, "Ev_Catch")


# ------------------------------------------------------------------------------ other rules
def test_unsupported_element():
    doc = chain('<bpmn:serviceTask id="Svc" name="Mail"/>')
    (f,) = hits(lint(doc), "unsupported-element")
    assert (f.severity, f.element) == (ERROR, "Svc")
    assert not hits(lint(chain(B.script_task("Svc", "x = 1"))), "unsupported-element")


def test_reserved_id_and_spiff_validation():
    findings = lint(chain(task("End")))
    assert hits(findings, "reserved-id", ERROR)
    assert not hits(lint(chain(task())), "reserved-id")


def test_call_target_missing():
    doc = chain('<bpmn:callActivity id="Call" calledElement="elsewhere"/>')
    (f,) = hits(lint(doc), "call-target-missing")
    assert f.severity == WARNING and "elsewhere" in f.message
    callee = chain(task(), pid="elsewhere")
    assert not hits(lint(doc, callee), "call-target-missing")


def test_unreadable_and_foreign_files():
    findings = lint(
        form=None,
        bad__bpmn="<x",
        dtd__bpmn="<!DOCTYPE x []><x/>",
        other__bpmn='<x xmlns="urn:other"/>',
    )
    assert {(f.file, f.rule) for f in findings} >= {
        ("bad.bpmn", "file-unreadable"),
        ("dtd.bpmn", "file-unreadable"),
        ("other.bpmn", "not-bpmn"),
    }


def test_no_executable_process():
    doc = chain(task()).replace('isExecutable="true"', 'isExecutable="false"')
    assert hits(lint(doc), "no-executable-process", WARNING)
    assert not hits(lint(chain(task())), "no-executable-process")


# ------------------------------------------------------------------------------ shipped models
def test_shipped_models_lint_without_errors():
    findings = lint_files(
        collect_files([BPMN_DIR]), resolve_lane=REGISTRY.resolve_lane, helpers=HELPERS
    )
    errors = [f for f in findings if f.severity == ERROR]
    assert not has_errors(findings), "\n".join(
        f"{f.file}: {f.element}: [{f.rule}] {f.message}" for f in errors
    )


# ------------------------------------------------------------------------------ CLI
def _cli():
    from web.cli_design import lint_command

    @click.group()
    def root():
        pass

    root.add_command(lint_command)
    return root


def test_lint_cli_json_and_exit_codes(tmp_path):
    from tests import kim_model

    good = tmp_path / "good"
    good.mkdir()
    # `lotse lint` runs the KIM rule set too (issue 13): a clean model keeps its conventions
    for f in kim_model.files():
        (good / f.name).write_bytes(f.content)
    bad = tmp_path / "bad.bpmn"
    bad.write_text(chain(task(), lane="Hausmeister"), encoding="utf-8")
    runner = CliRunner()
    clean = runner.invoke(_cli(), ["lint", str(good), "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output) == []
    dirty = runner.invoke(_cli(), ["lint", str(bad), "--json"])
    assert dirty.exit_code == 1
    found = json.loads(dirty.output)
    assert {"rule", "severity", "file", "element", "message"} == set(found[0])
    assert "lane-without-office" in {f["rule"] for f in found}
    human = runner.invoke(_cli(), ["lint", str(bad)])
    assert human.exit_code == 1 and "[lane-without-office]" in human.output
    missing = runner.invoke(_cli(), ["lint", str(tmp_path / "nope"), "--json"])
    assert missing.exit_code == 2


def test_lint_cli_names_a_dangling_flow(tmp_path):
    doc = tmp_path / "p.bpmn"
    doc.write_text(chain(task()).replace('targetRef="Ev_End"', 'targetRef="Ev_Nope"'),
                   encoding="utf-8")
    (tmp_path / "f.json").write_text(FORM, encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["lint", str(tmp_path), "--json"])
    assert result.exit_code == 1, result.output
    errors = [f for f in json.loads(result.output) if f["severity"] == ERROR]
    assert [(f["rule"], f["element"]) for f in errors] == [("reference-missing", "F1")]
    assert "'Ev_Nope'" in errors[0]["message"]
