"""The engine clock: the only place engine code gets "now" from.

Production uses the system clock. Tests and demos install a ``SettableClock``.
SpiffWorkflow's timer module reads ``datetime.now`` itself; ``install_timer_clock``
points that module at this clock so timers arm and fire on engine time.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class SettableClock:
    """A clock that stands still until it is set or advanced (tests, demos)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _aware(start or datetime.now(timezone.utc))

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = _aware(when)

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERLIN)
    return value.astimezone(timezone.utc)


_current: contextvars.ContextVar[Clock] = contextvars.ContextVar(
    "lotse_clock", default=SystemClock()  # noqa: B039 - stateless, shared on purpose
)


def now() -> datetime:
    """Current engine time (aware, UTC)."""
    return _current.get().now()


def now_berlin() -> datetime:
    """Current engine time in Europe/Berlin."""
    return now().astimezone(BERLIN)


def current() -> Clock:
    """The clock in force in this context."""
    return _current.get()


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Run a block with ``clock`` as the engine clock.

    A clock shared through the database (``engine.stored_clock``) reads its offset once for
    the block, so one engine call sees one time and scripts do not query per ``today()``.
    """
    pin = getattr(clock, "pinned", None)
    token = _current.set(clock)
    try:
        if pin is None:
            yield clock
        else:
            with pin():
                yield clock
    finally:
        _current.reset(token)


class _EngineDatetime(datetime):
    """``datetime`` whose ``now()`` answers from the engine clock."""

    @classmethod
    def now(cls, tz=None):
        value = now()
        return (
            value.astimezone(tz)
            if tz is not None
            else value.astimezone(BERLIN).replace(tzinfo=None)
        )


def install_timer_clock() -> None:
    """Make SpiffWorkflow's timer definitions read the engine clock and Berlin local time."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _EngineDatetime
    # Naive timer datetimes mean German local time, not the server's zone.
    timer.LOCALTZ = BERLIN
