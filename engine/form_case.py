"""Form rules that depend on the case data of earlier tasks: the keyword ``x-lotse-case-if``.

An object schema (the form or a list item, one with ``properties``) may carry a list of
rules ``{"key": "$$track", "enum": ["primar"], "then": {...}}``: when the case data meet the
condition, the JSON Schema ``then`` applies to the object (its errors are reported like all
others, with the texts of its ``x-messages``). The condition:

* ``key``: ``$$key`` (dotted for nested keys, like the ``$$key`` bounds of ``x-lotse-date``)
  or a list of them; the first one whose value is not absent/null counts;
* ``const`` or ``enum``: the value equals it / is one of them;
* ``minimum`` / ``maximum`` (inclusive): the value is a number in the range; with
  ``"as": "age"`` the value is a date (``YYYY-MM-DD``) and the number is the age in full
  years on the date of the sibling field ``on`` (when it holds a valid date) or else today
  (the engine clock, Europe/Berlin).

Without case data (``forms.validate_form(..., context=None)``: UI pre-checks, the English
re-validation), or when the value is absent, null or not usable (not a date for ``age``, a
date in the future), the rule does not apply: a plausibility check against what earlier
tasks recorded. Deploy and lint refuse malformed rules (``rule_problem``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from engine import clock

KEYWORD = "x-lotse-case-if"
AGE = "age"
_KEYS = {"key", "as", "on", "const", "enum", "minimum", "maximum", "then"}
_KEY_RE = re.compile(r"\$\$[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _keys(rule: dict) -> list[str]:
    key = rule.get("key")
    return [key] if isinstance(key, str) else list(key) if isinstance(key, list) else []


def rule_problem(rules: Any, properties: Any) -> str | None:
    """Why ``rules`` is not a valid ``x-lotse-case-if`` value for an object with
    ``properties``, or None."""
    if not isinstance(properties, dict) or not properties:
        return f"{KEYWORD} belongs on an object schema with properties"
    if not isinstance(rules, list) or not rules:
        return f'{KEYWORD} must be a non-empty list of {{"key": "$$...", ..., "then": {{}}}} rules'
    for index, rule in enumerate(rules):
        where = f"{KEYWORD}[{index}]"
        if not isinstance(rule, dict):
            return f"{where} must be an object with 'key', a condition and 'then'"
        if set(rule) - _KEYS:
            return (f"{where}: unknown key {sorted(set(rule) - _KEYS)[0]!r} (allowed: "
                    f"{', '.join(sorted(_KEYS))})")
        keys = _keys(rule)
        if not keys or not all(isinstance(k, str) and _KEY_RE.fullmatch(k) for k in keys):
            return f"{where}.key must be a '$$key' of the case data (dots for nested keys) " \
                   "or a non-empty list of them"
        if not {"const", "enum", "minimum", "maximum"} & set(rule):
            return f"{where} needs a condition: 'const', 'enum', 'minimum' or 'maximum'"
        if "enum" in rule and not (isinstance(rule["enum"], list) and rule["enum"]):
            return f"{where}.enum must be a non-empty list"
        for bound in ("minimum", "maximum"):
            if bound in rule and not _is_number(rule[bound]):
                return f"{where}.{bound} must be a number"
        if "as" in rule and rule["as"] != AGE:
            return f"{where}.as: {rule['as']!r} is not 'age'"
        if "on" in rule:
            if rule.get("as") != AGE:
                return f"{where}.on belongs to an 'age' rule"
            on = properties.get(rule["on"]) if isinstance(rule["on"], str) else None
            if not isinstance(on, dict) or on.get("type") != "string":
                return f"{where}.on: {rule['on']!r} is not a date property of this object"
        if "then" not in rule or not isinstance(rule["then"], dict):
            return f"{where}.then must be a JSON Schema object"
        try:
            Draft202012Validator.check_schema(rule["then"])
        except SchemaError as exc:
            return f"{where}.then: {exc.message}"
    return None


def _age(born: date, on: date) -> int | None:
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return years if years >= 0 else None


def _holds(rule: dict, instance: dict, case: Any) -> bool:
    from engine import form_dates  # form_dates builds its validator from this module

    value = None
    for key in _keys(rule):
        value = form_dates.case_value(case, key[2:])
        if value is not None:
            break
    if value is None:
        return False
    if rule.get("as") == AGE:
        born = form_dates.parse_day(value)
        on = form_dates.parse_day(instance.get(rule["on"])) if "on" in rule else None
        value = _age(born, on or clock.now_berlin().date()) if born else None
        if value is None:
            return False
    if "const" in rule and value != rule["const"]:
        return False
    if "enum" in rule and value not in rule["enum"]:
        return False
    for bound, ok in (("minimum", lambda v, b: v >= b), ("maximum", lambda v, b: v <= b)):
        if bound in rule and not (_is_number(value) and ok(value, rule[bound])):
            return False
    return True


def case_if(validator: Any, rules: Any, instance: Any, schema: dict
            ) -> Iterator[ValidationError]:
    """The jsonschema keyword: the errors of each ``then`` whose condition holds."""
    from engine import form_dates

    case = form_dates.current_case_data()
    if case is None or not validator.is_type(instance, "object") or not isinstance(rules, list):
        return
    for index, rule in enumerate(rules):
        if isinstance(rule, dict) and isinstance(rule.get("then"), dict) \
                and _holds(rule, instance, case):
            yield from validator.descend(instance, rule["then"], schema_path=index)
