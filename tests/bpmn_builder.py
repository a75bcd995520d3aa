"""Tiny BPMN documents for engine tests (one lane per office, no diagram)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from engine.deploy import SourceFile

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Defs_{pid}" targetNamespace="http://lotse.example/test">\n'
)


def process(pid: str, lanes: dict[str, list[str]], body: str, executable: bool = True) -> str:
    """A BPMN document with one process; ``lanes`` maps lane name -> element ids."""
    lane_xml = "".join(
        f'<bpmn:lane id="Lane_{i}" name="{escape(name)}">'
        + "".join(f"<bpmn:flowNodeRef>{e}</bpmn:flowNodeRef>" for e in refs)
        + "</bpmn:lane>"
        for i, (name, refs) in enumerate(lanes.items())
    )
    ex = "true" if executable else "false"
    return (
        HEAD.format(pid=pid)
        + f'<bpmn:process id="{pid}" isExecutable="{ex}">'
        + (f'<bpmn:laneSet id="LS_{pid}">{lane_xml}</bpmn:laneSet>' if lanes else "")
        + body
        + "</bpmn:process></bpmn:definitions>\n"
    )


def flow(fid: str, src: str, dst: str, cond: str | None = None) -> str:
    """A sequence flow, optionally conditional."""
    c = (
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{escape(cond)}</bpmn:conditionExpression>'
        if cond
        else ""
    )
    return (
        f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}">{c}</bpmn:sequenceFlow>'
    )


def user_task(tid: str, name: str, form: str | None = None, extra_props: dict | None = None) -> str:
    """A user task with an optional form file property."""
    props = dict(extra_props or {})
    if form:
        props["formJsonSchemaFilename"] = form
    ext = ""
    if props:
        ext = (
            "<bpmn:extensionElements><spiffworkflow:properties>"
            + "".join(
                f'<spiffworkflow:property name="{k}" value="{escape(v, {chr(34): "&quot;"})}"/>'
                for k, v in props.items()
            )
            + "</spiffworkflow:properties></bpmn:extensionElements>"
        )
    return f'<bpmn:userTask id="{tid}" name="{escape(name)}">{ext}</bpmn:userTask>'


def script_task(tid: str, script: str) -> str:
    """A script task."""
    return (
        f'<bpmn:scriptTask id="{tid}"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>'
    )


def files(**named: str) -> list[SourceFile]:
    """SourceFiles from keyword arguments (name=text); use __ for '.' in names."""
    return [SourceFile(k.replace("__", "."), v.encode("utf-8")) for k, v in named.items()]


def simple_form(*required: str) -> str:
    """A closed JSON Schema form with string fields."""
    import json

    return json.dumps(
        {
            "type": "object",
            "properties": {r: {"type": "string", "title": r} for r in required},
            "required": list(required),
            "additionalProperties": False,
        }
    )


def loop_process(pid: str = "loop_proc") -> str:
    """User task in KIM_CM, then a gateway that loops back unless ``done``."""
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + user_task("Task_Work", "Runde bearbeiten")
        + '<bpmn:exclusiveGateway id="Gw" default="F_back"/>'
        + '<bpmn:endEvent id="Ev_End"/>'
        + flow("F1", "Ev_Start", "Task_Work")
        + flow("F2", "Task_Work", "Gw")
        + flow("F_done", "Gw", "Ev_End", "done == True")
        + flow("F_back", "Gw", "Task_Work")
    )
    return process(pid, {"KIM_CM": ["Ev_Start", "Task_Work", "Gw", "Ev_End"]}, body)


LARGE_LANES = ("KIM_CM", "ABH", "JC", "WOHN")


def large_process(tasks: int, *, pid: str = "large_proc", branch_length: int = 40,
                  diagram: bool = True) -> str:
    """A big executable model of about ``tasks`` user tasks (issue 16.6: lint and import-check
    must stay linear in model size).

    Start -> parallel split -> branches of ``branch_length`` user tasks -> parallel join -> end;
    SpiffWorkflow parses paths recursively, so the model is wide, not deep. Every branch has
    what real models have: an exclusive gateway with conditions and a default flow, an
    interrupting boundary timer leading to a script task, a message throw with a payload, a
    subprocess with its own user task, lanes over four offices; with ``diagram`` a BPMNShape
    per node and a BPMNEdge per flow. All user tasks use the form ``f.json``
    (``simple_form("note")``). Lints without errors."""
    branches = max(1, tasks // branch_length)
    nodes: list[str] = [
        '<bpmn:startEvent id="Ev_Start"/>',
        '<bpmn:parallelGateway id="Gw_Split"/>',
        '<bpmn:parallelGateway id="Gw_Join"/>',
        '<bpmn:endEvent id="Ev_End"/>',
    ]
    lanes: dict[str, list[str]] = {lane: [] for lane in LARGE_LANES}
    lanes["KIM_CM"] += ["Ev_Start", "Gw_Split", "Gw_Join", "Ev_End"]
    flows: list[tuple[str, str, str, str | None]] = [
        ("F_start", "Ev_Start", "Gw_Split", None), ("F_end", "Gw_Join", "Ev_End", None)]
    shapes: list[str] = ["Ev_Start", "Gw_Split", "Gw_Join", "Ev_End"]
    for b in range(branches):
        lane = lanes[LARGE_LANES[b % len(LARGE_LANES)]]
        prev = "Gw_Split"
        for j in range(branch_length):
            tid = f"T_{b}_{j}"
            nodes.append(user_task(tid, f"Aufgabe {b}.{j}", form="f.json"))
            lane.append(tid)
            shapes.append(tid)
            flows.append((f"F_{b}_{j}", prev, tid, None))
            prev = tid
            if j == branch_length // 2:  # a decision with a default flow
                gw, merge = f"Gw_{b}", f"Gw_{b}_m"
                nodes.append(f'<bpmn:exclusiveGateway id="{gw}" default="F_{b}_no"/>')
                nodes.append(f'<bpmn:exclusiveGateway id="{merge}"/>')
                nodes.append(script_task(f"S_{b}", "note = 'geprüft'"))
                lane += [gw, merge, f"S_{b}"]
                shapes += [gw, merge, f"S_{b}"]
                flows += [(f"F_{b}_gw", prev, gw, None),
                          (f"F_{b}_yes", gw, f"S_{b}", "note == 'ja'"),
                          (f"F_{b}_no", gw, merge, None),
                          (f"F_{b}_s", f"S_{b}", merge, None)]
                prev = merge
        # a boundary deadline on the first task of the branch -> escalation script -> join
        nodes.append(
            f'<bpmn:boundaryEvent id="B_{b}" attachedToRef="T_{b}_0">'
            '<bpmn:timerEventDefinition><bpmn:timeDuration>"P14D"</bpmn:timeDuration>'
            "</bpmn:timerEventDefinition></bpmn:boundaryEvent>")
        nodes.append(script_task(f"S_{b}_esc", "escalated = True"))
        lane += [f"B_{b}", f"S_{b}_esc"]
        shapes += [f"B_{b}", f"S_{b}_esc"]
        flows += [(f"F_{b}_b", f"B_{b}", f"S_{b}_esc", None),
                  (f"F_{b}_esc", f"S_{b}_esc", "Gw_Join", None)]
        # a referral message with a correlation key, then a subprocess with one task
        nodes.append(
            f'<bpmn:intermediateThrowEvent id="M_{b}"><bpmn:messageEventDefinition '
            'messageRef="Msg_large"><bpmn:extensionElements><spiffworkflow:messagePayload>'
            "{'case_id': case_id, 'note': note}</spiffworkflow:messagePayload>"
            "</bpmn:extensionElements></bpmn:messageEventDefinition>"
            "</bpmn:intermediateThrowEvent>")
        sub = f"Sub_{b}"
        inner = f"T_{b}_sub"
        nodes.append(
            f'<bpmn:subProcess id="{sub}"><bpmn:startEvent id="{sub}_s"/>'
            + user_task(inner, f"Nachbereitung {b}", form="f.json")
            + f'<bpmn:endEvent id="{sub}_e"/>'
            + flow(f"{sub}_f1", f"{sub}_s", inner) + flow(f"{sub}_f2", inner, f"{sub}_e")
            + "</bpmn:subProcess>")
        lane += [f"M_{b}", sub, inner]
        shapes += [f"M_{b}", sub]
        flows += [(f"F_{b}_m", prev, f"M_{b}", None), (f"F_{b}_sub", f"M_{b}", sub, None),
                  (f"F_{b}_j", sub, "Gw_Join", None)]
    body = "".join(nodes) + "".join(flow(*f) for f in flows)
    doc = process(pid, lanes, body)
    doc = doc.replace("</bpmn:process>",
                      '</bpmn:process><bpmn:message id="Msg_large" name="large_done"/>', 1)
    if diagram:
        di = "".join(
            f'<bpmndi:BPMNShape id="{s}_di" bpmnElement="{s}"><dc:Bounds x="{(i % 50) * 120}" '
            f'y="{(i // 50) * 100}" width="100" height="80"/></bpmndi:BPMNShape>'
            for i, s in enumerate(shapes))
        di += "".join(
            f'<bpmndi:BPMNEdge id="{f[0]}_di" bpmnElement="{f[0]}"><di:waypoint x="0" y="0"/>'
            '<di:waypoint x="10" y="10"/></bpmndi:BPMNEdge>' for f in flows)
        doc = doc.replace(
            "</bpmn:definitions>",
            '<bpmndi:BPMNDiagram id="Diagram_1" '
            'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
            'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
            'xmlns:di="http://www.omg.org/spec/DD/20100524/DI">'
            f'<bpmndi:BPMNPlane id="Plane_1" bpmnElement="{pid}">{di}</bpmndi:BPMNPlane>'
            "</bpmndi:BPMNDiagram></bpmn:definitions>")
    return doc


def large_files(tasks: int, **kw) -> list[SourceFile]:
    """``large_process`` with its form, as a deployment/lint reads them."""
    return [SourceFile("large.bpmn", large_process(tasks, **kw).encode("utf-8")),
            SourceFile("f.json", simple_form("note").encode("utf-8"))]
