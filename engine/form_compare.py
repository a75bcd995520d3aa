"""Comparisons between number fields of one form object: the keyword ``x-lotse-compare``.

An object schema (one with ``properties``: the form itself or a list item) may carry
``"x-lotse-compare": [{"field": "minors_in_household", "op": "<=", "other": "household_size"}]``.
Each rule compares the number ``field`` with the number ``other`` (both properties of the
same object, type integer or number) plus an optional constant ``plus`` (a number, e.g.
``"plus": -5`` for "at most five less than"). ``op`` is one of ``<``, ``<=``, ``>``, ``>=``,
``==``, ``!=``. With ``"other_as": "age"`` the ``other`` property is a date (type string)
and the value compared against is the age in full years on today (the engine clock in
Europe/Berlin) of that date; ``at_least`` (a number) raises the bound to at least that value:
``{"field": "schooling_years_abroad", "op": "<=", "other": "child_birth_date",
"other_as": "age", "plus": -5, "at_least": 0}`` is "at most max(0, age - 5)". A rule whose
``field`` or ``other`` is absent or not a number (or not a date) does not apply (the fields'
own rules report them). A broken rule is reported under ``field`` with a German
or English message naming both fields by their titles, together with every other field
error of the form. Deploy and lint refuse malformed rules (``rule_problem``).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from datetime import date
from typing import Any

from jsonschema.exceptions import ValidationError

from engine import clock

KEYWORD = "x-lotse-compare"
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "==": operator.eq, "!=": operator.ne}
_KEYS = {"field", "op", "other", "plus", "other_as", "at_least"}
AGE = "age"
NUMBER_TYPES = ("integer", "number")

# op -> (German, English); {field} and {other} are the titles, {other} with its value
MESSAGES: dict[str, tuple[str, str]] = {
    "<=": ("{field} darf nicht größer sein als {other}",
           "{field} must not be greater than {other}"),
    "<": ("{field} muss kleiner sein als {other}", "{field} must be less than {other}"),
    ">=": ("{field} darf nicht kleiner sein als {other}",
           "{field} must not be less than {other}"),
    ">": ("{field} muss größer sein als {other}", "{field} must be greater than {other}"),
    "==": ("{field} muss gleich {other} sein", "{field} must equal {other}"),
    "!=": ("{field} darf nicht gleich {other} sein", "{field} must not equal {other}"),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _types(sub: Any) -> set[str]:
    kinds = sub.get("type") if isinstance(sub, dict) else None
    return {kinds} if isinstance(kinds, str) else set(kinds or [])


def rule_problem(rules: Any, properties: Any) -> str | None:
    """Why ``rules`` is not a valid ``x-lotse-compare`` value for an object with
    ``properties``, or None."""
    if not isinstance(properties, dict) or not properties:
        return f"{KEYWORD} belongs on an object schema with properties"
    if not isinstance(rules, list) or not rules:
        return (f"{KEYWORD} must be a non-empty list of "
                '{"field": ..., "op": ..., "other": ...} rules')
    for index, rule in enumerate(rules):
        where = f"{KEYWORD}[{index}]"
        if not isinstance(rule, dict) or not {"field", "op", "other"} <= set(rule):
            return f"{where} must be an object with 'field', 'op' and 'other' (and 'plus')"
        if set(rule) - _KEYS:
            return f"{where}: unknown key {sorted(set(rule) - _KEYS)[0]!r} (allowed: " \
                   f"{', '.join(sorted(_KEYS))})"
        if rule.get("other_as", AGE) != AGE:
            return f"{where}.other_as: {rule['other_as']!r} is not 'age'"
        if rule["op"] not in OPS:
            return f"{where}.op: {rule['op']!r} is not one of {', '.join(OPS)}"
        for key in ("field", "other"):
            name = rule[key]
            if not isinstance(name, str) or name not in properties:
                return f"{where}.{key}: {name!r} is not a property of this object"
            if key == "other" and "other_as" in rule:
                if "string" not in _types(properties[name]):
                    return f"{where}.other: {name!r} is not a date property (type string)"
                continue
            if not _types(properties[name]) & set(NUMBER_TYPES) or \
                    _types(properties[name]) - {*NUMBER_TYPES, "null"}:
                return f"{where}.{key}: {name!r} is not a number property (type integer or number)"
        if rule["field"] == rule["other"]:
            return f"{where}: 'field' and 'other' name the same property {rule['field']!r}"
        for key in ("plus", "at_least"):
            if key in rule and not _is_number(rule[key]):
                return f"{where}.{key} must be a number"
    return None


def _title(sub: Any, lang: str) -> str | None:
    if not isinstance(sub, dict):
        return None
    return (sub.get("x-title-en") if lang == "en" else None) or sub.get("title")


def _show(value: Any, lang: str) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text.replace(".", ",") if lang == "de" and isinstance(value, float) else text


def message(info: dict, lang: str) -> str:
    """The German or English text of one broken rule (``info`` from ``compare``)."""
    index = 0 if lang == "de" else 1
    quote = ("„{}“", "'{}'")[index]
    titles = info["titles"][lang]
    field = quote.format(titles.get(info["field"]) or info["field"])
    other = quote.format(titles.get(info["other"]) or info["other"])
    if info.get("other_as") == AGE:
        other = ("Alter laut {}", "age from {}")[index].format(other)
    plus = info.get("plus") or 0
    if plus:
        other += f" {'+' if plus > 0 else '−'} {_show(abs(plus), lang)}"
    if info.get("at_least") is not None:
        other += (", aber nicht unter {}", ", but not below {}")[index].format(
            _show(info["at_least"], lang))
    other += f" ({_show(info['bound'], lang)})"
    return MESSAGES[info["op"]][index].format(field=field, other=other)


def compare(validator: Any, rules: Any, instance: Any, schema: dict
            ) -> Iterator[ValidationError]:
    """The jsonschema keyword: one error per broken rule, under its ``field``."""
    if not validator.is_type(instance, "object") or not isinstance(rules, list):
        return
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("op") not in OPS:
            continue
        value, other = instance.get(rule.get("field")), instance.get(rule.get("other"))
        if rule.get("other_as") == AGE:
            other = _age(other)
        plus, at_least = rule.get("plus", 0), rule.get("at_least")
        if not (_is_number(value) and _is_number(other) and _is_number(plus)):
            continue
        bound = other + plus
        if _is_number(at_least):
            bound = max(bound, at_least)
        if OPS[rule["op"]](value, bound):
            continue
        info = {"field": rule["field"], "op": rule["op"], "other": rule["other"],
                "plus": plus, "bound": bound, "other_as": rule.get("other_as"),
                "at_least": at_least if _is_number(at_least) else None,
                "titles": {lang: {n: t for n, sub in props.items() if (t := _title(sub, lang))}
                           for lang in ("de", "en")}}
        yield ValidationError(message(info, "en"), validator=KEYWORD, validator_value=info,
                              instance=value, schema=schema, path=[rule["field"]])


def _age(value: Any) -> int | None:
    """Full years from the ISO date ``value`` to today (engine clock, Berlin); None if
    ``value`` is not a date or lies in the future."""
    from engine.form_dates import parse_day  # form_dates builds its validator from this module

    born = parse_day(value)
    if born is None:
        return None
    today: date = clock.now_berlin().date()
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return years if years >= 0 else None
