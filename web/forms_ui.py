"""Task forms in HTML: JSON Schema + UI schema -> field descriptions for the template,
and a submitted HTML form -> the JSON object the engine validates.

Arrays and objects with a described structure are rendered as nested fields (SpiffArena's
"add item" groups): an object is a fieldset of its properties, an array of objects (or of
plain values) a repeatable fieldset, an array of enum values (or of languages) checkboxes.
Their HTML names carry the path (``children[0][first_name]``) and are parsed back into
lists and objects here, without JavaScript: "add entry" and "remove" are submit buttons
(``__add`` / ``__remove``) that show the form again with one entry more or less.
Arrays and objects without a described structure stay JSON text boxes.

Coded fields show names and store codes (web.form_codes); dates are entered and shown as
TT.MM.JJJJ (ISO is still accepted); amounts (``format: eur``) as German decimals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.datastructures import MultiDict

from engine import form_dates
from engine.forms import FILE_KEYWORD, FILE_MEDIA_TYPES, FORM_KEY
from web import form_codes
from web.errors import load_form_json
from web.i18n import format_date, localized, translate

DATE_FORMATS = {"date", "past-date"}
ADD = "__add"
REMOVE = "__remove"
MAX_ITEMS = 100  # entries of one repeatable group read from a form (more are ignored)
MAX_DEPTH = 6  # nesting of groups rendered and read
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_DE_DATE = re.compile(r"\s*([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})\s*")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DE_THOUSANDS = re.compile(r"[0-9]{1,3}(\.[0-9]{3})+")
_PATH_PART = re.compile(r"\[([^\[\]]*)\]")


@dataclass
class FormField:
    """One form field (top level or nested), ready to render."""

    name: str
    id: str
    label: str
    # text|textarea|date|email|tel|number|money|select|radio|yesno|checkbox|checkboxes|
    # state|language|json|file|object|repeat
    widget: str
    required: bool
    hints: list[tuple[str, str | None]] = field(default_factory=list)  # (text, lang or None)
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # the engine's error key of this field (children.0.first_name)
    children: list[FormField] = field(default_factory=list)  # object: its properties
    items: list[list[FormField]] = field(default_factory=list)  # repeat: fields per entry
    item_label: str = ""  # repeat: legend of an entry ("Eintrag {n}")
    context: str = ""  # the groups around a nested field ("Kinder, Eintrag 1")

    @property
    def full_label(self) -> str:
        """The label with its groups, for the error summary."""
        return f"{self.context}: {self.label}" if self.context else self.label

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


def iter_fields(fields: list[FormField]) -> Iterator[FormField]:
    """Every field, nested ones after their group, in display order."""
    for f in fields:
        yield f
        yield from iter_fields(f.children)
        for item in f.items:
            yield from iter_fields(item)


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


def _structured_object(node: Any) -> bool:
    return (isinstance(node, dict) and node.get("type") == "object"
            and isinstance(node.get("properties"), dict) and bool(node["properties"]))


def _repeatable(node: dict) -> bool:
    """An array whose entries can be rendered as fields: objects with properties, or plain
    strings/numbers (not enums: those are checkboxes)."""
    items = node.get("items")
    if not isinstance(items, dict):
        return False
    if _structured_object(items):
        return True
    return items.get("type") in ("string", "integer", "number") and "enum" not in items


def _is_money(node: dict, ui_node: dict) -> bool:
    return node.get("format") == "eur" or ui_node.get("ui:widget") == "money"


def _is_state(node: dict, ui_node: dict) -> bool:
    return node.get("format") == "nationality" or ui_node.get("ui:widget") == "country"


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
        if isinstance(items, dict) and ("enum" in items or items.get("format") == "language"):
            return "checkboxes"
        return "repeat" if _repeatable(node) else "json"
    if typ == "object":
        return "object" if _structured_object(node) else "json"
    if _is_state(node, ui_node):
        return "state"
    if node.get("format") == "language":
        return "language"
    if _is_money(node, ui_node):
        return "money"
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
    """``min``/``max`` (ISO) of a date field from the field's rules that depend only
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


