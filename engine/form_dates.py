"""Relative date rules in form schemas: the keyword ``x-lotse-date``.

A date property may carry ``"x-lotse-date": {"min": ..., "max": ..., "exclusiveMin": ...,
"exclusiveMax": ...}``. Each bound is ``today``, ``$field`` (another date field of the same
object: a sibling property, or the sibling inside the same list item), ``$$key`` (the value
of ``key`` in the case's workflow data as the task sees it, i.e. data written by earlier
tasks; nested keys with dots: ``$$referral.sent_at``) or a fixed ``YYYY-MM-DD``, optionally
followed by ``+`` or ``-`` and one ISO 8601 duration unit (``P180D``, ``P2W``, ``P6M``,
``P24M``, ``P1Y``). Months and years keep the day number and fall back to the last day of a
shorter month (31 Jan + P1M = 28/29 Feb, BGB § 188 Abs. 3).

"today" is the engine clock's date in Europe/Berlin, so the movable clock of development
and tests applies. A bound naming a field that is absent or not a valid date is skipped
(the field's own rules report it); so is a value that is not a valid date.

``$$key`` bounds read the case data set with ``case_data(...)`` for the current thread or
task (a context variable; ``forms.validate_form(..., context=task.data)`` sets it, the engine
passes the task's data when a task is completed). Without case data (``context=None``), or
when the key is absent, null or not an ISO date, the bound does not apply: the rule is a
plausibility check against what earlier tasks recorded, not a required field. Deploy checks
only the syntax of ``$$key`` (the key is not part of the form).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from engine import clock, form_case, form_compare

KEYWORD = "x-lotse-date"
OPS = ("min", "max", "exclusiveMin", "exclusiveMax")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BOUND_RE = re.compile(
    rf"(?P<base>today|\$\${_NAME}(?:\.{_NAME})*|\${_NAME}|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})"
    r"(?:(?P<sign>[+-])P(?P<n>[0-9]{1,4})(?P<unit>[DWMY]))?"
)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# op -> (German, English); {bound} is the rendered bound
MESSAGES: dict[str, tuple[str, str]] = {
    "min": ("Frühestens {bound}", "Not before {bound}"),
    "max": ("Spätestens {bound}", "Not after {bound}"),
    "exclusiveMin": ("Muss nach {bound} liegen", "Must be after {bound}"),
    "exclusiveMax": ("Muss vor {bound} liegen", "Must be before {bound}"),
}
_TODAY = ("heute", "today")
CASE_PREFIX = "$$"
_CASE_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("lotse_case_data", default=None)


@contextmanager
def case_data(data: Mapping[str, Any] | None) -> Iterator[None]:
    """Let ``$$key`` bounds read ``data`` (the task's workflow data) inside the block; the
    value is per thread and per asyncio task (a ContextVar), so concurrent requests never
    see each other's case."""
    token = _CASE_DATA.set(data)
    try:
        yield
    finally:
        _CASE_DATA.reset(token)


def current_case_data() -> Mapping[str, Any] | None:
    """The case data ``$$key`` rules read now (None outside ``case_data``)."""
    return _CASE_DATA.get()


def case_value(data: Mapping[str, Any] | None, key: str) -> Any:
    """The value at the dotted ``key`` of ``data`` (None if any step is missing)."""
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _case_day(data: Mapping[str, Any] | None, key: str) -> date | None:
    value = case_value(data, key)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return parse_day(value)


def parse_day(value: Any) -> date | None:
    """The date of an ISO ``YYYY-MM-DD`` string, else None."""
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def shift(day: date, sign: str, n: int, unit: str) -> date:
    """``day`` plus or minus ``n`` days/weeks/months/years (months clamp to the month end)."""
    k = n if sign == "+" else -n
    if unit == "D":
        return day + timedelta(days=k)
    if unit == "W":
        return day + timedelta(weeks=k)
    months = k * (12 if unit == "Y" else 1)
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rule_problem(rule: Any, known_fields: set[str]) -> str | None:
    """Why ``rule`` is not a valid ``x-lotse-date`` value, or None."""
    if not isinstance(rule, dict) or not rule:
        return f"{KEYWORD} must be a non-empty object with keys {', '.join(OPS)}"
    for op, bound in rule.items():
        if op not in OPS:
            return f"{KEYWORD}: unknown key {op!r} (allowed: {', '.join(OPS)})"
        m = _BOUND_RE.fullmatch(bound) if isinstance(bound, str) else None
        if m is None:
            return (f"{KEYWORD}.{op}: {bound!r} is not 'today', '$field', '$$case_key' "
                    "(dots for nested keys) or YYYY-MM-DD, optionally +/- P<n>D|W|M|Y")
        base = m["base"]
        if base.startswith(CASE_PREFIX):
            continue  # a key of the case data: not in the form, so only its syntax is checked
        if base.startswith("$") and base[1:] not in known_fields:
            return f"{KEYWORD}.{op}: unknown field {base[1:]!r}"
        if _DATE_RE.fullmatch(base) and parse_day(base) is None:
            return f"{KEYWORD}.{op}: {base!r} is not a real date"
    return None


def resolve(expr: str, siblings: dict, today: date,
            case: Mapping[str, Any] | None = None) -> tuple[date, str | None] | None:
    """(the bound's date, the referenced form field or None for today, a fixed date or a
    ``$$key`` of the case data ``case``); None when the bound does not apply."""
    m = _BOUND_RE.fullmatch(expr)
    if m is None:
        return None
    base, ref = m["base"], None
    day: date | None
    if base == "today":
        day = today
    elif base.startswith(CASE_PREFIX):
        day = _case_day(case, base[len(CASE_PREFIX):])
    elif base.startswith("$"):
        ref = base[1:]
        day = parse_day(siblings.get(ref))
    else:
        day = parse_day(base)
    if day is None:
        return None
    if m["sign"]:
        try:
            day = shift(day, m["sign"], int(m["n"]), m["unit"])
        except (OverflowError, ValueError):
            return None
    return day, ref


def violations(rule: dict, value: Any, siblings: dict, today: date,
               case: Mapping[str, Any] | None = None) -> Iterator[dict]:
    """Each bound of ``rule`` that ``value`` breaks, as {op, expr, bound, field}."""
    day = parse_day(value)
    if day is None or not isinstance(rule, dict):
        return
    for op, expr in rule.items():
        found = resolve(expr, siblings, today, case) if isinstance(expr, str) else None
        if found is None or op not in OPS:
            continue
        bound, ref = found
        ok = {"min": day >= bound, "max": day <= bound,
              "exclusiveMin": day > bound, "exclusiveMax": day < bound}[op]
        if not ok:
            yield {"op": op, "expr": expr, "bound": bound.isoformat(), "field": ref}


def message(info: dict, lang: str, titles: dict[str, str]) -> str:
    """The German or English text of one violation."""
    index = 0 if lang == "de" else 1
    day = date.fromisoformat(info["bound"])
    shown = day.strftime("%d.%m.%Y") if index == 0 else day.isoformat()
    expr = info["expr"]
    if info.get("field"):
        bound = f"{titles.get(info['field']) or info['field']} ({shown})"
    elif expr == "today":
        bound = f"{_TODAY[index]} ({shown})"
    else:
        bound = shown
    return MESSAGES[info["op"]][index].format(bound=bound)


def _title(node: Any, lang: str) -> str | None:
    if not isinstance(node, dict):
        return None
    return (node.get("x-title-en") if lang == "en" else None) or node.get("title")


def titles_for(schema: Any, lang: str) -> dict[str, str]:
    """Field name -> title of a properties mapping (for messages naming a field)."""
    props = schema if isinstance(schema, dict) else {}
    return {name: t for name, sub in props.items() if (t := _title(sub, lang))}


_draft_properties = Draft202012Validator.VALIDATORS["properties"]


def _properties(validator: Any, properties: dict, instance: Any, schema: dict):
    """Draft 2020-12 ``properties`` plus the date rules of the properties it declares
    (the object instance gives the siblings a ``$field`` bound refers to)."""
    yield from _draft_properties(validator, properties, instance, schema)
    if not validator.is_type(instance, "object"):
        return
    today = clock.now_berlin().date()
    case = _CASE_DATA.get()
    for name, sub in properties.items():
        if name not in instance or not isinstance(sub, dict) or KEYWORD not in sub:
            continue
        for info in violations(sub[KEYWORD], instance[name], instance, today, case):
            info["titles"] = {lang: titles_for(properties, lang) for lang in ("de", "en")}
            yield ValidationError(
                message(info, "en", info["titles"]["en"]),
                validator=KEYWORD, validator_value=info, instance=instance[name],
                schema=sub, path=[name],
            )


FormValidator = extend(Draft202012Validator, {"properties": _properties,
                                               form_compare.KEYWORD: form_compare.compare,
                                               form_case.KEYWORD: form_case.case_if})
