"""SpiffWorkflow (de)serialization pieces: registry, canonical JSON, spec cache.

Specs are stored once per content hash and restored once per process; instances
are rebuilt from per-task rows around the cached spec objects.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task


class _PrebuiltSpecWorkflowConverter(BpmnWorkflowConverter):
    """Restores a workflow whose ``spec``/``subprocess_specs`` are already spec objects."""

    def from_dict(self, dct):
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if isinstance(spec, dict):
            spec = self.registry.restore(spec)
            subprocess_specs = self.mapping_from_dict(subprocess_specs)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_registry():
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _PrebuiltSpecWorkflowConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"])
    )
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return registry


REGISTRY = _make_registry()
SERIALIZER = BpmnWorkflowSerializer(REGISTRY)
TASK_TYPENAME = REGISTRY.typenames[Task]
WORKFLOW_TYPENAME = REGISTRY.typenames[BpmnWorkflow]
SUBWORKFLOW_TYPENAME = REGISTRY.typenames[BpmnSubWorkflow]


def dumps(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    """Hex SHA-256 of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def convert(obj: Any) -> Any:
    """Registry conversion of task or workflow data (drops callables and modules)."""
    return REGISTRY.convert(REGISTRY.clean(obj))


def restore(obj: Any) -> Any:
    """Inverse of :func:`convert`."""
    return REGISTRY.restore(obj)


def spec_to_body(spec, subprocess_specs: dict) -> str:
    """Serialize a spec and its called subprocess specs to canonical JSON."""
    return dumps(
        {
            "spec": REGISTRY.convert(spec),
            "subprocess_specs": {k: REGISTRY.convert(v) for k, v in subprocess_specs.items()},
        }
    )


class SpecCache:
    """Restored spec objects by content hash (bounded LRU, thread-safe)."""

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[Any, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec_hash: str, load_body) -> tuple[Any, dict]:
        """The (spec, subprocess_specs) for ``spec_hash``; ``load_body()`` reads the JSON."""
        with self._lock:
            hit = self._items.get(spec_hash)
            if hit is not None:
                self._items.move_to_end(spec_hash)
                return hit
        body = json.loads(load_body())
        spec = REGISTRY.restore(body["spec"])
        subs = {k: REGISTRY.restore(v) for k, v in body["subprocess_specs"].items()}
        with self._lock:
            self._items[spec_hash] = (spec, subs)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return spec, subs


SPEC_CACHE = SpecCache()
