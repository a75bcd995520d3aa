"""A small BPMN model that keeps every rule of the KIM rule set (processes/kim_rules.py):
lane with its office property, activities with legal basis, rag, name and documentation, a
user task with schema and UI schema, catalogue ids, and every element drawn (BPMNDI).
Tests break one rule at a time with ``str.replace``."""

from __future__ import annotations

import json

from engine.deploy import SourceFile

PID = "kim_t"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Definitions_{pid}" targetNamespace="https://lotse.example/test">\n'
)
SCHEMA = json.dumps({
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Prüfung",
    "type": "object", "additionalProperties": False, "required": ["note"],
    "properties": {"note": {"type": "string", "title": "Notiz", "maxLength": 200}},
})
UI_SCHEMA = json.dumps({"ui:order": ["note"]})


def _props(**props: str) -> str:
    return (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        + "".join(f'<spiffworkflow:property name="{k}" value="{v}"/>' for k, v in props.items())
        + "</spiffworkflow:properties></bpmn:extensionElements>"
    )


ACTIVITY = {"handlungsgrundlage": "§ 9 TIntG NRW", "rag": "Materielle Prüfung"}


def model(pid: str = PID, extra_nodes: str = "", extra_refs: tuple[str, ...] = ()) -> str:
    """Start -> user task -> subprocess (start -> script -> end) -> end, all drawn."""
    top = ["Start_Begin", "Task_Check", "Sub_Round", "End_Done", *extra_refs]
    inner = ["Start_Round", "Task_Note", "End_Round"]
    flows = [("Start_Begin", "Task_Check"), ("Task_Check", "Sub_Round"),
             ("Sub_Round", "End_Done")]
    inner_flows = [("Start_Round", "Task_Note"), ("Task_Note", "End_Round")]

    def flow_xml(a: str, b: str) -> str:
        return f'<bpmn:sequenceFlow id="Flow_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'

    lane = (
        '<bpmn:lane id="Lane_KIM_CM" name="KIM Case Management">'
        + _props(office="KIM_CM")
        + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in top)
        + "</bpmn:lane>"
    )
    body = (
        '<bpmn:startEvent id="Start_Begin"/>'
        '<bpmn:userTask id="Task_Check" name="Antrag prüfen">'
        "<bpmn:documentation>Check the application.</bpmn:documentation>"
        + _props(formJsonSchemaFilename="check-schema.json",
                 formUiSchemaFilename="check-uischema.json", **ACTIVITY)
        + "</bpmn:userTask>"
        '<bpmn:subProcess id="Sub_Round" name="Runde durchführen">'
        "<bpmn:documentation>One round.</bpmn:documentation>"
        + _props(**ACTIVITY)
        + '<bpmn:startEvent id="Start_Round"/>'
        '<bpmn:scriptTask id="Task_Note" name="Runde vermerken" scriptFormat="python">'
        "<bpmn:documentation>Note the round.</bpmn:documentation>"
        + _props(handlungsgrundlage="§ 9 TIntG NRW", rag="Information empfangen")
        + "<bpmn:script>rounds = 1</bpmn:script></bpmn:scriptTask>"
        '<bpmn:endEvent id="End_Round"/>'
        + "".join(flow_xml(a, b) for a, b in inner_flows)
        + "</bpmn:subProcess>"
        '<bpmn:endEvent id="End_Done"/>'
        + extra_nodes
        + "".join(flow_xml(a, b) for a, b in flows)
    )
    drawn = [f"Participant_{pid}", "Lane_KIM_CM", *top, *inner]
    shapes = "".join(
        f'<bpmndi:BPMNShape id="{e}_di" bpmnElement="{e}">'
        f'<dc:Bounds x="{100 * i}" y="100" width="36" height="36"/></bpmndi:BPMNShape>'
        for i, e in enumerate(drawn)
    )
    edges = "".join(
        f'<bpmndi:BPMNEdge id="Flow_{a}_{b}_di" bpmnElement="Flow_{a}_{b}">'
        '<di:waypoint x="0" y="0"/><di:waypoint x="10" y="0"/></bpmndi:BPMNEdge>'
        for a, b in flows + inner_flows
    )
    return (
        HEAD.format(pid=pid)
        + f'<bpmn:collaboration id="Collaboration_{pid}">'
        f'<bpmn:participant id="Participant_{pid}" name="Test" processRef="{pid}"/>'
        "</bpmn:collaboration>"
        f'<bpmn:process id="{pid}" name="Test" isExecutable="true">'
        f'<bpmn:laneSet id="LaneSet_{pid}">{lane}</bpmn:laneSet>'
        + body
        + "</bpmn:process>"
        f'<bpmndi:BPMNDiagram id="BPMNDiagram_{pid}">'
        f'<bpmndi:BPMNPlane id="BPMNPlane_{pid}" bpmnElement="Collaboration_{pid}">'
        + shapes + edges
        + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"
        "</bpmn:definitions>\n"
    )


def forms() -> list[SourceFile]:
    return [SourceFile("check-schema.json", SCHEMA.encode()),
            SourceFile("check-uischema.json", UI_SCHEMA.encode())]


def files(xml: str | None = None, name: str = "kim_t.bpmn") -> list[SourceFile]:
    """The model (or ``xml``) with its two form files."""
    return [SourceFile(name, (xml if xml is not None else model()).encode()), *forms()]
