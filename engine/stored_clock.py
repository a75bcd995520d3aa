"""A movable clock shared by every process through the database (development and test only).

``lotse clock set`` / ``advance`` store an offset from system time. Every read of "now"
re-reads it, so the web app's workers, the CLI and the timer workers agree on "now": outside a
unit of work each ``now()`` reads the stored offset (one primary-key SELECT); inside
``engine.clock.using(clock)`` (every engine call) the offset is read once when the block is
entered and pinned for the block, so scripts calling ``today()`` many times cost nothing and
one unit of work sees one consistent time.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from engine.clock import _aware
from engine.db import Database
from engine.models import ClockSetting

# id(clock) -> the offset pinned for the current block (see StoredOffsetClock.pinned)
_pinned: contextvars.ContextVar[dict[int, timedelta] | None] = contextvars.ContextVar(
    "lotse_pinned_offsets", default=None)


class StoredOffsetClock:
    """System time plus an offset kept in ``clock_setting``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.offset = timedelta(0)
        self.refresh()

    def refresh(self) -> timedelta:
        """Re-read the stored offset."""
        with self.db.reader() as s:
            value = s.scalar(select(ClockSetting.offset_seconds).where(ClockSetting.id == 1))
        self.offset = timedelta(seconds=value or 0.0)
        return self.offset

    def now(self) -> datetime:
        pinned = _pinned.get()
        if pinned is not None and id(self) in pinned:
            return datetime.now(timezone.utc) + pinned[id(self)]
        return datetime.now(timezone.utc) + self.refresh()

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Read the offset once and use it for every ``now()`` in this block (one unit of
        work, one request); nested blocks keep the outer block's offset."""
        outer = _pinned.get()
        if outer is not None and id(self) in outer:
            yield
            return
        token = _pinned.set({**(outer or {}), id(self): self.refresh()})
        try:
            yield
        finally:
            _pinned.reset(token)

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
        pinned = _pinned.get()
        if pinned is not None and id(self) in pinned:
            pinned[id(self)] = offset  # whoever moves the clock sees the move at once
        return datetime.now(timezone.utc) + offset


def parse_duration(text: str, start: datetime) -> timedelta:
    """An ISO 8601 duration (``P5D``, ``PT2H``, ``P1M``) as a timedelta from ``start``."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    try:
        parsed = TimerEventDefinition.parse_iso_duration(text.strip().upper())
    except Exception:
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as P5D or PT2H") from None
    return TimerEventDefinition.get_timedelta_from_start(parsed, start)
