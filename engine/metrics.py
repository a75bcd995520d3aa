"""Operational metrics derived from the database at scrape time (``/metrics``).

Every number comes from the projection tables, so any gunicorn worker on any host gives
the same answer and nothing is lost when a process restarts. Each query uses an index:

- waiting / completed tasks per office: ``ix_human_task_office_state_created``
  (office, state, ...) - one index range per office, index-only on PostgreSQL;
- timer lag: ``ix_process_instance_next_timer_at`` - the first entry in time order;
- open incidents: ``ix_process_instance_status``;
- pending messages: ``ix_message_status_created``.

The completion counter counts ``human_task`` rows in state COMPLETED: it grows with the
history, so its cost grows with it (an index-only range count; see docs/deployment.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from engine.db import Database
from engine.models import HumanTask, Message, ProcessInstance


@dataclass
class Snapshot:
    """One scrape's worth of numbers (no personal data: counts per office code only)."""

    tasks_waiting: dict[str, int] = field(default_factory=dict)
    tasks_completed: dict[str, int] = field(default_factory=dict)
    timer_lag_seconds: float = 0.0
    timers_due: int = 0
    incidents_open: int = 0
    messages_pending: int = 0


def collect(db: Database, *, now: datetime, offices: list[str]) -> Snapshot:
    """Read every metric in one read-only transaction."""
    snap = Snapshot()
    with db.reader() as s:
        snap.tasks_waiting = _per_office(s, offices, "READY")
        snap.tasks_completed = _per_office(s, offices, "COMPLETED")
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
