"""SpiffWorkflow (de)serialization pieces: registry, canonical JSON, spec cache.

Specs are stored once per content hash and restored once per process; instances
are rebuilt from per-task rows around the cached spec objects.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnEventConverter,
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task

# Task data is user input (forms, start data, message payloads, script results). SpiffWorkflow's
# registry restores ANY dict whose "typename" names a registered class, so a typed dict such as
# {"typename": "BpmnWorkflow", ...} came back as a live workflow carrying the unrestricted default
# script engine. Two rules close that by construction:
#   1. convert: a plain dict that has a "typename" key is escaped as {"typename": ESCAPED,
#      "items": {...}}, so no user dict is ever stored in a form restore would interpret;
#   2. restore in a data position (task data, internal data, workflow data, event payloads and
#      correlations) only knows DATA_TYPENAMES; any other typed dict (e.g. a row written before
#      rule 1) stays a plain dict.
ESCAPED = "lotse.dict"
DATA_TYPES: tuple[type, ...] = (date, datetime, timedelta, Decimal, UUID)
_IN_DATA: ContextVar[bool] = ContextVar("lotse_restore_in_data", default=False)
_ESCAPING: ContextVar[bool] = ContextVar("lotse_convert_escaping", default=True)


@contextmanager
def _data_position():
    token = _IN_DATA.set(True)
    try:
        yield
    finally:
        _IN_DATA.reset(token)


class LotseRegistry(DefaultRegistry):
    """SpiffWorkflow's registry with task data kept to plain JSON plus DATA_TYPES."""

    def __init__(self) -> None:
        super().__init__()
        self.register(date, lambda v: {"value": v.isoformat()},
                      lambda v: date.fromisoformat(v["value"]))
        self.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
        self.data_typenames = frozenset(self.typenames[t] for t in DATA_TYPES)

    def convert(self, obj, **kwargs):
        if type(obj) is dict and "typename" in obj and _ESCAPING.get():  # noqa: E721
            return {"typename": ESCAPED, "items": super().convert(obj, **kwargs)}
        return super().convert(obj, **kwargs)

    def restore(self, val, **kwargs):
        if type(val) is dict and "typename" in val:  # noqa: E721
            typename = val["typename"]
            if typename == ESCAPED and isinstance(val.get("items"), dict):
                return {k: self.restore(v) for k, v in val["items"].items()}
            if _IN_DATA.get() and typename not in self.data_typenames:
                return {k: self.restore(v) for k, v in val.items()}
        return super().restore(val, **kwargs)

    def restore_data(self, val: Any) -> Any:
        """Restore a value found in a data position (only DATA_TYPES become objects)."""
        with _data_position():
            return self.restore(val)


class _DataTaskConverter(TaskConverter):
    """Task data and internal data are data positions."""

    def from_dict(self, dct, workflow):
        with _data_position():
            return super().from_dict(dct, workflow)


class _DataEventConverter(BpmnEventConverter):
    """An event's definition is structure, its payload and correlations are data."""

    def from_dict(self, dct):
        definition = self.registry.restore(dct["event_definition"])
        with _data_position():
            return self.target_class(definition, self.registry.restore(dct["payload"]),
                                     self.mapping_from_dict(dct["correlations"]))


class _DataWorkflowAttributes:
    """Workflow data is a data position (set_default_attributes restores only data)."""

    def set_default_attributes(self, workflow, dct):
        with _data_position():
            super().set_default_attributes(workflow, dct)


class _SubWorkflowConverter(_DataWorkflowAttributes, BpmnSubWorkflowConverter):
    pass


class _PrebuiltSpecWorkflowConverter(_DataWorkflowAttributes, BpmnWorkflowConverter):
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
    config[BpmnSubWorkflow] = _SubWorkflowConverter
    config[Task] = _DataTaskConverter
    config[BpmnEvent] = _DataEventConverter
    return BpmnWorkflowSerializer.configure(config, registry=LotseRegistry())


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


def to_json(obj: Any) -> Any:
    """Data as JSON for output (show, API): registered values typed, user dicts as typed;
    never stored, never restored."""
    token = _ESCAPING.set(False)
    try:
        return convert(obj)
    finally:
        _ESCAPING.reset(token)


def restore(obj: Any) -> Any:
    """Inverse of :func:`convert` for data: only DATA_TYPES are restored as objects."""
    return REGISTRY.restore_data(obj)


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
