"""The KIM reference catalogue: processes P0-P6 as BPMN (with diagrams) and their forms.

Everything under ``bpmn/`` that belongs to the catalogue is *generated* by this module from the
compact descriptions below, so that ids, lanes, legal-basis properties, forms and diagram layout
stay consistent across some 30 process files. The generated files are committed; a test checks
that regenerating gives identical files. Regenerate after editing this module or
``processes/offices.toml``::

    .venv/bin/python -m processes.catalogue          # write bpmn/<folder>/...
    .venv/bin/python -m processes.catalogue --check  # list files that differ (exit 1)

P0 (the referral protocol run in the receiving office) is one template rendered once per office
(``render_referral_protocol(code)``): the lane is the office (or KIM_CM in proxy mode for
offices marked ``external``), the process id is ``office_referral_<code lower>`` and all copies
start on the message ``referral_sent`` (the router picks the copy by the payload's ``office``).

See processes/README.md for the modelling conventions and every choice made where the domain
brief was ambiguous.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from processes.helpers import CATEGORY_MATRIX, DATA_CATEGORIES
from processes.offices import Office, OfficeRegistry

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = ROOT / "bpmn"

# ================================================================================================
# Forms: a compact description rendered to JSON Schema 2020-12 + a UI schema
# ================================================================================================

Labels = tuple[str, str]  # (German, English)


@dataclass
class Fld:
    """One form field: its JSON Schema, UI hints and whether it is always required."""

    name: str
    schema: dict
    ui: dict = field(default_factory=dict)
    required: bool = False


def _base(de: str, en: str, help_de: str | None, help_en: str | None) -> dict:
    out: dict[str, Any] = {"title": de, "x-title-en": en}
    if help_de:
        out["description"] = help_de
        out["x-description-en"] = help_en or help_de
    return out


def _ui(widget: str | None = None, help_de: str | None = None, **options: Any) -> dict:
    out: dict[str, Any] = {}
    if widget:
        out["ui:widget"] = widget
    if help_de:
        out["ui:help"] = help_de
    if options:
        out["ui:options"] = options
    return out


def text(name: str, de: str, en: str, *, req: bool = False, min_len: int | None = None,
         max_len: int = 200, help_de: str | None = None, help_en: str | None = None,
         pattern: str | None = None, area: bool = False, ui_help: str | None = None) -> Fld:
    """Free text (V-01 trimmed, V-11 length limit, rendered escaped)."""
    s = {"type": "string", **_base(de, en, help_de, help_en)}
    if min_len:
        s["minLength"] = min_len
    s["maxLength"] = max_len
    s["pattern"] = pattern or "\\S"
    widget = "textarea" if area or max_len > 300 else None
    opts = {"rows": 5} if widget else {}
    return Fld(name, s, _ui(widget, ui_help, **opts), req)


def person_name(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    """V-02: Unicode letters of any script, space ' - . (1-100)."""
    s = {"type": "string", "format": "person-name", "minLength": 1, "maxLength": 100,
         **_base(de, en, "Wie angegeben, in jeder Schrift.", "As given, in any script.")}
    return Fld(name, s, _ui(None, "Schreibweise genau wie angegeben übernehmen."), req)


def name_latin(name: str, de: str, en: str) -> Fld:
    """V-02: passport/MRZ spelling."""
    s = {"type": "string", "format": "name-latin", "pattern": "^[A-Za-z' .-]{1,100}$",
         **_base(de, en, "Lateinische Schreibweise wie im Pass (MRZ).",
                 "Latin spelling as in the passport (MRZ).")}
    return Fld(name, s, {}, False)


def date(name: str, de: str, en: str, *, req: bool = False, past: bool = False,
         help_de: str | None = None, help_en: str | None = None) -> Fld:
    """An ISO date (V-03 ``past-date`` for factual dates: not in the future, not before 1900)."""
    s = {"type": "string", "format": "past-date" if past else "date",
         **_base(de, en, help_de, help_en)}
    return Fld(name, s, _ui("date", "Format TT.MM.JJJJ"), req)


def datetime_(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    """Date and time (ISO 8601, minutes; Berlin time unless an offset is given)."""
    s = {"type": "string",
         "pattern": ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?"
                     "(Z|[+-][0-9]{2}:[0-9]{2})?$"),
         **_base(de, en, "JJJJ-MM-TTTHH:MM", "YYYY-MM-DDTHH:MM")}
    return Fld(name, s, _ui("datetime", "Datum und Uhrzeit"), req)


def boolean(name: str, de: str, en: str, *, req: bool = False, must_be_true: bool = False,
            help_de: str | None = None, help_en: str | None = None) -> Fld:
    s: dict[str, Any] = {"type": "boolean", **_base(de, en, help_de, help_en)}
    if must_be_true:
        s["const"] = True
        s["x-messages"] = {"const": {"de": "Muss bestätigt werden", "en": "Must be confirmed"}}
    return Fld(name, s, _ui("checkbox" if must_be_true else "radio"), req)


def integer(name: str, de: str, en: str, lo: int, hi: int, *, req: bool = False,
            help_de: str | None = None, help_en: str | None = None) -> Fld:
    s = {"type": "integer", "minimum": lo, "maximum": hi, **_base(de, en, help_de, help_en)}
    return Fld(name, s, _ui("updown"), req)


def eur(name: str, de: str, en: str, *, req: bool = False, positive: bool = False,
        maximum: int | None = None) -> Fld:
    """V-10: amount in EUR, >= 0, at most 2 decimals, at most 1 000 000."""
    s: dict[str, Any] = {"type": "number", "format": "eur", **_base(de, en, None, None)}
    if positive:
        s["exclusiveMinimum"] = 0
    else:
        s["minimum"] = 0
    s["maximum"] = maximum or 1_000_000
    return Fld(name, s, _ui(None, "Betrag in Euro, z. B. 1250.50"), req)


Option = tuple[str, str, str]  # (code, German label, English label)


def _labels(options: list[Option]) -> dict:
    return {"de": {c: de for c, de, _ in options}, "en": {c: en for c, _, en in options}}


def enum(name: str, de: str, en: str, options: list[Option], *, req: bool = False,
         widget: str | None = None, help_de: str | None = None,
         help_en: str | None = None) -> Fld:
    """V-13: one exact code from the list."""
    s = {"type": "string", "enum": [c for c, _, _ in options], "x-enum-labels": _labels(options),
         **_base(de, en, help_de, help_en)}
    return Fld(name, s, _ui(widget or ("radio" if len(options) <= 4 else "select")), req)


def multi(name: str, de: str, en: str, options: list[Option], *, req: bool = False,
          min_items: int = 1, help_de: str | None = None, help_en: str | None = None) -> Fld:
    """V-13 for multi-select: unique codes from the list."""
    s = {"type": "array", "items": {"type": "string", "enum": [c for c, _, _ in options]},
         "uniqueItems": True, "minItems": min_items, "x-enum-labels": _labels(options),
         **_base(de, en, help_de, help_en)}
    return Fld(name, s, _ui("checkboxes"), req)


def office(name: str, de: str, en: str, *, req: bool = False, not_code: str | None = None,
           help_de: str | None = None, help_en: str | None = None) -> Fld:
    """V-12: an active office code of the registry."""
    s: dict[str, Any] = {"type": "string", "format": "office-code",
                         "pattern": "^[A-Z][A-Z0-9_]{1,15}$", **_base(de, en, help_de, help_en)}
    if not_code:
        s["not"] = {"const": not_code}
        s["x-messages"] = {"not": {"de": "Nicht die eigene Stelle", "en": "Not your own office"}}
    return Fld(name, s, _ui("office"), req)


def offices_list(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "array", "items": {"type": "string", "format": "office-code",
                                     "pattern": "^[A-Z][A-Z0-9_]{1,15}$"},
         "uniqueItems": True, "minItems": 1, **_base(de, en, None, None)}
    return Fld(name, s, _ui("offices"), req)


def language(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "string", "format": "language", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
         **_base(de, en, "Sprachcode (BCP 47) aus der Liste, z. B. ar, fa, uk.",
                 "Language code (BCP 47) from the list, e.g. ar, fa, uk.")}
    return Fld(name, s, _ui("language"), req)


def languages(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "array", "minItems": 1, "uniqueItems": True,
         "items": {"type": "string", "format": "language",
                   "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"},
         **_base(de, en, "Sprachcodes (BCP 47), z. B. ar, fa.", "Language codes (BCP 47).")}
    return Fld(name, s, _ui("languages"), req)


def nationality(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "string", "format": "nationality", "pattern": "^[A-Z]{3}$",
         **_base(de, en, "ISO-3166-Code (3 Buchstaben); XXA staatenlos, XXX ungeklärt.",
                 "ISO 3166 code (3 letters); XXA stateless, XXX unclarified.")}
    return Fld(name, s, _ui("select"), req)


def phone(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "string", "format": "phone", "pattern": "^\\+?[0-9][0-9 ()/-]{5,19}$",
         **_base(de, en, "z. B. +49 521 123456", "e.g. +49 521 123456")}
    return Fld(name, s, _ui("tel"), req)


def email(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "string", "format": "email", "maxLength": 254, **_base(de, en, None, None)}
    return Fld(name, s, _ui("email"), req)


def postcode(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "string", "format": "postcode-de", "pattern": "^[0-9]{5}$",
         **_base(de, en, "5 Ziffern", "5 digits")}
    return Fld(name, s, {}, req)


def document_ref(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    """V-14: a stored upload (PDF/JPEG/PNG, at most 10 MB; the upload endpoint checks size)."""
    s = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\\.(pdf|jpe?g|png)$",
         "x-file": {"accept": ["application/pdf", "image/jpeg", "image/png"],
                    "max_bytes": 10 * 1024 * 1024},
         **_base(de, en, "PDF, JPEG oder PNG, höchstens 10 MB.",
                 "PDF, JPEG or PNG, at most 10 MB.")}
    return Fld(name, s, _ui("file"), req)


def items(name: str, de: str, en: str, fields: list[Fld], *, req: bool = False,
          min_items: int = 0, max_items: int = 50, rules: list[dict] | None = None) -> Fld:
    """A list of objects (goals, children, contact attempts)."""
    obj: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: f.schema for f in fields},
        "required": [f.name for f in fields if f.required],
        "additionalProperties": False,
    }
    if rules:
        obj["allOf"] = rules
    s = {"type": "array", "items": obj, "maxItems": max_items, **_base(de, en, None, None)}
    if min_items:
        s["minItems"] = min_items
    ui = {"items": {f.name: f.ui for f in fields if f.ui}}
    return Fld(name, s, ui, req)


def text_list(name: str, de: str, en: str, *, max_items: int = 20, max_len: int = 200,
              req: bool = False) -> Fld:
    s = {"type": "array", "minItems": 1, "maxItems": max_items,
         "items": {"type": "string", "minLength": 1, "maxLength": max_len, "pattern": "\\S"},
         **_base(de, en, None, None)}
    return Fld(name, s, {}, req)


def when(name: str, value: Any, *, require: Iterable[str] = (), props: dict | None = None,
         otherwise_require: Iterable[str] = (), otherwise_props: dict | None = None) -> dict:
    """``if name == value (or in value, for a list/tuple) then require ...`` (if/then/else)."""
    cond = {"enum": list(value)} if isinstance(value, (list, tuple)) else {"const": value}
    rule: dict[str, Any] = {"if": {"properties": {name: cond}, "required": [name]}}
    then: dict[str, Any] = {}
    if require:
        then["required"] = list(require)
    if props:
        then["properties"] = props
    rule["then"] = then
    other: dict[str, Any] = {}
    if otherwise_require:
        other["required"] = list(otherwise_require)
    if otherwise_props:
        other["properties"] = otherwise_props
    if other:
        rule["else"] = other
    return rule


@dataclass
class Form:
    """A form definition: rendered to ``<slug>-schema.json`` and ``<slug>-uischema.json``."""

    slug: str
    title: Labels
    description: Labels
    fields: list[Fld]
    rules: list[dict] = field(default_factory=list)
    any_of: list[list[str]] = field(default_factory=list)
    dependent_required: dict[str, list[str]] = field(default_factory=dict)

    @property
    def schema_file(self) -> str:
        return f"{self.slug}-schema.json"

    @property
    def ui_file(self) -> str:
        return f"{self.slug}-uischema.json"

    def schema(self) -> dict:
        out: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:lotse:form:{self.slug}",
            "title": self.title[0],
            "x-title-en": self.title[1],
            "description": self.description[0],
            "x-description-en": self.description[1],
            "type": "object",
            "additionalProperties": False,
            "required": [f.name for f in self.fields if f.required],
            "properties": {f.name: f.schema for f in self.fields},
        }
        if self.dependent_required:
            out["dependentRequired"] = self.dependent_required
        rules = list(self.rules)
        if self.any_of:
            rules.append({"anyOf": [{"required": r} for r in self.any_of]})
        if rules:
            out["allOf"] = rules
        return out

    def ui_schema(self) -> dict:
        out: dict[str, Any] = {"ui:order": [f.name for f in self.fields]}
        for f in self.fields:
            if f.ui:
                out[f.name] = f.ui
        if self.fields:
            first = out.setdefault(self.fields[0].name, {})
            first["ui:autofocus"] = True
        return out


