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
