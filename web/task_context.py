"""What a task page knows about its case beyond the form (issue 15.0): the task's own data
(a multi-instance item such as ``consent_request`` lives only there), instruction values
as a person reads them (office names, not codes), whose case it is, and the form's
prefill from case data the office may already see.

Every value that leaves here went through ``web.visibility.case_data`` (the consent
decision, the read noted for the read log); nothing is shown that the office may not see.
"""

from __future__ import annotations

from uuid import UUID

from flask import g

from engine import store
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from web import visibility
from web.ctx import services

# keys whose string value is an office code (referrals, consents, suggestions, hand-overs)
_OFFICE_KEYS = ("office", "recipient_office")


def task_data(task: dict) -> dict:
    """The data of the task as the engine holds it: the open task's own data (inside
    subprocesses, multi-instance loops and called processes), else the instance's data.
    Read once per page."""
    if "_task_data" in task:
        return task["_task_data"]
    out: dict | None = None
    if task.get("state") == "READY":
        db = services().db
        with db.reader() as s:
            ht = s.get(HumanTask, task["task_id"])
            inst = s.get(ProcessInstance, ht.instance_id) if ht is not None else None
            d = s.get(ProcessDefinition, inst.definition_id) if inst is not None else None
            if inst is not None and d is not None:
                wf, _ = store.load(s, inst, d.spec_hash)
                spiff = wf.get_task_from_id(UUID(task["task_id"]))
                out = store.ser.to_json(dict(spiff.data)) if spiff is not None else None
    if out is None:
        out = services().engine.show(task["instance_id"]).get("data") or {}
    task["_task_data"] = out
    return out


def _is_office_key(key: str) -> bool:
    return key in _OFFICE_KEYS or key.endswith("_office")


def with_office_names(value, *, key: str | None = None):
    """``value`` with every office code under an office key (``office``,
    ``recipient_office``, ``handover_office``, ...) replaced by the office's German name
    (instruction texts are German)."""
    if isinstance(value, dict):
        return {k: with_office_names(v, key=k if isinstance(k, str) else None)
                for k, v in value.items()}
    if isinstance(value, list):
        return [with_office_names(v, key=key) for v in value]
    if isinstance(value, str) and key and _is_office_key(key):
        reg = services().offices
        if value in reg:
            return reg.get(value).name_de
    return value


def visible_task_data(task: dict, names: set[str] | None = None) -> dict:
    """The fields of the task's data the viewer may see (``names`` only, when given); the
    read is logged with the task."""
    data = task_data(task)
    wanted = {k: v for k, v in data.items()
              if isinstance(k, str) and (names is None or k in names)}
    if not wanted or not task.get("case_ref"):
        return {}
    seen = visibility.case_data(g.user, task.get("case_ref"), wanted,
                                instance_id=task["instance_id"], task_id=task["task_id"])
    return {} if seen.masked else dict(seen.data)


_NAME_FIELDS = ("first_name", "last_name")


def person_name(seen: dict) -> str | None:
    """The person's display name from case data the viewer may see (top level or the
    ``person`` record), None when the office may not see it."""
    found = seen.get("person")
    person: dict = found if isinstance(found, dict) else {}
    parts = []
    for f in _NAME_FIELDS:
        v = seen.get(f) or person.get(f)
        if isinstance(v, str) and v.strip():
            parts.append(v.strip())
    return " ".join(parts) or None


def prefill(schema: dict | None, seen: dict) -> dict:
    """Form values for the fields of ``schema`` the case data already hold (same name, a
    value the field accepts by type), from what the viewer may see; used only when the form
    is shown first (a re-shown form keeps what was typed). Values are given as the form's
    raw strings (``build_fields`` renders those)."""
    props = (schema or {}).get("properties") or {}
    found = seen.get("person")
    person: dict = found if isinstance(found, dict) else {}
    out: dict = {}
    for name, node in props.items():
        if not isinstance(node, dict) or node.get("readOnly"):
            continue
        value = seen.get(name, person.get(name))
        if value is None or value == "" or value == [] or value == {}:
            continue
        raw = _as_raw(value, node)
        if raw is not None:
            out[name] = raw
    return out


def _as_raw(value, node: dict):
    """The value as the form shows it (None: not prefilled). Lists and objects are left to
    the person: their widgets (web/forms_ui.py, being rebuilt) own their raw format."""
    typ = node.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    if typ == "boolean":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if typ in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return value if ok else None  # money and number widgets show numbers themselves
    if typ == "string" and isinstance(value, str):
        return value if "enum" not in node or value in node["enum"] else None
    return None


def person_of(task: dict) -> str | None:
    """Whose case it is, as far as the viewer may see it (None otherwise); the read is
    logged with the task."""
    names = {"person", *_NAME_FIELDS}
    return person_name(visible_task_data(task, names))


def prefill_for(task: dict) -> dict | None:
    """The first showing of an open task's form: the values the case data the viewer may
    see already hold (None when nothing matches)."""
    schema = task.get("form_schema")
    if task.get("state") != "READY" or not schema or not schema.get("properties"):
        return None
    names = set(schema["properties"]) | {"person"}
    return prefill(schema, visible_task_data(task, names)) or None
