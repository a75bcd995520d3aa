"""Why a task was cancelled, from the workflow alone (for the ``task.cancelled`` entry).

Reasons (a fixed vocabulary, never a value of the case):

* ``boundary_event``: an interrupting boundary event on the task, or on a subprocess
  around it, fired; ``trigger`` is that event's element, ``trigger_kind`` its type.
* ``terminate_end_event``: a terminate end event of the task's (sub)process was reached;
  ``trigger`` is that end event. When the end event carries the extension property
  ``cancel_reason`` (a code such as ``acknowledged``, set by the process designer), it is
  the entry's ``cause``.
* ``instance_cancelled``: the whole instance was cancelled (``Engine.cancel``); ``cause``
  is the code its caller gave (e.g. ``consent_revoked``).
* ``path_closed``: anything else (e.g. a task the workflow dropped from its tree).
"""

from __future__ import annotations

import re
import uuid

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

FIRED = TaskState.READY | TaskState.COMPLETED
CANCEL_REASON = "cancel_reason"  # property of a terminate end event: the cause it gives
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


def code(value) -> str | None:
    """``value`` if it is a reason code (lower-case word), else None (never free text)."""
    return value if isinstance(value, str) and _CODE.match(value) else None


def find_task(wf, task_id):
    """The task with ``task_id`` in ``wf`` or its subprocesses, or None."""
    try:
        return wf.get_task_from_id(task_id if isinstance(task_id, uuid.UUID)
                                   else uuid.UUID(str(task_id)))
    except (TaskNotFoundException, ValueError):
        return None


def _kind(spec) -> str | None:
    """``message``, ``timer``, ``signal`` ... from the class of the event definition."""
    ed = getattr(spec, "event_definition", None)
    if ed is None:
        return None
    name = type(ed).__name__.replace("EventDefinition", "")
    for kind in ("Message", "Timer", "Signal", "Error", "Escalation", "Conditional", "Cancel"):
        if kind in name:
            return kind.lower()
    return name.lower() or None


def _element(spec) -> str | None:
    return getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)


def _boundary(t, task) -> dict | None:
    """The interrupting boundary event that fired next to ``t`` (its split's children)."""
    parent = t.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    for sib in parent.children:
        spec = sib.task_spec
        if (sib is not t and isinstance(spec, BoundaryEvent) and spec.cancel_activity
                and sib.has_state(FIRED)):
            return {"reason": "boundary_event", "trigger": _element(spec),
                    "trigger_kind": _kind(spec)}
    return None


def _terminated(wf, since: float | None) -> dict | None:
    """The terminate end event ``wf`` reached (in this step, if ``since`` is given)."""
    for other in wf.tasks.values():
        spec = other.task_spec
        if (isinstance(spec, EndEvent)
                and isinstance(getattr(spec, "event_definition", None),
                               TerminateEventDefinition)
                and other.state == TaskState.COMPLETED
                and (since is None or other.last_state_change >= since)):
            found = {"reason": "terminate_end_event", "trigger": _element(spec),
                     "trigger_kind": "terminate"}
            props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
            if code(props.get(CANCEL_REASON)):
                found["cause"] = props[CANCEL_REASON]
            return found
    return None


def _parent_task(wf):
    """The subprocess task that runs ``wf`` (None for the top workflow, or when the
    workflow above was already removed from the tree)."""
    parent_id = getattr(wf, "parent_task_id", None)
    top = getattr(wf, "top_workflow", None)
    if parent_id is None or top is None or top is wf:
        return None
    return find_task(top, parent_id)


def cause(task, since: float | None = None) -> dict:
    """``{"reason": ..., "trigger": ..., "trigger_kind": ...}`` for a cancelled task.

    Walks from the task outwards: boundary events on it or on a subprocess around it,
    terminate end events of its (sub)process. ``since`` (the step's start, as
    ``time.time()``) lets the search fall back to what fired in this step when the
    subprocess around the task was already dropped from the tree."""
    seen_workflows = set()
    t = task
    while t is not None:
        found = _boundary(t, task)
        if found is not None:
            return found
        wf = t.workflow
        if id(wf) not in seen_workflows:
            seen_workflows.add(id(wf))
            found = _terminated(wf, None)
            if found is not None:
                return found
        if t.parent is not None:
            t = t.parent
            continue
        up = _parent_task(wf)
        if up is None and getattr(wf, "parent_task_id", None) is not None:
            return _fired_in_step(getattr(wf, "top_workflow", wf), since)
        t = up
    return {"reason": "path_closed"}


def _fired_in_step(top, since: float | None) -> dict:
    """What interrupted in this step, anywhere in the instance (the tree around the task
    is gone): an interrupting boundary event, else a terminate end event."""
    if since is None:
        return {"reason": "path_closed"}
    workflows = [top, *getattr(top, "subprocesses", {}).values()]
    for w in workflows:
        for t in w.tasks.values():
            spec = t.task_spec
            if (isinstance(spec, BoundaryEvent) and spec.cancel_activity
                    and t.has_state(FIRED) and t.last_state_change >= since):
                return {"reason": "boundary_event", "trigger": _element(spec),
                        "trigger_kind": _kind(spec)}
    for w in workflows:
        found = _terminated(w, since)
        if found is not None:
            return found
    return {"reason": "path_closed"}
