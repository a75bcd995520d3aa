"""Read-only worklist and board queries on the engine's ``human_task`` projection.

Keyset pagination on (created_at, id) uses the (office, state, created_at, id) index;
no OFFSET anywhere, so page N costs the same as page 1.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, event, func, or_, select, tuple_
from sqlalchemy.orm import Session

from engine.db import Database
from engine.errors import InvalidInput
from engine.models import HumanTask, ProcessDefinition
from engine.views import human_task_dict

SORTS = ("created", "due", "overdue_first")
ME, NOBODY = "@me", "@none"
# what a (saved) filter asks for besides office, process and case text
STATES = ("open", "mine", "overdue", "due_soon")
DUE_SOON = timedelta(days=3)  # "bald fällig": due within the next three days, not yet overdue


@dataclass(frozen=True)
class TaskFilter:
    """What a worklist shows: offices, and optional process / assignee / overdue / due soon /
    case reference text / sort."""

    offices: tuple[str, ...]
    process_id: str | None = None
    assignee: str | None = None  # a user name, or NOBODY for unclaimed ones
    overdue: bool = False
    sort: str = "created"
    due_soon: bool = False
    case_text: str | None = None  # part of the case reference (case-insensitive)


@contextmanager
def reading(db: Database, s: Session | None = None) -> Iterator[Session]:
    """``s`` when the caller already holds a reader session (one pool checkout for several
    reads of a page), else a new ``db.reader()``."""
    if s is not None:
        yield s
    else:
        with db.reader() as own:
            yield own


# ---------------------------------------------------------------- cursors
def _overdue_bucket(row: dict, now: datetime) -> int:
    return 0 if is_overdue(row, now) else 1


def encode_cursor(sort: str, row: dict, now: datetime | None = None) -> str:
    """An opaque cursor pointing after ``row``."""
    if sort == "created":
        key = [row["created_at"], row["task_id"]]
    elif sort == "due":
        key = [row["due_at"], row["task_id"]]
    else:  # overdue_first: overdue ones by due date, then the others by waiting time
        bucket = _overdue_bucket(row, now or datetime.now(UTC))
        key = [bucket, row["due_at"] if bucket == 0 else row["created_at"], row["task_id"]]
    raw = json.dumps([sort, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, text: str | None) -> tuple | None:
    """(timestamp-or-None, task_id) from a cursor - for ``overdue_first`` (bucket,
    timestamp, task_id); InvalidInput if it is not one of ours."""
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        parts = json.loads(raw)
        if not isinstance(parts, list) or not parts or parts[0] != sort:
            raise ValueError("cursor of another sort")
        bucket = None
        if sort == "overdue_first":
            _kind, bucket, stamp, task_id = parts
            if bucket not in (0, 1):
                raise ValueError("bad bucket")
        else:
            _kind, stamp, task_id = parts
        if not isinstance(task_id, str) or len(task_id) > 64:
            raise ValueError("bad task id")
        when = datetime.fromisoformat(stamp) if stamp is not None else None
        if when is not None and when.tzinfo is None:
            raise ValueError("naive cursor")
        if when is None and sort != "due":
            raise ValueError("cursor without time")
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor 'after'", parameter="after") from exc
    return (when, task_id) if bucket is None else (bucket, when, task_id)


# ---------------------------------------------------------------- worklist
def _conditions(f: TaskFilter, now: datetime) -> list:
    conds = [HumanTask.state == "READY",
             HumanTask.office == f.offices[0] if len(f.offices) == 1
             else HumanTask.office.in_(f.offices)]
    if f.process_id:
        conds.append(HumanTask.process_id == f.process_id)
    if f.assignee == NOBODY:
        conds.append(HumanTask.assignee.is_(None))
    elif f.assignee:
        conds.append(HumanTask.assignee == f.assignee)
    if f.overdue:
        conds += [HumanTask.due_at.is_not(None), HumanTask.due_at < now]
    if f.due_soon:
        conds += [HumanTask.due_at.is_not(None), HumanTask.due_at >= now,
                  HumanTask.due_at < now + DUE_SOON]
    if f.case_text:
        conds.append(func.lower(HumanTask.case_ref).contains(f.case_text.lower(),
                                                             autoescape=True))
    return conds


def worklist(db: Database, f: TaskFilter, *, now: datetime, limit: int = 25,
             after: str | None = None, s: Session | None = None) -> tuple[list[dict], str | None]:
    """One page of open tasks matching ``f`` and the cursor of the next page (or None);
    in the reader session ``s`` when given."""
    if f.sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", parameter="sort")
    if not f.offices:
        return [], None
    q = select(HumanTask).where(*_conditions(f, now))
    cursor = decode_cursor(f.sort, after)
    if f.sort == "created":
        if cursor is not None:
            q = q.where(tuple_(HumanTask.created_at, HumanTask.id) > tuple_(*cursor))
        q = q.order_by(HumanTask.created_at, HumanTask.id)
    elif f.sort == "due":
        if cursor is not None:
            due, tid = cursor
            if due is None:
                q = q.where(HumanTask.due_at.is_(None), HumanTask.id > tid)
            else:
                q = q.where(or_(HumanTask.due_at > due,
                                and_(HumanTask.due_at == due, HumanTask.id > tid),
                                HumanTask.due_at.is_(None)))
        q = q.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    else:
        late = and_(HumanTask.due_at.is_not(None), HumanTask.due_at < now)
        if cursor is not None:
            bucket, when, tid = cursor
            if bucket == 0:
                q = q.where(or_(~late, and_(late, tuple_(HumanTask.due_at, HumanTask.id)
                                            > tuple_(when, tid))))
            else:
                q = q.where(~late, tuple_(HumanTask.created_at, HumanTask.id)
                            > tuple_(when, tid))
        q = q.order_by(case((late, 0), else_=1),
                       case((late, HumanTask.due_at), else_=HumanTask.created_at),
                       HumanTask.id)
    with reading(db, s) as rs:
        rows = [human_task_dict(t) for t in rs.scalars(q.limit(limit + 1))]
    nxt = encode_cursor(f.sort, rows[limit - 1], now) if len(rows) > limit else None
    return rows[:limit], nxt


def count(db: Database, f: TaskFilter, *, now: datetime, s: Session | None = None) -> int:
    """How many open tasks match ``f`` (all pages)."""
    if not f.offices:
        return 0
    q = select(func.count()).select_from(HumanTask).where(*_conditions(f, now))
    with reading(db, s) as rs:
        return int(rs.scalar(q) or 0)


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
DEFAULT_DEFINITIONS_CACHE_SECONDS = 5.0


def _latest_definitions(s: Session) -> list[dict]:
    latest = (select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.process_id).subquery())
    q = (select(ProcessDefinition.process_id, ProcessDefinition.name,
                ProcessDefinition.version, ProcessDefinition.id)
         .join(latest, and_(ProcessDefinition.process_id == latest.c.process_id,
                            ProcessDefinition.version == latest.c.v))
         .order_by(ProcessDefinition.process_id))
    return [{"process_id": pid, "name": name or pid, "version": version, "id": did}
            for pid, name, version, did in s.execute(q)]


class DefinitionsCache:
    """Per-process memory of the latest deployed version of each process.

    A deploy committed through this process's ``Database`` drops the list at once (an
    ``after_commit`` hook on its write sessions). A deploy by another process (the CLI,
    another gunicorn worker or host) is noticed by a version probe, ``SELECT max(id) FROM
    process_definition`` (the primary key: index-only), made at most every ``ttl`` seconds;
    so it shows at the latest ``ttl`` seconds later. The list is read again only when the
    probe answers a new id (definitions are only ever added). ``ttl`` 0 probes on every
    call. ``clock`` is the seam tests move (monotonic seconds).
    """

    def __init__(self, ttl: float = DEFAULT_DEFINITIONS_CACHE_SECONDS, *,
                 clock=time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._rows: list[dict] | None = None
        self._max_id: int | None = None
        self._checked = 0.0
        self._generation = 0  # bumped by every invalidation
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._rows = None
            self._generation += 1

    def get(self, db: Database, s: Session | None = None) -> list[dict]:
        with self._lock:
            rows, max_id, checked, gen = self._rows, self._max_id, self._checked, self._generation
        now = self.clock()
        if rows is not None and self.ttl > 0 and now - checked <= self.ttl:
            return [dict(r) for r in rows]
        with reading(db, s) as rs:
            probe = rs.scalar(select(func.max(ProcessDefinition.id)))
            if rows is None or probe != max_id:
                rows = _latest_definitions(rs)
        with self._lock:
            if self._generation == gen:  # no deploy of this process committed meanwhile
                self._rows, self._max_id, self._checked = rows, probe, now
        return [dict(r) for r in rows]


_def_caches: weakref.WeakKeyDictionary[Database, DefinitionsCache] = weakref.WeakKeyDictionary()
_DEPLOYED = "lotse_definitions_added"


def definitions_cache(db: Database, ttl: float | None = None) -> DefinitionsCache:
    """The cache of deployed processes of ``db`` in this process (created on first use,
    with the hooks that drop it when this process commits a new definition; ``ttl`` sets
    the seconds between version probes)."""
    cache = _def_caches.get(db)
    if cache is None:
        cache = _def_caches[db] = DefinitionsCache(
            DEFAULT_DEFINITIONS_CACHE_SECONDS if ttl is None else ttl)
        _watch_deploys(db, cache)
    elif ttl is not None:
        cache.ttl = ttl
    return cache


def _watch_deploys(db: Database, cache: DefinitionsCache) -> None:
    sessions = db.write_sessions

    def after_flush(session, _ctx):
        if any(isinstance(o, ProcessDefinition) for o in session.new):
            session.info[_DEPLOYED] = True

    def after_commit(session):
        if session.info.pop(_DEPLOYED, False):
            cache.invalidate()

    def after_rollback(session):
        session.info.pop(_DEPLOYED, None)

    event.listen(sessions, "after_flush", after_flush)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_soft_rollback", lambda session, _prev: after_rollback(session))


def processes(db: Database, s: Session | None = None) -> list[dict]:
    """The latest deployed version of each process: process_id, name, version, id (from this
    process's ``DefinitionsCache``; a probe or read in the reader session ``s`` when given)."""
    return definitions_cache(db).get(db, s)
