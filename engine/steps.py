"""Running a workflow to its next wait, with SpiffWorkflow's silent failures made loud."""

from __future__ import annotations

import inspect

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.errors import WorkflowDepthExceeded

# SpiffWorkflow's task iterators stop descending at this depth: tasks below it become
# invisible, do_engine_steps() stops and is_completed() answers True.
MAX_DEPTH = min(
    inspect.signature(cls.__init__).parameters["max_depth"].default
    for cls in (TaskIterator, BpmnTaskIterator)
)
DEPTH_MARGIN = 8


def advance(wf: BpmnWorkflow) -> dict | None:
    """Fire due timers and run engine steps; return an error dict if a task failed.

    Raises WorkflowDepthExceeded when the task tree grew so deep that SpiffWorkflow
    would stop seeing open tasks (so the caller's transaction rolls back).
    """
    error = None
    try:
        wf.refresh_timers()
        wf.do_engine_steps()
    except SpiffWorkflowException as exc:
        task = getattr(exc, "task", None)
        if task is not None and not task.has_state(TaskState.FINISHED_MASK):
            task._set_state(TaskState.ERROR)
        spec = getattr(task, "task_spec", None)
        error = {
            "message": _message(exc),
            "element": getattr(spec, "bpmn_id", None) or getattr(spec, "name", None),
        }
    check_depth(wf)
    return error


def _message(exc: Exception) -> str:
    msg = str(exc).strip()
    return msg.split("\n")[0][:1000] if msg else exc.__class__.__name__


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
