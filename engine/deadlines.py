"""What an instance is waiting for in time: its armed timers, read from the workflow itself.

The due time of each waiting timer is the value SpiffWorkflow compares with the clock when it
decides to fire (``event_value`` of the timer task), so a page that shows these times shows
exactly when the timers fire. The legal basis of a timer is its own ``handlungsgrundlage``
property, else the one of the activity it leads to (the reminder or escalation it starts),
else the one of the activity a boundary timer sits on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine import data_paths, store
from engine.db import Database
from engine.models import ProcessDefinition, ProcessInstance

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def _basis(spec: Any) -> str | None:
    props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    return props.get("handlungsgrundlage")


def _timer_basis(spec: Any) -> str | None:
    found = _basis(spec)
    for nxt in getattr(spec, "outputs", None) or []:
        found = found or _basis(nxt)
    host = getattr(spec, "attached_to", None) or getattr(spec, "main_child_task_spec", None)
    return found or (_basis(host) if host is not None else None)


def waiting_timers(wf) -> list[dict]:
    """Each armed timer: element id and name, due (aware UTC), kind and legal basis."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
    from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

    out = []
    for _key, w in store.iter_workflows(wf):
        for t in w.tasks.values():
            ts = t.task_spec
            ed = getattr(ts, "event_definition", None)
            if t.state != TaskState.WAITING or not isinstance(ts, CatchingEvent):
                continue
            if not isinstance(ed, TimerEventDefinition):
                continue
            value = ed.details(t).value
            if not isinstance(value, str):
                continue
            try:
                due = TimerEventDefinition.get_datetime(value)
            except ValueError:
                continue
            out.append({"element_id": ts.bpmn_id, "name": ts.bpmn_name or ts.bpmn_id,
                        "due": due, "kind": type(ed).__name__,
                        # a {path} in the legal basis is read from the timer's data
                        "basis": data_paths.render_text(_timer_basis(ts), t.data)})
    out.sort(key=lambda x: (x["due"], x["element_id"] or ""))
    return out


def open_values(wf, keys: Iterable[str]) -> dict:
    """The newest value (None does not count) of each of ``keys`` in the data of the open
    tasks (inside subprocesses and called processes too, where the top workflow's data does
    not reach yet)."""
    wanted = set(keys)
    tasks = [t for _key, w in store.iter_workflows(wf) for t in w.tasks.values()
             if t.state & OPEN]
    tasks.sort(key=lambda t: t.last_state_change or 0)
    out: dict = {}
    for source in [wf.data, *(t.data for t in tasks)]:
        for k in wanted & set(source or {}):
            if source[k] is not None:
                out[k] = source[k]
    return out


def instance_deadlines(db: Database, instance_id: int, keys: Iterable[str] = ()) -> dict:
    """``{"timers": waiting_timers, "values": open_values(keys), "next_timer_at"}``."""
    with db.reader() as s:
        inst = s.get(ProcessInstance, instance_id)
        if inst is None:
            return {"timers": [], "values": {}, "next_timer_at": None}
        d = s.get(ProcessDefinition, inst.definition_id)
        assert d is not None  # a foreign key; deployed definitions are never deleted
        wf, _ = store.load(s, inst, d.spec_hash)
        nxt: datetime | None = inst.next_timer_at
    return {"timers": waiting_timers(wf), "values": open_values(wf, keys),
            "next_timer_at": nxt}