def acknowledge_form(slug: str, title: Labels, description: Labels) -> Form:
    """The form of a reminder or escalation task: what was done about it."""
    return Form(slug, title, description, [
        enum("action_taken", "Ergriffene Maßnahme", "Action taken", [
            ("contacted", "Stelle/Person kontaktiert", "Office/person contacted"),
            ("rescheduled", "Neuer Termin vereinbart", "New date agreed"),
            ("escalated", "Weitergegeben an Leitung/Koordination", "Passed to lead/coordination"),
            ("no_action", "Keine Maßnahme nötig", "No action needed"),
        ], req=True),
        date("action_date", "Datum der Maßnahme", "Date of the action", req=True, past=True),
        text("action_note", "Notiz", "Note", max_len=1000,
             ui_help="Nur zweckbezogene Angaben, keine Gesundheitsdaten."),
    ])


# ================================================================================================
# BPMN: a compact process description, auto-layout and XML rendering
# ================================================================================================

@dataclass
class Node:
    """A flow node (task, event, gateway, subprocess) in a process or subprocess."""

    id: str
    kind: str  # userTask scriptTask businessRuleTask callActivity subProcess startEvent endEvent
    #            intermediateThrowEvent intermediateCatchEvent boundaryEvent exclusiveGateway
    #            parallelGateway
    name: str | None = None
    lane: str | None = None
    doc: str | None = None
    props: dict[str, str] = field(default_factory=dict)
    instructions: str | None = None
    script: str | None = None
    form: Form | None = None
    event: dict | None = None  # {"type": "message"/"timer"/"terminate", ...}
    attached_to: str | None = None
    interrupting: bool = True
    loop: dict | None = None
    body: Container | None = None
    called: str | None = None
    decision: str | None = None
    default: str | None = None
    triggered: bool = False  # event subprocess


@dataclass
class Flow:
    id: str
    src: str
    dst: str
    cond: str | None = None
    name: str | None = None


ACTIVITIES = {"userTask", "scriptTask", "businessRuleTask", "callActivity", "subProcess"}


class Container:
    """A process or an embedded subprocess body: nodes and sequence flows."""

    def __init__(self, proc: Process | None, lane: str | None) -> None:
        self.proc = proc if proc is not None else self  # type: ignore[assignment]
        self.lane = lane
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []

    # --- nodes ----------------------------------------------------------------------------------
    def _add(self, node: Node) -> Node:
        if node.lane is None:
            node.lane = self.lane
        root: Process = self.proc  # type: ignore[assignment]
        if node.id in root.ids:
            raise ValueError(f"{root.id}: duplicate element id {node.id}")
        root.ids.add(node.id)
        self.nodes[node.id] = node
        return node

    def _activity(self, node: Node, basis: str, rag: str) -> Node:
        node.props = {"handlungsgrundlage": basis, "rag": rag, **node.props}
        return self._add(node)

    def start(self, id: str, name: str | None = None, *, message: str | None = None,
              var: str | None = None, timer: tuple[str, str] | None = None,
              interrupting: bool = True, doc: str | None = None) -> Node:
        event = None
        if message:
            event = {"type": "message", "message": message, "var": var}
        elif timer:
            event = {"type": "timer", "kind": timer[0], "expr": timer[1]}
        return self._add(Node(id, "startEvent", name, event=event, interrupting=interrupting,
                              doc=doc))

    def end(self, id: str, name: str | None = None, *, terminate: bool = False,
            message: str | None = None, payload: str | None = None, doc: str | None = None,
            lane: str | None = None) -> Node:
        event = None
        if terminate:
            event = {"type": "terminate"}
        elif message:
            event = {"type": "message", "message": message, "payload": payload}
        return self._add(Node(id, "endEvent", name, event=event, doc=doc, lane=lane))

    def user(self, id: str, name: str, form: Form, *, doc: str, basis: str, rag: str,
             lane: str | None = None, instructions: str | None = None, due: str | None = None,
             props: dict[str, str] | None = None, loop: dict | None = None) -> Node:
        p = {"formJsonSchemaFilename": form.schema_file, "formUiSchemaFilename": form.ui_file}
        if due:
            p["due"] = due
        p.update(props or {})
        node = Node(id, "userTask", name, lane=lane, doc=doc, props=p,
                    instructions=instructions, form=form, loop=loop)
        return self._activity(node, basis, rag)

    def script(self, id: str, name: str, script: str, *, doc: str, basis: str,
               rag: str = "Information empfangen", lane: str | None = None) -> Node:
        return self._activity(Node(id, "scriptTask", name, lane=lane, doc=doc, script=script),
                              basis, rag)

    def rule(self, id: str, name: str, decision: str, *, doc: str, basis: str,
             rag: str = "Materielle Prüfung", lane: str | None = None) -> Node:
        return self._activity(Node(id, "businessRuleTask", name, lane=lane, doc=doc,
                                   decision=decision), basis, rag)

    def call(self, id: str, name: str, called: str, *, doc: str, basis: str, rag: str,
             lane: str | None = None, loop: dict | None = None) -> Node:
        return self._activity(Node(id, "callActivity", name, lane=lane, doc=doc, called=called,
                                   loop=loop), basis, rag)

    def sub(self, id: str, name: str, *, doc: str, basis: str, rag: str,
            lane: str | None = None, loop: dict | None = None,
            triggered: bool = False) -> Container:
        """An embedded subprocess (``triggered``: an event subprocess). Nodes inside take the
        container's lane unless given their own (Lotse's deploy keeps a child's own lane)."""
        node = Node(id, "subProcess", name, lane=lane or self.lane, doc=doc, loop=loop,
                    triggered=triggered)
        self._activity(node, basis, rag)
        node.body = Container(self.proc, lane or self.lane)
        node.body.owner = node  # type: ignore[attr-defined]
        return node.body

    def xgw(self, id: str, name: str | None = None, default: str | None = None) -> Node:
        return self._add(Node(id, "exclusiveGateway", name, default=default))

    def pgw(self, id: str, name: str | None = None) -> Node:
        return self._add(Node(id, "parallelGateway", name))

    def throw(self, id: str, name: str, message: str, payload: str, *,
              lane: str | None = None, doc: str | None = None) -> Node:
        return self._add(Node(id, "intermediateThrowEvent", name, lane=lane, doc=doc,
                              event={"type": "message", "message": message,
                                     "payload": payload}))

    def catch(self, id: str, name: str, message: str, var: str, *, lane: str | None = None,
              doc: str | None = None) -> Node:
        return self._add(Node(id, "intermediateCatchEvent", name, lane=lane, doc=doc,
                              event={"type": "message", "message": message, "var": var}))

    def wait(self, id: str, name: str, kind: str, expr: str, *, lane: str | None = None,
             doc: str | None = None) -> Node:
        """An intermediate timer: kind is timeDate, timeDuration or timeCycle."""
        return self._add(Node(id, "intermediateCatchEvent", name, lane=lane, doc=doc,
                              event={"type": "timer", "kind": kind, "expr": expr}))

    def boundary_timer(self, id: str, name: str, host: str, kind: str, expr: str, *,
                       interrupting: bool = False, doc: str | None = None) -> Node:
        return self._add(Node(id, "boundaryEvent", name, attached_to=host, doc=doc,
                              interrupting=interrupting,
                              event={"type": "timer", "kind": kind, "expr": expr},
                              lane=self.nodes[host].lane))

    def boundary_message(self, id: str, name: str, host: str, message: str, var: str, *,
                         interrupting: bool = True, doc: str | None = None) -> Node:
        return self._add(Node(id, "boundaryEvent", name, attached_to=host, doc=doc,
                              interrupting=interrupting,
                              event={"type": "message", "message": message, "var": var},
                              lane=self.nodes[host].lane))

    # --- flows ----------------------------------------------------------------------------------
    def flow(self, src: str, dst: str, cond: str | None = None, *, name: str | None = None,
             default: bool = False) -> Flow:
        fid = f"Flow_{src}_{dst}"
        root: Process = self.proc  # type: ignore[assignment]
        if fid in root.ids:
            raise ValueError(f"{root.id}: duplicate flow {fid}")
        root.ids.add(fid)
        f = Flow(fid, src, dst, cond, name)
        self.flows.append(f)
        if default:
            self.nodes[src].default = fid
        return f

    def chain(self, *ids: str) -> None:
        for a, b in zip(ids, ids[1:], strict=False):
            self.flow(a, b)


class Process(Container):
    """An executable process with its lanes (office codes) and participant name."""

    def __init__(self, id: str, name: str, doc: str, lanes: list[str], *,
                 participant: str | None = None, lane_names: dict[str, str] | None = None,
                 lane_props: dict[str, dict[str, str]] | None = None) -> None:
        self.ids: set[str] = set()
        super().__init__(None, lanes[0])
        self.proc = self
        self.id = id
        self.name = name
        self.doc = doc
        self.lanes = lanes
        self.lane_names = lane_names or {}
        self.lane_props = lane_props or {}
        self.participant = participant or name
        self.outputs: list[str] = []

    def forms(self) -> list[Form]:
        out: dict[str, Form] = {}

        def walk(c: Container) -> None:
            for n in c.nodes.values():
                if n.form is not None:
                    out.setdefault(n.form.slug, n.form)
                if n.body is not None:
                    walk(n.body)

        walk(self)
        return list(out.values())

    def messages(self) -> list[str]:
        names: list[str] = []

        def walk(c: Container) -> None:
            for n in c.nodes.values():
                if n.event and n.event.get("type") == "message" and n.event["message"] not in names:
                    names.append(n.event["message"])
                if n.body is not None:
                    walk(n.body)

        walk(self)
        return names


# --- layout -------------------------------------------------------------------------------------

SIZES = {
    "userTask": (100, 80), "scriptTask": (100, 80), "businessRuleTask": (100, 80),
    "callActivity": (100, 80), "subProcess": (100, 80), "startEvent": (36, 36),
    "endEvent": (36, 36), "intermediateThrowEvent": (36, 36),
    "intermediateCatchEvent": (36, 36), "boundaryEvent": (36, 36),
    "exclusiveGateway": (50, 50), "parallelGateway": (50, 50),
}
COL_W = 150
ROW_H = 120
LANE_LABEL = 30
POOL_LABEL = 30


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass
class Plane:
    """Shapes and edges of one diagram plane (the process or a collapsed subprocess)."""

    element: str
    shapes: dict[str, Box]
    edges: dict[str, list[tuple[float, float]]]
    lanes: dict[str, Box] = field(default_factory=dict)
    pool: Box | None = None


def _columns(c: Container) -> tuple[dict[str, int], set[str]]:
    """Longest-path column per node (boundary events share their host's), and back edges."""
    nodes = [n for n in c.nodes.values() if n.kind != "boundaryEvent" and not n.triggered]
    host_of = {n.id: n.attached_to for n in c.nodes.values() if n.kind == "boundaryEvent"}
    succ: dict[str, list[str]] = {n.id: [] for n in nodes}
    for f in c.flows:
        src = host_of.get(f.src, f.src)
        if src in succ and f.dst in succ:
            succ[src].append(f.dst)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}

    def dfs(u: str) -> None:
        state[u] = 1
        for v in succ[u]:
            if state.get(v) == 1:
                back.add((u, v))
            elif v not in state:
                dfs(v)
        state[u] = 2

    starts = [n.id for n in nodes if n.kind == "startEvent"] + [n.id for n in nodes]
    for s in starts:
        if s not in state:
            dfs(s)
    col = {n.id: 0 for n in nodes}
    order: list[str] = []
    seen: set[str] = set()

    def topo(u: str) -> None:
        seen.add(u)
        for v in succ[u]:
            if (u, v) not in back and v not in seen:
                topo(v)
        order.append(u)

    for s in starts:
        if s not in seen:
            topo(s)
    for u in reversed(order):
        for v in succ[u]:
            if (u, v) not in back:
                col[v] = max(col[v], col[u] + 1)
    back_flows = {f.id for f in c.flows if (host_of.get(f.src, f.src), f.dst) in back}
    return col, back_flows


