"""Plain dict views of engine rows (the JSON the CLI and the API return)."""

from __future__ import annotations

from engine.models import HumanTask, ProcessInstance


def _iso(value):
    return value.isoformat() if value is not None else None


def human_task_dict(t: HumanTask) -> dict:
    """A worklist entry."""
    return {
        "task_id": t.id,
        "instance_id": t.instance_id,
        "case_ref": t.case_ref,
        "process_id": t.process_id,
        "element_id": t.element_id,
        "name": t.name,
        "office": t.office,
        "state": t.state,
        "assignee": t.assignee,
        "created_at": _iso(t.created_at),
        "due_at": _iso(t.due_at),
        "completed_at": _iso(t.completed_at),
        "completed_by": t.completed_by,
    }


def instance_summary(inst: ProcessInstance) -> dict:
    """The short answer of start/complete."""
    return {"instance_id": inst.id, "status": inst.status, "error": inst.error}
