"""How long operations (a deployment, a migration of many instances) report how far they
got: ``progress(step, done, total, name)``, called after each item, so a caller can show
real counts (the ``lotse`` CLI prints them to stderr). Names are process ids, versions,
file names and instance ids, never case data."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int, str], None]


def no_progress(_step: str, _done: int, _total: int, _name: str) -> None:
    """The default: nobody listens."""
