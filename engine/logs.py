"""Logging guard: SpiffWorkflow attaches full task data (personal data) to its log records.

``spiff.task`` adds ``data`` and ``internal_data`` to every record whenever that logger's
own level is below INFO, which is the default (NOTSET). We raise the level and strip those
attributes from every record of every ``spiff.*`` logger, whatever level someone sets later.
"""

from __future__ import annotations

import logging

SPIFF_LOGGERS = (
    "spiff",
    "spiff.task",
    "spiff.workflow",
    "spiff.data",
    "spiff.dmn",
    "spiff.metrics",
)
_STRIP = ("data", "internal_data", "payload")


class StripTaskData(logging.Filter):
    """Remove task data from a log record (the record is still logged)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for attr in _STRIP:
            if attr in record.__dict__:
                record.__dict__[attr] = "[removed]"
        return True


_FILTER = StripTaskData()


def guard_spiff_logging() -> None:
    """Install the guard on SpiffWorkflow's loggers (idempotent)."""
    for name in SPIFF_LOGGERS:
        lg = logging.getLogger(name)
        if lg.level < logging.INFO:
            lg.setLevel(logging.INFO)
        if _FILTER not in lg.filters:
            lg.addFilter(_FILTER)
