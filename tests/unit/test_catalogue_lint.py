"""Catalogue lint: every process deploys through the engine, every user task has a form, every
lane resolves to an office, every expression compiles in the sandbox (and calls only registered
helpers), every activity carries its legal basis, every element is drawn.

The files in ``bpmn/`` are the catalogue's source (issue 13.1): these tests read them as they
are committed, edited in the modeler or any BPMN tool; no generator writes them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import etree

from engine import data_paths, sandbox
from engine.forms import check_schema
from processes import dates
from processes.helpers import HELPERS
from processes.kim_rules import RAG_VALUES
from processes.offices import OfficeRegistry
from processes.referrals import make_helpers as referral_helpers
from processes.validators import make_format_checker
from tests.integration import test_catalogue_support as support

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
REGISTRY = OfficeRegistry.load()
HELPER_NAMES = set(dates.HELPERS) | set(HELPERS) | set(referral_helpers(REGISTRY))
FLOW_NODES = ("userTask", "scriptTask", "businessRuleTask", "callActivity", "subProcess",
              "startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent",
              "boundaryEvent", "exclusiveGateway", "parallelGateway", "eventBasedGateway",
              "task", "manualTask", "serviceTask", "sendTask", "receiveTask")
ACTIVITIES = ("userTask", "scriptTask", "businessRuleTask", "callActivity", "subProcess",
              "serviceTask", "manualTask", "sendTask", "receiveTask")


def _bpmn_files() -> list[Path]:
    return sorted(p for f in support.FOLDERS for p in (support.BPMN / f).glob("*.bpmn"))


BPMN_FILES = _bpmn_files()


def _tree(path: Path):
    return etree.parse(str(path))


def _props(el) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in
            el.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                     namespaces=NS)}


def _process_ids(folder: str) -> set[str]:
    """The executable processes the committed files of ``folder`` define."""
    return {proc.get("id") for path in (support.BPMN / folder).glob("*.bpmn")
            for proc in _tree(path).xpath("//bpmn:process[@isExecutable='true']",
                                          namespaces=NS)}


P0_FILE = support.BPMN / "p0_referral_protocol" / "office_referral.bpmn"


def test_p0_is_one_process_for_every_receiving_office():
    # issue 13.1: one office_referral, no per-office copies
    found = {p.name for p in (support.BPMN / "p0_referral_protocol").glob("*.bpmn")}
    assert found == {"office_referral.bpmn"}
    assert _process_ids("p0_referral_protocol") == {"office_referral"}


def test_p0_lane_is_resolved_at_run_time_and_every_office_has_its_forms():
    tree = _tree(P0_FILE)
    lanes = tree.xpath("//bpmn:lane", namespaces=NS)
    assert len(lanes) == 1
    # the office comes from the task data (KIM_CM in proxy mode, set by Task_SetDeadlines)
    assert _props(lanes[0]) == {"office_from": "worklist_office"}
    script = tree.xpath("//bpmn:scriptTask[@id='Task_SetDeadlines']/bpmn:script",
                        namespaces=NS)[0].text
    assert 'worklist_office = "KIM_CM" if is_external(office) else office' in script
    start = tree.xpath("//bpmn:startEvent/bpmn:messageEventDefinition", namespaces=NS)
    assert start and start[0].get("messageRef") == "Message_referral_sent"
    for task in tree.xpath("//bpmn:userTask", namespaces=NS):
        assert _props(task)["name_prefix_from"] == "proxy_prefix"
        assert not task.get("name").startswith("Antwort der Stelle erfassen")
    forms = {_props(t)["formJsonSchemaFilename"] for t in
             tree.xpath("//bpmn:userTask", namespaces=NS)}
    assert {"p0-eingang-{office}-schema.json", "p0-bearbeiten-{office}-schema.json"} <= forms
    folder = support.BPMN / "p0_referral_protocol"
    receiving = [o for o in REGISTRY if o.active and not o.code.startswith("KIM")]
    assert len(receiving) >= 18
    for o in receiving:
        assert (folder / f"p0-eingang-{o.code.lower()}-schema.json").is_file(), o.code
        has_work = (folder / f"p0-bearbeiten-{o.code.lower()}-schema.json").is_file()
        assert has_work == (o.code != "KI_SEB"), o.code  # KI_SEB: P3 does the work
        schema = json.loads((folder / f"p0-eingang-{o.code.lower()}-schema.json").read_text())
        assert ("recorded_channel" in schema["properties"]) == o.external, o.code
    for generic in ("p0-eingang", "p0-bearbeiten"):  # an office without its own form
        assert (folder / f"{generic}-schema.json").is_file()
        assert (folder / f"{generic}-uischema.json").is_file()


def _called_folders(folder: str) -> list[str]:
    """The folders of the processes ``folder`` calls, transitively."""
    home = {pid: f for f in support.FOLDERS for pid in _process_ids(f)}
    seen: list[str] = []
    todo = [folder]
    while todo:
        f = todo.pop()
        for path in (support.BPMN / f).glob("*.bpmn"):
            for ca in _tree(path).xpath("//bpmn:callActivity", namespaces=NS):
                target = home[ca.get("calledElement")]
                if target != folder and target not in seen:
                    seen.append(target)
                    todo.append(target)
    return seen


@pytest.mark.parametrize("folder", support.FOLDERS)
def test_every_folder_deploys_through_the_engine(engine, folder):
    # The called processes' folders go along: engine.deploy finds an already deployed called
    # process's BPMN but not its forms (reported), so a folder cannot yet deploy on its own.
    support.with_helpers(engine)
    outcomes = engine.deploy([support.BPMN / f for f in (folder, *_called_folders(folder))])
    deployed = {o.process_id for o in outcomes}
    assert _process_ids(folder) and _process_ids(folder) <= deployed


def test_the_whole_catalogue_deploys_at_once(engine):
    support.with_helpers(engine)
    outcomes = engine.deploy([support.BPMN / f for f in support.FOLDERS])
    assert {o.process_id for o in outcomes} == {pid for f in support.FOLDERS
                                                for pid in _process_ids(f)}


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_user_task_has_a_form_in_its_folder(path):
    tree = _tree(path)
    tasks = tree.xpath("//bpmn:userTask", namespaces=NS)
    for task in tasks:
        props = _props(task)
        schema = props.get("formJsonSchemaFilename")
        assert schema, f"{task.get('id')} has no form"
        # a template (p0-eingang-{office}-schema.json) has its generic form at least
        assert (path.parent / data_paths.fallback(schema)).is_file(), schema
        assert (path.parent / data_paths.fallback(props["formUiSchemaFilename"])).is_file()


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_lane_resolves_to_an_office_and_every_user_task_is_in_a_lane(path):
    tree = _tree(path)
    in_lane = set()
    for lane in tree.xpath("//bpmn:lane", namespaces=NS):
        if "office_from" in _props(lane):  # read from the task data at run time
            assert data_paths.is_path(_props(lane)["office_from"]), lane.get("name")
        else:
            office = REGISTRY.resolve_lane(lane.get("name"), _props(lane).get("office"))
            assert office is not None, lane.get("name")
        in_lane |= {r.text for r in lane.xpath("./bpmn:flowNodeRef", namespaces=NS)}
    for task in tree.xpath("//bpmn:userTask", namespaces=NS):
        assert task.get("id") in in_lane


def _expressions(tree) -> list[tuple[str, str, str]]:
    """(element id, kind, text) of every expression and script in a BPMN document."""
    out = []
    for cond in tree.xpath("//bpmn:conditionExpression", namespaces=NS):
        out.append((cond.getparent().get("id"), "expression", cond.text))
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        for t in tree.xpath(f"//bpmn:{tag}", namespaces=NS):
            out.append((t.getparent().getparent().get("id"), "expression", t.text))
    for pl in tree.xpath("//spiffworkflow:messagePayload", namespaces=NS):
        out.append((pl.getparent().getparent().getparent().get("id"), "expression", pl.text))
    for lc in tree.xpath("//bpmn:loopCondition", namespaces=NS):
        out.append((lc.getparent().getparent().get("id"), "expression", lc.text))
    for sc in tree.xpath("//bpmn:script", namespaces=NS):
        out.append((sc.getparent().get("id"), "script", sc.text))
    for task in tree.xpath("//bpmn:userTask", namespaces=NS):
        due = _props(task).get("due")
        if due:
            out.append((task.get("id"), "expression", due))
    return out


def _unknown_calls(source: str, mode: str) -> set[str]:
    import ast

    tree = ast.parse(source.strip(), mode="eval" if mode == "expression" else "exec")
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Store)}
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    return calls - HELPER_NAMES - set(sandbox.SAFE_BUILTINS) - assigned


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_expression_compiles_in_the_sandbox(path):
    problems = []
    for element, kind, text in _expressions(_tree(path)):
        err = (sandbox.check_expression(text, HELPER_NAMES) if kind == "expression"
               else sandbox.check_script(text))
        if err:
            problems.append(f"{element}: {err}")
        elif _unknown_calls(text, kind):
            problems.append(f"{element}: unknown functions {_unknown_calls(text, kind)}")
    assert problems == []


def test_dmn_expressions_compile_in_the_sandbox():
    dmn_ns = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
    (path,) = (support.BPMN / "p2_support_plan").glob("*.dmn")
    tree = _tree(path)
    inputs = tree.xpath("//dmn:inputExpression/dmn:text/text()", namespaces=dmn_ns)
    entries = tree.xpath("//dmn:inputEntry/dmn:text/text()", namespaces=dmn_ns)
    assert len(inputs) == 12 and entries
    for expr in inputs:
        assert sandbox.check_expression(expr, HELPER_NAMES) is None, expr
    for entry in entries:
        if entry.strip() not in ("", "-"):
            assert sandbox.check_expression(entry.replace("?", "value"), HELPER_NAMES) is None


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_activity_has_legal_basis_rag_and_english_documentation(path):
    tree = _tree(path)
    for tag in ACTIVITIES:
        for el in tree.xpath(f"//bpmn:{tag}", namespaces=NS):
            props = _props(el)
            assert props.get("handlungsgrundlage"), el.get("id")
            assert props.get("rag") in RAG_VALUES, el.get("id")
            doc = el.xpath("./bpmn:documentation", namespaces=NS)
            assert doc and doc[0].text, el.get("id")
            assert el.get("name"), el.get("id")


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_element_is_drawn(path):
    tree = _tree(path)
    shapes = {s.get("bpmnElement") for s in tree.xpath("//bpmndi:BPMNShape", namespaces=NS)}
    edges = {e.get("bpmnElement") for e in tree.xpath("//bpmndi:BPMNEdge", namespaces=NS)}
    planes = {p.get("bpmnElement") for p in tree.xpath("//bpmndi:BPMNPlane", namespaces=NS)}
    for tag in FLOW_NODES:
        for el in tree.xpath(f"//bpmn:{tag}", namespaces=NS):
            assert el.get("id") in shapes, el.get("id")
            if tag == "subProcess":
                assert el.get("id") in planes, f"{el.get('id')} has no drill-down plane"
    for flow in tree.xpath("//bpmn:sequenceFlow", namespaces=NS):
        assert flow.get("id") in edges
    for lane in tree.xpath("//bpmn:lane", namespaces=NS):
        assert lane.get("id") in shapes


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_ids_follow_the_conventions(path):
    tree = _tree(path)
    proc = tree.xpath("//bpmn:process", namespaces=NS)[0]
    assert re.fullmatch(r"kim_[a-z0-9_]+|office_referral", proc.get("id"))
    for tag in FLOW_NODES:
        for el in tree.xpath(f"//bpmn:{tag}", namespaces=NS):
            assert el.get("id") not in {"Start", "End", "Root"}
            assert el.get("id").isascii()


def _form_files() -> list[Path]:
    return sorted(p for f in support.FOLDERS for p in (support.BPMN / f).glob("*-schema.json")
                  if not p.name.endswith("-uischema.json"))


@pytest.mark.parametrize("path", _form_files(), ids=lambda p: p.name)
def test_every_form_is_a_valid_schema_with_german_and_english_labels(path):
    schema = json.loads(path.read_text())
    assert check_schema(schema, format_checker=make_format_checker(REGISTRY)) is None
    assert schema["title"] and schema["x-title-en"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False

    def walk(props):
        for name, field in props.items():
            assert field.get("title") and field.get("x-title-en"), f"{path.name}: {name}"
            if "enum" in field:
                labels = field["x-enum-labels"]
                assert set(labels["de"]) == set(field["enum"]) == set(labels["en"])
            items = field.get("items", {})
            if "enum" in items:  # a multiple choice: its labels on the array or the items
                labels = field.get("x-enum-labels") or items["x-enum-labels"]
                assert set(labels["de"]) == set(items["enum"]) == set(labels["en"]), name
            if items.get("type") == "object":
                walk(items["properties"])

    walk(schema["properties"])
    ui = json.loads(path.with_name(path.name.replace("-schema.json", "-uischema.json"))
                    .read_text())
    assert ui["ui:order"] == list(schema["properties"])


def test_the_shipped_catalogue_lints_clean_without_warnings():
    """`lotse lint bpmn/` finds nothing at all: every thrown message carries a correlation
    key (referral_id or case_id; the brief's envelope names the case in every message), so
    even the referrer's intake_acknowledged is traceable to its case."""
    from engine.deploy import collect_files
    from engine.lint import lint_files

    findings = lint_files(collect_files([support.BPMN]), resolve_lane=REGISTRY.resolve_lane,
                          helpers=HELPER_NAMES)
    assert [(Path(f.file).name, f.element, f.rule) for f in findings] == []
