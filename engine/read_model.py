"""The engine's read model: the projection queries that pages, the API and the CLI show.

Diagram state of an instance (from the ``task`` rows, in SpiffWorkflow's own states), its
timeline, the deployed BPMN source with element names and kinds, start forms and the form
fields of a deployment, and the task a form post completes. All of it is read with
``select()`` from engine tables; nothing here writes, checks access or knows an office -
callers (``web``) scope by the user first."""

from __future__ import annotations

import json
import threading
import weakref
from pathlib import PurePosixPath
from uuid import UUID

from defusedxml import ElementTree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import data_paths
from engine.db import Database, where_equal
from engine.deploy import FORM_PROPERTY, UI_PROPERTY
from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, TaskRow
from engine.views import human_task_dict

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MAX_ID = 2**63 - 1  # ids beyond BIGINT would make the database driver fail, not "not found"


def element_states(db: Database, instance_id: int) -> dict[str, list[str]]:
    """BPMN element ids of the top-level process: completed, active (ready/running) and
    waiting (timers, messages, joins); an element that is active is not also completed."""
    q = select(TaskRow.spec_name, TaskRow.state).where(TaskRow.instance_id == instance_id,
                                                         TaskRow.workflow_key == "")
    completed, active, waiting, failed = set(), set(), set(), set()
    with db.reader() as s:
        for name, state in s.execute(q):
            if state in (TaskState.READY, TaskState.STARTED):
                active.add(name)
            elif state == TaskState.WAITING:
                waiting.add(name)
            elif state == TaskState.COMPLETED:
                completed.add(name)
            elif state == TaskState.ERROR:
                failed.add(name)
    active |= failed
    waiting -= active
    completed -= active | waiting
    return {"completed": sorted(completed), "active": sorted(active),
            "waiting": sorted(waiting)}


def timeline(db: Database, instance_ids: list[int], *, limit: int = 500) -> list[dict]:
    """Audit events of the given instances, oldest first."""
    if not instance_ids:
        return []
    q = (select(AuditEvent).where(AuditEvent.instance_id.in_(instance_ids))
         .order_by(AuditEvent.at, AuditEvent.id).limit(limit))
    with db.reader() as s:
        return [{"at": e.at, "event_type": e.event_type, "actor": e.actor, "office": e.office,
                 "instance_id": e.instance_id, "element_id": e.element_id}
                for e in s.scalars(q)]


# Deployed definitions never change (a deploy adds a version), so each process reads one
# at most once (bounded; cleared when full). Detached rows: nothing here writes them.
_DEFINITIONS_KEPT = 128
_definitions: weakref.WeakKeyDictionary[Database, dict[int, ProcessDefinition]] = \
    weakref.WeakKeyDictionary()
_definitions_lock = threading.Lock()


def definition(db: Database, definition_id: int) -> ProcessDefinition | None:
    with _definitions_lock:
        kept = _definitions.setdefault(db, {})
        d = kept.get(definition_id)
    if d is not None:
        return d
    if not 0 < definition_id <= MAX_ID:
        return None
    with db.reader() as s:
        d = s.get(ProcessDefinition, definition_id)
        if d is None:
            return None
        s.expunge(d)
    with _definitions_lock:
        if len(kept) >= _DEFINITIONS_KEPT:
            kept.clear()
        kept[definition_id] = d
    return d


def task_form(db: Database, task_id: str, offices) -> dict | None:
    """What completing a task from an HTML form needs before the engine runs: the task row
    (only in ``offices``) with its form schema, title and instance; one statement (the
    definition comes from the per-process cache). None when there is no such task here."""
    try:
        key = str(UUID(str(task_id)))  # as the engine spells task ids
    except ValueError:
        return None
    q = (select(HumanTask, ProcessInstance.definition_id)
         .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
         .where(HumanTask.id == key))
    with db.reader() as s:
        row = s.execute(q).first()
    if row is None or (offices is not None and row[0].office not in offices):
        return None
    ht, definition_id = row
    d = definition(db, definition_id)
    schema = _json_file(d, ht.form) if d is not None else None
    return {**human_task_dict(ht), "form_schema": schema}


def _bpmn_files(d: ProcessDefinition) -> list[tuple[str, str]]:
    return [(n, text) for n, text in sorted(d.source_files.items())
            if n.lower().endswith(".bpmn")]


