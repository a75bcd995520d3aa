"""Saved worklist filters (issue 15.4): a user keeps named filters - office, process,
state (open, mine, overdue, due soon), a text the case reference contains, sort - and
sees them as tabs with a count. Every read and write is scoped to the owner: another
user's filter does not exist for anybody else (not listed, not counted, 404 to open or
delete). Pages and the API share these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.db import Database
from engine.errors import Conflict, InvalidInput, NotFound
from web import queries
from web.accounts import Principal
from web.models import SavedFilter

MAX_FILTERS = 30  # per user; more tabs than this help nobody
NAME_MAX = 80
TEXT_MAX = 100


class SavedFilterNotFound(NotFound):
    code = "SAVED_FILTER_NOT_FOUND"


class SavedFilterExists(Conflict):
    code = "SAVED_FILTER_EXISTS"


@dataclass(frozen=True)
class Spec:
    """A filter's content, checked (``check``)."""

    name: str
    office: str
    process_id: str | None = None
    state: str = "open"
    case_text: str | None = None
    sort: str = "created"


def _as_dict(f: SavedFilter) -> dict:
    return {"id": f.id, "name": f.name, "office": f.office, "process_id": f.process_id,
            "state": f.state, "case_text": f.case_text, "sort": f.sort,
            "created_at": f.created_at}


def check(user: Principal, *, name, office, process_id=None, state="open", case_text=None,
          sort="created") -> Spec:
    """The filter the user asked to save, or InvalidInput naming the field: the office must
    be one the user works in, state and sort known values."""
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(f"name must be 1 to {NAME_MAX} characters", field="name")
    if not isinstance(office, str) or office not in user.work_offices:
        raise InvalidInput("office must be one of your offices", field="office")
    state = state or "open"
    if state not in queries.STATES:
        raise InvalidInput(f"state must be one of {', '.join(queries.STATES)}", field="state")
    sort = sort or "created"
    if sort not in queries.SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(queries.SORTS)}", field="sort")
    process_id = (process_id or "").strip() or None if isinstance(process_id, str | None) \
        else None
    if process_id is not None and len(process_id) > 200:
        raise InvalidInput("process_id is too long", field="process_id")
    case_text = (case_text or "").strip() or None if isinstance(case_text, str | None) else None
    if case_text is not None and len(case_text) > TEXT_MAX:
        raise InvalidInput(f"case_text may have at most {TEXT_MAX} characters",
                           field="case_text")
    return Spec(name=name, office=office, process_id=process_id, state=state,
                case_text=case_text, sort=sort)


def list_for(db: Database, user: Principal, s=None) -> list[dict]:
    """The user's saved filters, by name."""
    q = (select(SavedFilter).where(SavedFilter.user_id == user.id)
         .order_by(SavedFilter.name, SavedFilter.id))
    with queries.reading(db, s) as rs:
        return [_as_dict(f) for f in rs.scalars(q)]


def get(db: Database, user: Principal, filter_id: int) -> dict:
    """One of the user's filters; SavedFilterNotFound for any other id."""
    if not 0 < filter_id < 2**63:
        raise SavedFilterNotFound("saved filter not found", filter_id=filter_id)
    with db.reader() as s:
        f = s.scalar(select(SavedFilter).where(SavedFilter.id == filter_id,
                                               SavedFilter.user_id == user.id))
        if f is None:
            raise SavedFilterNotFound("saved filter not found", filter_id=filter_id)
        return _as_dict(f)


def create(db: Database, user: Principal, spec: Spec, *, now: datetime) -> dict:
    """Save ``spec`` for the user; SavedFilterExists for a name already used by them."""
    with db.unit_of_work() as s:
        n = s.scalar(select(func.count()).select_from(SavedFilter)
                     .where(SavedFilter.user_id == user.id)) or 0
        if n >= MAX_FILTERS:
            raise InvalidInput(f"at most {MAX_FILTERS} saved filters", field="name")
        if s.scalar(select(SavedFilter.id).where(SavedFilter.user_id == user.id,
                                                 SavedFilter.name == spec.name)):
            raise SavedFilterExists("a saved filter of this name exists", field="name")
        f = SavedFilter(user_id=user.id, name=spec.name, office=spec.office,
                        process_id=spec.process_id, state=spec.state,
                        case_text=spec.case_text, sort=spec.sort, created_at=now)
        s.add(f)
        try:
            s.flush()
        except IntegrityError:  # the same name saved concurrently
            raise SavedFilterExists("a saved filter of this name exists",
                                    field="name") from None
        return _as_dict(f)


def delete(db: Database, user: Principal, filter_id: int) -> None:
    """Delete one of the user's filters; SavedFilterNotFound for any other id."""
    if not 0 < filter_id < 2**63:
        raise SavedFilterNotFound("saved filter not found", filter_id=filter_id)
    with db.unit_of_work() as s:
        f = s.scalar(select(SavedFilter).where(SavedFilter.id == filter_id,
                                               SavedFilter.user_id == user.id))
        if f is None:
            raise SavedFilterNotFound("saved filter not found", filter_id=filter_id)
        s.delete(f)


def task_filter(user: Principal, f: dict) -> queries.TaskFilter:
    """The worklist query a saved filter stands for, for this user now (an office the user
    no longer works in matches nothing)."""
    offices = (f["office"],) if f["office"] in user.work_offices else ()
    return queries.TaskFilter(
        offices=offices, process_id=f["process_id"],
        assignee=user.name if f["state"] == "mine" else None,
        overdue=f["state"] == "overdue", due_soon=f["state"] == "due_soon",
        case_text=f["case_text"], sort=f["sort"])


def with_counts(db: Database, user: Principal, *, now: datetime, s=None) -> list[dict]:
    """The user's filters, each with ``count``: its open tasks (all pages)."""
    with queries.reading(db, s) as rs:
        out = list_for(db, user, rs)
        for f in out:
            f["count"] = queries.count(db, task_filter(user, f), now=now, s=rs)
    return out
