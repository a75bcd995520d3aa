"""Read-only case queries: which instances a user may see, diagram state, timeline,
BPMN sources and start forms (engine tables read with ``select()``; nothing written)."""

from __future__ import annotations

import json
import threading
import weakref
from pathlib import PurePosixPath
from uuid import UUID

from defusedxml import ElementTree
from sqlalchemy import exists, or_, select

from engine.db import Database
from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, TaskRow
from engine.views import human_task_dict
from web.accounts import Principal

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"
MAX_ID = 2**63 - 1  # ids beyond BIGINT would make the database driver fail, not "not found"
# Spiff task states (SpiffWorkflow.util.task.TaskState) as stored in task.state.
WAITING, READY, STARTED, COMPLETED, ERROR = 8, 16, 32, 64, 128


def sees_all_cases(user: Principal) -> bool:
    """Auditors read the history of every case (values masked)."""
    return user.has("auditor")


def visible_instances(db: Database, user: Principal, *, case_ref: str | None = None,
                      instance_id: int | None = None, newest_first: bool = False,
                      limit: int = 200, all_offices: bool = False) -> list[dict]:
    """Instances of a case (or one instance) the user may see: any task in one of their
    offices, or started by them; auditors see all; other roles none. ``all_offices``
    (the case manager, whose access web/visibility.py has checked) drops the office
    condition."""
    if instance_id is not None and not 0 < instance_id <= MAX_ID:
        return []
    q = select(ProcessInstance)
    if case_ref is not None:
        q = q.where(ProcessInstance.case_ref == case_ref)
    if instance_id is not None:
        q = q.where(ProcessInstance.id == instance_id)
    if not sees_all_cases(user):
        offices = sorted(user.work_offices)
        if not offices:
            return []
        in_office = exists().where(HumanTask.instance_id == ProcessInstance.id,
                                   HumanTask.office.in_(offices))
        cond = or_(in_office, ProcessInstance.created_by == user.name)
        if all_offices:
            cond = or_(cond, ProcessInstance.case_ref.is_not(None))
        q = q.where(cond)
    if newest_first:
        q = q.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
    else:
        q = q.order_by(ProcessInstance.created_at, ProcessInstance.id)
    q = q.limit(limit)
    with db.reader() as s:
        out = []
        for inst in s.scalars(q):
            d = s.get(ProcessDefinition, inst.definition_id)
            out.append({"instance_id": inst.id, "process_id": inst.process_id,
                        "process_name": d.name or d.process_id, "version": d.version,
                        "case_ref": inst.case_ref, "status": inst.status,
                        "created_at": inst.created_at, "completed_at": inst.completed_at,
                        "created_by": inst.created_by, "definition_id": d.id})
        return out


def element_states(db: Database, instance_id: int) -> dict[str, list[str]]:
    """BPMN element ids of the top-level process: completed, active (ready/running) and
    waiting (timers, messages, joins); an element that is active is not also completed."""
    q = select(TaskRow.spec_name, TaskRow.state).where(TaskRow.instance_id == instance_id,
                                                         TaskRow.workflow_key == "")
    completed, active, waiting, failed = set(), set(), set(), set()
    with db.reader() as s:
        for name, state in s.execute(q):
            if state in (READY, STARTED):
                active.add(name)
            elif state == WAITING:
                waiting.add(name)
            elif state == COMPLETED:
                completed.add(name)
            elif state == ERROR:
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


def _definition(db: Database, definition_id: int) -> ProcessDefinition | None:
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
    d = _definition(db, definition_id)
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
    d = _definition(db, definition_id)
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


def start_form(db: Database, definition_id: int,
               process_id: str) -> tuple[dict | None, dict | None]:
    """(JSON Schema, UI schema) of the process's start event, if it declares a form."""
    d = _definition(db, definition_id)
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


def form_fields(db: Database, definition_id: int) -> dict[str, dict]:
    """field name -> its JSON Schema node, over every form of a deployment (for labels)."""
    d = _definition(db, definition_id)
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