def _layout(c: Container, element: str, lanes: list[str] | None) -> Plane:
    col, back_flows = _columns(c)
    host_of = {n.id: n.attached_to for n in c.nodes.values() if n.kind == "boundaryEvent"}
    lane_keys = lanes or [None]  # type: ignore[list-item]

    def lane_of(n: Node) -> str | None:
        if lanes is None:
            return None
        return n.lane if n.lane in lanes else lanes[0]

    placed: dict[str, tuple[str | None, int, int]] = {}  # id -> (lane, col, row)
    occupied: dict[tuple[str | None, int], set[int]] = {}
    preds: dict[str, list[tuple[str, int, bool]]] = {}
    outs: dict[str, list[str]] = {}
    for f in c.flows:
        if f.id in back_flows:
            continue
        src = host_of.get(f.src, f.src)
        outs.setdefault(f.src, []).append(f.dst)
        idx = outs[f.src].index(f.dst)
        preds.setdefault(f.dst, []).append((src, idx, f.src in host_of))
    ordered = sorted((n for n in c.nodes.values() if n.id in col),
                     key=lambda n: (col[n.id], list(c.nodes).index(n.id)))
    for n in ordered:
        ln = lane_of(n)
        pref = 0
        cands = []
        for p, idx, from_boundary in preds.get(n.id, []):
            if p in placed and placed[p][0] == ln:
                cands.append(placed[p][2] + idx + (1 if from_boundary else 0))
        if cands:
            pref = min(cands)
        used = occupied.setdefault((ln, col[n.id]), set())
        row = pref
        while row in used:
            row += 1
        used.add(row)
        placed[n.id] = (ln, col[n.id], row)
    # event subprocesses: a row of their own below everything in their lane
    extra_col: dict[str | None, int] = {}
    for n in c.nodes.values():
        if n.triggered:
            ln = lane_of(n)
            rows = [r for (l2, _), rs in occupied.items() if l2 == ln for r in rs]
            row = (max(rows) + 1) if rows else 0
            k = extra_col.get(ln, 0)
            extra_col[ln] = k + 1
            occupied.setdefault((ln, k), set()).add(row)
            placed[n.id] = (ln, k, row)
    # lane bands
    max_row = {ln: 0 for ln in lane_keys}
    for ln, _, row in placed.values():
        max_row[ln] = max(max_row.get(ln, 0), row)
    n_cols = max([cc for _, cc, _ in placed.values()] + [0]) + 1
    x0 = (POOL_LABEL + LANE_LABEL) if lanes else 0
    y = 0.0
    lane_boxes: dict[str, Box] = {}
    lane_y: dict[str | None, float] = {}
    width = n_cols * COL_W + 40
    for ln in lane_keys:
        h = (max_row.get(ln, 0) + 1) * ROW_H
        lane_y[ln] = y
        if lanes:
            lane_boxes[ln] = Box(POOL_LABEL, y, width + LANE_LABEL, h)
        y += h
    shapes: dict[str, Box] = {}
    for nid, (ln, cc, row) in placed.items():
        n = c.nodes[nid]
        w, h = SIZES[n.kind]
        cx = x0 + 20 + cc * COL_W + COL_W / 2
        cy = lane_y[ln] + row * ROW_H + ROW_H / 2
        shapes[nid] = Box(cx - w / 2, cy - h / 2, w, h)
    count: dict[str, int] = {}
    for n in c.nodes.values():
        if n.kind == "boundaryEvent":
            host = shapes[n.attached_to]  # type: ignore[index]
            i = count.get(n.attached_to, 0)  # type: ignore[arg-type]
            count[n.attached_to] = i + 1  # type: ignore[index]
            shapes[n.id] = Box(host.x + 10 + i * 42, host.bottom - 18, 36, 36)
    bottom = max([b.bottom for b in shapes.values()] + [y])
    edges: dict[str, list[tuple[float, float]]] = {}
    back_i = 0
    for f in c.flows:
        s, t = shapes[f.src], shapes[f.dst]
        sk, tk = c.nodes[f.src].kind, c.nodes[f.dst].kind
        if f.id in back_flows:
            back_i += 1
            yb = bottom + 10 + 12 * back_i
            edges[f.id] = [(s.cx, s.bottom), (s.cx, yb), (t.cx, yb), (t.cx, t.bottom)]
        elif sk == "boundaryEvent":
            edges[f.id] = [(s.cx, s.bottom), (s.cx, t.cy), (t.x, t.cy)]
        elif abs(s.cy - t.cy) < 1:
            edges[f.id] = [(s.right, s.cy), (t.x, t.cy)]
        elif sk.endswith("Gateway"):
            sy = s.bottom if t.cy > s.cy else s.y
            edges[f.id] = [(s.cx, sy), (s.cx, t.cy), (t.x, t.cy)]
        elif tk.endswith("Gateway"):
            ty = t.y if s.cy < t.cy else t.bottom
            edges[f.id] = [(s.right, s.cy), (t.cx, s.cy), (t.cx, ty)]
        else:
            mx = t.x - 20
            edges[f.id] = [(s.right, s.cy), (mx, s.cy), (mx, t.cy), (t.x, t.cy)]
    pool = None
    if lanes:
        pool = Box(0, 0, width + LANE_LABEL + POOL_LABEL, y)
        # back edges below the last lane would leave the pool: grow the last lane and the pool
        if bottom + 12 * back_i + 20 > y:
            extra = bottom + 12 * back_i + 20 - y
            last = lane_boxes[lane_keys[-1]]
            last.h += extra
            pool.h += extra
    return Plane(element, shapes, edges, lane_boxes, pool)


# --- XML ----------------------------------------------------------------------------------------

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)


def _attr(v: str) -> str:
    return quoteattr(v)


def _num(v: float) -> str:
    return str(int(round(v)))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)


def _message_id(name: str) -> str:
    return f"Message_{name}"


def _event_xml(w: _Writer, d: int, n: Node) -> None:
    ev = n.event
    if not ev:
        return
    if ev["type"] == "terminate":
        w(d, f'<bpmn:terminateEventDefinition id="{n.id}_def" />')
    elif ev["type"] == "message":
        w(d, f'<bpmn:messageEventDefinition id="{n.id}_def" '
             f'messageRef="{_message_id(ev["message"])}">')
        w(d + 1, "<bpmn:extensionElements>")
        if ev.get("payload"):
            w(d + 2, f"<spiffworkflow:messagePayload>{escape(ev['payload'])}"
                     "</spiffworkflow:messagePayload>")
        if ev.get("var"):
            w(d + 2, f"<spiffworkflow:messageVariable>{escape(ev['var'])}"
                     "</spiffworkflow:messageVariable>")
        w(d + 1, "</bpmn:extensionElements>")
        w(d, "</bpmn:messageEventDefinition>")
    elif ev["type"] == "timer":
        w(d, f'<bpmn:timerEventDefinition id="{n.id}_def">')
        w(d + 1, f'<bpmn:{ev["kind"]} xsi:type="bpmn:tFormalExpression">{escape(ev["expr"])}'
                 f'</bpmn:{ev["kind"]}>')
        w(d, "</bpmn:timerEventDefinition>")


def _ext_xml(w: _Writer, d: int, n: Node) -> None:
    props = {k: v for k, v in n.props.items() if not k.startswith("x-")}
    if not (props or n.instructions or n.decision):
        return
    w(d, "<bpmn:extensionElements>")
    if n.instructions:
        w(d + 1, f"<spiffworkflow:instructionsForEndUser>{escape(n.instructions)}"
                 "</spiffworkflow:instructionsForEndUser>")
    if n.decision:
        w(d + 1, f"<spiffworkflow:calledDecisionId>{escape(n.decision)}"
                 "</spiffworkflow:calledDecisionId>")
    if props:
        w(d + 1, "<spiffworkflow:properties>")
        for k, v in props.items():
            w(d + 2, f'<spiffworkflow:property name={_attr(k)} value={_attr(v)} />')
        w(d + 1, "</spiffworkflow:properties>")
    w(d, "</bpmn:extensionElements>")


def _loop_xml(w: _Writer, d: int, n: Node) -> None:
    lp = n.loop
    if not lp:
        return
    if lp["type"] == "standard":
        w(d, f'<bpmn:standardLoopCharacteristics id="{n.id}_loop" testBefore="false" '
             f'loopMaximum="{lp.get("maximum", 100)}">')
        w(d + 1, f'<bpmn:loopCondition xsi:type="bpmn:tFormalExpression">'
                 f'{escape(lp["condition"])}</bpmn:loopCondition>')
        w(d, "</bpmn:standardLoopCharacteristics>")
        return
    seq = "true" if lp["type"] == "sequential" else "false"
    w(d, f'<bpmn:multiInstanceLoopCharacteristics id="{n.id}_loop" isSequential="{seq}">')
    w(d + 1, f'<bpmn:loopDataInputRef>{lp["input"]}</bpmn:loopDataInputRef>')
    if lp.get("output"):
        w(d + 1, f'<bpmn:loopDataOutputRef>{lp["output"]}</bpmn:loopDataOutputRef>')
    w(d + 1, f'<bpmn:inputDataItem id="{lp["item"]}" name="{lp["item"]}" />')
    if lp.get("output_item"):
        w(d + 1, f'<bpmn:outputDataItem id="{lp["output_item"]}" name="{lp["output_item"]}" />')
    w(d, "</bpmn:multiInstanceLoopCharacteristics>")


def _node_xml(w: _Writer, d: int, n: Node, c: Container) -> None:
    attrs = f'id="{n.id}"'
    if n.name:
        attrs += f" name={_attr(n.name)}"
    kind = n.kind
    if kind == "scriptTask":
        attrs += ' scriptFormat="python"'
    elif kind == "callActivity":
        attrs += f' calledElement="{n.called}"'
    elif kind == "boundaryEvent":
        attrs += f' attachedToRef="{n.attached_to}"'
        if not n.interrupting:
            attrs += ' cancelActivity="false"'
    elif kind == "startEvent" and not n.interrupting:
        attrs += ' isInterrupting="false"'
    elif kind == "subProcess" and n.triggered:
        attrs += ' triggeredByEvent="true"'
    if n.default:
        attrs += f' default="{n.default}"'
    w(d, f"<bpmn:{kind} {attrs}>")
    if n.doc:
        w(d + 1, f"<bpmn:documentation>{escape(n.doc)}</bpmn:documentation>")
    _ext_xml(w, d + 1, n)
    for f in c.flows:
        if f.dst == n.id:
            w(d + 1, f"<bpmn:incoming>{f.id}</bpmn:incoming>")
    for f in c.flows:
        if f.src == n.id:
            w(d + 1, f"<bpmn:outgoing>{f.id}</bpmn:outgoing>")
    _loop_xml(w, d + 1, n)
    _event_xml(w, d + 1, n)
    if n.script is not None:
        w(d + 1, f"<bpmn:script>{escape(n.script)}</bpmn:script>")
    if n.body is not None:
        _container_xml(w, d + 1, n.body)
    w(d, f"</bpmn:{kind}>")


def _container_xml(w: _Writer, d: int, c: Container) -> None:
    for n in c.nodes.values():
        _node_xml(w, d, n, c)
    for f in c.flows:
        attrs = f'id="{f.id}"'
        if f.name:
            attrs += f" name={_attr(f.name)}"
        attrs += f' sourceRef="{f.src}" targetRef="{f.dst}"'
        if f.cond:
            w(d, f"<bpmn:sequenceFlow {attrs}>")
            w(d + 1, f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                     f"{escape(f.cond)}</bpmn:conditionExpression>")
            w(d, "</bpmn:sequenceFlow>")
        else:
            w(d, f"<bpmn:sequenceFlow {attrs} />")


def _lane_members(p: Process) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {ln: [] for ln in p.lanes}

    def walk(c: Container) -> None:
        for n in c.nodes.values():
            if n.lane in members:
                members[n.lane].append(n.id)
            if n.body is not None:
                walk(n.body)

    walk(p)
    return members


def _planes(p: Process) -> list[Plane]:
    planes = [_layout(p, f"Collaboration_{p.id}", p.lanes)]

    def walk(c: Container) -> None:
        for n in c.nodes.values():
            if n.body is not None:
                planes.append(_layout(n.body, n.id, None))
                walk(n.body)

    walk(p)
    return planes


def _subprocess_ids(p: Process) -> set[str]:
    out: set[str] = set()

    def walk(c: Container) -> None:
        for n in c.nodes.values():
            if n.body is not None:
                out.add(n.id)
                walk(n.body)

    walk(p)
    return out


