"""Form validation against JSON Schema (Draft 2020-12): every field error at once, readable."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from engine import form_case, form_compare, form_dates

FORM_KEY = "_form"
FILE_KEYWORD = "x-lotse-file"
FILE_MEDIA_TYPES = ("application/pdf", "image/jpeg", "image/png")
ENUM_LABELS = "x-enum-labels"
# Deepest nesting of objects and lists a form file may have (real forms use < 10 levels);
# deeper files would exhaust Python's recursion in json.loads and in jsonschema.
MAX_DEPTH = 64
_REF_KEYWORDS = ("$ref", "$dynamicRef")
_COMPOSED = ("allOf", "anyOf", "oneOf")
_BRANCHES = ("if", "then", "else")

# keyword -> (German, English)
_MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("Pflichtfeld", "This field is required"),
    "unknown": ("Unbekanntes Feld", "Unknown field"),
    "type": ("Ungültiger Typ (erwartet: {expected})", "Invalid type (expected: {expected})"),
    "minLength": ("Mindestens {limit} Zeichen", "At least {limit} characters"),
    "maxLength": ("Höchstens {limit} Zeichen", "At most {limit} characters"),
    "pattern": ("Ungültiges Format", "Invalid format"),
    "enum": ("Ungültiger Wert (erlaubt: {allowed})", "Invalid value (allowed: {allowed})"),
    "enum_long": ("Ungültiger Wert", "Invalid value"),
    "const": ("Wert muss {allowed} sein", "Value must be {allowed}"),
    "minimum": ("Muss mindestens {limit} sein", "Must be at least {limit}"),
    "maximum": ("Darf höchstens {limit} sein", "Must be at most {limit}"),
    "exclusiveMinimum": ("Muss größer als {limit} sein", "Must be greater than {limit}"),
    "exclusiveMaximum": ("Muss kleiner als {limit} sein", "Must be less than {limit}"),
    "multipleOf": ("Muss ein Vielfaches von {limit} sein", "Must be a multiple of {limit}"),
    "minItems": ("Mindestens {limit} Einträge", "At least {limit} entries"),
    "maxItems": ("Höchstens {limit} Einträge", "At most {limit} entries"),
    "uniqueItems": ("Einträge dürfen sich nicht wiederholen", "Entries must not repeat"),
    "minProperties": ("Mindestens {limit} Angaben", "At least {limit} entries"),
    "maxProperties": ("Höchstens {limit} Angaben", "At most {limit} entries"),
    "one_of_fields": (
        "Mindestens eines dieser Felder ausfüllen: {fields}",
        "Fill in at least one of these fields: {fields}",
    ),
    "no_variant": (
        "Eingabe passt zu keiner erlaubten Variante",
        "Does not match any allowed option",
    ),
    "many_variants": ("Eingabe passt zu mehr als einer Variante", "Matches more than one option"),
    "format": ("Ungültiges Format", "Invalid format"),
    "invalid": ("Ungültige Eingabe", "Invalid input"),
    "broken_form": (
        "Das Formular verweist auf eine Definition außerhalb des Formulars und kann nicht "
        "geprüft werden; bitte die Prozessverantwortlichen informieren",
        "The form refers to a definition outside the form and cannot be checked; please "
        "tell the process owners",
    ),
}
_LANGS = ("de", "en")
_TYPES: dict[str, tuple[str, str]] = {
    "string": ("Text", "text"),
    "integer": ("ganze Zahl", "whole number"),
    "number": ("Zahl", "number"),
    "boolean": ("ja/nein", "yes/no"),
    "array": ("Liste", "list"),
    "object": ("Objekt", "object"),
    "null": ("leer", "empty"),
}
_FORMATS: dict[str, tuple[str, str]] = {
    "date": ("Ungültiges Datum (JJJJ-MM-TT)", "Invalid date (YYYY-MM-DD)"),
    "date-time": ("Ungültiger Zeitpunkt (ISO 8601)", "Invalid date and time (ISO 8601)"),
    "email": ("Ungültige E-Mail-Adresse", "Invalid e-mail address"),
}


class FormFileError(ValueError):
    """A form file that is not JSON, or nests deeper than ``MAX_DEPTH``."""


def _refuse_retrieval(uri: str):
    """The form validator never fetches a schema (no http, no file): SSRF and file leaks."""
    # referencing wraps attrs.frozen in its own decorator, so mypy's attrs plugin does not
    # see the generated __init__ (ref= is its documented public constructor argument)
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


# Every validator of a form uses this registry: a ``$ref`` that is not inside the form
# itself cannot be resolved, whatever got past deploy.
REGISTRY: Registry = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]  # as above


def load_form(text: str | bytes) -> Any:
    """Parse a form file; raise FormFileError (a ValueError) with a readable reason when it
    is not JSON or nests deeper than ``MAX_DEPTH`` levels (checked before parsing, so a
    hostile file cannot exhaust the recursion limit)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise FormFileError(f"the form nests deeper than {MAX_DEPTH} levels")
        elif token in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except RecursionError as exc:  # pragma: no cover - the scan above stops such files
        raise FormFileError(f"the form nests deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:
        raise FormFileError(f"invalid JSON: {exc}") from exc


# strings (skipped whole, so brackets inside texts do not count) or a bracket
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class LocalizedFormatChecker(jsonschema.FormatChecker):
    """A FormatChecker that also carries one message per format and language."""

    def __init__(
        self,
        formats: Iterable[str] | None = None,
        messages: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(formats)
        self.messages: dict[str, dict[str, str]] = {k: dict(v) for k, v in (messages or {}).items()}


def normalize(schema: dict, data: dict) -> dict:
    """Return a copy of ``data`` with strings trimmed and empty values dropped (V-01)."""
    cleaned = _clean(data, schema, schema)
    return cleaned if isinstance(cleaned, dict) else {}


def validate_form(
    schema: dict,
    data: dict,
    *,
    format_checker: jsonschema.FormatChecker | None = None,
    lang: str = "de",
    context: Mapping[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Validate ``data`` and return every error as field -> messages (empty when valid).

    ``context`` is the task's current workflow data: date rules with a ``$$key`` bound read
    it (engine/form_dates.py); without it those bounds do not apply."""
    lang = lang if lang in _LANGS else "de"
    checker = format_checker if format_checker is not None else Draft202012Validator.FORMAT_CHECKER
    validator = form_dates.FormValidator(schema, format_checker=checker, registry=REGISTRY)
    errors: dict[str, list[str]] = {}
    with form_dates.case_data(context):
        try:
            for error in validator.iter_errors(data):
                for key, message in _explain(error, schema, lang, checker):
                    _add(errors, key, message)
        except Unresolvable:
            # a $ref outside the form (deploy refuses those; older definitions may have one):
            # nothing is fetched and the form cannot be completed until it is fixed
            return {FORM_KEY: [_text("broken_form", lang)]}
    for path in _unknown_fields(schema, data, schema, ()):
        _add(errors, _key(path), _text("unknown", lang))
    return errors


def clean_and_validate(
    schema: dict,
    data: dict,
    *,
    format_checker: jsonschema.FormatChecker | None = None,
    lang: str = "de",
    context: Mapping[str, Any] | None = None,
) -> tuple[dict, dict[str, list[str]]]:
    """Normalise ``data`` and validate the result; return (cleaned data, errors).

    ``context``: the task's current workflow data for ``$$key`` date bounds (None: those
    bounds do not apply, e.g. in a pre-check outside the engine)."""
    cleaned = normalize(schema, data)
    return cleaned, validate_form(schema, cleaned, format_checker=format_checker, lang=lang,
                                  context=context)


def relocalized(server: Mapping[str, list[str]], local: Mapping[str, list[str]]
                ) -> dict[str, list[str]]:
    """The engine's errors (German, checked with the task's data) with the messages of a
    re-validation in another language where it has them. A re-validation without the task's
    data misses ``$$key`` date rules; such a field keeps the engine's message instead of
    disappearing. Fields the engine did not report are not added."""
    return {key: list(local.get(key) or msgs) for key, msgs in server.items()}


def required_text(lang: str = "de") -> str:
    """The "required" message in ``lang``."""
    return _text("required", lang if lang in _LANGS else "de")


def with_cleared(schema: dict | None, cleaned: dict) -> dict:
    """``cleaned`` plus ``None`` for every top-level form field that was left empty or not
    sent, so a field the user cleared does not keep its old value in the case data."""
    if not isinstance(schema, dict):
        return dict(cleaned)
    known, _ = _known_properties(schema, schema)
    return {**dict.fromkeys(known), **cleaned}


def file_fields(schema: dict | None) -> dict[str, dict]:
    """Top-level file fields of a form: name -> their ``x-lotse-file`` limits."""
    props = (schema or {}).get("properties") or {}
    return {name: sub[FILE_KEYWORD] for name, sub in props.items()
            if isinstance(sub, dict) and isinstance(sub.get(FILE_KEYWORD), dict)}


def check_schema(
    schema: dict, *, format_checker: jsonschema.FormatChecker | None = None
) -> str | None:
    """Return why ``schema`` is not a usable Draft 2020-12 form schema, or None if it is."""
    if not isinstance(schema, dict):
        return "form schema must be a JSON object"
    if _depth(schema) > MAX_DEPTH:
        return f"the form nests deeper than {MAX_DEPTH} levels"
    for where, node in _walk(schema, ""):
        for keyword in _REF_KEYWORDS:
            ref = node.get(keyword)
            if isinstance(ref, str) and not ref.startswith("#"):
                return (
                    f"{where or '(root)'}: {keyword} {ref[:200]!r} points outside the form; "
                    "only references inside the form (\"#/$defs/...\") are allowed, "
                    "nothing is fetched"
                )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return f"{where}: {exc.message}"
    names = {n for _, node in _walk(schema, "") for n in (node.get("properties") or {})
             if isinstance(node.get("properties"), dict)}
    for where, node in _walk(schema, ""):
        problem = _rule_problem(where, node, names)
        if problem:
            return f"{where or '(root)'}: {problem}"
        fmt = node.get("format")
        if (
            format_checker is not None
            and isinstance(fmt, str)
            and fmt not in format_checker.checkers
        ):
            return f"{where or '(root)'}: unknown format {fmt!r}"
        if ENUM_LABELS in node and not _valid_labels(node[ENUM_LABELS]):
            return (
                f"{where or '(root)'}: {ENUM_LABELS} must map a language to "
                '{value: label} with text labels, e.g. {"de": {"a": "Erste"}}'
            )
        custom = node.get("x-messages")
        if custom is not None and not _valid_custom(custom):
            return f"{where or '(root)'}: x-messages must map keywords to a text or {{lang: text}}"
    return None


def _rule_problem(where: str, node: dict, names: set[str]) -> str | None:
    """Why a node's ``x-lotse-date``, ``x-lotse-compare``, ``x-lotse-case-if`` or
    ``x-lotse-file`` is unusable
    (None if it is fine)."""
    if form_compare.KEYWORD in node:
        problem = form_compare.rule_problem(node[form_compare.KEYWORD], node.get("properties"))
        if problem:
            return problem
    if form_case.KEYWORD in node:
        problem = form_case.rule_problem(node[form_case.KEYWORD], node.get("properties"))
        if problem:
            return problem
    if form_dates.KEYWORD in node:
        if not re.search(r"/properties/[^/]+$", where):
            return f"{form_dates.KEYWORD} belongs directly on a property"
        if node.get("type") != "string":
            return f"{form_dates.KEYWORD} needs a date property (type string)"
        problem = form_dates.rule_problem(node[form_dates.KEYWORD], names)
        if problem:
            return problem
    if FILE_KEYWORD in node:
        spec = node[FILE_KEYWORD]
        if not re.fullmatch(r"/properties/[^/]+", where):
            return f"{FILE_KEYWORD} is only allowed on a top-level form field"
        if not isinstance(spec, dict) or set(spec) - {"accept", "max_bytes"}:
            return f"{FILE_KEYWORD} must be an object with 'accept' and 'max_bytes'"
        accept = spec.get("accept", list(FILE_MEDIA_TYPES))
        if not isinstance(accept, list) or not accept or set(accept) - set(FILE_MEDIA_TYPES):
            return f"{FILE_KEYWORD}.accept: a non-empty list of {', '.join(FILE_MEDIA_TYPES)}"
        size = spec.get("max_bytes", 1)
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return f"{FILE_KEYWORD}.max_bytes must be a positive whole number"
        if node.get("type") != "object":
            return f"{FILE_KEYWORD} needs a file reference property (type object)"
    return None


def _explain(
    error: ValidationError, root: dict, lang: str, checker: Any
) -> Iterator[tuple[str, str]]:
    """Turn one jsonschema error into (field key, message) pairs."""
    path = tuple(error.absolute_path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if kind in ("required", "dependentRequired") and isinstance(instance, dict):
        if kind == "required":
            missing = [n for n in error.validator_value if n not in instance]
        else:
            missing = [
                n
                for trigger, needed in error.validator_value.items()
                if trigger in instance
                for n in needed
                if n not in instance
            ]
        fields = _known_properties(_object_schema(root, error), root)[0]
        for name in missing:
            yield _key((*path, name)), _required_text(schema, fields.get(name, []), lang)
        return
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        known, patterns = _known_properties(schema, root)
        for name in instance:
            if name not in known and not any(re.search(p, name) for p in patterns):
                yield _key((*path, name)), _text("unknown", lang)
        return
    custom = _custom(schema, str(kind), lang)
    if custom:
        yield _key(path), custom
        return
    if kind == form_compare.KEYWORD and isinstance(error.validator_value, dict):
        yield _key(path), form_compare.message(error.validator_value, lang)
    elif kind == form_dates.KEYWORD and isinstance(error.validator_value, dict):
        info = error.validator_value
        yield _key(path), form_dates.message(info, lang, info.get("titles", {}).get(lang, {}))
    elif kind in ("anyOf", "oneOf"):
        yield _key(path), _variant_text(error, lang)
    elif kind == "format":
        fmt = str(error.validator_value)
        table = getattr(checker, "messages", {}).get(fmt) or {}
        text = table.get(lang) or table.get("de")
        if not text and fmt in _FORMATS:
            text = _FORMATS[fmt][_LANGS.index(lang)]
        yield _key(path), text or _text("format", lang)
    elif kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        text = ", ".join(_TYPES[n][_LANGS.index(lang)] if n in _TYPES else n for n in names)
        yield _key(path), _text("type", lang, expected=text)
    elif kind in ("enum", "const"):
        values = error.validator_value if kind == "enum" else [error.validator_value]
        if kind == "enum" and len(values) > 10:
            yield _key(path), _text("enum_long", lang)
        else:
            yield _key(path), _text(kind, lang, allowed=", ".join(_show(v, lang) for v in values))
    elif kind in _MESSAGES:
        yield _key(path), _text(str(kind), lang, limit=_show(error.validator_value, lang))
    else:
        yield _key(path), _text("invalid", lang)


def _variant_text(error: ValidationError, lang: str) -> str:
    """Message for anyOf/oneOf; "fill in one of a, b" when every branch only misses fields."""
    if not error.context:
        return _text("many_variants", lang)
    if all(sub.validator == "required" and not sub.relative_path for sub in error.context):
        fields: list[str] = []
        for sub in error.context:
            fields.extend(n for n in sub.validator_value if n not in fields)
        return _text("one_of_fields", lang, fields=", ".join(fields))
    return _text("no_variant", lang)


def _required_text(parent: dict, fields: list[Any], lang: str) -> str:
    """Required message: the field's own x-messages, then the parent's, then the default."""
    for field in fields:
        own = _custom(field, "required", lang)
        if own:
            return own
    return _custom(parent, "required", lang) or _text("required", lang)


def _object_schema(root: dict, error: ValidationError) -> Any:
    """The object-level schema above the failing keyword (climbing out of then/else/allOf/...)."""
    keys, chain = list(error.absolute_schema_path)[:-1], [root]
    for key in keys:
        try:
            chain.append(chain[-1][key])
        except (KeyError, IndexError, TypeError):
            return error.schema  # e.g. through a remote $ref: the keyword's own schema will do
    while keys:
        if keys[-1] in _BRANCHES and keys[-2:-1] != ["properties"]:
            del keys[-1:], chain[-1:]
        elif len(keys) >= 2 and keys[-2] in (*_COMPOSED, "dependentSchemas",
                                             form_case.KEYWORD):
            del keys[-2:], chain[-2:]
        else:
            break
    return chain[-1] if isinstance(chain[-1], dict) else error.schema


def _custom(schema: Any, keyword: str, lang: str) -> str | None:
    """A schema's own message for ``keyword`` from ``x-messages`` in ``lang``, if any."""
    table = schema.get("x-messages") if isinstance(schema, dict) else None
    entry = table.get(keyword) if isinstance(table, dict) else None
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        return entry.get(lang) or entry.get("de") or next(iter(entry.values()), None)
    return None


def _valid_custom(custom: Any) -> bool:
    """Whether an ``x-messages`` value maps keywords to a text or to {lang: text}."""
    entries = custom.values() if isinstance(custom, dict) else [None]
    texts = [t for e in entries for t in (e.values() if isinstance(e, dict) else [e])]
    return all(isinstance(t, str) for t in texts)


def _valid_labels(labels: Any) -> bool:
    """Whether ``x-enum-labels`` is {lang: {value: text}}."""
    return isinstance(labels, dict) and all(
        isinstance(table, dict) and all(isinstance(t, str) for t in table.values())
        for table in labels.values()
    )


def _depth(node: Any) -> int:
    """How deeply objects and lists nest in ``node`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            values = item.values() if isinstance(item, dict) else item
            stack.extend((v, level + 1) for v in values)
    return deepest


def _text(key: str, lang: str, **params: str) -> str:
    return _MESSAGES[key][_LANGS.index(lang)].format(**params)


def _show(value: Any, lang: str) -> str:
    """Render a limit or allowed value for a message (German decimal comma)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text.replace(".", ",") if lang == "de" and isinstance(value, float) else text


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or FORM_KEY


def _add(errors: dict[str, list[str]], key: str, message: str) -> None:
    bucket = errors.setdefault(key, [])
    if message not in bucket:
        bucket.append(message)


def _target(ref: Any, root: dict) -> Any:
    """The subschema a local ``$ref`` ("#/...") points to; None for other refs."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    target: Any = root
    for part in filter(None, ref[1:].split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        target = target.get(part) if isinstance(target, dict) else None
    return target


def _parts(schema: Any, root: dict, depth: int = 0) -> Iterator[dict]:
    """The schema and every subschema applying to the same instance (allOf, if/then, $ref...)."""
    if not isinstance(schema, dict) or depth > 20:
        return
    yield schema
    subs: list[Any] = [schema.get(k) for k in _BRANCHES]
    for key in _COMPOSED:
        subs.extend(schema.get(key) or [])
    subs.extend((schema.get("dependentSchemas") or {}).values())
    subs.append(_target(schema.get("$ref"), root))
    for sub in subs:
        yield from _parts(sub, root, depth + 1)


def _known_properties(schema: Any, root: dict) -> tuple[dict[str, list[Any]], list[str]]:
    """Property schemas and patternProperties patterns declared for one object."""
    known: dict[str, list[Any]] = {}
    patterns: list[str] = []
    for part in _parts(schema, root):
        for name, sub in (part.get("properties") or {}).items():
            known.setdefault(name, []).append(sub)
        patterns.extend(part.get("patternProperties") or {})
    return known, patterns


def _unknown_fields(schema: Any, data: Any, root: dict, path: tuple) -> Iterator[tuple]:
    """Paths of fields the schema does not declare (nested objects and list items too)."""
    if isinstance(data, list):
        for part in _parts(schema, root):
            items, prefix = part.get("items"), part.get("prefixItems") or []
            for index, item in enumerate(data):
                sub = prefix[index] if index < len(prefix) else items
                if sub is not None:
                    yield from _unknown_fields(sub, item, root, (*path, index))
        return
    if not isinstance(data, dict):
        return
    known, patterns = _known_properties(schema, root)
    parts = list(_parts(schema, root))
    # Explicit additionalProperties/unevaluatedProperties are jsonschema's job; free-form objects
    # (no declared properties) stay open.
    explicit = any("additionalProperties" in p or "unevaluatedProperties" in p for p in parts)
    closed = not explicit and bool(known or patterns)
    for name, value in data.items():
        if name in known:
            for sub in known[name]:
                yield from _unknown_fields(sub, value, root, (*path, name))
        elif closed and not any(re.search(p, name) for p in patterns):
            yield (*path, name)


def _allows_null(subs: list[Any], root: dict) -> bool:
    """Whether any of these property schemas accepts null explicitly."""
    for sub in subs:
        for part in _parts(sub, root):
            kinds = part.get("type")
            if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
                return True
            if None in (part.get("enum") or []) or ("const" in part and part["const"] is None):
                return True
    return False


def _clean(value: Any, schema: Any, root: dict) -> Any:
    """Trim strings, drop blank and unexpected-null fields, recurse into objects and lists."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        items = [p.get("items") for p in _parts(schema, root) if p.get("items") is not None]
        return [_clean(item, items[0] if items else None, root) for item in value]
    if not isinstance(value, dict):
        return value
    known, _ = _known_properties(schema, root)
    out: dict[str, Any] = {}
    for name, item in value.items():
        subs = known.get(name, [])
        cleaned = _clean(item, subs[0] if subs else None, root)
        if isinstance(cleaned, str) and not cleaned.strip():
            continue
        if cleaned is None and subs and not _allows_null(subs, root):
            continue
        out[name] = cleaned
    return out


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Every dict inside a schema with its JSON pointer."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key not in ("enum", "const", "default", "examples", "x-messages"):
                yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")
