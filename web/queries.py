"""Read-only worklist and board queries on the engine's ``human_task`` projection.

Keyset pagination on (created_at, id) uses the (office, state, created_at, id) index;
no OFFSET anywhere, so page N costs the same as page 1.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, or_, select, tuple_

from engine.db import Database
from engine.errors import InvalidInput
from engine.models import HumanTask, ProcessDefinition
from engine.views import human_task_dict

SORTS = ("created", "due")
ME, NOBODY = "@me", "@none"


@dataclass(frozen=True)
class TaskFilter:
    """What a worklist shows: offices, and optional process / assignee / overdue / sort."""

    offices: tuple[str, ...]
    process_id: str | None = None
    assignee: str | None = None  # a user name, or NOBODY for unclaimed ones
    overdue: bool = False
    sort: str = "created"


# ---------------------------------------------------------------- cursors
def encode_cursor(sort: str, row: dict) -> str:
    """An opaque cursor pointing after ``row``."""
    key = [row["created_at"], row["task_id"]] if sort == "created" else \
        [row["due_at"], row["task_id"]]
    raw = json.dumps([sort, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, text: str | None) -> tuple | None:
    """(timestamp-or-None, task_id) from a cursor; InvalidInput if it is not one of ours."""
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        kind, stamp, task_id = json.loads(raw)
        if kind != sort or not isinstance(task_id, str) or len(task_id) > 64:
            raise ValueError("cursor of another sort")
        when = datetime.fromisoformat(stamp) if stamp is not None else None
        if when is not None and when.tzinfo is None:
            raise ValueError("naive cursor")
        if when is None and sort == "created":
            raise ValueError("cursor without time")
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor 'after'", parameter="after") from exc
    return when, task_id


# ---------------------------------------------------------------- worklist
def worklist(db: Database, f: TaskFilter, *, now: datetime, limit: int = 25,
             after: str | None = None) -> tuple[list[dict], str | None]:
    """One page of open tasks matching ``f`` and the cursor of the next page (or None)."""
    if f.sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", parameter="sort")
    if not f.offices:
        return [], None
    q = select(HumanTask).where(HumanTask.state == "READY")
    q = q.where(HumanTask.office == f.offices[0]) if len(f.offices) == 1 else \
        q.where(HumanTask.office.in_(f.offices))
    if f.process_id:
        q = q.where(HumanTask.process_id == f.process_id)
    if f.assignee == NOBODY:
        q = q.where(HumanTask.assignee.is_(None))
    elif f.assignee:
        q = q.where(HumanTask.assignee == f.assignee)
    if f.overdue:
        q = q.where(HumanTask.due_at.is_not(None), HumanTask.due_at < now)
    cursor = decode_cursor(f.sort, after)
    if f.sort == "created":
        if cursor is not None:
            q = q.where(tuple_(HumanTask.created_at, HumanTask.id) > tuple_(*cursor))
        q = q.order_by(HumanTask.created_at, HumanTask.id)
    else:
        if cursor is not None:
            due, tid = cursor
            if due is None:
                q = q.where(HumanTask.due_at.is_(None), HumanTask.id > tid)
            else:
                q = q.where(or_(HumanTask.due_at > due,
                                and_(HumanTask.due_at == due, HumanTask.id > tid),
                                HumanTask.due_at.is_(None)))
        q = q.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    with db.reader() as s:
        rows = [human_task_dict(t) for t in s.scalars(q.limit(limit + 1))]
    nxt = encode_cursor(f.sort, rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], nxt


def is_overdue(row: dict, now: datetime) -> bool:
    """True when the task has a due date in the past."""
    due = row.get("due_at")
    if not due:
        return False
    when = datetime.fromisoformat(due) if isinstance(due, str) else due
    return when < now


# ---------------------------------------------------------------- board
def board(db: Database, offices: Iterable[str], *, now: datetime) -> dict[str, dict]:
    """Per office: waiting (unclaimed), claimed, overdue counts and the oldest waiting task."""
    codes = list(offices)
    out = {c: {"waiting": 0, "claimed": 0, "overdue": 0, "oldest": None} for c in codes}
    if not codes:
        return out
    unclaimed = HumanTask.assignee.is_(None)
    q = (
        select(
            HumanTask.office,
            func.sum(case((unclaimed, 1), else_=0)),
            func.sum(case((unclaimed, 0), else_=1)),
            func.sum(case((and_(HumanTask.due_at.is_not(None), HumanTask.due_at < now), 1),
                          else_=0)),
            func.min(case((unclaimed, HumanTask.created_at), else_=None)),
        )
        .where(HumanTask.state == "READY", HumanTask.office.in_(codes))
        .group_by(HumanTask.office)
    )
    with db.reader() as s:
        for office, waiting, claimed, overdue, oldest in s.execute(q):
            out[office] = {"waiting": int(waiting or 0), "claimed": int(claimed or 0),
                           "overdue": int(overdue or 0), "oldest": _aware(oldest)}
    return out


def _aware(value):
    """SQLite hands aggregate datetimes back as text or naive values: make them aware UTC."""

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------- processes
def processes(db: Database) -> list[dict]:
    """The latest deployed version of each process: process_id, name, version."""
    latest = (select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.process_id).subquery())
    q = (select(ProcessDefinition)
         .join(latest, and_(ProcessDefinition.process_id == latest.c.process_id,
                            ProcessDefinition.version == latest.c.v))
         .order_by(ProcessDefinition.process_id))
    with db.reader() as s:
        return [{"process_id": d.process_id, "name": d.name or d.process_id,
                 "version": d.version, "id": d.id} for d in s.scalars(q)]