def _process_element(text: str, process_id: str):
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except Exception:  # noqa: BLE001 - a broken file simply does not contain the process
        return None, None
    for proc in root.iter(f"{{{BPMN_NS}}}process"):
        if proc.get("id") == process_id:
            return root, proc
    return root, None


def diagram_xml(db: Database, definition_id: int, process_id: str) -> str | None:
    """The BPMN file (as deployed) that contains ``process_id``."""
    d = definition(db, definition_id)
    if d is None:
        return None
    files = _bpmn_files(d)
    for _name, text in files:
        _root, proc = _process_element(text, process_id)
        if proc is not None:
            return text
    return files[0][1] if files else None


def element_names(xml: str | None) -> dict[str, str]:
    """id -> name of every named BPMN element in a file."""
    if not xml:
        return {}
    try:
        root = ElementTree.fromstring(xml.encode("utf-8"))
    except Exception:  # noqa: BLE001
        return {}
    return {el.get("id"): el.get("name") for el in root.iter()
            if el.get("id") and el.get("name")}


_TAG = "{%s}%s" % (BPMN_NS, "%s")  # noqa: UP031 - two-stage template


def _tag(name: str) -> str:
    return _TAG % name


def _lane_offices(d: ProcessDefinition, proc) -> dict[str, str]:
    """flow node id -> office code of its lane (as resolved at deploy time)."""
    resolved = d.lane_offices or {}
    out: dict[str, str] = {}
    for lane in proc.iter(_tag("lane")):
        office = resolved.get(lane.get("name") or lane.get("id"))
        if office is None:
            continue
        for ref in lane.findall(_tag("flowNodeRef")):
            if ref.text and ref.text.strip() not in out:
                out[ref.text.strip()] = office
    return out


def element_offices(db: Database, definition_id: int, process_id: str,
                    data: dict | None = None) -> dict[str, str]:
    """flow node id -> office code of its lane (as resolved at deploy time) in a deployed
    process; nodes outside any lane are missing. A run-time lane (``office_from``,
    engine/data_paths.py) is read from the instance's ``data``; without it the node is
    missing too."""
    d = definition(db, definition_id)
    if d is None:
        return {}
    for _name, text in _bpmn_files(d):
        _root, proc = _process_element(text, process_id)
        if proc is not None:
            out = {}
            for node, lane in _lane_offices(d, proc).items():
                office = data_paths.lane_office(lane, data or {})
                if office is not None:
                    out[node] = office
            return out
    return {}


def _start_offices(d: ProcessDefinition, proc) -> frozenset[str]:
    by_node = _lane_offices(d, proc)
    starts = [e for e in proc.findall(_tag("startEvent"))
              if not any(c.tag.endswith("EventDefinition") for c in e)]
    plain = list(starts)
    if not starts:  # only message/timer starts: their lanes
        starts = proc.findall(_tag("startEvent"))
    found: set[str] = set()
    flows: dict[str, list[str]] = {}
    for f in proc.findall(_tag("sequenceFlow")):
        flows.setdefault(f.get("sourceRef") or "", []).append(f.get("targetRef") or "")
    user_tasks = {e.get("id") for e in proc.findall(_tag("userTask"))}
    for start in starts:
        sid = start.get("id") or ""
        if sid in by_node:
            found.add(by_node[sid])
            if start in plain:
                found.update(_chosen_first_offices(proc, sid, flows, by_node))
            continue
        # the start event lies in no lane: the first user task reached from it
        seen, todo = {sid}, list(flows.get(sid, []))
        while todo:
            nxt: list[str] = []
            hits = [n for n in todo if n in user_tasks and n in by_node]
            if hits:
                found.update(by_node[n] for n in hits)
                break
            for n in todo:
                if n not in seen:
                    seen.add(n)
                    nxt.extend(flows.get(n, []))
            todo = [n for n in nxt if n not in seen]
    return frozenset(found)


# steps a start passes on its own before the first user task (no one acts in between)
_AUTOMATIC = ("scriptTask", "businessRuleTask", "exclusiveGateway")


