"""Run-time lanes, task name prefixes and form names: a small BPMN extension (issue 13.1).

One process can serve many offices when what differs by office is read from the task data at
run time, as SpiffArena resolves lane owners. Three extension properties
(``spiffworkflow:property``) name a *data path*: variable names joined by dots, such as
``referral.office``. A path is looked up in the task's data, key by key; it is never
evaluated as code, so it can neither call anything nor fail other than by not being there.

``office_from`` on a lane (instead of ``office``)
    The lane's office is the path's value when a task of the lane becomes ready: the human
    task's worklist row, claims, visibility checks and the audit see that concrete office
    code. A value that is missing or not a non-empty string leaves the task without office
    (no worklist shows it). Deploy and lint refuse a lane with both ``office`` and
    ``office_from`` or with a path of another syntax.

``name_prefix_from`` on a user task
    Text put before the task's name in the worklist (e.g. "Antwort der Stelle erfassen: "
    when case management records an external office's answer); empty or missing: no prefix.

``{path}`` placeholders in ``formJsonSchemaFilename`` / ``formUiSchemaFilename``
    ``p0-eingang-{office}-schema.json`` names the form of the concrete office: the value is
    put in lower case (``JC`` -> ``p0-eingang-jc-schema.json``). When the deployment holds no
    such file, or the value is missing, the generic form is taken: the name without the
    placeholder and the one ``-``/``_``/``.`` before it (``p0-eingang-schema.json``). Deploy
    bundles every form file the template can resolve to and refuses a template whose generic
    form is missing.

``{path}`` placeholders in ``handlungsgrundlage``
    The legal basis shown with a task (and with the timers of an activity) is the text with
    each placeholder replaced by the value in the task's data (``{legal_basis}; § 16 SGB I``
    -> ``SGB II; § 16 SGB I``); a missing value leaves an empty string.

Inside the engine a run-time lane is kept as the task spec's lane ``"@<path>"``
(``LANE_MARK``); ``office_of`` turns it into the office of a task.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

OFFICE_FROM = "office_from"
NAME_PREFIX_FROM = "name_prefix_from"
LANE_MARK = "@"
_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
PATH_RE = re.compile(rf"^{_PATH}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FALLBACK = re.compile(r"[-_.]?\{[^{}]*\}")
PATH_SYNTAX = "variable names joined by dots, e.g. referral.office"


def is_path(text: object) -> bool:
    """Whether ``text`` is a data path (``name`` or ``name.name...``)."""
    return isinstance(text, str) and PATH_RE.match(text) is not None


def lookup(data: object, path: str) -> Any:
    """The value at ``path`` in ``data`` (dict keys only), or None when any step is missing."""
    value = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _text_at(data: object, path: str) -> str | None:
    value = lookup(data, path)
    return value if isinstance(value, str) and value.strip() else None


# ---------------------------------------------------------------------------- lanes
def lane_marker(path: str) -> str:
    """The task spec's lane for a lane whose office comes from ``path`` at run time."""
    return LANE_MARK + path


def is_run_time_lane(lane: object) -> bool:
    return isinstance(lane, str) and lane.startswith(LANE_MARK)


def lane_problem(office: str | None, office_from: str | None) -> str | None:
    """Why a lane's ``office`` / ``office_from`` properties cannot be used, or None."""
    if office_from is None:
        return None
    if (office or "").strip():
        return f"the lane sets both office and {OFFICE_FROM}; set one of them"
    if not is_path(office_from.strip()):
        return (f"{OFFICE_FROM} '{office_from}' is not a data path ({PATH_SYNTAX}); it is "
                "looked up in the task data, never run as code")
    return None


def lane_office(lane: str | None, data: object) -> str | None:
    """A lane's office (as the definition keeps it) for an instance's ``data``: a run-time
    lane's path looked up there, a fixed lane as it is."""
    if lane is not None and is_run_time_lane(lane):
        return _text_at(data, lane[len(LANE_MARK):])
    return lane


