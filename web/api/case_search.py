"""Case list and search for the API: process instances the caller may see, filtered by
case reference (prefix), process, status and office, newest first, keyset-paged on
``(created_at, id)``.

The office condition is the one of ``web.case_queries.visible_instances`` (a task in one
of the caller's offices or started by them; the case manager: every instance with a case;
auditors: all); the case access condition (a live referral to the caller's office with an
active consent, ``web.visibility.case_scope``) is part of the same statement, so a page is
exactly ``limit`` visible rows and its cost does not depend on the cases the caller may not
see."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import exists, or_, select, tuple_

from engine.errors import InvalidInput
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from web import visibility
from web.case_queries import MAX_ID, sees_all_cases


def encode(created_at: datetime, instance_id: int) -> str:
    raw = json.dumps(["cases", created_at.isoformat(), instance_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        kind, stamp, iid = json.loads(raw)
        when = datetime.fromisoformat(stamp)
        if kind != "cases" or when.tzinfo is None or not isinstance(iid, int) \
                or isinstance(iid, bool) or not 0 < iid <= MAX_ID:
            raise ValueError("not a case cursor")
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("ungültiger Cursor 'after' / invalid cursor 'after'",
                        parameter="after") from exc
    return when, iid


def search(db, user, *, ref: str | None = None, process_id: str | None = None,
           status: str | None = None, office: str | None = None, limit: int = 50,
           after: str | None = None) -> tuple[list[dict], str | None]:
    """One page of visible instances and the cursor of the next page (or None)."""
    cursor = decode(after)
    q = select(ProcessInstance, ProcessDefinition).join(
        ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
    if not sees_all_cases(user):
        offices = sorted(user.work_offices)
        if not offices:
            return [], None
        cond = or_(exists().where(HumanTask.instance_id == ProcessInstance.id,
                                  HumanTask.office.in_(offices)),
                   ProcessInstance.created_by == user.name)
        if visibility.is_case_manager(user):
            cond = or_(cond, ProcessInstance.case_ref.is_not(None))
        q = q.where(cond)
    if ref:
        q = q.where(ProcessInstance.case_ref.startswith(ref, autoescape=True))
    if process_id:
        q = q.where(ProcessInstance.process_id == process_id)
    if status:
        q = q.where(ProcessInstance.status == status)
    if office:
        q = q.where(exists().where(HumanTask.instance_id == ProcessInstance.id,
                                   HumanTask.office == office))
    scope = visibility.case_scope(user)
    if scope is not None:
        q = q.where(scope)
    q = q.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
    if cursor is not None:
        q = q.where(tuple_(ProcessInstance.created_at, ProcessInstance.id) < tuple_(*cursor))
    with db.reader() as s:
        rows = s.execute(q.limit(limit + 1)).all()
    out = [{"instance_id": inst.id, "case_ref": inst.case_ref, "process_id": inst.process_id,
            "process_name": d.name or d.process_id, "version": d.version,
            "status": inst.status, "created_at": inst.created_at.isoformat(),
            "completed_at": inst.completed_at.isoformat() if inst.completed_at else None}
           for inst, d in rows[:limit]]
    if len(rows) <= limit:
        return out, None
    last = rows[limit - 1][0]
    return out, encode(last.created_at, last.id)
