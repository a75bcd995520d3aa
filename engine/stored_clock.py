"""A movable clock shared by every process through the database (development and test only).

``lotse clock set`` / ``advance`` store an offset from system time; every engine call
re-reads it, so the web app, the CLI and the workers agree on "now".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from engine.clock import _aware
from engine.db import Database
from engine.models import ClockSetting


class StoredOffsetClock:
    """System time plus an offset kept in ``clock_setting``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.offset = timedelta(0)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the offset (each engine call does this)."""
        with self.db.reader() as s:
            value = s.scalar(select(ClockSetting.offset_seconds).where(ClockSetting.id == 1))
        self.offset = timedelta(seconds=value or 0.0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def set(self, when: datetime) -> datetime:
        """Move the clock so that now is ``when``."""
        return self._store(_aware(when) - datetime.now(timezone.utc))

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta``."""
        self.refresh()
        return self._store(self.offset + delta)

    def reset(self) -> datetime:
        """Back to system time."""
        return self._store(timedelta(0))

    def _store(self, offset: timedelta) -> datetime:
        with self.db.unit_of_work() as s:
            row = s.get(ClockSetting, 1)
            if row is None:
                s.add(ClockSetting(id=1, offset_seconds=offset.total_seconds()))
            else:
                row.offset_seconds = offset.total_seconds()
        self.offset = offset
        return self.now()


def parse_duration(text: str, start: datetime) -> timedelta:
    """An ISO 8601 duration (``P5D``, ``PT2H``, ``P1M``) as a timedelta from ``start``."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    try:
        parsed = TimerEventDefinition.parse_iso_duration(text.strip().upper())
    except Exception:
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as P5D or PT2H") from None
    return TimerEventDefinition.get_timedelta_from_start(parsed, start)
