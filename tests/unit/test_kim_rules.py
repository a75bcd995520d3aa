"""The KIM rule set of `lotse lint` (processes/kim_rules.py): per rule one small model that
breaks it and the model that keeps it; the shipped catalogue lints clean; the engine runs
the rule set it is given (errors refuse deploy), the CLI runs it and keeps its exit codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from engine.deploy import SourceFile, collect_files
from engine.lint import ERROR, WARNING, deploy_errors, lint_files, lint_report
from processes import kim_rules
from processes.offices import OfficeRegistry
from processes.wiring import lint_rules, script_helpers
from tests import kim_model as K
from tests.conftest import BPMN_DIR

REGISTRY = OfficeRegistry.load()
HELPERS = sorted(script_helpers(REGISTRY))


def lint(files: list[SourceFile], registry: OfficeRegistry = REGISTRY):
    return lint_files(files, resolve_lane=registry.resolve_lane, helpers=HELPERS,
                      rules=lint_rules(registry))


def kim(findings):
    return [f for f in findings if f.rule.startswith("kim/")]


def _replace(old: str, new: str, count: int = 1) -> Callable[[], list[SourceFile]]:
    def make() -> list[SourceFile]:
        xml = K.model()
        assert old in xml, old  # the mutation must hit the model, or the test proves nothing
        return K.files(xml.replace(old, new, count))
    return make


def _two_files() -> list[SourceFile]:
    return [*K.files(), SourceFile("copy/kim_t_copy.bpmn", K.model().encode())]


def _two_forms() -> list[SourceFile]:
    other = K.SCHEMA.replace("Notiz", "Bemerkung")
    return [*K.files(), SourceFile("elsewhere/check-schema.json", other.encode())]


def _without_ui_file() -> list[SourceFile]:
    return [f for f in K.files() if f.name != "check-uischema.json"]


def _catch(variable: bool) -> Callable[[], list[SourceFile]]:
    var = "<spiffworkflow:messageVariable>answer</spiffworkflow:messageVariable>" if variable \
        else ""
    node = ('<bpmn:intermediateCatchEvent id="Msg_Answer" name="Antwort abwarten">'
            '<bpmn:messageEventDefinition id="Msg_Answer_def" messageRef="Message_answer">'
            f"<bpmn:extensionElements>{var}</bpmn:extensionElements>"
            "</bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>")

    def make() -> list[SourceFile]:
        xml = K.model(extra_nodes=node, extra_refs=("Msg_Answer",))
        xml = xml.replace('<bpmn:collaboration', '<bpmn:message id="Message_answer" '
                          'name="answer"/><bpmn:collaboration', 1)
        return K.files(xml)
    return make


def _no_diagram() -> list[SourceFile]:
    xml = K.model()
    xml = re.sub(r"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", xml, flags=re.S)
    return K.files(xml)


def _rename(old: str, new: str) -> Callable[[], list[SourceFile]]:
    def make() -> list[SourceFile]:
        xml = K.model()
        assert old in xml
        return K.files(xml.replace(old, new))
    return make


# rule -> cases: (what breaks it, the element named, severity)
BROKEN: dict[str, list[tuple[Callable[[], list[SourceFile]], str | None, str]]] = {
    "kim/id-unique": [
        (_replace('<bpmn:endEvent id="End_Round"/>',
                  '<bpmn:endEvent id="End_Round"/><bpmn:endEvent id="End_Round"/>'),
         "End_Round", ERROR),
    ],
    "kim/process-id-unique": [(_two_files, K.PID, ERROR)],
    "kim/form-name-unique": [(_two_forms, None, ERROR)],
    "kim/legal-basis": [
        (_replace('<spiffworkflow:property name="handlungsgrundlage" value="§ 9 TIntG NRW"/>'
                  '<spiffworkflow:property name="rag" value="Materielle Prüfung"/>'
                  '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>',
                  '<spiffworkflow:property name="rag" value="Materielle Prüfung"/>'
                  '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'),
         "Task_Check", WARNING),
        (_replace('value="§ 9 TIntG NRW"', 'value=" "'), "Task_Check", WARNING),
    ],
    "kim/rag": [
        (_replace('value="Information empfangen"', 'value="Prüfen"'), "Task_Note", WARNING),
        (_replace('<spiffworkflow:property name="rag" value="Information empfangen"/>', ""),
         "Task_Note", WARNING),
    ],
    "kim/form-present": [
        (_replace('<spiffworkflow:property name="formUiSchemaFilename" '
                  'value="check-uischema.json"/>', ""), "Task_Check", WARNING),
        (_without_ui_file, "Task_Check", WARNING),
        (_replace('value="check-uischema.json"', 'value="other-uischema.json"'),
         "Task_Check", WARNING),
    ],
    "kim/lane-office": [
        (_replace('name="KIM Case Management"><bpmn:extensionElements><spiffworkflow:'
                  'properties><spiffworkflow:property name="office" value="KIM_CM"/>'
                  '</spiffworkflow:properties></bpmn:extensionElements>',
                  'name="KIM_CM">'), "Lane_KIM_CM", WARNING),
    ],
    "kim/lane-member": [
        (_replace("<bpmn:flowNodeRef>End_Done</bpmn:flowNodeRef>", ""), "End_Done", WARNING),
    ],
    "kim/element-drawn": [
        (_replace('<bpmndi:BPMNShape id="Task_Check_di" bpmnElement="Task_Check">',
                  '<bpmndi:BPMNShape id="Task_Check_di" bpmnElement="Task_Gone">'),
         "Task_Check", WARNING),
        (_replace('<bpmndi:BPMNShape id="Task_Check_di" bpmnElement="Task_Check">',
                  '<bpmndi:BPMNShape id="Task_Check_di" bpmnElement="Task_Gone">'),
         "Task_Check_di", WARNING),
        (_replace('<bpmndi:BPMNEdge id="Flow_Task_Note_End_Round_di" '
                  'bpmnElement="Flow_Task_Note_End_Round">',
                  '<bpmndi:BPMNEdge id="Flow_Task_Note_End_Round_di" bpmnElement="Lane_KIM_CM">'),
         "Flow_Task_Note_End_Round", WARNING),
        (_no_diagram, K.PID, WARNING),
    ],
    "kim/id-convention": [
        (_rename("Task_Check", "Activity_0abc"), "Activity_0abc", WARNING),
        (_rename("Task_Note", "Task_Notiz_prüfen"), "Task_Notiz_prüfen", WARNING),
        (_rename("kim_t", "KimTest"), "KimTest", WARNING),
        (_rename("Flow_Start_Begin_Task_Check", "SequenceFlow_1"), "SequenceFlow_1", WARNING),
    ],
    "kim/name-present": [
        (_replace(' name="Runde vermerken"', ""), "Task_Note", WARNING),
    ],
    "kim/documentation": [
        (_replace("<bpmn:documentation>One round.</bpmn:documentation>", ""), "Sub_Round",
         WARNING),
    ],
    "kim/message-variable": [(_catch(False), "Msg_Answer", WARNING)],
    "kim/cancel-reason": [
        (_replace('<bpmn:endEvent id="End_Done"/>',
                  '<bpmn:endEvent id="End_Done">'
                  '<bpmn:extensionElements><spiffworkflow:properties>'
                  '<spiffworkflow:property name="cancel_reason" value="closed"/>'
                  '</spiffworkflow:properties></bpmn:extensionElements></bpmn:endEvent>'),
         "End_Done", WARNING),
    ],
}


def test_every_rule_has_a_breaking_case_and_an_i18n_label():
    from web.i18n import MESSAGES

    assert set(BROKEN) == set(kim_rules.RULES)
    for rule in kim_rules.RULES:
        de, en = MESSAGES[f"designer.rule.{rule}"]
        assert de and en and de != en


def test_the_model_that_keeps_every_rule_lints_clean():
    assert lint(K.files()) == []
    assert kim(lint(_catch(True)())) == []


CASES = [(rule, i) for rule, cases in BROKEN.items() for i in range(len(cases))]


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r}-{i}" for r, i in CASES])
def test_a_model_that_breaks_the_rule_gets_its_finding(rule, case):
    make, element, severity = BROKEN[rule][case]
    found = [f for f in lint(make()) if f.rule == rule]
    assert [(f.element, f.severity) for f in found if f.element == element] == \
        [(element, severity)], found
    f = found[0]
    # German first, English second: both given, and they differ
    assert f.message and f.message_de and f.message != f.message_de
    assert f.to_dict()["message_de"] == f.message_de
    # the rule ids a broken model gets are its own: no other KIM rule fires on it
    others = {x.rule for x in kim(lint(make()))} - {rule}
    allowed = {"kim/id-convention": {"kim/element-drawn"} if "SequenceFlow" in str(element)
               else set()}
    assert others <= allowed.get(rule, set()), others


def test_a_terminate_end_event_may_carry_the_cancel_reason():
    xml = K.model().replace(
        '<bpmn:endEvent id="End_Done"/>',
        '<bpmn:endEvent id="End_Done"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="cancel_reason" value="closed"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        '<bpmn:terminateEventDefinition id="End_Done_def"/></bpmn:endEvent>')
    assert kim(lint(K.files(xml))) == []


def test_a_lane_of_an_inactive_office_is_a_warning(tmp_path: Path):
    text = (Path(__file__).resolve().parents[2] / "processes" / "offices.toml").read_text(
        encoding="utf-8")
    start = text.index('code = "KIM_CM"')
    at = text.index("active = true", start)
    offices = tmp_path / "offices.toml"
    offices.write_text(text[:at] + "active = false" + text[at + len("active = true"):],
                       encoding="utf-8")
    registry = OfficeRegistry.load(offices)
    assert not registry.get("KIM_CM").active
    found = [f for f in lint(K.files(), registry) if f.rule == "kim/lane-office"]
    assert [(f.element, f.severity) for f in found] == [("Lane_KIM_CM", WARNING)]
    assert "inaktiv" in (found[0].message_de or "")
    assert kim(lint(K.files())) == []  # the shipped registry: KIM_CM is active


def test_non_executable_processes_are_not_held_to_the_conventions():
    xml = K.model().replace('isExecutable="true"', 'isExecutable="false"')
    xml = xml.replace('value="§ 9 TIntG NRW"', 'value=""')
    assert kim(lint(K.files(xml))) == []


# ------------------------------------------------------------------ shipped catalogue
def test_the_shipped_catalogue_lints_clean_under_the_kim_rule_set():
    """Issue 13.1: no error and no warning (kim_consent_followup once said rag "Prüfen",
    which is no FIM reference activity group)."""
    assert lint(collect_files([BPMN_DIR])) == []


# ------------------------------------------------------------------ plug-in point
def test_the_engine_runs_only_the_rule_sets_it_is_given():
    files = _two_forms()
    plain = lint_files(files, resolve_lane=REGISTRY.resolve_lane)
    assert kim(plain) == []  # the engine knows no KIM rule by itself
    assert "kim/form-name-unique" in {f.rule for f in deploy_errors(
        files, resolve_lane=REGISTRY.resolve_lane, rules=lint_rules(REGISTRY))}
    findings, refusing = lint_report(_replace('value="§ 9 TIntG NRW"', 'value=""')(),
                                     resolve_lane=REGISTRY.resolve_lane,
                                     rules=lint_rules(REGISTRY))
    assert {f.rule for f in findings} == {"kim/legal-basis"}
    assert refusing == []  # warnings never refuse


def test_a_rule_set_with_another_severity_is_refused():
    from engine.lint import Finding

    class Odd:
        rules = {"odd/rule": "checks nothing"}

        def check(self, data):
            yield Finding("odd/rule", "info", None, None, "x")

    with pytest.raises(ValueError, match="severity"):
        lint_files(K.files(), resolve_lane=REGISTRY.resolve_lane, rules=[Odd()])


def test_the_engine_refuses_to_deploy_a_kim_error_and_deploys_the_warnings(engine):
    from engine.errors import DeployError

    broken = _replace('<bpmn:endEvent id="End_Round"/>',
                      '<bpmn:endEvent id="End_Round"/><bpmn:endEvent id="End_Round"/>')()
    with pytest.raises(DeployError) as exc:
        engine.deploy_files(broken)
    problems = [p.get("problem") or "" for p in exc.value.problems]
    assert any("'End_Round'" in p and "more than one element" in p for p in problems), problems
    warned = _replace(' name="Runde vermerken"', "")()
    (outcome,) = engine.deploy_files(warned)
    assert outcome.process_id == K.PID


# ------------------------------------------------------------------ lotse lint
def _cli():
    from web.cli_design import lint_command

    @click.group()
    def root():
        pass

    root.add_command(lint_command)
    return root


def _folder(tmp_path: Path, name: str, files: list[SourceFile]) -> str:
    d = tmp_path / name
    for f in files:
        p = d / f.name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f.content)
    return str(d)


def test_lotse_lint_runs_the_kim_rules_errors_exit_1_warnings_only_with_strict(tmp_path):
    runner = CliRunner()
    clean = _folder(tmp_path, "clean", K.files())
    warned = _folder(tmp_path, "warned", _replace(' name="Runde vermerken"', "")())
    broken = _folder(tmp_path, "broken", _two_forms())
    r = runner.invoke(_cli(), ["lint", clean, "--json"])
    assert r.exit_code == 0 and json.loads(r.output) == [], r.output
    r = runner.invoke(_cli(), ["lint", warned, "--json"])
    assert r.exit_code == 0, r.output
    found = json.loads(r.output)
    assert [(f["rule"], f["severity"], f["element"]) for f in found] == [
        ("kim/name-present", "warning", "Task_Note")]
    assert "keinen Namen" in found[0]["message_de"] and "no name" in found[0]["message"]
    assert runner.invoke(_cli(), ["lint", warned, "--strict"]).exit_code == 1
    human = runner.invoke(_cli(), ["lint", warned])
    assert "warning [kim/name-present]" in human.output and "keinen Namen" in human.output
    r = runner.invoke(_cli(), ["lint", broken, "--json"])
    assert r.exit_code == 1
    assert "kim/form-name-unique" in {f["rule"] for f in json.loads(r.output)}
