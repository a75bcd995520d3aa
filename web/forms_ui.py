"""Task forms in HTML: JSON Schema + UI schema -> field descriptions for the template,
and a submitted HTML form -> the JSON object the engine validates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from werkzeug.datastructures import MultiDict

from engine import form_dates
from engine.forms import FILE_KEYWORD, FILE_MEDIA_TYPES, FORM_KEY
from web.i18n import localized, translate

DATE_FORMATS = {"date", "past-date"}


@dataclass
class FormField:
    """One top-level form field, ready to render."""

    name: str
    id: str
    label: str
    # text|textarea|date|email|tel|number|select|radio|yesno|checkbox|checkboxes|json|file
    widget: str
    required: bool
    hints: list[tuple[str, str | None]] = field(default_factory=list)  # (text, lang or None)
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        """Rendered as a fieldset with a legend (radios, yes/no, checkbox lists)."""
        return self.widget in ("radio", "yesno", "checkboxes")

    @property
    def describedby(self) -> str:
        ids = [f"{self.id}-hint{i}" for i in range(len(self.hints))]
        if self.errors:
            ids.append(f"{self.id}-error")
        return " ".join(ids)


def _order(schema: dict, ui: dict) -> list[str]:
    props = list((schema.get("properties") or {}).keys())
    order = [n for n in (ui.get("ui:order") or []) if n in props]
    rest = [n for n in props if n not in order]
    if "*" in (ui.get("ui:order") or []):
        star = ui["ui:order"].index("*")
        return order[:star] + rest + order[star:]
    return order + rest


def _enum_labels(node: dict, lang: str) -> dict[str, str]:
    labels = node.get("x-enum-labels") or {}
    chosen = labels.get(lang) or labels.get("de") or {}
    return {str(k): str(v) for k, v in chosen.items()} if isinstance(chosen, dict) else {}


def _widget(node: dict, ui_node: dict) -> str:
    typ = node.get("type")
    if isinstance(node.get(FILE_KEYWORD), dict):
        return "file"
    wanted = ui_node.get("ui:widget")
    if typ == "boolean":
        return "checkbox" if wanted == "checkbox" else "yesno"
    if "enum" in node:
        return "radio" if wanted == "radio" else "select"
    if typ == "array":
        items = node.get("items") or {}
        return "checkboxes" if isinstance(items, dict) and "enum" in items else "json"
    if typ == "object":
        return "json"
    if wanted in ("textarea", "tel", "email"):
        return wanted
    if typ in ("integer", "number"):
        return "number"
    if node.get("format") in DATE_FORMATS:
        return "date"
    if node.get("format") == "email":
        return "email"
    return "text"


def date_limits(node: dict, today: date) -> dict[str, str]:
    """``min``/``max`` attributes of a date input from the field's rules that depend only
    on today (rules naming another field are checked by the server alone)."""
    rule = node.get(form_dates.KEYWORD)
    out: dict[str, str] = {}
    if node.get("format") == "past-date":
        out["max"] = today.isoformat()
    if not isinstance(rule, dict):
        return out
    for op, expr in rule.items():
        found = (form_dates.resolve(expr, {}, today)
                 if isinstance(expr, str) and not expr.startswith("$") else None)
        if found is None or op not in form_dates.OPS:
            continue
        bound = found[0]
        if op == "exclusiveMin":
            bound += timedelta(days=1)
        elif op == "exclusiveMax":
            bound -= timedelta(days=1)
        key = "min" if op in ("min", "exclusiveMin") else "max"
        text = bound.isoformat()
        if key not in out or (text > out[key] if key == "min" else text < out[key]):
            out[key] = text
    return out


def build_fields(schema: dict | None, ui: dict | None, *, lang: str,
                 values: dict | None = None, errors: dict | None = None,
                 today: date | None = None) -> list[FormField]:
    """The fields of a form in display order, with entered values and error messages."""
    if not schema:
        return []
    ui = ui or {}
    values = values or {}
    per_field = group_errors(errors or {}, schema)
    required = set(schema.get("required") or [])
    out = []
    for name in _order(schema, ui):
        node = schema["properties"][name]
        if not isinstance(node, dict):
            continue
        ui_node = ui.get(name) or {}
        widget = _widget(node, ui_node)
        f = FormField(name=name, id=f"f-{name}", label=localized(node, "title", lang) or name,
                      widget=widget, required=name in required, value=values.get(name, ""),
                      errors=per_field.get(name, []))
        desc = localized(node, "description", lang)
        if desc:
            f.hints.append((desc, None))
        if ui_node.get("ui:help"):
            f.hints.append((str(ui_node["ui:help"]), "de" if lang != "de" else None))
        if widget in ("select", "radio"):
            labels = _enum_labels(node, lang)
            f.options = [(str(v), labels.get(str(v), str(v))) for v in node["enum"]]
        elif widget == "yesno":
            f.options = [("true", translate("task.yes", lang)),
                         ("false", translate("task.no", lang))]
        elif widget == "checkboxes":
            items = node["items"]
            labels = _enum_labels(items, lang)
            f.options = [(str(v), labels.get(str(v), str(v))) for v in items["enum"]]
        if widget == "textarea":
            f.attrs["rows"] = int((ui_node.get("ui:options") or {}).get("rows") or 4)
        if isinstance(node.get("maxLength"), int):
            f.attrs["maxlength"] = node["maxLength"]
        if widget == "number":
            f.attrs["inputmode"] = "numeric" if node.get("type") == "integer" else "decimal"
        if widget == "date" and today is not None:
            f.attrs.update(date_limits(node, today))
        if widget == "file":
            accept = node[FILE_KEYWORD].get("accept") or list(FILE_MEDIA_TYPES)
            f.attrs["accept"] = ",".join(accept)
            f.value = ""  # a browser never re-sends a file: it must be chosen again
        if ui_node.get("ui:autofocus") and not errors:
            f.attrs["autofocus"] = True
        out.append(f)
    return out


def group_errors(errors: dict[str, list[str]], schema: dict) -> dict[str, list[str]]:
    """Error messages per top-level field; anything else under the form key."""
    props = set((schema or {}).get("properties") or {})
    out: dict[str, list[str]] = {}
    for key, msgs in errors.items():
        key = str(key)
        top, _, rest = key.partition(".")
        if top in props:
            out.setdefault(top, []).extend(f"{rest}: {m}" if rest else m for m in msgs)
        else:
            out.setdefault(FORM_KEY, []).extend(m if key == FORM_KEY else f"{key}: {m}"
                                                for m in msgs)
    return out


def parse_submission(schema: dict | None, form: MultiDict) -> tuple[dict, dict]:
    """(data for the engine, raw values to show again) from a submitted HTML form."""
    if not schema:
        return {}, {}
    data: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for name, node in (schema.get("properties") or {}).items():
        if not isinstance(node, dict):
            continue
        typ = node.get("type")
        if typ == "array" and isinstance(node.get("items"), dict) and "enum" in node["items"]:
            chosen = form.getlist(name)
            raw[name] = chosen
            if chosen:
                data[name] = [_coerce(v, node["items"].get("type")) for v in chosen]
            continue
        value = form.get(name)
        if value is None:
            if typ == "boolean" and form.get(f"{name}__present") == "1":
                data[name] = False  # an unticked single checkbox
            continue
        raw[name] = value
        if typ == "boolean":
            if value in ("true", "on", "1"):
                data[name] = True
            elif value == "false":
                data[name] = False
            elif value.strip():
                data[name] = value
            continue
        if value.strip() == "":
            continue
        if typ in ("array", "object"):
            try:
                data[name] = json.loads(value)
            except ValueError:
                data[name] = value
            continue
        data[name] = _coerce(value, typ)
    return data, raw


def _coerce(value: str, typ: Any) -> Any:
    text = value.strip()
    if typ == "integer":
        try:
            return int(text)
        except ValueError:
            return value
    if typ == "number":
        try:
            num = float(text.replace(",", ".")) if "," in text and "." not in text else float(text)
        except ValueError:
            return value
        return int(num) if num.is_integer() and "." not in text and "," not in text else num
    return value
