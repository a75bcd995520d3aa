"""Running a workflow to its next wait, with SpiffWorkflow's silent failures made loud."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine import incidents, sandbox, store
from engine.errors import WorkflowDepthExceeded

# SpiffWorkflow's task iterators stop descending at this depth: tasks below it become
# invisible, do_engine_steps() stops and is_completed() answers True.
MAX_DEPTH = min(
    inspect.signature(cls.__init__).parameters["max_depth"].default
    for cls in (TaskIterator, BpmnTaskIterator)
)
DEPTH_MARGIN = 8


def advance(wf: BpmnWorkflow, before: Callable[[], object] | None = None) -> dict | None:
    """Fire due timers and run engine steps; return an error dict if a task failed.

    ``before`` (e.g. running the completed human task) runs first under the same error
    handling: completing a task updates the next one, which runs its preScript.
    The error dict is ``engine.incidents.describe``'s: type, element, message (no
    values), detail (the full text, administrators only).

    Raises WorkflowDepthExceeded when the task tree grew so deep that SpiffWorkflow
    would stop seeing open tasks (so the caller's transaction rolls back).
    """
    error = None
    budget = getattr(wf.script_engine, "budget", None) or sandbox.Budget()
    try:
        with sandbox.budget_scope(budget):  # one budget for all scripts of the step
            if before is not None:
                before()
            wf.refresh_timers()
            wf.do_engine_steps()
    except SpiffWorkflowException as exc:
        if incidents.is_transient_db_error(exc):  # a helper's query lost the database
            raise  # the caller's transaction rolls back and the step is tried again later
        task = getattr(exc, "task", None)
        if task is not None and not task.has_state(TaskState.FINISHED_MASK):
            task._set_state(TaskState.ERROR)
        incidents.mark_for_retry(exc)
        error = incidents.describe(exc, wf)
    check_depth(wf)
    return error


def check_depth(wf: BpmnWorkflow) -> None:
    """Fail loudly if an open task sits deeper than SpiffWorkflow's iterators reach."""
    for w in [wf, *wf.subprocesses.values()]:
        depth: dict = {}
        for task in w.tasks.values():  # creation order: parents come before children
            d = depth.get(task._parent, -1) + 1
            depth[task.id] = d
            if d >= MAX_DEPTH - DEPTH_MARGIN and not task.has_state(TaskState.FINISHED_MASK):
                raise WorkflowDepthExceeded(
                    f"the case has run {d} steps deep along one path (a loop of about {d // 4} "
                    f"rounds); SpiffWorkflow cannot continue past {MAX_DEPTH}. Model each rework "
                    "round as a subprocess or call activity.",
                    element=task.task_spec.bpmn_id or task.task_spec.name,
                    depth=d,
                )


def current_data(wf: BpmnWorkflow) -> dict:
    """The case data as it stands: workflow data when finished, else the latest task data."""
    if wf.data:
        return dict(wf.data)
    if wf.last_task is not None:
        return dict(wf.last_task.data)
    return dict(wf.task_tree.data)


def is_finished(wf: BpmnWorkflow) -> bool:
    """True when no task of the top workflow is still open (not trusting Spiff's cached flag)."""
    open_states = (
        TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR | TaskState.FUTURE
    )
    return not any(t.state & open_states for t in wf.tasks.values()) and not any(
        t.state & open_states for sp in wf.subprocesses.values() for t in sp.tasks.values()
    )


def next_timer_at(wf: BpmnWorkflow) -> datetime | None:
    """The earliest due time of any waiting timer, for the scheduler's indexed column."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
    from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

    due = []
    for _key, w in store.iter_workflows(wf):
        for t in w.tasks.values():
            if t.state != TaskState.WAITING:
                continue
            ts = t.task_spec
            ed = getattr(ts, "event_definition", None)
            if isinstance(ts, CatchingEvent) and isinstance(ed, TimerEventDefinition):
                value = ed.details(t).value
                if isinstance(value, str):
                    due.append(TimerEventDefinition.get_datetime(value))
    return min(due) if due else None