def _chosen_first_offices(proc, sid: str, flows: dict[str, list[str]],
                          by_node: dict[str, str]) -> set[str]:
    """The lanes of the first user tasks a plain start reaches through script tasks and
    exclusive gateways only: the start data choose who records the case (P1: KIM
    coordination, or the case manager for a walk-in), so both offices start it by hand."""
    kinds = {e.get("id"): e.tag.rsplit("}", 1)[-1] for e in proc if isinstance(e.tag, str)}
    found: set[str] = set()
    seen, todo = {sid}, list(flows.get(sid, []))
    while todo:
        nxt: list[str] = []
        for n in todo:
            if n in seen:
                continue
            seen.add(n)
            if kinds.get(n) == "userTask":
                if n in by_node:
                    found.add(by_node[n])
            elif kinds.get(n) in _AUTOMATIC:
                nxt.extend(flows.get(n, []))
        todo = nxt
    return found


def hand_started(db: Database, definition_id: int, process_id: str) -> bool:
    """Whether the process has a plain (none) start event, i.e. a person starts it; a
    process started only by a message or a timer is the engine's to start."""
    d = definition(db, definition_id)
    if d is None:
        return False
    for _name, text in _bpmn_files(d):
        _root, proc = _process_element(text, process_id)
        if proc is not None:
            return any(not any(c.tag.endswith("EventDefinition") for c in e)
                       for e in proc.findall(_tag("startEvent")))
    return False


def _inputs(proc) -> frozenset[str]:
    io = proc.find(_tag("ioSpecification"))
    if io is None:
        return frozenset()
    return frozenset(e.get("name") or e.get("id") for e in io.findall(_tag("dataInput"))
                     if e.get("name") or e.get("id"))


def start_lanes(db: Database, definition_id: int,
                process_id: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(offices of the start lane, declared data inputs) of a deployed process; the start
    lane is the lane of a plain start event (else of any start event), or, for a start
    event in no lane, of the first user tasks reached from it. A plain start whose first
    user tasks lie in other lanes, chosen by exclusive gateways (no one acts before them),
    is started by those offices too. None without the definition."""
    d = definition(db, definition_id)
    if d is None:
        return None
    for _name, text in _bpmn_files(d):
        _root, proc = _process_element(text, process_id)
        if proc is not None:
            return _start_offices(d, proc), _inputs(proc)
    return frozenset(), frozenset()


def start_form(db: Database, definition_id: int,
               process_id: str) -> tuple[dict | None, dict | None]:
    """(JSON Schema, UI schema) of the process's start event, if it declares a form."""
    d = definition(db, definition_id)
    if d is None:
        return None, None
    for _name, text in _bpmn_files(d):
        _root, proc = _process_element(text, process_id)
        if proc is None:
            continue
        for start in proc.findall(f"{{{BPMN_NS}}}startEvent"):
            props = {p.get("name"): p.get("value")
                     for p in start.iter(f"{{{SPIFF_NS}}}property")}
            if props.get(FORM_PROPERTY):
                return (_json_file(d, props.get(FORM_PROPERTY)),
                        _json_file(d, props.get(UI_PROPERTY)))
    return None, None


def _json_file(d: ProcessDefinition, name: str | None) -> dict | None:
    if not name:
        return None
    text = d.source_files.get(PurePosixPath(name).name)
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def form_file(db: Database, definition_id: int, name: str | None) -> dict | None:
    """The JSON file ``name`` (a form or UI schema) of a deployment, None without it."""
    d = definition(db, definition_id)
    return _json_file(d, name) if d is not None else None


def form_fields(db: Database, definition_id: int) -> dict[str, dict]:
    """field name -> its JSON Schema node, over every form of a deployment (for labels)."""
    d = definition(db, definition_id)
    out: dict[str, dict] = {}
    if d is None:
        return out
    for name in sorted(d.source_files):
        if not name.lower().endswith(".json"):
            continue
        schema = _json_file(d, name)
        props = (schema or {}).get("properties")
        if isinstance(props, dict):
            for key, node in props.items():
                if isinstance(node, dict):
                    out.setdefault(key, node)
    return out


# ---------------------------------------------------------------- replay
def flow_elements(xml: str | None) -> dict[str, dict]:
    """id -> {name, kind, timer, message} of every BPMN flow element in the file."""
    if not xml:
        return {}
    try:
        root = ElementTree.fromstring(xml.encode("utf-8"))
    except Exception:  # noqa: BLE001 - a broken file has no elements to show
        return {}
    out = {}
    for proc in root.iter(f"{{{BPMN_NS}}}process"):
        for el in proc.iter():
            eid = el.get("id")
            if not eid or el is proc or not isinstance(el.tag, str):
                continue
            kind = el.tag.split("}", 1)[-1]
            if kind in ("sequenceFlow", "lane", "laneSet", "incoming", "outgoing",
                        "conditionExpression", "documentation", "extensionElements",
                        "timerEventDefinition", "messageEventDefinition", "timeDate",
                        "timeDuration", "timeCycle", "script", "multiInstanceLoopCharacteristics",
                        "standardLoopCharacteristics", "dataObject", "dataObjectReference",
                        "dataStoreReference", "ioSpecification", "dataInput", "dataOutput",
                        "terminateEventDefinition", "errorEventDefinition",
                        "signalEventDefinition", "escalationEventDefinition"):
                continue
            out[eid] = {
                "name": el.get("name") or "", "kind": kind,
                "timer": el.find(f"{{{BPMN_NS}}}timerEventDefinition") is not None,
                "message": (el.find(f"{{{BPMN_NS}}}messageEventDefinition") is not None
                            and kind in ("startEvent", "intermediateCatchEvent",
                                         "boundaryEvent")) or kind == "receiveTask",
                "human": kind in ("userTask", "manualTask"),
            }
    return out


# ---------------------------------------------------------------- operations
def instances(db: Database, *, status: str | None = None, process_id: str | None = None,
              version: int | None = None, case_ref: str | None = None,
              limit: int = 100) -> list[dict]:
    """Instances for the operations console, newest first: incidents (``status="error"``)
    carry the element, the error type and Lotse's message without values - never the full
    exception text (``Engine.incident``)."""
    q = (select(ProcessInstance, ProcessDefinition.version)
         .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id))
    q = where_equal(q, (ProcessInstance.status, status),
                    (ProcessInstance.process_id, process_id),
                    (ProcessDefinition.version, version), (ProcessInstance.case_ref, case_ref))
    q = q.order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc()).limit(limit)
    with db.reader() as s:
        return [_ops_row(i, v) for i, v in s.execute(q)]