def render_process(p: Process) -> str:
    """The BPMN 2.0 XML of a process, with a collaboration, lanes and diagram planes."""
    w = _Writer()
    w(0, '<?xml version="1.0" encoding="UTF-8"?>')
    w(0, f'<bpmn:definitions {NS} id="Definitions_{p.id}" '
         f'targetNamespace="https://lotse.example/bpmn/{p.id}" '
         'exporter="Lotse catalogue generator (processes/catalogue.py)" exporterVersion="1">')
    for m in p.messages():
        w(1, f'<bpmn:message id="{_message_id(m)}" name="{m}" />')
    w(1, f'<bpmn:collaboration id="Collaboration_{p.id}">')
    w(2, f'<bpmn:participant id="Participant_{p.id}" name={_attr(p.participant)} '
         f'processRef="{p.id}" />')
    w(1, "</bpmn:collaboration>")
    w(1, f'<bpmn:process id="{p.id}" name={_attr(p.name)} isExecutable="true">')
    w(2, f"<bpmn:documentation>{escape(p.doc)}</bpmn:documentation>")
    if p.outputs:
        w(2, f'<bpmn:ioSpecification id="IoSpec_{p.id}">')
        for o in p.outputs:
            w(3, f'<bpmn:dataOutput id="{o}" name="{o}" />')
        w(3, '<bpmn:inputSet id="InputSet_1" />')
        w(3, '<bpmn:outputSet id="OutputSet_1">')
        for o in p.outputs:
            w(4, f"<bpmn:dataOutputRefs>{o}</bpmn:dataOutputRefs>")
        w(3, "</bpmn:outputSet>")
        w(2, "</bpmn:ioSpecification>")
    w(2, f'<bpmn:laneSet id="LaneSet_{p.id}">')
    members = _lane_members(p)
    for ln in p.lanes:
        w(3, f'<bpmn:lane id="Lane_{ln}" name={_attr(p.lane_names.get(ln, ln))}>')
        w(4, "<bpmn:extensionElements>")
        w(5, "<spiffworkflow:properties>")
        props = {"office": ln, **p.lane_props.get(ln, {})}
        for k, v in props.items():
            w(6, f'<spiffworkflow:property name={_attr(k)} value={_attr(v)} />')
        w(5, "</spiffworkflow:properties>")
        w(4, "</bpmn:extensionElements>")
        for m in members[ln]:
            w(4, f"<bpmn:flowNodeRef>{m}</bpmn:flowNodeRef>")
        w(3, "</bpmn:lane>")
    w(2, "</bpmn:laneSet>")
    _container_xml(w, 2, p)
    w(1, "</bpmn:process>")
    subs = _subprocess_ids(p)
    for i, plane in enumerate(_planes(p)):
        w(1, f'<bpmndi:BPMNDiagram id="BPMNDiagram_{plane.element}">')
        w(2, f'<bpmndi:BPMNPlane id="BPMNPlane_{plane.element}" bpmnElement="{plane.element}">')
        if i == 0 and plane.pool is not None:
            b = plane.pool
            w(3, f'<bpmndi:BPMNShape id="Participant_{p.id}_di" bpmnElement="Participant_{p.id}" '
                 'isHorizontal="true">')
            w(4, f'<dc:Bounds x="{_num(b.x)}" y="{_num(b.y)}" width="{_num(b.w)}" '
                 f'height="{_num(b.h)}" />')
            w(3, "</bpmndi:BPMNShape>")
            for ln, b in plane.lanes.items():
                w(3, f'<bpmndi:BPMNShape id="Lane_{ln}_di" bpmnElement="Lane_{ln}" '
                     'isHorizontal="true">')
                w(4, f'<dc:Bounds x="{_num(b.x)}" y="{_num(b.y)}" width="{_num(b.w)}" '
                     f'height="{_num(b.h)}" />')
                w(3, "</bpmndi:BPMNShape>")
        for nid, b in plane.shapes.items():
            extra = ""
            if nid in subs:
                extra = ' isExpanded="false"'
            w(3, f'<bpmndi:BPMNShape id="{nid}_di" bpmnElement="{nid}"{extra}>')
            w(4, f'<dc:Bounds x="{_num(b.x)}" y="{_num(b.y)}" width="{_num(b.w)}" '
                 f'height="{_num(b.h)}" />')
            w(3, "</bpmndi:BPMNShape>")
        for fid, pts in plane.edges.items():
            w(3, f'<bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}">')
            for x, y in pts:
                w(4, f'<di:waypoint x="{_num(x)}" y="{_num(y)}" />')
            w(3, "</bpmndi:BPMNEdge>")
        w(2, "</bpmndi:BPMNPlane>")
        w(1, "</bpmndi:BPMNDiagram>")
    w(0, "</bpmn:definitions>")
    return "\n".join(w.lines) + "\n"


def render_forms(p: Process) -> dict[str, str]:
    """Form files of a process: ``name -> JSON text``."""
    out: dict[str, str] = {}
    for f in p.forms():
        out[f.schema_file] = json.dumps(f.schema(), ensure_ascii=False, indent=2) + "\n"
        out[f.ui_file] = json.dumps(f.ui_schema(), ensure_ascii=False, indent=2) + "\n"
    return out


# ================================================================================================
# Shared vocabulary
# ================================================================================================

TINTG = "§ 9 TIntG NRW"
CONSENT_BASIS = "Art. 6 Abs. 1 lit. a, Art. 9 Abs. 2 lit. a DSGVO; § 67b SGB X"
RAG_IN = "Information empfangen"
RAG_OUT = "Information versenden"
RAG_FORMAL = "Formelle Prüfung"
RAG_CHECK = "Materielle Prüfung"
RAG_DECIDE = "Entscheidung treffen"
RAG_NOTICE = "Bescheid erstellen"
RAG_COOP = "Mitwirkung einholen"


def defaults(values: dict[str, str]) -> str:
    """Script lines giving optional form fields a value when they were never submitted
    (a name that is not in the task data would make every later expression fail)."""
    lines: list[str] = []
    for name, expr in values.items():
        lines += ["try:", f"    {name}", "except Exception:", f"    {name} = {expr}"]
    return "\n".join(lines)


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


CONTACT_CHANNELS: list[Option] = [
    ("in_person", "Persönlich", "In person"), ("phone", "Telefon", "Phone"),
    ("video", "Video", "Video"), ("home_visit", "Hausbesuch", "Home visit"),
    ("message", "Nachricht (Brief, E-Mail, Messenger)", "Message (letter, e-mail, messenger)"),
]
PROXY_CHANNELS: list[Option] = [
    ("email", "E-Mail", "E-mail"), ("letter", "Brief", "Letter"), ("phone", "Telefon", "Phone"),
    ("fax", "Fax", "Fax"), ("in_person", "Persönlich", "In person"),
]
CONSENT_FORMS: list[Option] = [
    ("schriftlich", "Schriftlich", "Written"), ("elektronisch", "Elektronisch", "Electronic"),
]
SIGNERS: list[Option] = [
    ("self", "Die Person selbst", "The person"),
    ("parent_guardian", "Sorgeberechtigte", "Parent with custody"),
    ("legal_guardian", "Vormund", "Legal guardian"),
    ("betreuer", "Rechtliche Betreuung", "Legal custodian (Betreuer)"),
]
INTERPRETERS: list[Option] = [
    ("none", "Kein Dolmetschen", "No interpreting"),
    ("professional_onsite", "Professionell vor Ort", "Professional on site"),
    ("professional_remote", "Professionell per Telefon/Video", "Professional remote"),
    ("volunteer", "Ehrenamtlich", "Volunteer"),
    ("family_member", "Familienangehörige", "Family member"),
]
OUTCOMES: list[Option] = [
    ("granted", "Bewilligt / erledigt", "Granted / done"),
    ("partially_granted", "Teilweise bewilligt", "Partially granted"),
    ("rejected", "Abgelehnt", "Rejected"),
    ("info_needed", "Unterlagen fehlen", "Documents missing"),
    ("appointment_scheduled", "Termin vereinbart", "Appointment scheduled"),
    ("no_action_needed", "Kein Handlungsbedarf", "No action needed"),
]
RESIDENCE_STATUSES: list[Option] = [
    ("aufenthaltsgestattung", "Aufenthaltsgestattung", "Permission to reside (asylum procedure)"),
    ("duldung", "Duldung", "Toleration (Duldung)"),
    ("aufenthaltserlaubnis", "Aufenthaltserlaubnis", "Residence permit"),
    ("niederlassungserlaubnis", "Niederlassungserlaubnis", "Settlement permit"),
    ("daueraufenthalt_eu", "Daueraufenthalt-EU", "EU long-term residence"),
    ("eu_freizuegigkeit", "EU-Freizügigkeit", "EU free movement"),
    ("visum", "Visum", "Visa"),
    ("fiktionsbescheinigung", "Fiktionsbescheinigung", "Fictional certificate"),
    ("ankunftsnachweis", "Ankunftsnachweis", "Proof of arrival"),
    ("ohne_status", "Ohne Status", "No status"),
    ("unbekannt", "Unbekannt", "Unknown"),
]
BENEFITS: list[Option] = [
    ("none", "Keine", "None"), ("asylblg", "AsylbLG", "AsylbLG"),
    ("sgb2", "Bürgergeld (SGB II)", "Citizen's income (SGB II)"),
    ("sgb12", "Sozialhilfe (SGB XII)", "Social assistance (SGB XII)"),
    ("sgb3", "Arbeitslosengeld (SGB III)", "Unemployment benefit (SGB III)"),
    ("bafoeg_bab", "BAföG / BAB", "BAföG / BAB"), ("other", "Sonstige", "Other"),
]
HANDLUNGSFELDER: list[Option] = [
    ("aufenthalt", "Aufenthalt", "Residence"), ("sprache", "Sprache", "Language"),
    ("arbeit_ausbildung", "Arbeit und Ausbildung", "Work and training"),
    ("wohnen", "Wohnen", "Housing"),
    ("schule_bildung", "Schule und Bildung", "School and education"),
    ("kita", "Kita", "Childcare"), ("gesundheit", "Gesundheit", "Health"),
    ("existenzsicherung", "Existenzsicherung", "Livelihood"),
    ("familie_jugend", "Familie und Jugend", "Family and youth"),
    ("orientierung", "Orientierung", "Orientation"), ("anerkennung", "Anerkennung", "Recognition"),
]
GOAL_STATUS: list[Option] = [
    ("achieved", "Erreicht", "Achieved"), ("partially", "Teilweise erreicht", "Partially achieved"),
    ("not_achieved", "Nicht erreicht", "Not achieved"), ("obsolete", "Hinfällig", "Obsolete"),
    ("open", "Offen", "Open"),
]
SCHOOL_FORMS: list[Option] = [
    ("grundschule", "Grundschule", "Primary school"),
    ("hauptschule", "Hauptschule", "Hauptschule"),
    ("realschule", "Realschule", "Realschule"),
    ("sekundarschule", "Sekundarschule", "Sekundarschule"),
    ("gesamtschule", "Gesamtschule", "Comprehensive school"),
    ("gymnasium", "Gymnasium", "Gymnasium"),
    ("foerderschule", "Förderschule", "Special needs school"),
    ("berufskolleg", "Berufskolleg", "Vocational college"),
]
PURPOSE_PATTERN = "^[A-Z][A-Z0-9_]{1,15}:[A-Z][A-Z0-9_]{0,63}$"


