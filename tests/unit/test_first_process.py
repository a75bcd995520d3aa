"""The first shipped process, ``kim_first_referral``, run on the real SpiffWorkflow 3.2.0.

No Lotse engine is involved: this pins the BPMN, its forms and its routing so that the
engine (written concurrently) has a known-good process to load.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parents[2]
PROCESS_DIR = ROOT / "bpmn" / "kim_first_referral"
BPMN_FILE = PROCESS_DIR / "kim_first_referral.bpmn"
PROCESS_ID = "kim_first_referral"
OFFICES = {"KIM_CM", "ABH", "JC"}

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}

USER_TASKS = {
    "Task_Erfassen": "KIM_CM",
    "Task_Aufenthalt_Pruefen": "ABH",
    "Task_Leistung_Pruefen": "JC",
    "Task_Klaeren": "KIM_CM",
    "Task_Abschliessen": "KIM_CM",
}

CASE_DATA = {
    "first_name": "Amal",
    "last_name": "Haddad",
    "birth_date": "1990-04-12",
    "nationality": "SYR",
    "language": "ar",
    "residence_status": "temporary",
    "phone": "+49 521 123456",
    "notes": "Erstkontakt über die Migrationsberatung.",
}
ABH_GRANTED = {"abh_result": "granted", "abh_valid_until": "2027-03-31"}
ABH_PARTIAL = {"abh_result": "partially_granted", "abh_valid_until": "2026-09-30"}
ABH_REJECTED = {
    "abh_result": "rejected",
    "abh_rejection_reason": "Passpflicht nicht erfüllt (§ 3 AufenthG).",
}
JC_GRANTED = {"jc_result": "granted"}
JC_PARTIAL = {"jc_result": "partially_granted"}
JC_REJECTED = {
    "jc_result": "rejected",
    "jc_rejection_reason": "Vorrangige Leistungen nach dem AsylbLG.",
}
CLOSE_DATA = {"client_informed": True, "closed_on": "2025-05-20"}
CLARIFY_DATA = {
    "clarification_outcome": "objection_filed",
    "clarification_date": "2025-05-20",
    "clarification_notes": "Widerspruch mit Unterstützung der Beratungsstelle.",
}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def spec():
    parser = SpiffBpmnParser(validator=VALIDATOR)  # XSD validation incl. spiffworkflow extensions
    parser.add_bpmn_file(str(BPMN_FILE))
    return parser.get_spec(PROCESS_ID)


@pytest.fixture(scope="module")
def xml_root():
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tree = etree.parse(str(BPMN_FILE), parser)
    return tree


def bpmn_task_specs(spec):
    """Task specs that stand for a BPMN element (internal Start/End/EndJoin have no bpmn_id)."""
    return [ts for ts in spec.task_specs.values() if ts.bpmn_id is not None]


def ready(wf):
    return wf.get_tasks(state=TaskState.READY, manual=True)


def ready_ids(wf):
    return sorted(t.task_spec.bpmn_id for t in ready(wf))


def form_schema(bpmn_id, spec):
    props = spec.task_specs[bpmn_id].extensions["properties"]
    return json.loads((PROCESS_DIR / props["formJsonSchemaFilename"]).read_text("utf-8"))


def complete(wf, bpmn_id, data, spec=None):
    """Complete the single READY user task ``bpmn_id`` with ``data``.

    If ``spec`` is given, the submitted data is validated against the task's form first,
    the way the engine will do it.
    """
    [task] = [t for t in ready(wf) if t.task_spec.bpmn_id == bpmn_id]
    if spec is not None:
        schema = form_schema(bpmn_id, spec)
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(data)
    task.data.update(data)
    task.run()
    wf.do_engine_steps()
    return task


def start(spec):
    wf = BpmnWorkflow(spec)
    wf.do_engine_steps()
    assert ready_ids(wf) == ["Task_Erfassen"]
    return wf


def through_checks(spec, abh, jc, jc_first=False):
    wf = start(spec)
    complete(wf, "Task_Erfassen", CASE_DATA, spec)
    steps = [("Task_Aufenthalt_Pruefen", abh), ("Task_Leistung_Pruefen", jc)]
    for bpmn_id, data in reversed(steps) if jc_first else steps:
        complete(wf, bpmn_id, data, spec)
    return wf


def completed_ids(wf):
    return {
        t.task_spec.bpmn_id
        for t in wf.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.bpmn_id is not None
    }


# --------------------------------------------------------------------------- XML / model


def test_xml_loads_without_doctype(xml_root):
    assert xml_root.docinfo.doctype == ""
    raw = BPMN_FILE.read_bytes()
    assert b"<!DOCTYPE" not in raw and b"<!ENTITY" not in raw
    root = xml_root.getroot()
    assert root.tag == f"{{{NS['bpmn']}}}definitions"


def test_process_header(xml_root):
    [process] = xml_root.xpath("//bpmn:process", namespaces=NS)
    assert process.get("id") == PROCESS_ID
    assert process.get("isExecutable") == "true"
    assert process.get("name") == "Erstberatung und Vermittlung"
    [participant] = xml_root.xpath("//bpmn:collaboration/bpmn:participant", namespaces=NS)
    assert participant.get("processRef") == PROCESS_ID


def test_lanes_carry_office_property(xml_root):
    lanes = xml_root.xpath("//bpmn:process/bpmn:laneSet/bpmn:lane", namespaces=NS)
    assert {lane.get("name") for lane in lanes} == OFFICES
    for lane in lanes:
        office = lane.xpath(
            "bpmn:extensionElements/spiffworkflow:properties"
            "/spiffworkflow:property[@name='office']/@value",
            namespaces=NS,
        )
        assert office == [lane.get("name")]


def test_every_task_spec_has_an_office_lane(spec):
    specs = bpmn_task_specs(spec)
    assert len(specs) == 12
    for ts in specs:
        assert ts.lane in OFFICES, (ts.bpmn_id, ts.lane)
    for bpmn_id, office in USER_TASKS.items():
        assert spec.task_specs[bpmn_id].lane == office


def test_user_tasks_have_valid_forms(spec):
    user_tasks = {ts.bpmn_id for ts in bpmn_task_specs(spec) if ts.description == "User Task"}
    assert user_tasks == set(USER_TASKS)
    for bpmn_id in user_tasks:
        ts = spec.task_specs[bpmn_id]
        props = ts.extensions["properties"]
        schema_path = PROCESS_DIR / props["formJsonSchemaFilename"]
        ui_path = PROCESS_DIR / props["formUiSchemaFilename"]
        assert schema_path.is_file() and ui_path.is_file(), bpmn_id
        schema = json.loads(schema_path.read_text("utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["title"] and schema["x-title-en"]
        for name, field in schema["properties"].items():
            assert field.get("title") and field.get("x-title-en"), (bpmn_id, name)
            if "enum" in field:
                labels = field["x-enum-labels"]
                for lang in ("de", "en"):
                    assert set(labels[lang]) == set(field["enum"]), (bpmn_id, name, lang)
        assert set(schema["required"]) <= set(schema["properties"])
        ui = json.loads(ui_path.read_text("utf-8"))
        assert ui["ui:order"] == list(schema["properties"]), bpmn_id
        assert set(ui) - {"ui:order"} <= set(schema["properties"]), bpmn_id
        assert ts.extensions.get("instructionsForEndUser"), bpmn_id


def test_activities_have_legal_basis_and_documentation(spec):
    activities = [
        ts for ts in bpmn_task_specs(spec) if ts.description in ("User Task", "Script Task")
    ]
    assert len(activities) == 6
    for ts in activities:
        assert ts.extensions["properties"].get("handlungsgrundlage"), ts.bpmn_id
        assert ts.extensions["properties"].get("rag"), ts.bpmn_id
        assert ts.documentation, ts.bpmn_id
        assert ts.bpmn_name, ts.bpmn_id
    assert (
        spec.task_specs["Task_Aufenthalt_Pruefen"].extensions["properties"]["handlungsgrundlage"]
        == "§ 81 AufenthG"
    )
    assert (
        spec.task_specs["Task_Leistung_Pruefen"].extensions["properties"]["handlungsgrundlage"]
        == "§ 37 SGB II"
    )


def test_diagram_covers_every_element(xml_root):
    shapes = {s.get("bpmnElement"): s for s in xml_root.xpath("//bpmndi:BPMNShape", namespaces=NS)}
    edges = {e.get("bpmnElement") for e in xml_root.xpath("//bpmndi:BPMNEdge", namespaces=NS)}
    process = xml_root.xpath("//bpmn:process", namespaces=NS)[0]
    nodes = [
        el.get("id")
        for el in process
        if isinstance(el.tag, str)
        and el.get("id")
        and etree.QName(el).localname not in ("sequenceFlow", "laneSet", "documentation")
    ]
    flows = xml_root.xpath("//bpmn:sequenceFlow/@id", namespaces=NS)
    lanes = xml_root.xpath("//bpmn:lane/@id", namespaces=NS)
    participants = xml_root.xpath("//bpmn:participant/@id", namespaces=NS)
    assert set(nodes) | set(lanes) | set(participants) == set(shapes)
    assert set(flows) == edges
    for lane_id in lanes + participants:
        assert shapes[lane_id].get("isHorizontal") == "true"
    # every flow node's shape lies inside the band of its lane
    for lane in xml_root.xpath("//bpmn:lane", namespaces=NS):
        lb = shapes[lane.get("id")].find("dc:Bounds", NS)
        top, bottom = float(lb.get("y")), float(lb.get("y")) + float(lb.get("height"))
        for ref in lane.xpath("bpmn:flowNodeRef/text()", namespaces=NS):
            b = shapes[ref].find("dc:Bounds", NS)
            assert top <= float(b.get("y")) and float(b.get("y")) + float(b.get("height")) <= bottom


# --------------------------------------------------------------------------- forms


def test_abh_form_requires_valid_until_when_granted(spec):
    validator = jsonschema.Draft202012Validator(form_schema("Task_Aufenthalt_Pruefen", spec))
    assert validator.is_valid(ABH_GRANTED)
    assert not validator.is_valid({"abh_result": "granted"})
    assert not validator.is_valid({"abh_result": "partially_granted"})
    assert not validator.is_valid({"abh_result": "rejected"})
    assert validator.is_valid(ABH_REJECTED)
    assert not validator.is_valid({"abh_result": "maybe"})
    assert not validator.is_valid({**ABH_GRANTED, "jc_result": "granted"})  # no foreign keys


def test_intake_form_rules(spec):
    validator = jsonschema.Draft202012Validator(form_schema("Task_Erfassen", spec))
    assert validator.is_valid(CASE_DATA)
    minimal = {k: v for k, v in CASE_DATA.items() if k not in ("phone", "notes")}
    assert validator.is_valid(minimal)
    for key in (
        "first_name",
        "last_name",
        "birth_date",
        "nationality",
        "language",
        "residence_status",
    ):
        assert not validator.is_valid({k: v for k, v in CASE_DATA.items() if k != key}), key
    assert not validator.is_valid({**CASE_DATA, "first_name": "   "})
    assert not validator.is_valid({**CASE_DATA, "nationality": "Syrien"})
    assert not validator.is_valid({**CASE_DATA, "language": "arabic"})
    assert not validator.is_valid({**CASE_DATA, "residence_status": "refugee"})
    assert not validator.is_valid({**CASE_DATA, "notes": "x" * 2001})
    assert validator.is_valid({**CASE_DATA, "first_name": "ሰላም", "last_name": "Ольга-Мария"})


# --------------------------------------------------------------------------- execution


def test_happy_path_runs_to_the_end(spec):
    wf = start(spec)
    [task] = ready(wf)
    assert task.task_spec.lane == "KIM_CM"
    complete(wf, "Task_Erfassen", CASE_DATA, spec)

    parallel = ready(wf)
    assert sorted(t.task_spec.bpmn_id for t in parallel) == [
        "Task_Aufenthalt_Pruefen",
        "Task_Leistung_Pruefen",
    ]
    assert {t.task_spec.lane for t in parallel} == {"ABH", "JC"}
    assert [
        t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True, lane="ABH")
    ] == ["Task_Aufenthalt_Pruefen"]
    assert [
        t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True, lane="JC")
    ] == ["Task_Leistung_Pruefen"]
    assert wf.get_tasks(state=TaskState.READY, manual=True, lane="KIM_CM") == []

    # script task output is visible to the receiving offices
    for t in parallel:
        assert t.data["needs_permit_check"] is True
        assert t.data["case_summary"] == ("Haddad, Amal (SYR), Aufenthaltsstatus: temporary")

    complete(wf, "Task_Aufenthalt_Pruefen", ABH_GRANTED, spec)
    assert ready_ids(wf) == ["Task_Leistung_Pruefen"]  # join waits for JC
    complete(wf, "Task_Leistung_Pruefen", JC_GRANTED, spec)

    [closing] = ready(wf)
    assert closing.task_spec.bpmn_id == "Task_Abschliessen"
    assert closing.task_spec.lane == "KIM_CM"
    # both branches' keys survive the parallel join
    for key, value in {**ABH_GRANTED, **JC_GRANTED}.items():
        assert closing.data[key] == value
    complete(wf, "Task_Abschliessen", CLOSE_DATA, spec)

    assert wf.is_completed()
    done = completed_ids(wf)
    assert "End_Abgeschlossen" in done
    assert "Task_Klaeren" not in done and "End_Geklaert" not in done
    assert wf.data["abh_result"] == "granted" and wf.data["jc_result"] == "granted"
    assert wf.data["closed_on"] == "2025-05-20"


def test_permanent_residence_needs_no_permit_check(spec):
    wf = start(spec)
    complete(wf, "Task_Erfassen", {**CASE_DATA, "residence_status": "permanent"}, spec)
    for t in ready(wf):
        assert t.data["needs_permit_check"] is False


@pytest.mark.parametrize(
    "abh, jc, jc_first",
    [
        (ABH_GRANTED, JC_REJECTED, False),
        (ABH_REJECTED, JC_GRANTED, False),
        (ABH_REJECTED, JC_REJECTED, True),
        (ABH_PARTIAL, JC_REJECTED, True),
    ],
    ids=["jc-rejects", "abh-rejects", "both-reject", "partial-and-jc-rejects"],
)
def test_rejection_path_reaches_clarification(spec, abh, jc, jc_first):
    wf = through_checks(spec, abh, jc, jc_first=jc_first)
    [task] = ready(wf)
    assert task.task_spec.bpmn_id == "Task_Klaeren"
    assert task.task_spec.lane == "KIM_CM"
    assert task.task_spec.bpmn_name == "Ablehnung klären"
    complete(wf, "Task_Klaeren", CLARIFY_DATA, spec)
    assert wf.is_completed()
    done = completed_ids(wf)
    assert "End_Geklaert" in done
    assert "Task_Abschliessen" not in done and "End_Abgeschlossen" not in done


@pytest.mark.parametrize(
    "abh, jc",
    [(ABH_PARTIAL, JC_PARTIAL), (ABH_GRANTED, JC_PARTIAL), (ABH_PARTIAL, JC_GRANTED)],
    ids=["both-partial", "jc-partial", "abh-partial"],
)
def test_default_flow_when_no_condition_matches(spec, abh, jc):
    gateway = spec.task_specs["Gw_Ergebnis"]
    assert gateway.default_task_spec == "Task_Abschliessen"
    wf = through_checks(spec, abh, jc, jc_first=True)
    assert ready_ids(wf) == ["Task_Abschliessen"]
    complete(wf, "Task_Abschliessen", CLOSE_DATA, spec)
    assert wf.is_completed()
    assert "End_Abgeschlossen" in completed_ids(wf)
