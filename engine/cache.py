"""In-process cache of loaded workflows, keyed by instance id and revision.

Every save bumps ``process_instance.revision``. A unit of work that has locked an
instance and finds the cached copy at the same revision uses it instead of rebuilding
the workflow from its rows, so a step's cost does not grow with the case's history.
An entry is taken out while in use and put back only after its transaction committed;
a failed step therefore can never leave a half-run workflow in the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class WorkflowCache:
    """Bounded LRU of (revision, workflow, snapshot) per instance id; thread-safe."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[int, Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: int, revision: int) -> tuple[Any, Any] | None:
        """Remove and return the entry if it is at ``revision``."""
        with self._lock:
            entry = self._items.pop(instance_id, None)
        if entry is None or entry[0] != revision:
            return None
        return entry[1], entry[2]

    def put(self, instance_id: int, revision: int, wf: Any, snap: Any) -> None:
        """Keep a committed workflow."""
        if self.size <= 0:
            return
        with self._lock:
            self._items[instance_id] = (revision, wf, snap)
            self._items.move_to_end(instance_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
