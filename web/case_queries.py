"""Which instances a user may see (the access-scoped case query). The projection queries
- diagram state, timeline, BPMN sources, start forms, the task a form completes - belong to
the engine's read model (``engine.read_model``) and are re-exported here for the pages."""

from __future__ import annotations

from sqlalchemy import exists, or_, select

from engine.db import Database
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.read_model import (  # noqa: F401 - the read model, as the pages use it
    MAX_ID,
    diagram_xml,
    element_names,
    element_offices,
    element_states,
    form_fields,
    start_form,
    start_lanes,
    task_form,
    timeline,
)
from web.accounts import Principal


def sees_all_cases(user: Principal) -> bool:
    """Auditors read the history of every case (values masked)."""
    return user.has("auditor")


def visible_instances(db: Database, user: Principal, *, case_ref: str | None = None,
                      instance_id: int | None = None, newest_first: bool = False,
                      limit: int = 200, all_offices: bool = False,
                      scope=None) -> list[dict]:
    """Instances of a case (or one instance) the user may see: any task in one of their
    offices, or started by them; auditors see all; other roles none. ``all_offices``
    (the case manager, whose access web/visibility.py has checked) drops the office
    condition; ``scope`` (``web.visibility.case_scope``) adds the case access condition."""
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
    if scope is not None:
        q = q.where(scope)
    if newest_first:
        q = q.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
    else:
        q = q.order_by(ProcessInstance.created_at, ProcessInstance.id)
    q = q.limit(limit)
    with db.reader() as s:
        out = []
        for inst in s.scalars(q):
            d = s.get(ProcessDefinition, inst.definition_id)
            assert d is not None  # a foreign key; deployed definitions are never deleted
            out.append({"instance_id": inst.id, "process_id": inst.process_id,
                        "process_name": d.name or d.process_id, "version": d.version,
                        "case_ref": inst.case_ref, "status": inst.status,
                        "created_at": inst.created_at, "completed_at": inst.completed_at,
                        "created_by": inst.created_by, "definition_id": d.id})
        return out