def _show_date(value: Any) -> Any:
    """An ISO date as TT.MM.JJJJ (the way it is entered); anything else as it is."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip()).strftime("%d.%m.%Y")
        except ValueError:
            return value
    return value


def _show_money(value: Any) -> Any:
    """A number as German decimals (1.850,00); typed text as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return value
    text = f"{Decimal(str(value)):,.2f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _date_messages(msgs: list[str]) -> list[str]:
    """The validators name the ISO form that API clients send; the page asks for TT.MM.JJJJ."""
    return [m.replace("JJJJ-MM-TT", "TT.MM.JJJJ").replace("YYYY-MM-DD", "DD.MM.YYYY")
            for m in msgs]


@dataclass
class _Ctx:
    lang: str
    today: date | None
    errors: dict[str, list[str]]
    autofocus: bool
    focus: str | None  # path of an entry just added: its first field gets the focus


def _dom_id(path: str) -> str:
    return "f-" + _ID_UNSAFE.sub("_", path.replace(".", "-"))


def _field(ctx: _Ctx, node: dict, ui_node: dict, *, name: str, path: str, label: str | None,
           required: bool, value: Any, depth: int) -> FormField:
    lang = ctx.lang
    widget = _widget(node, ui_node)
    if depth >= MAX_DEPTH and widget in ("object", "repeat"):
        widget = "json"
    f = FormField(name=name, id=_dom_id(path), label=label or path.rsplit(".", 1)[-1],
                  widget=widget, required=required, value=value, path=path,
                  errors=list(ctx.errors.get(path, [])))
    desc = localized(node, "description", lang)
    help_text = ui_node.get("ui:help")
    if widget == "date" and isinstance(help_text, str) and "TT.MM.JJJJ" in help_text:
        help_text = None  # the format hint below says it in the page's language
    if widget in ("state", "language") and desc and any(w in desc for w in ("ISO", "ode")):
        desc = None  # the names are chosen, the code is the machine's business
    if widget == "checkboxes" and isinstance(node.get("items"), dict) \
            and node["items"].get("format") == "language" and desc and "BCP" in desc:
        desc = None
    if desc:
        f.hints.append((desc, None))
    if help_text:
        f.hints.append((str(help_text), "de" if lang != "de" else None))
    if widget == "select" and "enum" in node:
        labels = _enum_labels(node, lang)
        f.options = [(str(v), labels.get(str(v), str(v))) for v in node["enum"]]
    elif widget == "radio":
        labels = _enum_labels(node, lang)
        f.options = [(str(v), labels.get(str(v), str(v))) for v in node["enum"]]
    elif widget == "yesno":
        f.options = [("true", translate("task.yes", lang)),
                     ("false", translate("task.no", lang))]
    elif widget == "checkboxes":
        items = node["items"]
        if "enum" in items:  # the catalogue puts the labels on the array, others on items
            labels = _enum_labels(items, lang) or _enum_labels(node, lang)
            f.options = [(str(v), labels.get(str(v), str(v))) for v in items["enum"]]
        else:
            f.options = list(form_codes.language_options(lang))
    elif widget == "state":
        f.options = list(form_codes.state_options(lang))
        f.hints.append((translate("form.state_hint", lang), None))
        if isinstance(value, str) and value:
            f.value = form_codes.state_name(value, lang) or value
    elif widget == "language":
        f.options = list(form_codes.language_options(lang))
        f.hints.append((translate("form.language_hint", lang), None))
        if isinstance(value, str) and value:
            f.value = form_codes.language_name(value, lang) or value
    elif widget == "date":
        f.hints.append((translate("form.date_hint", lang), None))
        f.value = _show_date(value)
        f.errors = _date_messages(f.errors)
        if ctx.today is not None:
            for key, iso in date_limits(node, ctx.today).items():
                f.attrs[key] = iso
                f.hints.append((translate(f"form.date_{key}", lang,
                                          date=format_date(date.fromisoformat(iso), "de")),
                                None))
    elif widget == "money":
        f.value = _show_money(value)
        f.hints.append((translate("form.money_hint", lang), None))
        f.attrs["inputmode"] = "decimal"
    elif widget == "object":
        f.children = _children(ctx, node, ui_node, name=name, path=path,
                               values=value if isinstance(value, dict) else {}, depth=depth + 1)
        for sub in f.children:
            _set_context(sub, f.full_label)
    elif widget == "repeat":
        _repeat(ctx, f, node, ui_node, depth)
    if widget == "textarea":
        f.attrs["rows"] = int((ui_node.get("ui:options") or {}).get("rows") or 4)
    if isinstance(node.get("maxLength"), int):
        f.attrs["maxlength"] = node["maxLength"]
    if widget == "number":
        f.attrs["inputmode"] = "numeric" if node.get("type") == "integer" else "decimal"
    if widget == "file":
        accept = node[FILE_KEYWORD].get("accept") or list(FILE_MEDIA_TYPES)
        f.attrs["accept"] = ",".join(accept)
        f.value = ""  # a browser never re-sends a file: it must be chosen again
    if ui_node.get("ui:autofocus") and ctx.autofocus:
        f.attrs["autofocus"] = True
    return f


