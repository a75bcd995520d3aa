"""Operational metrics derived from the database at scrape time (``/metrics``).

Every number comes from the projection tables, so any gunicorn worker on any host gives
the same answer and nothing is lost when a process restarts. Each query uses an index:

- waiting tasks per office: ``ix_human_task_office_state_created`` (office, state, ...),
  one index range per office, index-only on PostgreSQL;
- timer lag: ``ix_process_instance_next_timer_at`` - the first entry in time order;
- open incidents: ``ix_process_instance_status``;
- pending messages: ``ix_message_status_created``;
- completions: ``task.completed`` audit entries per office, counted incrementally by
  :class:`CompletionCounter` on ``ix_audit_event_at`` (a full count of the history on
  1M completed tasks took ~0.5 s on PostgreSQL; the increments take milliseconds).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.db import Database
from engine.models import AuditEvent, HumanTask, Message, ProcessInstance


@dataclass
class Snapshot:
    """One scrape's worth of numbers (no personal data: counts per office code only)."""

    tasks_waiting: dict[str, int] = field(default_factory=dict)
    tasks_completed: dict[str, int] = field(default_factory=dict)
    timer_lag_seconds: float = 0.0
    timers_due: int = 0
    incidents_open: int = 0
    messages_pending: int = 0


class CompletionCounter:
    """Task completions per office (``task.completed`` audit entries), exact and cheap.

    Entries older than ``margin`` (engine time) are counted once and remembered; each read
    adds the entries that have aged past the margin since, and counts the recent ones
    live. Audit entries are never deleted, so every process (each gunicorn worker keeps
    one counter) arrives at the same number. An entry whose transaction stays open longer
    than ``margin`` would be missed until the process restarts; the engine's transactions
    last milliseconds. A clock moved back (development/test) starts a full recount.
    """

    def __init__(self, margin: timedelta = timedelta(minutes=15)) -> None:
        self.margin = margin
        self._cut: datetime | None = None
        self._base: dict[str, int] = {}
        self._lock = threading.Lock()

    def read(self, s, now: datetime) -> dict[str, int]:
        """Completions per office code as of ``now``."""
        cut = now - self.margin
        with self._lock:
            if self._cut is None or cut < self._cut:
                self._base, self._cut = _completions(s, None, cut), cut
            elif cut > self._cut:
                for office, n in _completions(s, self._cut, cut).items():
                    self._base[office] = self._base.get(office, 0) + n
                self._cut = cut
            out = dict(self._base)
            for office, n in _completions(s, self._cut, None).items():
                out[office] = out.get(office, 0) + n
        return out


def _completions(s, since: datetime | None, until: datetime | None) -> dict[str, int]:
    q = (select(AuditEvent.office, func.count())
         .where(AuditEvent.event_type == "task.completed"))
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    if until is not None:
        q = q.where(AuditEvent.at < until)
    return {office: int(n) for office, n in s.execute(q.group_by(AuditEvent.office)).all()}


def collect(db: Database, *, now: datetime, offices: list[str],
            completions: CompletionCounter) -> Snapshot:
    """Read every metric in one read-only session."""
    snap = Snapshot()
    with db.reader() as s:
        snap.tasks_waiting = _per_office(s, offices, "READY")
        done = completions.read(s, now)
        snap.tasks_completed = {code: done.get(code, 0) for code in offices}
        oldest = s.scalar(select(func.min(ProcessInstance.next_timer_at))
                          .where(ProcessInstance.status == "running",
                                 ProcessInstance.next_timer_at < now))
        if oldest is not None:
            snap.timer_lag_seconds = max(0.0, (now - oldest).total_seconds())
            snap.timers_due = s.scalar(
                select(func.count()).select_from(ProcessInstance)
                .where(ProcessInstance.next_timer_at < now,
                       ProcessInstance.status == "running")) or 0
        snap.incidents_open = s.scalar(select(func.count()).select_from(ProcessInstance)
                                       .where(ProcessInstance.status == "error")) or 0
        snap.messages_pending = s.scalar(select(func.count()).select_from(Message)
                                         .where(Message.status == "pending")) or 0
    return snap


def _per_office(s, offices: list[str], state: str) -> dict[str, int]:
    counts = dict(s.execute(
        select(HumanTask.office, func.count())
        .where(HumanTask.office.in_(offices), HumanTask.state == state)
        .group_by(HumanTask.office)).all()) if offices else {}
    return {code: int(counts.get(code, 0)) for code in offices}
