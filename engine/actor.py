"""Who performs an engine call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Actor:
    """Who acts, and (when not None) the offices whose tasks they may touch."""

    user: str | None = None
    offices: frozenset[str] | None = None


SYSTEM = Actor()