def purpose_field(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    s = {"type": "string", "pattern": PURPOSE_PATTERN,
         **_base(de, en, "Zweck im Format STELLE:ZWECK, z. B. JC:SGB2.",
                 "Purpose as OFFICE:PURPOSE, e.g. JC:SGB2.")}
    return Fld(name, s, _ui("purpose"), req)


def consent_fields() -> tuple[list[Fld], list[dict]]:
    """F2.3 "Einwilligung je Stelle": the consent record fields and their rules."""
    cats = [(c, de, en) for c, (de, en) in DATA_CATEGORIES.items() if c != "CM_NOTES"]
    fields = [
        boolean("consent_given", "Einwilligung erteilt", "Consent given", req=True,
                help_de="Nein, wenn die Person die Weitergabe ablehnt: die Vermittlung wird "
                        "dann nicht gesendet.",
                help_en="No if the person refuses: the referral is then not sent."),
        office("recipient_office", "Empfangende Stelle", "Receiving office"),
        purpose_field("consent_purpose", "Zweck", "Purpose"),
        multi("data_categories", "Datenkategorien", "Data categories", cats,
              help_de="Nur Kategorien, die für diesen Zweck zulässig sind (Matrix 5.3).",
              help_en="Only categories allowed for this purpose (matrix 5.3)."),
        boolean("includes_health", "Einschließlich Gesundheitsdaten (Art. 9 DSGVO)",
                "Including health data (Art. 9 GDPR)"),
        boolean("mutual_release", "Wechselseitige Schweigepflichtentbindung",
                "Mutual release from confidentiality"),
        date("valid_from", "Gültig ab", "Valid from", past=True),
        date("valid_until", "Gültig bis", "Valid until",
             help_de="Höchstens 24 Monate ab Beginn; üblich 12 Monate.",
             help_en="At most 24 months from the start; usually 12 months."),
        enum("consent_form", "Form der Einwilligung", "Form of consent", CONSENT_FORMS),
        enum("signed_by", "Unterschrieben von", "Signed by", SIGNERS),
        person_name("guardian_name", "Name der/des Sorgeberechtigten", "Name of the guardian"),
        language("consent_language", "Sprache der Einwilligung", "Language of the consent"),
        enum("interpreter_used", "Dolmetschung", "Interpreting", INTERPRETERS),
        boolean("informed_consequences_of_refusal", "Über Folgen der Verweigerung informiert",
                "Informed about the consequences of refusal"),
        document_ref("document_ref", "Unterschriebene Einwilligung", "Signed consent"),
    ]
    # data categories allowed per purpose (brief 5.3); anything else is refused (422)
    per_purpose = [
        {"if": {"properties": {"consent_purpose": {"const": purpose}},
                "required": ["consent_purpose"]},
         "then": {"properties": {"data_categories": {"items": {"enum": list(allowed)}}}}}
        for purpose, allowed in CATEGORY_MATRIX.items()
    ]
    rules = [
        when("consent_given", True, require=[
            "recipient_office", "consent_purpose", "data_categories", "includes_health",
            "mutual_release", "valid_from", "valid_until", "consent_form", "signed_by",
            "consent_language", "interpreter_used", "informed_consequences_of_refusal"],
            props={"informed_consequences_of_refusal": {
                "const": True, "x-messages": {"const": {
                    "de": "Über die Folgen der Verweigerung muss informiert werden",
                    "en": "The person must be informed about the consequences of refusal"}}}}),
        when("includes_health", True, props={"data_categories": {"contains": {"const": "HEALTH"},
             "x-messages": {"contains": {"de": "HEALTH muss ausgewählt sein",
                                         "en": "HEALTH must be selected"}}}}),
        when("signed_by", ["parent_guardian", "legal_guardian", "betreuer"],
             require=["guardian_name"]),
        when("consent_form", "schriftlich", require=["document_ref"]),
        *per_purpose,
    ]
    return fields, rules


CONSENT_RECORD = _lines(
    defaults({"guardian_name": "None", "document_ref": "None", "includes_health": "False",
              "mutual_release": "False"}),
    'new_consent = {"consent_id": new_id("E"), "recipient_office": recipient_office,',
    '               "purpose": consent_purpose, "data_categories": data_categories,',
    '               "includes_health": includes_health, "mutual_release": mutual_release,',
    '               "valid_from": valid_from, "valid_until": valid_until,',
    '               "form": consent_form, "signed_by": signed_by, "guardian_name": guardian_name,',
    '               "consent_language": consent_language, "interpreter_used": interpreter_used,',
    '               "informed_consequences_of_refusal": informed_consequences_of_refusal,',
    '               "document_ref": document_ref, "recorded_at": today(), "status": "active"}',
)


# ================================================================================================
# P0: referral protocol in the receiving office (one template, rendered per office)
# ================================================================================================

def _p0_office_fields(code: str) -> tuple[list[Fld], list[dict]]:
    """Office-specific result fields of "Anliegen bearbeiten" (they go back in ``result``)."""
    arrears = [
        enum("arrears_decision", "Entscheidung Mietschuldenübernahme",
             "Decision on assuming rent arrears", [
                 ("loan", "Darlehen", "Loan"), ("grant", "Zuschuss", "Grant"),
                 ("partial", "Teilweise", "Partial"), ("rejected", "Abgelehnt", "Rejected")],
             help_de="Nur bei Anfragen zur Mietschuldenübernahme (§ 22 Abs. 8 SGB II, "
                     "§ 36 SGB XII).",
             help_en="Only for requests to assume rent arrears."),
        eur("arrears_amount_assumed", "Übernommener Betrag", "Amount assumed", positive=True),
        date("uebernahmeerklaerung_date", "Datum der Übernahmeerklärung",
             "Date of the declaration of assumption", past=True),
    ]
    arrears_rules = [when("arrears_decision", ["loan", "grant", "partial"],
                          require=["arrears_amount_assumed", "uebernahmeerklaerung_date"])]
    if code == "ABH":
        return [
            date("permit_issue_date", "Titel erteilt am", "Permit issued on", past=True),
            date("permit_valid_until", "Titel gültig bis", "Permit valid until"),
            boolean("fiktion_issued", "Fiktionsbescheinigung ausgestellt",
                    "Fictional certificate issued"),
            boolean("wohnsitzauflage", "Wohnsitzauflage (§ 12a AufenthG)",
                    "Residence obligation (§ 12a AufenthG)"),
            text("wohnsitzauflage_municipality", "Gemeinde der Wohnsitzauflage",
                 "Municipality of the residence obligation", max_len=100),
            boolean("integration_course_obligation", "Verpflichtung zum Integrationskurs",
                    "Obliged to attend the integration course"),
        ], [when("wohnsitzauflage", True, require=["wohnsitzauflage_municipality"]),
            when("outcome", ["granted", "partially_granted"], require=["permit_valid_until"])]
    if code == "JC":
        return [
            date("jc_application_date", "Antrag gestellt am", "Application filed on", past=True),
            text("bg_number", "Nummer der Bedarfsgemeinschaft", "Benefit household number",
                 max_len=30),
            date("sgb2_benefit_start", "Leistungsbeginn SGB II", "Start of SGB II benefits"),
            boolean("integration_course_obligation", "Verpflichtung zum Integrationskurs "
                    "(§ 44a Abs. 1 Nr. 2 AufenthG)", "Obliged to attend the integration course"),
            *arrears,
        ], arrears_rules
    if code == "SOZ":
        return [
            date("asylblg_end_date", "AsylbLG-Leistungen enden am", "AsylbLG benefits end on"),
            enum("accommodation_status", "Unterbringung", "Accommodation", [
                ("stays", "Verbleibt vorerst", "Stays for now"),
                ("moves_out", "Auszug vereinbart", "Move-out agreed"),
                ("moved_out", "Ausgezogen", "Moved out"),
                ("not_applicable", "Nicht in kommunaler Unterkunft", "Not in municipal housing")]),
            *arrears,
        ], arrears_rules
    if code == "IKT":
        return [
            date("course_start_date", "Kursbeginn", "Course start"),
            enum("course_type", "Kursart", "Course type", [
                ("allgemein", "Allgemeiner Integrationskurs", "General course"),
                ("alphabetisierung", "Alphabetisierungskurs", "Literacy course"),
                ("jugend", "Jugendintegrationskurs", "Youth course"),
                ("eltern_frauen", "Eltern-/Frauenkurs", "Parents'/women's course"),
                ("intensiv", "Intensivkurs", "Intensive course")]),
            boolean("waiting_list", "Warteliste", "Waiting list"),
        ], []
    if code == "FK":
        return [
            text("kindergeld_start_month", "Kindergeld ab Monat", "Child benefit from month",
                 max_len=7, pattern="^[0-9]{4}-(0[1-9]|1[0-2])$",
                 help_de="Format JJJJ-MM", help_en="Format YYYY-MM"),
        ], []
    if code == "ORD":
        return [
            text("accommodation_address", "Unterkunft (Anschrift)", "Accommodation address",
                 max_len=200),
            date("accommodation_date", "Unterbringung ab", "Accommodated from"),
        ], [when("outcome", "granted", require=["accommodation_address", "accommodation_date"])]
    return [], []


def _proxy_fields() -> list[Fld]:
    return [
        enum("recorded_channel", "Antwort erhalten über", "Answer received by", PROXY_CHANNELS,
             req=True),
        date("recorded_received_on", "Antwort erhalten am", "Answer received on", req=True,
             past=True),
    ]


def p0_forms(o: Office) -> dict[str, Form]:
    code = o.code
    proxy = o.external
    extra = _proxy_fields() if proxy else []
    ack = Form(
        f"p0-eingang-{code.lower()}",
        ("Eingang bestätigen und Zuständigkeit prüfen",
         "Acknowledge receipt and check responsibility"),
        (f"Vermittlung an {o.name_de}: Eingang bestätigen oder an die zuständige Stelle "
         "weiterleiten (§ 16 SGB I).",
         f"Referral to {o.name_en}: acknowledge it or forward it to the responsible office "
         "(§ 16 SGB I)."),
        [
            *extra,
            boolean("responsible", "Stelle ist zuständig", "Office is responsible", req=True),
            text("office_reference", "Aktenzeichen", "File reference", max_len=50),
            date("expected_result_date", "Ergebnis voraussichtlich am", "Expected result on",
                 help_de="Heute oder später, höchstens 180 Tage.",
                 help_en="Today or later, at most 180 days."),
            office("suggested_office", "Zuständige Stelle", "Responsible office", not_code=code),
            text("not_responsible_reason", "Begründung", "Reason", min_len=10, max_len=500),
        ],
        rules=[when("responsible", True, require=["office_reference", "expected_result_date"],
                    otherwise_require=["suggested_office", "not_responsible_reason"])],
    )
    office_fields, office_rules = _p0_office_fields(code)
    work = Form(
        f"p0-bearbeiten-{code.lower()}",
        ("Anliegen bearbeiten", "Process the request"),
        (f"Ergebnis der Vermittlung ({o.name_de}). Nur zweckbezogene Angaben.",
         f"Result of the referral ({o.name_en}). Only information needed for the purpose."),
        [
            *extra,
            enum("outcome", "Ergebnis", "Outcome", OUTCOMES, req=True),
            date("decision_date", "Entscheidungsdatum", "Decision date", past=True),
            datetime_("next_appointment", "Nächster Termin", "Next appointment"),
            text_list("documents_missing", "Fehlende Unterlagen", "Missing documents"),
            date("required_by", "Nachzureichen bis", "To be provided by",
                 help_de="Ein Datum nach heute.", help_en="A date after today."),
            text("rejection_reason", "Ablehnungsgrund", "Reason for rejection", min_len=10,
                 max_len=1000),
            *office_fields,
            text("notes_for_cm", "Hinweise an das Fallmanagement", "Notes for the case manager",
                 max_len=1000, ui_help="Nur zweckbezogene Angaben."),
        ],
        rules=[
            when("outcome", ["granted", "partially_granted", "rejected", "no_action_needed"],
                 require=["decision_date"]),
            when("outcome", "appointment_scheduled", require=["next_appointment"]),
            when("outcome", "info_needed", require=["documents_missing", "required_by"]),
            when("outcome", "rejected", require=["rejection_reason"]),
            *office_rules,
        ],
    )
    close = Form(
        "p0-mitwirkung",
        ("Vermittlung wegen fehlender Mitwirkung abschließen",
         "Close the referral for lack of cooperation"),
        ("Die Frist zum Nachreichen ist seit 14 Tagen abgelaufen. Nach schriftlichem Hinweis "
         "auf die Mitwirkungspflicht (§ 66 SGB I) kann die Vermittlung abgelehnt werden.",
         "The deadline for documents passed 14 days ago. After a written notice on the duty "
         "to cooperate (§ 66 SGB I) the referral can be closed as rejected."),
        [
            boolean("close_referral", "Vermittlung jetzt ablehnen", "Reject the referral now",
                    req=True),
            date("notice_sent_date", "Hinweis auf Mitwirkungspflicht versandt am",
                 "Notice on the duty to cooperate sent on", past=True),
            text("close_reason", "Begründung", "Reason", min_len=10, max_len=1000),
        ],
        rules=[when("close_referral", True, require=["notice_sent_date", "close_reason"])],
    )
    remind = acknowledge_form("p0-erinnerung", ("Erinnerung: Ergebnis fällig",
                                                "Reminder: result due"),
                              ("Das Ergebnis der Vermittlung ist fällig.",
                               "The result of the referral is due."))
    escalate = acknowledge_form("p0-eskalation", ("Eskalation: Vermittlung überfällig",
                                                  "Escalation: referral overdue"),
                                ("Die Vermittlung ist seit dem Doppelten der Bearbeitungsfrist "
                                 "offen (Teamleitung).",
                                 "The referral has been open for twice the processing time "
                                 "(team lead)."))
    return {"ack": ack, "work": work, "close": close, "remind": remind, "escalate": escalate}


def _result_script(code: str, office_fields: list[Fld], proxy: bool) -> str:
    names = ["decision_date", "next_appointment", "documents_missing", "required_by",
             "rejection_reason", "notes_for_cm"] + [f.name for f in office_fields]
    if proxy:
        names += ["recorded_channel", "recorded_received_on"]
    keys = ", ".join(f'"{f.name}": {f.name}' for f in office_fields)
    return _lines(
        defaults({n: "None" for n in names}),
        f"result = {{{keys}}}" if keys else "result = {}",
        'referral_status = "info_requested" if outcome == "info_needed" else "in_progress"',
    )


P0_CLEAR_ROUND = [
    "outcome", "decision_date", "next_appointment", "documents_missing", "required_by",
    "rejection_reason", "notes_for_cm",
]


def build_referral_protocol(o: Office) -> Process:
    """P0 "Vermittlung bearbeiten" for office ``o`` (proxy mode when ``o.external``)."""
    code = o.code
    lane = "KIM_CM" if o.external else code
    forms = p0_forms(o)
    basis = o.legal_domain
    proxy_props = {"recorded_on_behalf_of": code} if o.external else {}
    prefix = "Antwort der Stelle erfassen: " if o.external else ""
    office_fields, _ = _p0_office_fields(code)
    p = Process(
        f"office_referral_{code.lower()}",
        f"Vermittlung bearbeiten – {o.name_de}",
        (f"Lokalprozess (ausführbar). Referral protocol (P0) in the receiving office {code} "
         f"({o.name_en}): acknowledge or forward (§ 16 SGB I), process the request with "
         "requests for documents, and report the result to KIM case management. Started by "
         "the message referral_sent whose payload names this office."
         + (" Proxy mode: the office does not log in; KIM case management records its "
            "answers on its behalf." if o.external else "")),
        [lane],
        participant=f"{o.name_de} ({code})",
        lane_props={lane: proxy_props} if o.external else None,
    )
    p.start("Msg_ReferralSent", "Vermittlung eingegangen", message="referral_sent",
            var="referral", doc="A referral from KIM case management arrives (referral_sent).")
    p.script("Task_SetDeadlines", "Fristen setzen", _lines(
        'referral_id = referral["referral_id"]',
        'case_id = referral.get("case_id")',
        f'office = referral.get("office") or "{code}"',
        'purpose = referral.get("purpose")',
        'requested_service = referral.get("requested_service") or ""',
        'urgency = referral.get("urgency") or "normal"',
        "received_at = today()",
        'sent_at = referral.get("sent_at") or received_at',
        f'due_ack = referral.get("due_ack") or referral_due("{code}", "ack", sent_at)',
        f'due_result = referral.get("due_result") or referral_due("{code}", "result", sent_at, '
        'urgency != "normal")',
        "escalate_at = add_days(sent_at, 2 * days_between(sent_at, due_result))",
        'original_receipt_date = referral.get("original_receipt_date") or received_at',
        'shared_data = referral.get("data") or {}',
        'referral_status = "sent"',
        "closed_no_cooperation = False",
        'outcome = "new"',
    ), doc="Take the referral's dates; the acknowledgement is due at due_ack, the result at "
           "due_result; the office escalates internally at sent + 2 x SLA.",
        basis=basis, rag=RAG_IN)
    p.user("Task_AckReferral", prefix + "Eingang bestätigen und Zuständigkeit prüfen",
           forms["ack"], due="due_ack", props=proxy_props,
           doc="Acknowledge receipt and state whether the office is responsible; if not, name "
               "the responsible office (the original receipt date still counts, § 16 SGB I).",
           instructions="Vermittlung {{ referral_id }} ({{ purpose }}): {{ requested_service }}. "
                        "Bitte bis {{ due_ack }} den Eingang bestätigen.",
           basis=f"{basis}; § 16 SGB I", rag=RAG_FORMAL)
    p.boundary_message("Bnd_WithdrawnAck", "Vermittlung zurückgenommen", "Task_AckReferral",
                       "referral_withdrawn", "withdrawal",
                       doc="KIM case management withdraws the referral: the task leaves the "
                           "queue.")
    p.xgw("Gw_Responsible", "Zuständig?", default="Flow_Gw_Responsible_End_Forwarded")
    p.end("End_Forwarded", "Vermittlung weitergeleitet", message="referral_forwarded",
          payload='{"referral_id": referral_id, "case_id": case_id, "office": office, '
                  '"suggested_office": suggested_office, "reason": not_responsible_reason, '
                  '"original_receipt_date": original_receipt_date}',
          doc="Not responsible: the referral is forwarded (referral_forwarded).")
    p.throw("Msg_Acknowledged", "Eingang bestätigt", "referral_acknowledged",
            '{"referral_id": referral_id, "case_id": case_id, "office": office, '
            '"ack_by": office, "ack_at": today(), "office_reference": office_reference, '
            '"expected_result_date": expected_result_date}',
            doc="Tell KIM case management the referral was received (stops its ack timers).")
    sub_rounds, sub_info = f"Sub_Rounds_{code}", f"Sub_AwaitInfo_{code}"
    rounds = p.sub(sub_rounds, prefix + "Anliegen bearbeiten",
                   doc="Process the request; every request for documents is one round "
                       "(a loop of subprocess rounds, not a back edge).",
                   basis=basis, rag=RAG_CHECK,
                   loop={"type": "standard", "maximum": 20,
                         "condition": 'outcome == "info_needed" and not closed_no_cooperation'})
    p.boundary_timer("Bnd_DueResult", "Ergebnis fällig", sub_rounds, "timeDate",
                     'iso_at(due_result, "08:00")',
                     doc="At due_result: reminder to the office (non-interrupting).")
    p.boundary_timer("Bnd_Escalate", "Doppelte Frist überschritten", sub_rounds, "timeDate",
                     'iso_at(escalate_at, "08:00")',
                     doc="At sent + 2 x SLA: escalation to the office's team lead.")
    p.boundary_message("Bnd_WithdrawnWork", "Vermittlung zurückgenommen", sub_rounds,
                       "referral_withdrawn", "withdrawal",
                       doc="KIM case management withdraws the referral while it is processed.")
    p.user("Task_RemindResult", prefix + "Erinnerung: Ergebnis fällig", forms["remind"],
           props=proxy_props, doc="The result is due: finish the request or report a delay.",
           basis=basis, rag=RAG_CHECK)
    p.user("Task_EscalateOverdue", prefix + "Eskalation: Vermittlung überfällig",
           forms["escalate"], props={"role": "TEAM_LEAD", **proxy_props},
           doc="The referral is open for twice its SLA: the team lead takes it up.",
           basis=basis, rag=RAG_CHECK)
    p.end("End_Reminded", "Erinnerung bearbeitet")
    p.end("End_Escalated", "Eskalation bearbeitet")
    p.throw("Msg_Result", "Ergebnis melden", "referral_result",
            '{"referral_id": referral_id, "case_id": case_id, "office": office, '
            '"outcome": outcome, "decision_date": decision_date, '
            '"next_appointment": next_appointment, "rejection_reason": rejection_reason, '
            '"notes_for_cm": notes_for_cm, "result": result}',
            doc="Report the result to KIM case management (referral_result).")
    p.end("End_Completed", "Vermittlung abgeschlossen", terminate=True,
          doc="Ends the referral and closes any open reminder of it.")
    p.script("Task_RecordWithdrawal", "Rücknahme vermerken", _lines(
        'referral_status = "withdrawn"',
        'withdrawal_reason = withdrawal.get("reason") or "client_request"',
    ), doc="Record that the referral was withdrawn and why.", basis=basis, rag=RAG_IN)
    p.throw("Msg_WithdrawnResult", "Rücknahme bestätigen", "referral_result",
            '{"referral_id": referral_id, "case_id": case_id, "office": office, '
            '"outcome": "withdrawn", "reason": withdrawal_reason}',
            doc="Confirm the withdrawal, so a waiting case manager process ends too.")
    p.end("End_Withdrawn", "Vermittlung zurückgenommen", terminate=True)
    p.chain("Msg_ReferralSent", "Task_SetDeadlines", "Task_AckReferral", "Gw_Responsible")
    p.flow("Gw_Responsible", "Msg_Acknowledged", "responsible == True", name="ja")
    p.flow("Gw_Responsible", "End_Forwarded", name="nein")
    p.chain("Msg_Acknowledged", sub_rounds, "Msg_Result", "End_Completed")
    p.flow("Bnd_DueResult", "Task_RemindResult")
    p.flow("Task_RemindResult", "End_Reminded")
    p.flow("Bnd_Escalate", "Task_EscalateOverdue")
    p.flow("Task_EscalateOverdue", "End_Escalated")
    p.flow("Bnd_WithdrawnAck", "Task_RecordWithdrawal")
    p.flow("Bnd_WithdrawnWork", "Task_RecordWithdrawal")
    p.chain("Task_RecordWithdrawal", "Msg_WithdrawnResult", "End_Withdrawn")

    r = rounds
    r.start("Start_Round", "Runde beginnt")
    if code == "KI_SEB":
        r.call("Call_SchoolEnrolment", "Schulplatz vermitteln", "kim_school_enrolment",
               doc="The office-specific work of the newcomer school counselling is the school "
                   "enrolment process (P3), run as a call activity.",
               basis="§ 34, § 46 Abs. 7 SchulG NRW", rag=RAG_CHECK)
        first = "Call_SchoolEnrolment"
    else:
        r.user("Task_ProcessReferral", prefix + "Anliegen bearbeiten", forms["work"],
               due="due_result", props=proxy_props,
               doc="Decide or act on the request under the office's own law and record the "
                   "result; ask for missing documents if needed.",
               instructions="Vermittlung {{ referral_id }} ({{ purpose }}): "
                            "{{ requested_service }}. Ergebnis fällig am {{ due_result }}.",
               basis=basis, rag=RAG_DECIDE)
        first = "Task_ProcessReferral"
    r.script("Task_CollectResult", "Ergebnis zusammenstellen",
             _result_script(code, office_fields, o.external),
             doc="Collect the office-specific result fields for the message to KIM.",
             basis=basis, rag=RAG_NOTICE)
    r.xgw("Gw_Outcome", "Unterlagen fehlen?", default="Flow_Gw_Outcome_End_Round")
    r.throw("Msg_InfoRequested", "Unterlagen anfordern", "referral_info_requested",
            '{"referral_id": referral_id, "case_id": case_id, "office": office, '
            '"documents_missing": documents_missing, "required_by": required_by}',
            doc="Ask KIM case management for the missing documents.")
    wait = r.sub(sub_info, "Unterlagen abwarten",
                 doc="Wait for the documents; 14 days after required_by the office may close "
                     "the referral as rejected (§ 66 SGB I).",
                 basis="§§ 60, 66 SGB I", rag=RAG_COOP)
    r.end("End_RoundInfo", "Runde mit Nachforderung beendet")
    r.end("End_Round", "Runde beendet")
    r.chain("Start_Round", first, "Task_CollectResult", "Gw_Outcome")
    r.flow("Gw_Outcome", "Msg_InfoRequested", 'outcome == "info_needed"', name="ja")
    r.flow("Gw_Outcome", "End_Round", name="nein")
    r.chain("Msg_InfoRequested", sub_info, "End_RoundInfo")

    w = wait
    w.start("Start_AwaitInfo")
    w.pgw("Gw_InfoFork", "Warten")
    w.catch("Msg_InfoProvided", "Unterlagen eingegangen", "referral_info_provided", "info",
            doc="KIM case management sends the documents (referral_info_provided).")
    w.script("Task_InfoReceived", "Eingang der Unterlagen vermerken", _lines(
        "info_received_at = today()",
        *[f"{n} = None" for n in P0_CLEAR_ROUND[1:]],
    ), doc="Note the documents; the next round starts with a fresh form.", basis="§ 60 SGB I")
    w.end("End_InfoProvided", "Unterlagen liegen vor", terminate=True)
    w.wait("Tmr_Cooperation", "14 Tage nach Frist", "timeDate",
           'iso_at(add_days(required_by, 14), "08:00")',
           doc="14 days after the deadline for the documents.")
    w.user("Task_CloseNoCooperation", prefix + "Vermittlung wegen fehlender Mitwirkung "
           "abschließen", forms["close"], props=proxy_props,
           doc="Decide whether to close the referral as rejected after a written notice on "
               "the duty to cooperate (§ 66 SGB I).",
           basis="§ 66 SGB I", rag=RAG_DECIDE)
    w.xgw("Gw_Close", "Ablehnen?", default="Flow_Gw_Close_End_KeepWaiting")
    w.script("Task_CloseRejected", "Ablehnung vermerken", _lines(
        'outcome = "rejected"',
        "closed_no_cooperation = True",
        "decision_date = today()",
        "rejection_reason = close_reason",
        'referral_status = "in_progress"',
    ), doc="The referral ends as rejected for lack of cooperation.", basis="§ 66 SGB I",
        rag=RAG_NOTICE)
    w.end("End_ClosedNoCooperation", "Abgelehnt wegen fehlender Mitwirkung", terminate=True)
    w.end("End_KeepWaiting", "Weiter warten")
    w.chain("Start_AwaitInfo", "Gw_InfoFork")
    w.flow("Gw_InfoFork", "Msg_InfoProvided")
    w.flow("Gw_InfoFork", "Tmr_Cooperation")
    w.chain("Msg_InfoProvided", "Task_InfoReceived", "End_InfoProvided")
    w.chain("Tmr_Cooperation", "Task_CloseNoCooperation", "Gw_Close")
    w.flow("Gw_Close", "Task_CloseRejected", "close_referral == True", name="ja")
    w.flow("Gw_Close", "End_KeepWaiting", name="nein")
    w.chain("Task_CloseRejected", "End_ClosedNoCooperation")
    return p


def referral_offices(registry: OfficeRegistry) -> list[Office]:
    """Offices that receive referrals: every active office except KIM's own."""
    return [o for o in registry if o.active and not o.code.startswith("KIM")]


def render_referral_protocol(office_code: str, registry: OfficeRegistry | None = None) -> str:
    """The P0 BPMN of one office (process ``office_referral_<code lower>``)."""
    reg = registry or OfficeRegistry.load()
    return render_process(build_referral_protocol(reg.get(office_code)))


# ================================================================================================
# kim_single_referral: the case manager's side of one referral (Sub_Referral of P2 as a process)
# ================================================================================================

VM_RESULT_RECORD = _lines(
    defaults({"result_msg": "None", "forward": "None", "consent_id": "None", "sent_at": "None",
              "due_ack": "None", "due_result": "None", "ack": "None", "follow_up": "None"}),
    "msg = result_msg or {}",
    'outcome = msg.get("outcome")',
    'status = referral_status',
    'if status == "completed" and outcome == "withdrawn":',
    '    status = "suspended_consent_revoked" if msg.get("reason") == "consent_revoked" '
    'else "withdrawn"',
    'record = {"referral_id": referral_id, "office": office, "purpose": purpose,',
    '          "requested_service": requested_service, "status": status, "outcome": outcome,',
    '          "decision_date": msg.get("decision_date"), "result": msg.get("result") or {},',
    '          "notes_for_cm": msg.get("notes_for_cm"), "sent_at": sent_at,',
    '          "due_ack": due_ack, "due_result": due_result, "closed_at": today(),',
    '          "consent_id": consent_id,',
    '          "office_reference": (ack or {}).get("office_reference"),',
    '          "suggested_office": (forward or {}).get("suggested_office"),',
    '          "original_receipt_date": original_receipt_date}',
    "referral_chain = referral_chain + [record]",
    "ack = None",
    "forward = None",
    "result_msg = None",
    "info_request = None",
    "shared_data = None",
    "msg = None",
)


def build_single_referral() -> Process:
    forms_fields, consent_rules = consent_fields()
    consent_form = Form(
        "vm-einwilligung", ("Einwilligung einholen", "Obtain consent"),
        ("Für diese Vermittlung liegt keine gültige Einwilligung vor. Bitte die Einwilligung "
         "der Person für die Stelle und den Zweck erfassen (F2.3).",
         "There is no valid consent for this referral. Record the person's consent for the "
         "office and purpose (F2.3)."),
        forms_fields, rules=consent_rules)
    chase = acknowledge_form("vm-nachfassen", ("Eingang nicht bestätigt – nachfassen",
                                               "Receipt not acknowledged – follow up"),
                             ("Die Stelle hat den Eingang nicht fristgerecht bestätigt.",
                              "The office did not acknowledge receipt in time."))
    escalate_ack = acknowledge_form("vm-eskalation-eingang",
                                    ("Eskalation: Vermittlung unbeantwortet",
                                     "Escalation: referral unanswered"),
                                    ("Fünf Tage nach der Frist fehlt die Eingangsbestätigung "
                                     "(KIM-Koordination, Teamleitung der Stelle informieren).",
                                     "Five days after the deadline there is still no "
                                     "acknowledgement."))
    chase_result = acknowledge_form("vm-ergebnis-nachfassen",
                                    ("Ergebnis überfällig – nachfassen",
                                     "Result overdue – follow up"),
                                    ("Das Ergebnis der Stelle ist überfällig.",
                                     "The office's result is overdue."))
    escalate_result = acknowledge_form("vm-eskalation-ergebnis",
                                       ("Eskalation: Ergebnis überfällig",
                                        "Escalation: result overdue"),
                                       ("Die Vermittlung ist seit dem Doppelten der Frist offen.",
                                        "The referral has been open for twice its SLA."))
    provide = Form("vm-unterlagen", ("Unterlagen nachreichen", "Provide documents"),
                   ("Die Stelle hat Unterlagen angefordert.",
                    "The office asked for documents."), [
        text_list("documents_provided", "Nachgereichte Unterlagen (Bezeichnung)",
                  "Documents provided (names)", req=True),
        date("provided_on", "Übermittelt am", "Provided on", req=True, past=True),
        text("provide_note", "Hinweis an die Stelle", "Note to the office", max_len=500),
    ])
    review = Form("vm-weiterleitung", ("Weiterleitung prüfen", "Review the forwarding"),
                  ("Die Stelle hält sich für nicht zuständig und nennt eine andere Stelle. Das "
                   "ursprüngliche Eingangsdatum gilt weiter (§ 16 SGB I).",
                   "The office is not responsible and names another office. The original "
                   "receipt date still counts (§ 16 SGB I)."), [
        enum("forward_decision", "Entscheidung", "Decision", [
            ("accept", "Annehmen: an die genannte Stelle vermitteln",
             "Accept: refer to the named office"),
            ("dispute", "Bestreiten: KIM-Koordination klärt", "Dispute: coordination clarifies"),
        ], req=True),
        purpose_field("forward_purpose", "Zweck bei der neuen Stelle", "Purpose at the new office"),
        text("dispute_reason", "Begründung", "Reason", min_len=10, max_len=1000),
    ], rules=[when("forward_decision", "accept", require=["forward_purpose"]),
              when("forward_decision", "dispute", require=["dispute_reason"])])
    dispute = Form("vm-weiterleitung-klaeren", ("Weiterleitung klären",
                                                "Clarify the forwarding"),
                   ("Das Fallmanagement bestreitet die Weiterleitung; die Koordination klärt "
                    "die Zuständigkeit.",
                    "Case management disputes the forwarding; coordination clarifies."), [
        enum("resolution", "Ergebnis der Klärung", "Resolution", [
            ("office_responsible", "Ursprüngliche Stelle ist zuständig (erneut senden)",
             "Original office is responsible (send again)"),
            ("other_office", "Andere Stelle ist zuständig", "Another office is responsible"),
            ("withdrawn", "Vermittlung entfällt", "Referral dropped"),
        ], req=True),
        office("resolved_office", "Zuständige Stelle", "Responsible office"),
        purpose_field("resolved_purpose", "Zweck", "Purpose"),
        text("resolution_note", "Vermerk", "Note", max_len=1000),
    ], rules=[when("resolution", "other_office", require=["resolved_office",
                                                         "resolved_purpose"])])
    p = Process(
        "kim_single_referral", "Vermittlung durchführen (Fallmanagement)",
        "Lokalprozess (ausführbar). KIM case management's side of one referral: check the "
        "consent, send the consent-filtered referral (referral_sent), chase the "
        "acknowledgement and the result, provide requested documents, review a forwarding "
        "(§ 16 SGB I) and record the outcome in referral_record. Called by P1, P2, P4, P5 "
        "and the permit watch; also started on its own for an ad-hoc referral.",
        ["KIM_CM", "KIM_KO"], participant="Kommune – KIM-Fallmanagement")
    p.outputs = ["referral_record"]
    p.start("Start_Referral", "Vermittlung angestoßen")
    p.script("Task_InitReferral", "Vermittlung vorbereiten", _lines(
        defaults({"consents": "[]", "person": "{}", "assessment": "{}", "goals": "[]",
                  "case_id": "None"}),
        "referral_chain = []",
        "new_consents = []",
        "follow_up = None",
        "current = referral",
    ), doc="Initialise the referral (the data of the calling process come along).",
        basis=TINTG, rag=RAG_IN)
    rnd = p.sub("Sub_ReferralRound", "Vermittlung an eine Stelle",
                doc="One referral to one office. When the office forwards it and case "
                    "management accepts, the next round refers to the named office.",
                basis=TINTG, rag=RAG_OUT,
                loop={"type": "standard", "maximum": 5, "condition": "follow_up is not None"})
    p.script("Task_FinalRecord", "Vermittlung abschließen", _lines(
        "referral_record = dict(referral_chain[-1])",
        "referral_record[\"history\"] = referral_chain[:-1]",
        "referral_record[\"new_consents\"] = new_consents",
    ), doc="Hand the outcome back to the caller in referral_record.", basis=TINTG,
        rag=RAG_IN)
    p.end("End_ReferralDone", "Vermittlung abgeschlossen")
    p.chain("Start_Referral", "Task_InitReferral", "Sub_ReferralRound", "Task_FinalRecord",
            "End_ReferralDone")

    r = rnd
    r.start("Start_ReferralRound", "Runde beginnt")
    r.script("Task_PrepareReferral", "Vermittlung anlegen", _lines(
        "if follow_up is not None:",
        "    current = follow_up",
        "follow_up = None",
        'office = current["office"]',
        'purpose = current["purpose"]',
        'requested_service = current.get("requested_service") or ""',
        'urgency = current.get("urgency") or "normal"',
        'legal_deadline = current.get("legal_deadline")',
        'original_receipt_date = current.get("original_receipt_date")',
        'referral_id = new_id("R")',
        'referral_status = "new"',
        "consent_id = None",
    ), doc="Create the referral record with a new referral_id.", basis=TINTG, rag=RAG_FORMAL)
    r.xgw("Gw_ConsentValid", "Einwilligung gültig?",
          default="Flow_Gw_ConsentValid_Task_ObtainConsent")
    r.user("Task_ObtainConsent", "Einwilligung einholen", consent_form,
           doc="No valid consent for this office and purpose: record the person's consent "
               "(or their refusal) before anything is sent.",
           instructions="Für {{ office }} / {{ purpose }} fehlt eine gültige Einwilligung.",
           basis=CONSENT_BASIS, rag=RAG_COOP)
    r.script("Task_RecordConsent", "Einwilligung übernehmen", _lines(
        "if consent_given:",
        "    " + CONSENT_RECORD.replace("\n", "\n    "),
        "    consents = consents + [new_consent]",
        "    new_consents = new_consents + [new_consent]",
    ), doc="Store the consent record (immutable; corrections create a new one).",
        basis=CONSENT_BASIS, rag=RAG_IN)
    r.xgw("Gw_ConsentNow", "Einwilligung jetzt gültig?",
          default="Flow_Gw_ConsentNow_Task_NotSent")
    r.script("Task_NotSent", "Nicht gesendet vermerken",
             'referral_status = "not_sent"',
             doc="Without consent nothing is sent; the referral ends as not_sent.",
             basis=CONSENT_BASIS, rag=RAG_IN)
    r.script("Task_SendPrep", "Vermittlungsdaten zusammenstellen", _lines(
        "consent = find_consent(consents, office, purpose)",
        'consent_id = consent["consent_id"]',
        "sent_at = today()",
        'due_ack = referral_due(office, "ack", sent_at)',
        'due_result = referral_due(office, "result", sent_at, urgency != "normal")',
        "escalate_at = add_days(sent_at, 2 * days_between(sent_at, due_result))",
        'shared_data = share_by_consent(consent["data_categories"], office, person, assessment, '
        '{"goals": goals})',
        'referral_status = "sent"',
    ), doc="Compute due dates from the office's SLA and filter the case data to the "
           "consent's categories (DP-05; case-manager notes are never included).",
        basis=f"{TINTG}; § 67b SGB X", rag=RAG_FORMAL)
    r.throw("Msg_SendReferral", "Vermittlung senden", "referral_sent",
            '{"referral_id": referral_id, "case_id": case_id, "office": office, '
            '"purpose": purpose, "consent_id": consent_id, '
            '"consent_valid_until": consent["valid_until"], '
            '"requested_service": requested_service, "urgency": urgency, '
            '"sent_at": sent_at, "due_ack": due_ack, "due_result": due_result, '
            '"legal_deadline": legal_deadline, "original_receipt_date": original_receipt_date, '
            '"sender_office": "KIM_CM", "data": shared_data}',
            doc="Send the referral; it starts the office's referral protocol (P0).")
    ack = r.sub("Sub_AwaitAck", "Eingangsbestätigung abwarten",
                doc="Wait for the acknowledgement or a forwarding; chase at due_ack and "
                    "escalate to KIM coordination five days later. The answer closes open "
                    "chase tasks.", basis=TINTG, rag=RAG_IN)
    r.xgw("Gw_AfterAck", "Antwort der Stelle?", default="Flow_Gw_AfterAck_Task_StoreOutcome")
    r.user("Task_ReviewForward", "Weiterleitung prüfen", review,
           doc="The office forwarded the referral: accept (refer to the named office) or "
               "dispute (KIM coordination clarifies).",
           instructions="Die Stelle {{ office }} verweist an {{ forward.suggested_office }}: "
                        "{{ forward.reason }}",
           basis="§ 16 SGB I", rag=RAG_DECIDE)
    r.xgw("Gw_ForwardDecision", "Weiterleitung annehmen?",
          default="Flow_Gw_ForwardDecision_Task_DisputeForward")
    r.script("Task_AcceptForward", "Neue Vermittlung vorbereiten", _lines(
        'follow_up = {"office": forward["suggested_office"], "purpose": forward_purpose,',
        '             "requested_service": requested_service, "urgency": urgency,',
        '             "original_receipt_date": forward.get("original_receipt_date")}',
        'referral_status = "forwarded"',
    ), doc="The next round refers to the named office; § 16 SGB I keeps the original receipt "
           "date.", basis="§ 16 SGB I", rag=RAG_FORMAL)
    r.user("Task_DisputeForward", "Weiterleitung klären", dispute, lane="KIM_KO",
           doc="KIM coordination clarifies which office is responsible.",
           basis=f"§ 16 SGB I; {TINTG}", rag=RAG_DECIDE)
    r.script("Task_ApplyResolution", "Klärung übernehmen", _lines(
        defaults({"resolved_office": "None", "resolved_purpose": "None"}),
        'referral_status = "forwarded"',
        'if resolution == "office_responsible":',
        '    follow_up = {"office": office, "purpose": purpose, '
        '"requested_service": requested_service, "urgency": urgency, '
        '"original_receipt_date": forward.get("original_receipt_date")}',
        'elif resolution == "other_office":',
        '    follow_up = {"office": resolved_office, "purpose": resolved_purpose, '
        '"requested_service": requested_service, "urgency": urgency, '
        '"original_receipt_date": forward.get("original_receipt_date")}',
    ), doc="Refer again as clarified, or drop the referral.", basis="§ 16 SGB I",
        rag=RAG_FORMAL)
    res = r.sub("Sub_AwaitResult", "Ergebnis abwarten",
                doc="Wait for the result; answer requests for documents (each request is a "
                    "round); chase at due_result and escalate at sent + 2 x SLA.",
                basis=TINTG, rag=RAG_IN,
                loop={"type": "standard", "maximum": 20,
                      "condition": 'referral_status == "info_requested"'})
    r.script("Task_StoreOutcome", "Ergebnis übernehmen", VM_RESULT_RECORD,
             doc="Store the outcome of this round in the referral chain.", basis=TINTG,
             rag=RAG_IN)
    r.end("End_ReferralRound", "Runde beendet")
    r.chain("Start_ReferralRound", "Task_PrepareReferral", "Gw_ConsentValid")
    r.flow("Gw_ConsentValid", "Task_SendPrep", "has_consent(consents, office, purpose)",
           name="ja")
    r.flow("Gw_ConsentValid", "Task_ObtainConsent", name="nein")
    r.chain("Task_ObtainConsent", "Task_RecordConsent", "Gw_ConsentNow")
    r.flow("Gw_ConsentNow", "Task_SendPrep", "has_consent(consents, office, purpose)",
           name="ja")
    r.flow("Gw_ConsentNow", "Task_NotSent", name="nein")
    r.flow("Task_NotSent", "Task_StoreOutcome")
    r.chain("Task_SendPrep", "Msg_SendReferral", "Sub_AwaitAck", "Gw_AfterAck")
    r.flow("Gw_AfterAck", "Sub_AwaitResult", 'referral_status == "acknowledged"',
           name="bestätigt")
    r.flow("Gw_AfterAck", "Task_ReviewForward", 'referral_status == "forwarded"',
           name="weitergeleitet")
    r.flow("Gw_AfterAck", "Task_StoreOutcome", name="beendet")
    r.chain("Task_ReviewForward", "Gw_ForwardDecision")
    r.flow("Gw_ForwardDecision", "Task_AcceptForward", 'forward_decision == "accept"',
           name="annehmen")
    r.flow("Gw_ForwardDecision", "Task_DisputeForward", name="bestreiten")
    r.flow("Task_AcceptForward", "Task_StoreOutcome")
    r.chain("Task_DisputeForward", "Task_ApplyResolution", "Task_StoreOutcome")
    r.chain("Sub_AwaitResult", "Task_StoreOutcome", "End_ReferralRound")

    a = ack
    a.start("Start_AwaitAck")
    a.pgw("Gw_AckFork", "Warten")
    a.catch("Msg_Acknowledged", "Eingang bestätigt", "referral_acknowledged", "ack")
    a.script("Task_AckReceived", "Bestätigung vermerken", 'referral_status = "acknowledged"',
             doc="The office acknowledged receipt.", basis=TINTG)
    a.end("End_AckReceived", "Bestätigt", terminate=True)
    a.catch("Msg_Forwarded", "Weitergeleitet", "referral_forwarded", "forward")
    a.script("Task_ForwardReceived", "Weiterleitung vermerken", 'referral_status = "forwarded"',
             doc="The office is not responsible and forwarded the referral.",
             basis="§ 16 SGB I")
    a.end("End_ForwardReceived", "Weitergeleitet", terminate=True)
    a.catch("Msg_EarlyResult", "Vorzeitig beendet", "referral_result", "result_msg")
    a.script("Task_EarlyResult", "Vorzeitiges Ende vermerken", 'referral_status = "completed"',
             doc="The referral ended before an acknowledgement (e.g. it was withdrawn).",
             basis=TINTG)
    a.end("End_EarlyResult", "Beendet", terminate=True)
    a.wait("Tmr_DueAck", "Eingang fällig", "timeDate", 'iso_at(due_ack, "08:00")')
    a.user("Task_ChaseAck", "Eingang nicht bestätigt – nachfassen", chase, lane="KIM_CM",
           doc="The acknowledgement is overdue (overdue_ack): contact the office.",
           basis=TINTG, rag=RAG_COOP)
    a.end("End_Chased", "Nachgefasst")
    a.wait("Tmr_EscalateAck", "Fünf Tage nach Frist", "timeDate",
           'iso_at(add_days(due_ack, 5), "08:00")')
    a.user("Task_EscalateNoAck", "Eskalation: Vermittlung unbeantwortet", escalate_ack,
           lane="KIM_KO", doc="Still no acknowledgement five days after due_ack: KIM "
                              "coordination takes it up with the office's team lead.",
           basis=TINTG, rag=RAG_COOP)
    a.end("End_EscalatedAck", "Eskaliert")
    a.chain("Start_AwaitAck", "Gw_AckFork")
    for target in ("Msg_Acknowledged", "Msg_Forwarded", "Msg_EarlyResult", "Tmr_DueAck",
                   "Tmr_EscalateAck"):
        a.flow("Gw_AckFork", target)
    a.chain("Msg_Acknowledged", "Task_AckReceived", "End_AckReceived")
    a.chain("Msg_Forwarded", "Task_ForwardReceived", "End_ForwardReceived")
    a.chain("Msg_EarlyResult", "Task_EarlyResult", "End_EarlyResult")
    a.chain("Tmr_DueAck", "Task_ChaseAck", "End_Chased")
    a.chain("Tmr_EscalateAck", "Task_EscalateNoAck", "End_EscalatedAck")

    w = res
    w.start("Start_AwaitResult")
    w.pgw("Gw_ResultFork", "Warten")
    w.catch("Msg_Result", "Ergebnis eingegangen", "referral_result", "result_msg")
    w.script("Task_ResultReceived", "Ergebnis vermerken", 'referral_status = "completed"',
             doc="The office reported its result.", basis=TINTG)
    w.end("End_ResultReceived", "Ergebnis liegt vor", terminate=True)
    w.catch("Msg_InfoRequested", "Unterlagen angefordert", "referral_info_requested",
            "info_request")
    w.user("Task_ProvideInfo", "Unterlagen nachreichen", provide,
           due='add_days(info_request["required_by"], -3)',
           doc="The office asked for documents: provide them (the task is due three days "
               "before the office's deadline).",
           instructions="Angefordert: {{ info_request.documents_missing }} bis "
                        "{{ info_request.required_by }}.",
           basis="§ 60 SGB I", rag=RAG_COOP)
    w.throw("Msg_InfoProvided", "Unterlagen senden", "referral_info_provided",
            '{"referral_id": referral_id, "case_id": case_id, "office": office, '
            '"documents_provided": documents_provided, "provided_on": provided_on}')
    w.script("Task_InfoSent", "Nachreichung vermerken", 'referral_status = "info_requested"',
             doc="The documents went to the office; the next round waits again.",
             basis="§ 60 SGB I")
    w.end("End_InfoSent", "Unterlagen gesendet", terminate=True)
    w.wait("Tmr_DueResult", "Ergebnis fällig", "timeDate", 'iso_at(due_result, "08:00")')
    w.user("Task_ChaseResult", "Ergebnis überfällig – nachfassen", chase_result, lane="KIM_CM",
           doc="The result is overdue (overdue_result): contact the office.", basis=TINTG,
           rag=RAG_COOP)
    w.end("End_ChasedResult", "Nachgefasst")
    w.wait("Tmr_EscalateResult", "Doppelte Frist", "timeDate", 'iso_at(escalate_at, "08:00")')
    w.user("Task_EscalateNoResult", "Eskalation: Ergebnis überfällig", escalate_result,
           lane="KIM_KO", doc="The referral is open for twice its SLA: KIM coordination "
                              "takes it up.", basis=TINTG, rag=RAG_COOP)
    w.end("End_EscalatedResult", "Eskaliert")
    w.chain("Start_AwaitResult", "Gw_ResultFork")
    for target in ("Msg_Result", "Msg_InfoRequested", "Tmr_DueResult", "Tmr_EscalateResult"):
        w.flow("Gw_ResultFork", target)
    w.chain("Msg_Result", "Task_ResultReceived", "End_ResultReceived")
    w.chain("Msg_InfoRequested", "Task_ProvideInfo", "Msg_InfoProvided", "Task_InfoSent",
            "End_InfoSent")
    w.chain("Tmr_DueResult", "Task_ChaseResult", "End_ChasedResult")
    w.chain("Tmr_EscalateResult", "Task_EscalateNoResult", "End_EscalatedResult")
    return p


# ================================================================================================
# The catalogue: folders, files, generation
# ================================================================================================

def catalogue(registry: OfficeRegistry | None = None) -> dict[str, list[Process]]:
    """Folder name under bpmn/ -> the processes generated into it."""
    reg = registry or OfficeRegistry.load()
    return {
        "p0_referral_protocol": [build_referral_protocol(o) for o in referral_offices(reg)],
        "kim_single_referral": [build_single_referral()],
    }


def render_all(registry: OfficeRegistry | None = None) -> dict[str, str]:
    """Every generated file: path relative to bpmn/ -> text."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for folder, processes in catalogue(registry).items():
        for p in processes:
            # SpiffWorkflow registers embedded subprocesses as processes: ids must be unique
            for sid in [p.id, *sorted(_subprocess_ids(p))]:
                if sid in seen:
                    raise ValueError(f"{p.id}: id {sid} is already used in {seen[sid]}")
                seen[sid] = p.id
            out[f"{folder}/{p.id}.bpmn"] = render_process(p)
            for name, text_ in render_forms(p).items():
                previous = out.setdefault(f"{folder}/{name}", text_)
                if previous != text_:
                    raise ValueError(f"{folder}/{name}: two different forms with one name")
    return out


def write_all(target: Path = BPMN_DIR, registry: OfficeRegistry | None = None) -> list[str]:
    """Write the catalogue under ``target``; remove stale generated files; return changed paths."""
    files = render_all(registry)
    changed = []
    for rel, text_ in sorted(files.items()):
        path = target / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text_:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text_, encoding="utf-8")
            changed.append(rel)
    for folder in {rel.split("/")[0] for rel in files}:
        for path in sorted((target / folder).iterdir()):
            rel = f"{folder}/{path.name}"
            if path.is_file() and rel not in files:
                path.unlink()
                changed.append(rel)
    return changed


def check_all(target: Path = BPMN_DIR, registry: OfficeRegistry | None = None) -> list[str]:
    """Paths whose committed content differs from a fresh generation (missing/stale/changed)."""
    files = render_all(registry)
    diff = [rel for rel, text_ in sorted(files.items())
            if not (target / rel).exists()
            or (target / rel).read_text(encoding="utf-8") != text_]
    for folder in sorted({rel.split("/")[0] for rel in files}):
        if (target / folder).is_dir():
            diff += [f"{folder}/{p.name}" for p in sorted((target / folder).iterdir())
                     if p.is_file() and f"{folder}/{p.name}" not in files]
    return diff


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        diff = check_all()
        for rel in diff:
            print(f"differs: bpmn/{rel}")
        return 1 if diff else 0
    for rel in write_all():
        print(f"wrote bpmn/{rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