def _children(ctx: _Ctx, node: dict, ui_node: dict, *, name: str, path: str, values: dict,
              depth: int) -> list[FormField]:
    required = set(node.get("required") or [])
    out = []
    for prop in _order(node, ui_node):
        sub = node["properties"][prop]
        if not isinstance(sub, dict):
            continue
        out.append(_field(ctx, sub, ui_node.get(prop) or {}, name=f"{name}[{prop}]",
                          path=f"{path}.{prop}", label=localized(sub, "title", ctx.lang) or prop,
                          required=prop in required, value=values.get(prop, ""),
                          depth=depth))
    return out


def _repeat(ctx: _Ctx, f: FormField, node: dict, ui_node: dict, depth: int) -> None:
    items = node["items"]
    found = ui_node.get("items")
    item_ui: dict = found if isinstance(found, dict) else {}
    values = f.value if isinstance(f.value, list) else []
    f.value = ""
    f.item_label = translate("form.entry", ctx.lang)
    for i, entry in enumerate(values[:MAX_ITEMS]):
        name, path = f"{f.name}[{i}]", f"{f.path}.{i}"
        if _structured_object(items):
            fields = _children(ctx, items, item_ui, name=name, path=path,
                               values=entry if isinstance(entry, dict) else {},
                               depth=depth + 1)
        else:
            fields = [_field(ctx, items, item_ui, name=name, path=path,
                             label=translate("form.entry_n", ctx.lang, n=i + 1),
                             required=True, value=entry, depth=depth + 1)]
        if ctx.focus == path and fields:
            fields[0].attrs["focus"] = True
        for sub in fields:
            _set_context(sub, f"{f.full_label}, {f.item_label.format(n=i + 1)}")
        f.items.append(fields)


def _set_context(f: FormField, context: str) -> None:
    """Prefix ``context`` to the groups of ``f`` and of every field inside it."""
    f.context = f"{context}, {f.context}" if f.context else context
    for sub in f.children:
        _set_context(sub, context)
    for item in f.items:
        for sub in item:
            _set_context(sub, context)


def _distribute(fields: list[FormField], errors: dict[str, list[str]]) -> None:
    """Errors whose key names no rendered field go to the nearest enclosing field."""
    known = {f.path for f in iter_fields(fields)}
    by_path = {f.path: f for f in iter_fields(fields)}
    for key, msgs in errors.items():
        if key in known or key == FORM_KEY:
            continue
        parts = key.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            owner = by_path.get(".".join(parts[:cut]))
            if owner is not None:
                rest = ".".join(parts[cut:])
                owner.errors.extend(f"{rest}: {m}" for m in msgs)
                break


