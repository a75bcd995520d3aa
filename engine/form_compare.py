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

``other`` may also be a sum: terms joined by ``+`` or ``-``, each a number, an operand or
``<number> * <operand>``; an operand is a number property of the same object or ``$$key``,
a number in the case's workflow data (what earlier tasks wrote, dotted keys; read like the
``$$key`` bounds of ``x-lotse-date``), e.g. ``"$$shared_data.arrears_amount + 2 *
$$shared_data.monthly_rent_gross"``. As with dates, a ``$$key`` that is absent, null or not
a number (and any check without case data) leaves the rule out. ``label`` ({"de": ...,
"en": ...}) names the bound in the message instead of the rendered sum.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from jsonschema.exceptions import ValidationError

from engine import clock

KEYWORD = "x-lotse-compare"
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "==": operator.eq, "!=": operator.ne}
_KEYS = {"field", "op", "other", "plus", "other_as", "at_least", "label"}
_NUM = r"[0-9]+(?:\.[0-9]+)?"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_OPERAND = rf"\$\${_NAME}(?:\.{_NAME})*|{_NAME}"
_TERM_RE = re.compile(rf"\s*(?:(?P<coef>{_NUM})\s*\*\s*)?(?P<operand>{_OPERAND})\s*"
                      rf"|\s*(?P<const>{_NUM})\s*")
CASE_PREFIX = "$$"
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


def terms(other: Any) -> list[tuple[float, str | None]] | None:
    """``other`` as a sum of (coefficient, operand or None for a constant) terms, or None
    if it is not one (``"a"`` is ``[(1, "a")]``)."""
    if not isinstance(other, str):
        return None
    out: list[tuple[float, str | None]] = []
    pos, sign = 0, 1.0
    while True:
        m = _TERM_RE.match(other, pos)
        if m is None or m.end() == pos:
            return None
        if m["const"] is not None:
            out.append((sign * _number(m["const"]), None))
        else:
            coef = _number(m["coef"]) if m["coef"] else 1
            out.append((sign * coef, m["operand"]))
        pos = m.end()
        if pos == len(other):
            return out
        if other[pos] not in "+-":
            return None
        sign = 1.0 if other[pos] == "+" else -1.0
        pos += 1


def _number(text: str) -> float | int:
    return float(text) if "." in text else int(text)


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
        label = rule.get("label")
        if label is not None and not (isinstance(label, dict) and set(label) == {"de", "en"}
                                      and all(isinstance(v, str) and v for v in label.values())):
            return f'{where}.label must be {{"de": text, "en": text}}'
        parts = terms(rule["other"])
        if parts is None:
            return (f"{where}.other: {rule['other']!r} is not a sum of numbers, properties "
                    "and $$case_keys (e.g. \"$$arrears + 2 * rent\")")
        # the one property when ``other`` is just a property (coefficient 1), else None
        only = parts[0][1] if len(parts) == 1 and parts[0][0] == 1 else None
        if "other_as" in rule and (only is None or only.startswith(CASE_PREFIX)):
            return f"{where}.other_as: 'age' needs one date property as 'other'"
        names = [("field", rule["field"])] + [("other", op) for _, op in parts
                                               if op and not op.startswith(CASE_PREFIX)]
        for key, name in names:
            if not isinstance(name, str) or name not in properties:
                return f"{where}.{key}: {name!r} is not a property of this object"
            if key == "other" and "other_as" in rule:
                if "string" not in _types(properties[name]):
                    return f"{where}.other: {name!r} is not a date property (type string)"
                continue
            if not _types(properties[name]) & set(NUMBER_TYPES) or \
                    _types(properties[name]) - {*NUMBER_TYPES, "null"}:
                return f"{where}.{key}: {name!r} is not a number property (type integer or number)"
        if rule["field"] in [op for _, op in parts]:
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
    if info.get("label"):
        other = info["label"][lang]
    elif len(info.get("terms") or ()) > 1 or any(
            op is None or op.startswith(CASE_PREFIX) for _, op in info.get("terms") or ()):
        other = _sum_text(info["terms"], titles, quote, lang)
    else:
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


def _sum_text(parts, titles: dict, quote: str, lang: str) -> str:
    """A sum as the message shows it: field titles quoted, case keys by name."""
    out = ""
    for index, (coef, op) in enumerate(parts):
        sign = "−" if coef < 0 else "+"
        size = abs(coef)
        if op is None:
            text = _show(size, lang)
        else:
            name = op[len(CASE_PREFIX):] if op.startswith(CASE_PREFIX) else \
                quote.format(titles.get(op) or op)
            text = name if size == 1 else f"{_show(size, lang)} × {name}"
        out += (("− " if coef < 0 else "") + text) if index == 0 else f" {sign} {text}"
    return out


def _value(operand: str, instance: dict) -> Any:
    """A sibling property or (``$$key``) a value of the case data, None if absent."""
    if not operand.startswith(CASE_PREFIX):
        return instance.get(operand)
    from engine import form_dates  # form_dates builds its validator from this module

    return form_dates.case_value(form_dates.current_case_data(), operand[len(CASE_PREFIX):])


def compare(validator: Any, rules: Any, instance: Any, schema: dict
            ) -> Iterator[ValidationError]:
    """The jsonschema keyword: one error per broken rule, under its ``field``."""
    if not validator.is_type(instance, "object") or not isinstance(rules, list):
        return
    given = schema.get("properties")
    props: dict = given if isinstance(given, dict) else {}
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("op") not in OPS:
            continue
        parts = terms(rule.get("other"))
        if parts is None:
            continue
        value = instance.get(rule.get("field"))
        other: Any  # a number from the form data, or not (checked with _is_number below)
        if rule.get("other_as") == AGE:
            other = _age(instance.get(rule.get("other")))
        else:
            values = [coef if op is None else _value(op, instance) for coef, op in parts]
            if not all(_is_number(v) for v in values):
                continue
            other = sum(coef * v if op is not None else v
                        for (coef, op), v in zip(parts, values, strict=True))
            if isinstance(other, float) and other.is_integer() and all(
                    isinstance(v, int) for v in values):
                other = int(other)
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
                "terms": parts, "label": rule.get("label"),
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