def office_of(task) -> str | None:
    """The office of a task: its lane's office, read from the task data for a run-time lane."""
    lane = task.task_spec.lane
    if is_run_time_lane(lane):
        return _text_at(task.data, lane[len(LANE_MARK):])
    return lane


def properties(task_spec) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties") or {}


def name_of(task) -> str | None:
    """The task's worklist name: its element name after a run-time prefix, if any."""
    ts = task.task_spec
    name = ts.bpmn_name
    path = properties(ts).get(NAME_PREFIX_FROM)
    prefix = _text_at(task.data, path) if isinstance(path, str) and is_path(path) else None
    return f"{prefix}{name or ''}" if prefix else name


# ---------------------------------------------------------------------------- form names
def is_template(name: object) -> bool:
    return isinstance(name, str) and _PLACEHOLDER.search(name) is not None


def template_problem(name: str) -> str | None:
    """Why a form file name template cannot be used, or None."""
    for path in _PLACEHOLDER.findall(name):
        if not is_path(path):
            return (f"placeholder '{{{path}}}' in '{name}' is not a data path ({PATH_SYNTAX})")
    if "{" in _PLACEHOLDER.sub("", name) or "}" in _PLACEHOLDER.sub("", name):
        return f"unbalanced braces in '{name}'"
    return None


def fallback(name: str) -> str:
    """The generic file of a template: ``p0-eingang-{office}-schema.json`` ->
    ``p0-eingang-schema.json``. A name without placeholder is its own fallback."""
    return _FALLBACK.sub("", name)


def _pattern(name: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(name)  # literal, path, literal, path, ...
    rx = "".join(re.escape(p) if i % 2 == 0 else r"([^/]+)" for i, p in enumerate(parts))
    return re.compile(rf"^{rx}$")


def candidates(name: str, available: Iterable[str]) -> list[str]:
    """Every file among ``available`` the template can resolve to, the generic one included
    (when present), sorted."""
    if not is_template(name):
        return [name] if name in set(available) else []
    rx, generic = _pattern(name), fallback(name)
    return sorted({n for n in available if n == generic or rx.match(n)})


def resolve(name: str | None, data: object, available: Iterable[str]) -> str | None:
    """The concrete file a form name (template) names for ``data``; the generic file when
    the concrete one is not among ``available``."""
    if not name or not is_template(name):
        return name
    missing = False

    def value(m: re.Match[str]) -> str:
        nonlocal missing
        text = _text_at(data, m.group(1))
        if text is None:
            missing = True
            return ""
        return text.strip().lower()

    concrete = _PLACEHOLDER.sub(value, name)
    if not missing and concrete in set(available):
        return concrete
    return fallback(name)


def resolve_like(template: str | None, schema_template: str | None,
                 schema_file: str | None) -> str | None:
    """The UI schema file that goes with the resolved form schema ``schema_file``: the values
    the schema template took, put into the UI template (the generic UI form with the generic
    schema)."""
    if not template or not is_template(template):
        return template
    if not schema_template or not schema_file or not is_template(schema_template):
        return fallback(template)
    m = _pattern(schema_template).match(schema_file)
    if m is None:
        return fallback(template)
    values = dict(zip(_PLACEHOLDER.findall(schema_template), m.groups(), strict=True))
    out = _PLACEHOLDER.sub(lambda p: values.get(p.group(1), "\0"), template)
    return fallback(template) if "\0" in out else out


def render_text(text: str | None, data: object) -> str | None:
    """``text`` with each ``{path}`` placeholder replaced by its value in ``data``."""
    if not text or not is_template(text):
        return text

    def value(m: re.Match[str]) -> str:
        found = lookup(data, m.group(1)) if is_path(m.group(1)) else None
        return "" if found is None else str(found)

    return _PLACEHOLDER.sub(value, text)


def task_form(task, available: Iterable[str], prop: str) -> str | None:
    """A ready task's form file (``prop``: the schema or UI property), resolved."""
    return resolve(properties(task.task_spec).get(prop), task.data, available)