def build_fields(schema: dict | None, ui: dict | None, *, lang: str,
                 values: dict | None = None, errors: dict | None = None,
                 today: date | None = None, focus: str | None = None) -> list[FormField]:
    """The fields of a form in display order, with entered values and error messages."""
    if not schema:
        return []
    flat = {str(k): list(v) for k, v in (errors or {}).items()}
    ctx = _Ctx(lang=lang, today=today, errors=flat, autofocus=not errors and not focus,
               focus=focus)
    values = values or {}
    ui = ui or {}
    required = set(schema.get("required") or [])
    out = []
    for name in _order(schema, ui):
        node = schema["properties"][name]
        if not isinstance(node, dict):
            continue
        out.append(_field(ctx, node, ui.get(name) or {}, name=name, path=name,
                          label=localized(node, "title", lang) or name,
                          required=name in required, value=values.get(name, ""), depth=0))
    _distribute(out, flat)
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


# --- reading a submitted form ---------------------------------------------------------


def parse_submission(schema: dict | None, form: MultiDict, *,
                     keep_empty: bool = False) -> tuple[dict, dict]:
    """(data for the engine, raw values to show again) from a submitted HTML form.

    Empty entries of repeatable groups are left out of both (so the entries shown again
    line up with the engine's error keys), unless ``keep_empty`` (add/remove buttons)."""
    if not schema:
        return {}, {}
    data: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for name, node in (schema.get("properties") or {}).items():
        if not isinstance(node, dict):
            continue
        has, value, shown = _parse(node, name, form, keep_empty, 0)
        if shown is not None:
            raw[name] = shown
        if has:
            data[name] = value
    return data, raw


def _indices(form: MultiDict, name: str) -> list[int]:
    pattern = re.compile(re.escape(name) + r"\[([0-9]{1,4})\]")
    found = {int(m.group(1)) for key in form.keys() if (m := pattern.match(key))}
    return sorted(found)[:MAX_ITEMS]


def _parse(node: dict, name: str, form: MultiDict, keep_empty: bool,
           depth: int) -> tuple[bool, Any, Any]:
    """(present, value for the engine, raw value to show again) of one field."""
    typ = node.get("type")
    items = node.get("items")
    if typ == "array" and isinstance(items, dict) and (
            "enum" in items or items.get("format") == "language"):
        chosen = form.getlist(name)
        if not chosen:
            return False, None, []
        if "enum" in items:
            return True, [_coerce(v, items.get("type")) for v in chosen], chosen
        return True, [form_codes.language_code(v) or v for v in chosen], chosen
    structured = depth < MAX_DEPTH and ((typ == "array" and _repeatable(node))
                                        or (typ == "object" and _structured_object(node)))
    if structured and name not in form:
        if typ == "object":
            return _parse_object(node, name, form, keep_empty, depth)
        assert isinstance(items, dict)  # _repeatable
        values, shown = [], []
        for i in _indices(form, name):
            has, value, entry = _parse(items, f"{name}[{i}]", form, keep_empty, depth + 1) \
                if _structured_object(items) else _parse_leaf(items, f"{name}[{i}]", form)
            if has or keep_empty:
                shown.append(entry if entry is not None else "")
            if has:
                values.append(value)
        return bool(values), values, shown
    return _parse_leaf(node, name, form)


def _parse_object(node: dict, name: str, form: MultiDict, keep_empty: bool,
                  depth: int) -> tuple[bool, Any, Any]:
    data: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for prop, sub in node["properties"].items():
        if not isinstance(sub, dict):
            continue
        has, value, shown = _parse(sub, f"{name}[{prop}]", form, keep_empty, depth + 1)
        if shown is not None:
            raw[prop] = shown
        if has:
            data[prop] = value
    return bool(data), data, raw


