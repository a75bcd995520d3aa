"""Per-task persistence of SpiffWorkflow workflows.

A save writes only what changed since the load: new tasks, tasks whose state or
children changed, open tasks whose data or internal data changed, and the
workflow attribute rows that changed. Task data is stored once per content hash.
Loading rebuilds the exact workflow from the rows in creation order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import CursorResult, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import serialization as ser
from engine.models import (
    JsonData,
    ProcessInstance,
    SpecBlob,
    TaskRow,
    WorkflowState,
    core_table,
)


@dataclass
class TaskSnap:
    """What a task looked like when loaded or last saved."""

    state: int
    last_state_change: float
    children: tuple[UUID, ...]
    props_hash: str
    data_hash: str


@dataclass
class Snapshot:
    """The persisted shape of one instance, to compute the next delta against."""

    tasks: dict[UUID, TaskSnap] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)  # key -> body hash
    subscriptions: frozenset = frozenset()  # waiting message catch events


@dataclass
class SaveResult:
    """What one save wrote (for projections, audit and measurement)."""

    inserted: list[Task] = field(default_factory=list)
    updated: list[Task] = field(default_factory=list)
    previous_states: dict[UUID, int] = field(default_factory=dict)
    deleted: dict[UUID, int] = field(default_factory=dict)  # guid -> state it had
    bytes_written: int = 0
    rows_written: int = 0


def iter_workflows(wf: BpmnWorkflow):
    """Yield (key, workflow) for the top workflow ('') and each subprocess (its task guid)."""
    yield "", wf
    for key, sub in wf.subprocesses.items():
        yield str(key), sub


def _workflow_body(key: str, w) -> str:
    body: dict[str, Any] = {
        "typename": ser.WORKFLOW_TYPENAME if key == "" else ser.SUBWORKFLOW_TYPENAME,
        "data": ser.convert(w.data),
        "correlations": w.correlations,
        "last_task": str(w.last_task.id) if w.last_task is not None else None,
        "success": w.success,
        "completed": w.completed,
        "root": str(w.task_tree.id),
    }
    if key == "":
        body["bpmn_events"] = ser.REGISTRY.convert(w.bpmn_events)
    else:
        body["parent_task_id"] = str(w.parent_task_id)
        body["spec"] = w.spec.name
    return ser.dumps(body)


def _task_props(task: Task) -> str:
    return ser.dumps(
        {
            "typename": ser.TASK_TYPENAME,
            "id": str(task.id),
            "parent": str(task._parent) if task._parent is not None else None,
            "children": [str(c) for c in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": ser.REGISTRY.convert(task.internal_data),
        }
    )


def _task_data(task: Task) -> str:
    return ser.dumps(ser.convert(task.data))


def load(
    session: Session, instance: ProcessInstance, spec_hash: str
) -> tuple[BpmnWorkflow, Snapshot]:
    """Rebuild the workflow of ``instance`` from its rows."""
    spec, subprocess_specs = ser.SPEC_CACHE.get(
        spec_hash, lambda: session.scalar(select(SpecBlob.body).where(SpecBlob.hash == spec_hash))
    )
    snap = Snapshot()
    states = dict(session.execute(
        select(WorkflowState.key, WorkflowState.body).where(
            WorkflowState.instance_id == instance.id
        )
    ).all())
    if instance.wf_body is not None:  # the top workflow lives on the instance row
        states[""] = instance.wf_body
    rows = session.execute(
        select(TaskRow.workflow_key, TaskRow.props, TaskRow.data_hash, JsonData.body)
        .join(JsonData, JsonData.hash == TaskRow.data_hash)
        .where(TaskRow.instance_id == instance.id)
        .order_by(TaskRow.seq)
    ).all()
    tasks_by_key: dict[str, dict[str, Any]] = {}
    for key, props, data_hash, data_body in rows:
        t = json.loads(props)
        t["data"] = json.loads(data_body)
        tasks_by_key.setdefault(key, {})[t["id"]] = t
        snap.tasks[UUID(t["id"])] = TaskSnap(
            t["state"],
            t["last_state_change"],
            tuple(UUID(c) for c in t["children"]),
            ser.sha256(props),
            data_hash,
        )
    top: dict[str, Any] = {}
    subs: dict[str, Any] = {}
    for key, body in states.items():
        snap.workflows[key] = ser.sha256(body)
        d = json.loads(body)
        d["tasks"] = tasks_by_key.get(key, {})
        if key == "":
            top = d
        else:
            subs[key] = d
    top["spec"] = spec
    top["subprocess_specs"] = subprocess_specs
    top["subprocesses"] = subs
    wf = ser.REGISTRY.restore(top)
    _reconnect_triggered(wf)
    return wf, snap


def _reconnect_triggered(wf: BpmnWorkflow) -> None:
    """Give a restored spec the connections SpiffWorkflow made at run time.

    ``BpmnStartTask.trigger_wf`` connects Start -> event subprocess -> End only when the
    event (signal, message, error, escalation) arrives, on the live spec objects; the stored
    spec never has them. A workflow restored around a fresh spec then holds the event
    subprocess's task while its spec has no input, and SpiffWorkflow fails with "No input
    task connected" once that task moves on. Connect what the workflow's tasks show was
    triggered, exactly as trigger_wf does (idempotent).
    """
    for _key, w in iter_workflows(wf):
        start = w.spec.start
        names = set(getattr(start, "trigger_specs", None) or ())
        if not names:
            continue
        present = {t.task_spec.name for t in w.tasks.values() if t.task_spec.name in names}
        for name in present:
            spec = w.spec.task_specs.get(name)
            if spec is not None and start not in spec.inputs:
                start.connect(spec)
                spec.connect(w.spec.end)


def save(
    session: Session,
    instance: ProcessInstance,
    wf: BpmnWorkflow,
    snap: Snapshot,
    *,
    every_task: bool = False,
) -> SaveResult:
    """Write the delta between ``snap`` and ``wf``; update ``snap`` to the new state.

    ``every_task`` also compares finished tasks (for rewrites of old task data).
    """
    res = SaveResult()
    new_rows: list[dict] = []
    changed_rows: list[dict] = []
    data_rows: dict[str, str] = {}
    live: set[UUID] = set()
    seq = instance.next_seq
    for key, w in iter_workflows(wf):
        for task in w.tasks.values():
            live.add(task.id)
            old = snap.tasks.get(task.id)
            children = tuple(task._children)
            if old is not None and old.state == task.state and old.children == children:
                if (
                    old.last_state_change == task.last_state_change
                    and task.state & TaskState.FINISHED_MASK
                    and not every_task
                ):
                    continue
            props = _task_props(task)
            data = _task_data(task)
            props_hash, data_hash = ser.sha256(props), ser.sha256(data)
            if old is not None and old.props_hash == props_hash and old.data_hash == data_hash:
                continue
            if data_hash not in data_rows and (old is None or old.data_hash != data_hash):
                data_rows[data_hash] = data
            values = {
                "guid": str(task.id),
                "state": task.state,
                "spec_name": task.task_spec.name,
                "props": props,
                "data_hash": data_hash,
            }
            res.bytes_written += len(props)
            if old is None:
                seq += 1
                values.update(instance_id=instance.id, workflow_key=key, seq=seq)
                new_rows.append(values)
                res.inserted.append(task)
            else:
                changed_rows.append(values)
                res.updated.append(task)
                res.previous_states[task.id] = old.state
            snap.tasks[task.id] = TaskSnap(
                task.state, task.last_state_change, children, props_hash, data_hash
            )
    gone = [g for g in snap.tasks if g not in live]
    for g in gone:
        res.deleted[g] = snap.tasks.pop(g).state

    if data_rows:
        stmt = _insert_ignore(session, JsonData)
        session.execute(stmt, [{"hash": h, "body": b} for h, b in data_rows.items()])
        res.bytes_written += sum(len(b) for b in data_rows.values())
    if new_rows and changed_rows:
        # one statement for both: changed rows take the insert path's columns only as
        # placeholders (their guid exists, so ON CONFLICT updates what a step can change)
        for r in changed_rows:
            r.update(instance_id=instance.id, workflow_key="", seq=0)
        session.execute(upsert(session, TaskRow, ("guid",),
                                ("state", "spec_name", "props", "data_hash")),
                        new_rows + changed_rows)
    elif new_rows:
        session.execute(insert(core_table(TaskRow)), new_rows)
    elif changed_rows:
        update_by_key(session, TaskRow, "guid", changed_rows)
    if gone:
        session.execute(delete(TaskRow).where(TaskRow.guid.in_([str(g) for g in gone])))

    wf_new: list[dict[str, Any]] = []
    wf_changed: list[dict[str, Any]] = []
    live_keys = set()
    for key, w in iter_workflows(wf):
        live_keys.add(key)
        body = _workflow_body(key, w)
        h = ser.sha256(body)
        if snap.workflows.get(key) == h:
            continue
        existed = key in snap.workflows
        snap.workflows[key] = h
        res.bytes_written += len(body)
        if key == "":
            instance.wf_body = body  # written with the instance row's own UPDATE
            continue
        row = {"instance_id": instance.id, "key": key, "body": body}
        (wf_changed if existed else wf_new).append(row)
    if wf_new:
        session.execute(insert(core_table(WorkflowState)), wf_new)
    if wf_changed:
        t = core_table(WorkflowState)
        session.execute(update(t).where(t.c.instance_id == bindparam("k_instance_id"),
                                        t.c.key == bindparam("k_key"))
                        .values(body=bindparam("body")),
                        [{"k_instance_id": r["instance_id"], "k_key": r["key"], "body": r["body"]}
                         for r in wf_changed])
    dropped = [k for k in snap.workflows if k not in live_keys]
    if dropped:
        session.execute(
            delete(WorkflowState).where(
                WorkflowState.instance_id == instance.id, WorkflowState.key.in_(dropped)
            )
        )
        for k in dropped:
            snap.workflows.pop(k)
    instance.next_seq = seq
    res.rows_written = (
        len(new_rows) + len(changed_rows) + len(data_rows) + len(wf_new) + len(wf_changed)
    )
    return res


def update_by_key(session: Session, model, key: str, rows: list[dict]) -> None:
    """UPDATE model SET <other columns of the rows> WHERE key = the row's key, as one Core
    executemany (cheaper than the ORM's bulk update by primary key)."""
    t = model.__table__
    cols = [c for c in rows[0] if c != key]
    stmt = (update(t).where(t.c[key] == bindparam(f"k_{key}"))
            .values({c: bindparam(c) for c in cols}))
    session.execute(stmt, [{f"k_{key}" if c == key else c: v for c, v in r.items()}
                           for r in rows])


def upsert(session: Session, model, keys: tuple[str, ...], columns: tuple[str, ...]):
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET columns = the proposed values."""
    dialect = session.get_bind().dialect.name
    mod = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if mod is None:
        raise RuntimeError(f"unsupported database dialect {dialect}")
    stmt = mod.insert(model.__table__)  # Core: one executemany, no ORM batching by keys
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: getattr(stmt.excluded, c) for c in columns}
    )


def _insert_ignore(session: Session, model):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database dialect {dialect}")


def store_spec(session: Session, spec_hash: str, body: str) -> None:
    """Store a spec body once per hash."""
    session.execute(_insert_ignore(session, SpecBlob), [{"hash": spec_hash, "body": body}])


def drop_orphan_data(session: Session) -> int:
    """Delete task data no task refers to any more (after a rewrite of personal data)."""
    from sqlalchemy import exists

    stmt = delete(JsonData).where(~exists().where(TaskRow.data_hash == JsonData.hash))
    # a DELETE's result is a CursorResult (Session.execute is typed as returning Result)
    return cast(CursorResult[Any], session.execute(stmt)).rowcount or 0