def _ops_row(i: ProcessInstance, version: int) -> dict:
    return {"instance_id": i.id, "process_id": i.process_id, "version": version,
            "case_ref": i.case_ref, "status": i.status,
            "updated_at": i.updated_at.isoformat() if i.updated_at else None,
            "error_element": i.error_element, "error_type": i.error_type,
            "error": i.error,
            "error_at": i.error_at.isoformat() if i.error_at else None}


def instance(db: Database, instance_id: int) -> dict | None:
    """One instance as ``instances`` lists it (None when there is none)."""
    if not 0 < instance_id <= MAX_ID:
        return None
    q = (select(ProcessInstance, ProcessDefinition.version)
         .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
         .where(ProcessInstance.id == instance_id))
    with db.reader() as s:
        row = s.execute(q).first()
        return _ops_row(*row) if row is not None else None


# What administrators did to an instance (and its incidents), for the operations console.
OPS_EVENTS = ("instance.incident", "instance.retried", "instance.suspended",
              "instance.resumed", "instance.terminated")


def ops_history(db: Database, instance_id: int, *, limit: int = 100) -> list[dict]:
    """The instance's incidents and administrators' actions, newest first: time, event,
    who and the reason they gave (the incident's own entry carries no values)."""
    q = (select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                  AuditEvent.event_type.in_(OPS_EVENTS))
         .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    with db.reader() as s:
        return [{"at": e.at, "event_type": e.event_type, "actor": e.actor,
                 "element_id": e.element_id,
                 "reason": (e.details or {}).get("reason")}
                for e in s.scalars(q)]


# ---------------------------------------------------------------- worklist titles
def english_titles(db: Database, task_ids: list[str]) -> dict[str, str]:
    """task id -> the English title of its form (``x-title-en``) for the tasks that have
    one: one statement for the rows, the forms from the per-process definition cache."""
    if not task_ids:
        return {}
    q = (select(HumanTask.id, HumanTask.form, ProcessInstance.definition_id)
         .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
         .where(HumanTask.id.in_(task_ids), HumanTask.form.is_not(None)))
    with db.reader() as s:
        rows = s.execute(q).all()
    out: dict[str, str] = {}
    for task_id, form, definition_id in rows:
        d = definition(db, definition_id)
        schema = _json_file(d, form) if d is not None else None
        title = (schema or {}).get("x-title-en")
        if isinstance(title, str) and title.strip():
            out[task_id] = title
    return out