def _parse_leaf(node: dict, name: str, form: MultiDict) -> tuple[bool, Any, Any]:
    typ = node.get("type")
    value = form.get(name)
    if value is None:
        if typ == "boolean" and form.get(f"{name}__present") == "1":
            return True, False, None  # an unticked single checkbox
        return False, None, None
    if typ == "boolean":
        if value in ("true", "on", "1"):
            return True, True, value
        if value == "false":
            return True, False, value
        return bool(value.strip()), value, value
    if value.strip() == "":
        return False, None, value
    if typ in ("array", "object"):  # a JSON text box (or a JSON text for a group)
        try:  # depth, surrogates, control characters: a 400 before the engine
            return True, load_form_json(value), value
        except ValueError:
            return True, value, value
    if node.get("format") == "nationality":
        return True, form_codes.state_code(value) or value, value
    if node.get("format") == "language":
        return True, form_codes.language_code(value) or value, value
    if node.get("format") in DATE_FORMATS:
        return True, parse_date_text(value), value
    if node.get("format") == "eur":
        return True, parse_money(value), value
    return True, _coerce(value, typ), value


def parse_date_text(value: str) -> str:
    """TT.MM.JJJJ (also T.M.JJJJ) -> ISO; ISO and anything else unchanged (the validator
    then says what is wrong)."""
    m = _DE_DATE.fullmatch(value)
    if not m:
        return value.strip()
    try:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
    except ValueError:
        return value.strip()


def parse_money(value: str) -> Any:
    """German decimals ("1.850,00", "1850,5", "1.850") or plain ("1850.00") -> a number;
    anything else unchanged for the validator."""
    text = value.strip().replace("\u00a0", "").replace(" ", "")
    text = text.removesuffix("€").removesuffix("EUR").strip()
    if "," in text:
        if "." in text and text.rindex(".") > text.rindex(","):
            text = text.replace(",", "")  # 1,850.00
        else:
            text = text.replace(".", "").replace(",", ".")  # 1.850,00
    elif _DE_THOUSANDS.fullmatch(text):
        text = text.replace(".", "")  # 1.850
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return value
    if not amount.is_finite():
        return value
    return int(amount) if amount == amount.to_integral_value() else float(amount)


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


# --- add / remove buttons -------------------------------------------------------------


def form_action(form: MultiDict) -> tuple[str, str] | None:
    """("add", "children") or ("remove", "children[1]") when a group button was pressed."""
    if form.get(ADD):
        return "add", str(form[ADD])
    if form.get(REMOVE):
        return "remove", str(form[REMOVE])
    return None


def _split(target: str) -> list[str]:
    head, _, tail = target.partition("[")
    return [head, *_PATH_PART.findall("[" + tail)] if tail else [head]


def apply_action(schema: dict | None, raw: dict,
                 action: tuple[str, str]) -> tuple[dict, str | None]:
    """The raw values with one entry added to / removed from the named group, and the
    path of the added entry (it gets the focus). Unknown targets change nothing."""
    kind, target = action
    parts = _split(target)
    node: Any = {"type": "object", "properties": (schema or {}).get("properties") or {}}
    holder: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if node.get("type") == "object" and isinstance(holder, dict):
            node = (node.get("properties") or {}).get(part)
            if not isinstance(node, dict):
                return raw, None
            if last:
                if kind == "add" and node.get("type") == "array" and _repeatable(node):
                    entries = holder.setdefault(part, [])
                    if not isinstance(entries, list):
                        entries = holder[part] = []
                    if len(entries) >= MAX_ITEMS:
                        return raw, None
                    entries.append({} if _structured_object(node["items"]) else "")
                    return raw, ".".join([*parts, str(len(entries) - 1)])
                return raw, None
            nxt = holder.get(part)
            if nxt is None and node.get("type") in ("object", "array"):
                nxt = holder[part] = {} if node.get("type") == "object" else []
            holder = nxt
        elif node.get("type") == "array" and isinstance(holder, list) and part.isdigit():
            index = int(part)
            if index >= len(holder):
                return raw, None
            if last:
                if kind == "remove":
                    del holder[index]
                return raw, None
            node, holder = node.get("items") or {}, holder[index]
        else:
            return raw, None
    return raw, None
