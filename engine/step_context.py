"""The step being run: its session and instance, for helpers that must read or write the
database in the step's own transaction (e.g. the domain's consent register).

The engine sets it around running a workflow to its next wait (``Engine._run_and_save``);
outside a step ``current()`` is None. A ContextVar: per thread and per asyncio task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engine.models import ProcessInstance


@dataclass(frozen=True)
class Step:
    """The running step: the unit of work's session, the instance and the engine time."""

    session: Session
    instance: ProcessInstance
    now: datetime


_CURRENT: ContextVar[Step | None] = ContextVar("lotse_step", default=None)


def current() -> Step | None:
    """The running step, or None outside one."""
    return _CURRENT.get()


@contextmanager
def running(step: Step) -> Iterator[Step]:
    token = _CURRENT.set(step)
    try:
        yield step
    finally:
        _CURRENT.reset(token)
