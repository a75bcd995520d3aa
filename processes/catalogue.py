"""The KIM reference catalogue: processes P0-P6 as BPMN (with diagrams) and their forms.

Everything under ``bpmn/`` that belongs to the catalogue is *generated* by this module from the
compact descriptions below, so that ids, lanes, legal-basis properties, forms and diagram layout
stay consistent across some 30 process files. The generated files are committed; a test checks
that regenerating gives identical files. Regenerate after editing this module or
``processes/offices.toml``::

    .venv/bin/python -m processes.catalogue          # write bpmn/<folder>/...
    .venv/bin/python -m processes.catalogue --check  # list files that differ (exit 1)

P0 (the referral protocol run in the receiving office) is one process, ``office_referral``,
for every receiving office (``render_referral_protocol()``): it starts on the message
``referral_sent``; its lane's office is read from the task data when a task becomes ready
(lane property ``office_from``: the referral's office, or KIM_CM in proxy mode for offices
marked ``external``), and its user tasks name their forms by office
(``p0-eingang-{office}``: the office's own form, else the generic ``p0-eingang``); see
engine/data_paths.py. The per-office forms are written for the offices in ``offices.toml``.

See processes/README.md for the modelling conventions and every choice made where the domain
brief was ambiguous.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape, quoteattr

from processes.helpers import CATEGORY_MATRIX, CONSENT_MESSAGE, DATA_CATEGORIES
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
         help_de: str | None = None, help_en: str | None = None, **rule: str) -> Fld:
    """An ISO date (V-03 ``past-date`` for factual dates: not in the future, not before 1900).

    Keyword bounds become the relative date rule ``x-lotse-date`` (engine/form_dates.py):
    ``min``, ``max``, ``exclusiveMin``, ``exclusiveMax`` = ``today``, ``$field`` (same form),
    ``$$key`` (case data written by an earlier task) or a date, optionally ``+P180D`` /
    ``-P7D`` / ``+P6M``; the engine enforces them on its clock. A ``$$key`` that the task's
    data lacks (or that is not a date) leaves the bound out."""
    s: dict[str, Any] = {"type": "string", "format": "past-date" if past else "date",
                         **_base(de, en, help_de, help_en)}
    if rule:
        s["x-lotse-date"] = dict(rule)
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
        maximum: int | None = None, help_de: str | None = None,
        help_en: str | None = None) -> Fld:
    """V-10: amount in EUR, >= 0, at most 2 decimals, at most 1 000 000."""
    s: dict[str, Any] = {"type": "number", "format": "eur", **_base(de, en, help_de, help_en)}
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


FILE_REF = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "size": {"type": "integer", "minimum": 1},
        "media_type": {"type": "string", "enum": ["application/pdf", "image/jpeg", "image/png"]},
        "filename": {"type": "string", "maxLength": 255},
    },
    "required": ["id"],
    "additionalProperties": False,
}


def document_ref(name: str, de: str, en: str, *, req: bool = False) -> Fld:
    """V-14: an uploaded file (PDF/JPEG/PNG by content, at most 10 MB). The value is the
    reference the engine stores (``engine/files.py``), never the file bytes."""
    s = {**FILE_REF,
         "x-lotse-file": {"accept": ["application/pdf", "image/jpeg", "image/png"],
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


# F1.1/F5.1: "minors_in_household <= household_size" (an unaccompanied minor: size 1, minors 1)
MINORS_AT_MOST_HOUSEHOLD = {"field": "minors_in_household", "op": "<=", "other": "household_size"}

# F3.1: "schooling_years_abroad: 0..12 and <= max(0, age - 5)" (age on today)
SCHOOLING_AT_MOST_AGE_MINUS_5 = {"field": "schooling_years_abroad", "op": "<=",
                                 "other": "child_birth_date", "other_as": "age", "plus": -5,
                                 "at_least": 0}


# F1.4/F2.3 (brief, DP-19) [D, confirm with DPO]: under 16 a guardian signs, not the person;
# at 16-17 the person signs ("self") and a guardian's co-signature is recorded. The age is
# the client's on the consent's date (``on``), else today; the birth date is the case's
# (F1.1 ``birth_date``, or ``person.birth_date`` in the processes P1 calls).
BIRTH_DATE_KEYS = ["$$birth_date", "$$person.birth_date"]


def signer_rules(on: str) -> list[dict]:
    """The x-lotse-case-if rules for ``signed_by`` by the client's age."""
    def msg(de: str, en: str, keyword: str) -> dict:
        return {keyword: {"de": de, "en": en}}

    under_16 = {"properties": {"signed_by": {
        "not": {"const": "self"},
        "x-messages": msg("Unter 16 Jahren unterschreiben Sorgeberechtigte oder Vormund, "
                          "nicht die Person selbst",
                          "Under 16 a parent or guardian signs, not the person", "not")}}}
    teen = {"if": {"required": ["signed_by"]}, "then": {
        "required": ["guardian_name", "guardian_cosigned"],
        "properties": {
            "signed_by": {"const": "self", "x-messages": msg(
                "Mit 16 oder 17 Jahren unterschreibt die Person selbst (und Sorgeberechtigte "
                "zusätzlich)", "At 16 or 17 the person signs (and a guardian too)", "const")},
            "guardian_cosigned": {"const": True, "x-messages": msg(
                "Mit 16 oder 17 Jahren muss auch eine sorgeberechtigte Person unterschreiben",
                "At 16 or 17 a guardian must sign too", "const")}}}}
    return [
        {"key": BIRTH_DATE_KEYS, "as": "age", "on": on, "maximum": 15, "then": under_16},
        {"key": BIRTH_DATE_KEYS, "as": "age", "on": on, "minimum": 16, "maximum": 17,
         "then": teen},
    ]


def guardian_cosigned() -> Fld:
    return boolean("guardian_cosigned", "Sorgeberechtigte haben mitunterschrieben",
                   "A guardian co-signed",
                   help_de="Pflicht bei 16- und 17-Jährigen (Name der/des Sorgeberechtigten "
                           "angeben).",
                   help_en="Required for 16 and 17 year olds (give the guardian's name).")


# P3 "Schulplatz zuweisen": the school form must fit the track computed from the child's age
# (brief 4.4, Gw_Track) [D]: primary 6-9, lower secondary 10-15, international support
# classes of the Berufskolleg 16-17; a Förderschule fits every track.
SCHOOL_FORMS_BY_TRACK = {
    "primar": ["grundschule", "foerderschule"],
    "sek1": ["hauptschule", "realschule", "sekundarschule", "gesamtschule", "gymnasium",
             "foerderschule"],
    "berufskolleg": ["berufskolleg", "foerderschule"],
}

# P0 of the payer (JC, SOZ) in P5: amount assumed <= arrears_amount + 2 x monthly_rent_gross
# (brief 4.6 b), both from the referral's shared data (only if the consent covers FINANCE
# and HOUSING; otherwise the rule does not apply).
ARREARS_AT_MOST = {
    "field": "arrears_amount_assumed", "op": "<=",
    "other": "$$shared_data.arrears_amount + 2 * $$shared_data.monthly_rent_gross",
    "label": {"de": "Mietrückstand + 2 × Bruttowarmmiete",
              "en": "rent arrears + 2 × gross monthly rent"}}


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
    # number comparisons between fields (x-lotse-compare, engine/form_compare.py)
    compare: list[dict] = field(default_factory=list)
    # rules selected by case data of earlier tasks (x-lotse-case-if, engine/form_case.py)
    case_if: list[dict] = field(default_factory=list)

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
        if self.compare:
            out["x-lotse-compare"] = [dict(c) for c in self.compare]
        if self.case_if:
            out["x-lotse-case-if"] = [dict(c) for c in self.case_if]
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
        # proc is None only from Process.__init__: then this container is the Process
        self.proc: Process = proc if proc is not None else cast("Process", self)
        self.lane = lane
        self.owner: Node | None = None  # a subprocess body: the subProcess node (sub())
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []

    # --- nodes ----------------------------------------------------------------------------------
    def _add(self, node: Node) -> Node:
        if node.lane is None:
            node.lane = self.lane
        root = self.proc
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
            lane: str | None = None, cancel_reason: str | None = None) -> Node:
        """An end event; ``cancel_reason`` (a terminate end event only) is the cause the
        audit's ``task.cancelled`` names for the open tasks it closes (engine.cancellation)."""
        event: dict | None = None
        if terminate:
            event = {"type": "terminate"}
        elif message:
            event = {"type": "message", "message": message, "payload": payload}
        if cancel_reason is not None and not terminate:
            raise ValueError(f"{id}: cancel_reason belongs on a terminate end event")
        props = {"cancel_reason": cancel_reason} if cancel_reason else {}
        return self._add(Node(id, "endEvent", name, event=event, doc=doc, lane=lane,
                              props=props))

    def user(self, id: str, name: str, form: Form, *, doc: str, basis: str, rag: str,
             lane: str | None = None, instructions: str | None = None, due: str | None = None,
             props: dict[str, str] | None = None, loop: dict | None = None,
             form_template: str | None = None) -> Node:
        """``form_template``: a form slug with a ``{path}`` placeholder resolved at run time
        (engine/data_paths.py); ``form`` is then its generic form."""
        slug = form_template or form.slug
        p = {"formJsonSchemaFilename": f"{slug}-schema.json",
             "formUiSchemaFilename": f"{slug}-uischema.json"}
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
        node.body.owner = node
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
        root = self.proc
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
                 lane_props: dict[str, dict[str, str]] | None = None,
                 lane_from: dict[str, str] | None = None,
                 extra_forms: Sequence[Form] = ()) -> None:
        self.ids: set[str] = set()
        super().__init__(None, lanes[0])
        self.proc = self
        self.id = id
        self.name = name
        self.doc = doc
        self.lanes = lanes
        self.lane_names = lane_names or {}
        self.lane_props = lane_props or {}
        # lane -> data path of its office, read at run time (property office_from)
        self.lane_from = lane_from or {}
        # forms a form template can resolve to, written besides the tasks' own forms
        self.extra_forms = list(extra_forms)
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
        for f in self.extra_forms:
            out.setdefault(f.slug, f)
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
BOUNDARY_GAP = 80
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
    lane_keys: Sequence[str | None] = lanes or [None]  # None: the process has no lanes

    def lane_of(n: Node) -> str | None:
        if lanes is None:
            return None
        return n.lane if n.lane in lanes else lanes[0]

    placed: dict[str, tuple[str | None, int, int]] = {}  # id -> (lane, col, row)
    occupied: dict[tuple[str | None, int], set[int]] = {}
    preds: dict[str, list[tuple[str | None, int, bool]]] = {}  # (source or its host, ...)
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
    # hosts of several boundary events are wider, so the events and their labels fit
    n_bound: dict[str | None, int] = {}  # host id -> its boundary events
    for n in c.nodes.values():
        if n.kind == "boundaryEvent":
            n_bound[n.attached_to] = n_bound.get(n.attached_to, 0) + 1

    def size(n: Node) -> tuple[int, int]:
        w, h = SIZES[n.kind]
        return (max(w, BOUNDARY_GAP * n_bound.get(n.id, 0) + 20), h)

    n_cols = max([cc for _, cc, _ in placed.values()] + [0]) + 1
    col_w = [COL_W] * n_cols
    for nid, (_, cc, _) in placed.items():
        col_w[cc] = max(col_w[cc], size(c.nodes[nid])[0] + 50)
    col_x = [sum(col_w[:i]) for i in range(n_cols)]
    x0 = (POOL_LABEL + LANE_LABEL) if lanes else 0
    y = 0.0
    lane_boxes: dict[str, Box] = {}
    lane_y: dict[str | None, float] = {}
    width = sum(col_w) + 40
    for ln in lane_keys:
        h = (max_row.get(ln, 0) + 1) * ROW_H
        lane_y[ln] = y
        if lanes and ln is not None:  # with lanes, every key is one of them
            lane_boxes[ln] = Box(POOL_LABEL, y, width + LANE_LABEL, h)
        y += h
    shapes: dict[str, Box] = {}
    for nid, (ln, cc, row) in placed.items():
        n = c.nodes[nid]
        w, h = size(n)
        cx = x0 + 20 + col_x[cc] + col_w[cc] / 2
        cy = lane_y[ln] + row * ROW_H + ROW_H / 2
        shapes[nid] = Box(cx - w / 2, cy - h / 2, w, h)
    count: dict[str, int] = {}
    for n in c.nodes.values():
        if n.kind == "boundaryEvent":
            assert n.attached_to is not None  # boundary_timer/boundary_message name the host
            host = shapes[n.attached_to]
            i = count.get(n.attached_to, 0)
            count[n.attached_to] = i + 1
            shapes[n.id] = Box(host.x + 10 + i * BOUNDARY_GAP, host.bottom - 18, 36, 36)
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
            last = lane_boxes[lanes[-1]]  # lane_keys is lanes here
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
        office = ({"office_from": p.lane_from[ln]} if ln in p.lane_from else {"office": ln})
        props = {**office, **p.lane_props.get(ln, {})}
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
    consentable = {c for allowed in CATEGORY_MATRIX.values() for c in allowed}
    cats = [(c, de, en) for c, (de, en) in DATA_CATEGORIES.items()
            if c != "CM_NOTES" and c in consentable]
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
        date("valid_until", "Gültig bis", "Valid until", exclusiveMin="today",
             max="$valid_from+P24M",
             help_de="Höchstens 24 Monate ab Beginn; üblich 12 Monate.",
             help_en="At most 24 months from the start; usually 12 months."),
        enum("consent_form", "Form der Einwilligung", "Form of consent", CONSENT_FORMS),
        enum("signed_by", "Unterschrieben von", "Signed by", SIGNERS,
             help_de="Unter 16: Sorgeberechtigte; 16-17: die Person und Sorgeberechtigte.",
             help_en="Under 16: guardian; 16-17: the person and a guardian."),
        person_name("guardian_name", "Name der/des Sorgeberechtigten", "Name of the guardian"),
        guardian_cosigned(),
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
# P0: referral protocol in the receiving office (one process for every office, lane at run time)
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
        eur("arrears_amount_assumed", "Übernommener Betrag", "Amount assumed", positive=True,
            help_de="Höchstens Mietrückstand + 2 Bruttowarmmieten (laut Vermittlung).",
            help_en="At most the arrears + 2 gross monthly rents (as referred)."),
        date("uebernahmeerklaerung_date", "Datum der Übernahmeerklärung",
             "Date of the declaration of assumption", past=True),
    ]
    arrears_rules = [when("arrears_decision", ["loan", "grant", "partial"],
                          require=["arrears_amount_assumed", "uebernahmeerklaerung_date"]),
                     when("arrears_decision", "rejected", require=["rejection_reason"])]
    if code == "ABH":
        return [
            date("permit_issue_date", "Titel erteilt am", "Permit issued on", past=True),
            date("permit_valid_until", "Titel gültig bis", "Permit valid until",
                 exclusiveMin="$permit_issue_date"),
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
    if code == "KI_SEB":  # set by the school enrolment process (P3), not by a form
        return [text("school_name", "Schule", "School"), text("school_number", "Schulnummer",
                                                              "School number"),
                text("school_form", "Schulform", "School form"),
                date("start_date", "Schulbeginn", "First day"),
                text("support_model", "Fördermodell", "Support model"),
                text("track", "Bildungsweg", "Track"),
                text("first_school_day", "Erster Schultag", "First school day")], []
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


P0_ACK_FORM, P0_WORK_FORM = "p0-eingang-{office}", "p0-bearbeiten-{office}"


def p0_forms(o: Office | None) -> dict[str, Form]:
    """The P0 forms of office ``o``, or the generic ones (``o`` None) a receiving office
    without its own form gets (its name is not known, no office-specific fields)."""
    code = o.code if o is not None else None
    proxy = o.external if o is not None else False
    suffix = f"-{code.lower()}" if code else ""
    to_de = o.name_de if o is not None else "die empfangende Stelle"
    to_en = o.name_en if o is not None else "the receiving office"
    of_de = o.name_de if o is not None else "empfangende Stelle"
    of_en = o.name_en if o is not None else "receiving office"
    extra = _proxy_fields() if proxy else []
    ack = Form(
        f"p0-eingang{suffix}",
        ("Eingang bestätigen und Zuständigkeit prüfen",
         "Acknowledge receipt and check responsibility"),
        (f"Vermittlung an {to_de}: Eingang bestätigen oder an die zuständige Stelle "
         "weiterleiten (§ 16 SGB I).",
         f"Referral to {to_en}: acknowledge it or forward it to the responsible office "
         "(§ 16 SGB I)."),
        [
            *extra,
            boolean("responsible", "Stelle ist zuständig", "Office is responsible", req=True),
            text("office_reference", "Aktenzeichen", "File reference", max_len=50),
            date("expected_result_date", "Ergebnis voraussichtlich am", "Expected result on",
                 min="today", max="today+P180D",
                 help_de="Heute oder später, höchstens 180 Tage.",
                 help_en="Today or later, at most 180 days."),
            office("suggested_office", "Zuständige Stelle", "Responsible office", not_code=code),
            text("not_responsible_reason", "Begründung", "Reason", min_len=10, max_len=500),
        ],
        rules=[when("responsible", True, require=["office_reference", "expected_result_date"],
                    otherwise_require=["suggested_office", "not_responsible_reason"])],
    )
    office_fields, office_rules = _p0_office_fields(code) if code else ([], [])
    work = Form(
        f"p0-bearbeiten{suffix}",
        ("Anliegen bearbeiten", "Process the request"),
        (f"Ergebnis der Vermittlung ({of_de}). Nur zweckbezogene Angaben.",
         f"Result of the referral ({of_en}). Only information needed for the purpose."),
        [
            *extra,
            enum("outcome", "Ergebnis", "Outcome", OUTCOMES, req=True),
            # ≥ ack date; proxy offices: the office's own ack date is not known (the answer
            # may arrive after a decision dated earlier), so no rule there
            date("decision_date", "Entscheidungsdatum", "Decision date", past=True,
                 **cast(dict[str, Any], {} if proxy else {  # date rule keywords (str)
                     "min": "$$acknowledged_on",
                     "help_de": "Nicht vor der Eingangsbestätigung, nicht in der Zukunft.",
                     "help_en": "Not before the acknowledgement, not in the future."})),
            datetime_("next_appointment", "Nächster Termin", "Next appointment"),
            text_list("documents_missing", "Fehlende Unterlagen", "Missing documents"),
            date("required_by", "Nachzureichen bis", "To be provided by", exclusiveMin="today",
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
        compare=[ARREARS_AT_MOST] if code in ("JC", "SOZ") else [],
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
    no_ack = acknowledge_form("p0-eskalation-eingang", ("Eskalation: Eingang nicht bestätigt",
                                                        "Escalation: receipt not acknowledged"),
                              ("Der Eingang der Vermittlung ist seit fünf Tagen nach Frist "
                               "nicht bestätigt; die KIM-Koordination ist informiert "
                               "(Teamleitung).",
                               "Receipt of the referral has not been acknowledged five days "
                               "after its due time; KIM coordination is informed (team "
                               "lead)."))
    return {"ack": ack, "work": work, "close": close, "remind": remind, "escalate": escalate,
            "no_ack": no_ack}


def _result_script(offices: list[Office]) -> str:
    """Collect the result: the office-specific fields of the referral's office (a branch per
    office that has some; every other office, a new one too, reports none)."""
    per_office = {o.code: _p0_office_fields(o.code)[0] for o in offices}
    names = ["decision_date", "next_appointment", "documents_missing", "required_by",
             "rejection_reason", "notes_for_cm"]

    def indent(text: str) -> str:
        return "\n".join("    " + line for line in text.splitlines())

    branches: list[str] = []
    for code, fields in sorted(per_office.items()):
        if not fields:
            continue
        keys = ", ".join(f'"{f.name}": {f.name}' for f in fields)
        branches += [f'{"elif" if branches else "if"} office == "{code}":',
                     indent(defaults({f.name: "None" for f in fields})),
                     f"    result = {{{keys}}}"]
    branches += (["else:", "    result = {}"] if branches else ["result = {}"])
    return _lines(
        defaults({n: "None" for n in names}),
        "if proxy_prefix:",
        indent(defaults({"recorded_channel": "None", "recorded_received_on": "None"})),
        *branches,
        'referral_status = "info_requested" if outcome == "info_needed" else "in_progress"',
    )


P0_CLEAR_ROUND = [
    "outcome", "decision_date", "next_appointment", "documents_missing", "required_by",
    "rejection_reason", "notes_for_cm",
]


def build_referral_protocol(registry: OfficeRegistry | None = None) -> Process:
    """P0 "Vermittlung bearbeiten": one process for every receiving office. Its lane's
    office is read at run time (``office_from``, engine/data_paths.py): the referral's
    office, or KIM_CM in proxy mode (``external`` offices, whose answers case management
    records, with the task names prefixed). The forms are named per office
    (``p0-eingang-{office}``), with a generic form for an office without its own."""
    reg = registry or OfficeRegistry.load()
    offices = referral_offices(reg)
    forms = p0_forms(None)  # the generic forms, named by the tasks' templates
    extra: list[Form] = []
    for o in offices:
        own = p0_forms(o)
        extra.append(own["ack"])
        if o.code != "KI_SEB":  # the school enrolment process (P3) is its work
            extra.append(own["work"])
    basis = "{legal_basis}"  # the office's legal_domain, read at run time (data_paths)
    task_props = {"name_prefix_from": "proxy_prefix"}
    lane = "RECEIVING"
    p = Process(
        "office_referral",
        "Vermittlung bearbeiten",
        ("Lokalprozess (ausführbar). Referral protocol (P0) in the receiving office: "
         "acknowledge or forward (§ 16 SGB I), process the request with requests for "
         "documents, and report the result to KIM case management. Started by the message "
         "referral_sent for every receiving office; the lane's office is the referral's "
         "office, read when a task becomes ready (office_from = worklist_office). Proxy mode "
         "(offices marked external in offices.toml): the office does not log in; KIM case "
         "management records its answers on its behalf in its own queue."),
        [lane],
        participant="Empfangende Stelle",
        lane_names={lane: "Empfangende Stelle"},
        lane_from={lane: "worklist_office"},
        extra_forms=extra,
    )
    p.start("Msg_ReferralSent", "Vermittlung eingegangen", message="referral_sent",
            var="referral", doc="A referral from KIM case management arrives (referral_sent).")
    p.script("Task_SetDeadlines", "Fristen setzen", _lines(
        'referral_id = referral["referral_id"]',
        'case_id = referral.get("case_id")',
        'office = referral["office"]',
        # proxy mode: case management records the external office's answers (brief 4.2)
        'worklist_office = "KIM_CM" if is_external(office) else office',
        'proxy_prefix = "Antwort der Stelle erfassen: " if is_external(office) else ""',
        "legal_basis = legal_domain(office)",
        'purpose = referral.get("purpose")',
        'requested_service = referral.get("requested_service") or ""',
        'urgency = referral.get("urgency") or "normal"',
        "received_at = today()",
        'sent_at = referral.get("sent_at") or now()',
        'due_ack = due_time(referral.get("due_ack") or referral_due(office, "ack", sent_at))',
        'due_result = due_time(referral.get("due_result") or referral_due(office, "result", '
        'sent_at, urgency != "normal"))',
        "escalate_at = due_in(sent_at, 2 * days_between(sent_at, due_result))",
        'original_receipt_date = referral.get("original_receipt_date") or received_at',
        'shared_data = referral.get("data") or {}',
        'referral_status = "sent"',
        "closed_no_cooperation = False",
        'outcome = "new"',
    ), doc="Take the referral's due times (ISO 8601 with the Berlin offset, the ones the "
           "referral record holds); the acknowledgement is due at due_ack, the result at "
           "due_result; the office escalates internally at sent + 2 x SLA.",
        basis=basis, rag=RAG_IN)
    # The acknowledgement sits in a small subprocess with the team lead's notice: when the
    # office answers, a terminate end event closes an open notice (cause "acknowledged" or
    # "forwarded", brief 4.3: "open chase/escalation tasks close automatically").
    sub_ack = "Sub_Ack"
    ack_sub = p.sub(sub_ack, "Eingang bestätigen (mit Eskalation)",
                    doc="Acknowledge receipt; an escalation of KIM case management five days "
                        "after due_ack notifies the office's team lead until the office "
                        "answers.", basis=f"{basis}; § 16 SGB I", rag=RAG_FORMAL)
    p.boundary_message("Bnd_WithdrawnAck", "Vermittlung zurückgenommen", sub_ack,
                       "referral_withdrawn", "withdrawal",
                       doc="KIM case management withdraws the referral: the task leaves the "
                           "queue.")
    k = ack_sub
    k.start("Start_Ack")
    k.user("Task_AckReferral", "Eingang bestätigen und Zuständigkeit prüfen",
           forms["ack"], form_template=P0_ACK_FORM, due="due_time(due_ack)", props=task_props,
           doc="Acknowledge receipt and state whether the office is responsible; if not, name "
               "the responsible office (the original receipt date still counts, § 16 SGB I).",
           instructions="Vermittlung {{ referral_id }} ({{ purpose }}): {{ requested_service }}. "
                        "Bitte bis {{ due_ack }} den Eingang bestätigen.",
           basis=f"{basis}; § 16 SGB I", rag=RAG_FORMAL)
    k.boundary_message("Bnd_EscalatedNoAck", "Eskalation: Eingang unbestätigt",
                       "Task_AckReferral", "referral_escalated", "escalation",
                       interrupting=False,
                       doc="Five days after due_ack KIM case management escalates the "
                           "unacknowledged referral (referral_escalated): the office's team "
                           "lead is notified (non-interrupting).")
    k.user("Task_TeamLeadNoAck", "Eskalation: Eingang nicht bestätigt",
           forms["no_ack"], props={"role": "TEAM_LEAD", **task_props},
           doc="The office's team lead takes up the referral whose receipt is unconfirmed "
               "five days after its due time (KIM coordination has the escalation too); the "
               "notice closes when the office answers.",
           instructions="Vermittlung {{ referral_id }} ({{ purpose }}): Eingang war fällig am "
                        "{{ due_ack }}.",
           basis=f"{basis}; {TINTG}", rag=RAG_CHECK)
    k.end("End_TeamLeadNoAck", "Eskalation zur Kenntnis genommen")
    k.xgw("Gw_AckAnswer", "Zuständig?", default="Flow_Gw_AckAnswer_End_AckForwarded")
    k.end("End_AckAcknowledged", "Eingang bestätigt", terminate=True,
          cancel_reason="acknowledged",
          doc="The office acknowledged: an open team-lead notice closes (acknowledged).")
    k.end("End_AckForwarded", "Weiterleitung angezeigt", terminate=True,
          cancel_reason="forwarded",
          doc="The office forwards the referral: an open team-lead notice closes "
              "(forwarded).")
    k.chain("Start_Ack", "Task_AckReferral", "Gw_AckAnswer")
    k.flow("Gw_AckAnswer", "End_AckAcknowledged", "responsible == True", name="ja")
    k.flow("Gw_AckAnswer", "End_AckForwarded", name="nein")
    k.chain("Bnd_EscalatedNoAck", "Task_TeamLeadNoAck", "End_TeamLeadNoAck")
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
    p.script("Task_RecordAck", "Eingangsbestätigung vermerken", "acknowledged_on = today()",
             doc="Keep the acknowledgement date: the decision date may not lie before it.",
             basis=basis, rag=RAG_IN)
    sub_work, sub_rounds, sub_info = "Sub_Work", "Sub_Rounds", "Sub_AwaitInfo"
    # The boundary events sit on a plain subprocess around the loop of rounds: SpiffWorkflow
    # 3.2 cannot interrupt a loop activity itself (its child subprocess stays registered and
    # the next engine step fails).
    work = p.sub(sub_work, "Anliegen bearbeiten (mit Fristen)",
                 doc="Process the request with the office-side SLA timers; KIM case "
                     "management may withdraw the referral meanwhile.",
                 basis=basis, rag=RAG_DECIDE)
    p.boundary_timer("Bnd_DueResult", "Ergebnis fällig", sub_work, "timeDate",
                     "due_time(due_result)",
                     doc="At due_result: reminder to the office (non-interrupting).")
    p.boundary_timer("Bnd_Escalate", "Doppelte Frist überschritten", sub_work, "timeDate",
                     "due_time(escalate_at)",
                     doc="At sent + 2 x SLA: escalation to the office's team lead.")
    p.boundary_message("Bnd_WithdrawnWork", "Vermittlung zurückgenommen", sub_work,
                       "referral_withdrawn", "withdrawal",
                       doc="KIM case management withdraws the referral while it is processed.")
    work.start("Start_Work")
    rounds = work.sub(sub_rounds, "Anliegen bearbeiten",
                      doc="Process the request; every request for documents is one round "
                          "(a loop of subprocess rounds, not a back edge).",
                      basis=basis, rag=RAG_CHECK,
                      loop={"type": "standard", "maximum": 20,
                            "condition": 'outcome == "info_needed" and not '
                                         'closed_no_cooperation'})
    work.end("End_Work", "Bearbeitet")
    work.chain("Start_Work", sub_rounds, "End_Work")
    p.user("Task_RemindResult", "Erinnerung: Ergebnis fällig", forms["remind"],
           props=task_props, doc="The result is due: finish the request or report a delay.",
           basis=basis, rag=RAG_CHECK)
    p.user("Task_EscalateOverdue", "Eskalation: Vermittlung überfällig",
           forms["escalate"], props={"role": "TEAM_LEAD", **task_props},
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
    p.chain("Msg_ReferralSent", "Task_SetDeadlines", sub_ack, "Gw_Responsible")
    p.flow("Gw_Responsible", "Msg_Acknowledged", "responsible == True", name="ja")
    p.flow("Gw_Responsible", "End_Forwarded", name="nein")
    p.chain("Msg_Acknowledged", "Task_RecordAck", sub_work, "Msg_Result", "End_Completed")
    p.flow("Bnd_DueResult", "Task_RemindResult")
    p.flow("Task_RemindResult", "End_Reminded")
    p.flow("Bnd_Escalate", "Task_EscalateOverdue")
    p.flow("Task_EscalateOverdue", "End_Escalated")
    p.flow("Bnd_WithdrawnAck", "Task_RecordWithdrawal")
    p.flow("Bnd_WithdrawnWork", "Task_RecordWithdrawal")
    p.chain("Task_RecordWithdrawal", "Msg_WithdrawnResult", "End_Withdrawn")

    r = rounds
    r.start("Start_Round", "Runde beginnt")
    # office-specific work: the newcomer school counselling (KI_SEB) runs the school
    # enrolment process (P3); every other office decides in its own form
    r.xgw("Gw_OfficeWork", "Schulplatzvermittlung?",
          default="Flow_Gw_OfficeWork_Task_ProcessReferral")
    r.call("Call_SchoolEnrolment", "Schulplatz vermitteln", "kim_school_enrolment",
           doc="The office-specific work of the newcomer school counselling is the school "
               "enrolment process (P3), run as a call activity.",
           basis="§ 34, § 46 Abs. 7 SchulG NRW", rag=RAG_CHECK)
    r.user("Task_ProcessReferral", "Anliegen bearbeiten", forms["work"],
           form_template=P0_WORK_FORM, due="due_time(due_result)", props=task_props,
           doc="Decide or act on the request under the office's own law and record the "
               "result; ask for missing documents if needed.",
           instructions="Vermittlung {{ referral_id }} ({{ purpose }}): "
                        "{{ requested_service }}. Ergebnis fällig am {{ due_result }}.",
           basis=basis, rag=RAG_DECIDE)
    r.xgw("Gw_OfficeWorkDone")
    r.script("Task_CollectResult", "Ergebnis zusammenstellen",
             _result_script(offices),
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
    r.chain("Start_Round", "Gw_OfficeWork")
    r.flow("Gw_OfficeWork", "Call_SchoolEnrolment", 'office == "KI_SEB"', name="KI_SEB")
    r.flow("Gw_OfficeWork", "Task_ProcessReferral", name="andere Stellen")
    r.flow("Call_SchoolEnrolment", "Gw_OfficeWorkDone")
    r.flow("Task_ProcessReferral", "Gw_OfficeWorkDone")
    r.chain("Gw_OfficeWorkDone", "Task_CollectResult", "Gw_Outcome")
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
    w.user("Task_CloseNoCooperation", "Vermittlung wegen fehlender Mitwirkung "
           "abschließen", forms["close"], props=task_props,
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


def render_referral_protocol(registry: OfficeRegistry | None = None) -> str:
    """The P0 BPMN (process ``office_referral``, one for every receiving office)."""
    return render_process(build_referral_protocol(registry))


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
        forms_fields, rules=consent_rules, case_if=signer_rules("valid_from"))
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
        defaults({"person": "{}", "assessment": "{}", "goals": "[]", "case_id": "None"}),
        "if case_id is None:",
        "    case_id = case_ref()",
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
        "    new_consent = record_consent(new_consent)",
        "    new_consents = new_consents + [new_consent]",
    ), doc="Record the consent in the consent register at once (one per office and purpose: "
           "an overlapping one is extended, never doubled).",
        basis=CONSENT_BASIS, rag=RAG_IN)
    r.xgw("Gw_ConsentNow", "Einwilligung jetzt gültig?",
          default="Flow_Gw_ConsentNow_Task_NotSent")
    r.throw("Msg_ConsentRecorded", "Einwilligung registrieren", CONSENT_MESSAGE,
            '{"case_id": case_id, "consents": [new_consent]}',
            doc="Record the consent in the consent register (the referral gate checks it).")
    r.script("Task_NotSent", "Nicht gesendet vermerken",
             'referral_status = "not_sent"',
             doc="Without consent nothing is sent; the referral ends as not_sent.",
             basis=CONSENT_BASIS, rag=RAG_IN)
    r.script("Task_SendPrep", "Vermittlungsdaten zusammenstellen", _lines(
        "consent = find_consent(office, purpose)",
        'consent_id = consent["consent_id"]',
        "sent_at = now()",
        'due_ack = referral_due(office, "ack", sent_at)',
        'due_result = referral_due(office, "result", sent_at, urgency != "normal")',
        "escalate_at = due_in(sent_at, 2 * days_between(sent_at, due_result))",
        'shared_data = share_by_consent(consent["data_categories"], office, person, assessment, '
        'current.get("data") or {}, {"goals": goals})',
        'referral_status = "sent"',
    ), doc="Compute the due times from the office's SLA (calendar days at the same Berlin "
           "wall time, ISO 8601 with offset: the referral record and the timers use these "
           "values) and filter the case data, with the data the caller gives the referral "
           "(referral[\"data\"], e.g. P5's arrears and rent for the payer), to the consent's "
           "categories (DP-05; case-manager notes are never included).",
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
    r.flow("Gw_ConsentValid", "Task_SendPrep", "has_consent(office, purpose)",
           name="ja")
    r.flow("Gw_ConsentValid", "Task_ObtainConsent", name="nein")
    r.chain("Task_ObtainConsent", "Task_RecordConsent", "Gw_ConsentNow")
    r.flow("Gw_ConsentNow", "Msg_ConsentRecorded", "has_consent(office, purpose)",
           name="ja")
    r.flow("Msg_ConsentRecorded", "Task_SendPrep")
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
    a.end("End_AckReceived", "Bestätigt", terminate=True, cancel_reason="acknowledged")
    a.catch("Msg_Forwarded", "Weitergeleitet", "referral_forwarded", "forward")
    a.script("Task_ForwardReceived", "Weiterleitung vermerken", 'referral_status = "forwarded"',
             doc="The office is not responsible and forwarded the referral.",
             basis="§ 16 SGB I")
    a.end("End_ForwardReceived", "Weitergeleitet", terminate=True, cancel_reason="forwarded")
    a.catch("Msg_EarlyResult", "Vorzeitig beendet", "referral_result", "result_msg")
    a.script("Task_EarlyResult", "Vorzeitiges Ende vermerken", 'referral_status = "completed"',
             doc="The referral ended before an acknowledgement (e.g. it was withdrawn).",
             basis=TINTG)
    a.end("End_EarlyResult", "Beendet", terminate=True)
    a.wait("Tmr_DueAck", "Eingang fällig", "timeDate", "due_time(due_ack)")
    a.user("Task_ChaseAck", "Eingang nicht bestätigt – nachfassen", chase, lane="KIM_CM",
           doc="The acknowledgement is overdue (overdue_ack): contact the office.",
           basis=TINTG, rag=RAG_COOP)
    a.end("End_Chased", "Nachgefasst")
    a.wait("Tmr_EscalateAck", "Fünf Tage nach Frist", "timeDate", "due_in(due_ack, 5)")
    a.throw("Msg_EscalateNoAck", "Teamleitung der Stelle informieren", "referral_escalated",
            '{"referral_id": referral_id, "case_id": case_id, "office": office, '
            '"reason": "no_ack", "due_ack": due_ack, "escalated_at": now()}', lane="KIM_KO",
            doc="Notify the receiving office's team lead (brief 4.2: escalation to KIM_KO "
                "+ notification to the office TEAM_LEAD).")
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
    a.chain("Tmr_EscalateAck", "Msg_EscalateNoAck", "Task_EscalateNoAck", "End_EscalatedAck")

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
    w.wait("Tmr_DueResult", "Ergebnis fällig", "timeDate", "due_time(due_result)")
    w.user("Task_ChaseResult", "Ergebnis überfällig – nachfassen", chase_result, lane="KIM_CM",
           doc="The result is overdue (overdue_result): contact the office.", basis=TINTG,
           rag=RAG_COOP)
    w.end("End_ChasedResult", "Nachgefasst")
    w.wait("Tmr_EscalateResult", "Doppelte Frist", "timeDate", "due_time(escalate_at)")
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
# P3: school enrolment of a newly arrived child
# ================================================================================================

SCHOOL_BASIS = "§ 34, § 46 Abs. 7 SchulG NRW"


def build_school_enrolment() -> Process:
    counselling = Form(
        "p3-erstberatung",
        ("Erstberatung Seiteneinsteiger", "First counselling of a newcomer pupil"),
        ("Erstberatung von Familie und Kind: Schulbiografie, Sprache, Vorschlag für die "
         "Schulform. Keine Angaben zum Aufenthaltsstatus (nicht erforderlich).",
         "First counselling of family and child: schooling, language, proposed school form. "
         "No residence status (not needed)."), [
            person_name("child_first_name", "Vorname des Kindes", "Child's first name", req=True),
            person_name("child_last_name", "Familienname des Kindes", "Child's family name",
                        req=True),
            date("child_birth_date", "Geburtsdatum des Kindes", "Child's date of birth",
                 req=True, past=True, help_de="Alter 3 bis 21 Jahre.",
                 help_en="Age 3 to 21 years.", max="today-P3Y", exclusiveMin="today-P22Y"),
            date("assignment_or_registration_date", "Zuweisung an die Kommune / Anmeldung",
                 "Assignment to the municipality / registration", req=True, past=True,
                 help_de="Beginn der Schulpflicht (§ 34 Abs. 6 SchulG NRW).",
                 help_en="Start of compulsory schooling."),
            person_name("guardian_name", "Name der/des Sorgeberechtigten", "Guardian's name",
                        req=True),
            phone("guardian_phone", "Telefon der/des Sorgeberechtigten", "Guardian's phone",
                  req=True),
            languages("languages", "Sprachen des Kindes", "Child's languages", req=True),
            integer("schooling_years_abroad", "Schulbesuchsjahre im Ausland",
                    "Years of schooling abroad", 0, 12, req=True,
                    help_de="Höchstens Alter minus 5 Jahre.",
                    help_en="At most the age minus 5 years."),
            integer("last_grade_abroad", "Zuletzt besuchte Klasse", "Last grade attended", 0, 13),
            boolean("literacy_latin_script", "Alphabetisiert in lateinischer Schrift",
                    "Literate in Latin script", req=True),
            enum("german_level", "Deutschkenntnisse", "German level", [
                ("none", "Keine", "None"), ("A1", "A1", "A1"), ("A2", "A2", "A2"),
                ("B1", "B1", "B1"), ("B2", "B2", "B2")], req=True),
            boolean("special_support_indication", "Hinweis auf Förderbedarf",
                    "Indication of special support needs", req=True,
                    help_de="Keine Gesundheitsangaben hier.", help_en="No health details here."),
            enum("placement_proposal", "Vorschlag Schulform", "Proposed school form",
                 SCHOOL_FORMS, req=True),
            text("remarks", "Bemerkungen", "Remarks", max_len=1000),
        ],
        compare=[SCHOOLING_AT_MOST_AGE_MINUS_5])
    exam = Form(
        "p3-untersuchung", ("Schuleingangs-/Seiteneinsteigeruntersuchung durchführen",
                            "Carry out the school entry examination"),
        ("Untersuchung durch das Gesundheitsamt. An die Schule gehen nur die Schulfähigkeit "
         "und Hinweise ohne Diagnosen (DP-08).",
         "Examination by the public health office. The school receives only fitness for "
         "school and notes without diagnoses."), [
            date("exam_date", "Untersuchungsdatum", "Examination date", req=True, past=True),
            boolean("exam_done", "Untersuchung durchgeführt", "Examination done", req=True),
            enum("fit_for_school", "Schulfähigkeit", "Fit for school", [
                ("yes", "Ja", "Yes"), ("yes_with_support", "Ja, mit Unterstützung",
                                       "Yes, with support"),
                ("deferral_recommended", "Zurückstellung empfohlen", "Deferral recommended")],
                 req=True),
            enum("measles_status", "Masernschutz", "Measles protection", [
                ("proof_complete", "Nachweis vollständig", "Proof complete"),
                ("incomplete", "Unvollständig", "Incomplete"),
                ("contraindication", "Kontraindikation", "Contraindication"),
                ("unknown", "Unbekannt", "Unknown")], req=True),
            text("notes_for_school", "Hinweise für die Schule", "Notes for the school",
                 max_len=300, ui_help="Keine Diagnosen."),
        ])
    assign = Form(
        "p3-schulplatz", ("Schulplatz zuweisen", "Assign a school place"),
        ("Zuweisung durch das Schulamt (§ 46 Abs. 7 SchulG NRW). Die Schulform muss zum "
         "Bildungsweg passen.",
         "Assignment by the school authority. The school form must fit the track."), [
            text("school_name", "Schule", "School", req=True, max_len=200),
            text("school_number", "Schulnummer (NRW)", "School number (NRW)", req=True,
                 max_len=6, pattern="^[0-9]{6}$", help_de="6 Ziffern", help_en="6 digits"),
            enum("school_form", "Schulform", "School form", SCHOOL_FORMS, req=True),
            integer("grade", "Klasse", "Grade", 1, 13, req=True),
            enum("support_model", "Fördermodell", "Support model", [
                ("deutschfoerderklasse", "Deutschförderklasse", "German support class"),
                ("deutschfoerdergruppe", "Deutschfördergruppe", "German support group"),
                ("regelklasse_mit_daz", "Regelklasse mit DaZ", "Regular class with GSL"),
                ("internationale_foerderklasse", "Internationale Förderklasse",
                 "International support class")], req=True),
            date("start_date", "Schulbeginn", "First day at school", req=True, min="today",
                 help_de="Heute oder später; Hinweis, wenn später als in 6 Wochen.",
                 help_en="Today or later."),
            boolean("transport_needed", "Schülerbeförderung nötig", "Transport needed", req=True),
        ], case_if=[
            {"key": "$$track", "const": track, "then": {"properties": {"school_form": {
                "enum": forms_, "x-messages": {"enum": {
                    "de": f"Passt nicht zum Bildungsweg {track_de}: "
                          + ", ".join(dict((c, d) for c, d, _ in SCHOOL_FORMS)[f]
                                      for f in forms_),
                    "en": f"Does not fit the track {track}: " + ", ".join(forms_)}}}}}}
            for track, forms_ in SCHOOL_FORMS_BY_TRACK.items()
            for track_de in [{"primar": "Primarstufe", "sek1": "Sekundarstufe I",
                              "berufskolleg": "Berufskolleg"}[track]]
        ])
    admit = Form(
        "p3-aufnahme", ("Aufnahme bestätigen", "Confirm admission"),
        ("Die aufnehmende Schule bestätigt die Aufnahme. Ein fehlender Masernschutznachweis "
         "verhindert die Aufnahme nicht; die Schule meldet ihn dem Gesundheitsamt.",
         "The receiving school confirms admission. A missing measles proof never blocks "
         "admission; the school reports it to the public health office."), [
            date("first_school_day", "Erster Schultag", "First school day", req=True,
                 min="$$start_date-P7D",
                 help_de="Frühestens 7 Tage vor dem zugewiesenen Schulbeginn.",
                 help_en="At most 7 days before the assigned start date."),
            text("class_name", "Klasse", "Class", req=True, max_len=20),
            enum("measles_proof", "Masernschutznachweis", "Measles proof", [
                ("vorhanden", "Vorhanden", "Present"), ("fehlt", "Fehlt", "Missing"),
                ("kontraindikation", "Kontraindikation", "Contraindication")], req=True),
            text("contact_teacher", "Ansprechperson an der Schule", "Contact teacher",
                 req=True, max_len=100),
        ])
    remind_exam = acknowledge_form("p3-erinnerung-untersuchung",
                                   ("Erinnerung: Untersuchung ausstehend",
                                    "Reminder: examination pending"),
                                   ("Die Untersuchung ist seit 28 Tagen offen (Teamleitung GA).",
                                    "The examination has been pending for 28 days."))
    remind_school = acknowledge_form("p3-erinnerung-schulplatz",
                                     ("Erinnerung: Schulplatz ausstehend",
                                      "Reminder: school place pending"),
                                     ("Die Zuweisung ist seit 14 Tagen offen.",
                                      "The assignment has been pending for 14 days."))
    escalate_school = acknowledge_form("p3-eskalation-schulplatz",
                                       ("Eskalation: Schulplatz nach 28 Tagen offen",
                                        "Escalation: school place open after 28 days"),
                                       ("Die Zuweisung ist seit 28 Tagen offen.",
                                        "The assignment has been open for 28 days."))
    critical = acknowledge_form("p3-bildungszugang",
                                ("Kritisch: Bildungszugang länger als 3 Monate offen",
                                 "Critical: access to education open for more than 3 months"),
                                ("Drei Monate nach Beginn der Schulpflicht ist noch kein "
                                 "Schulplatz zugewiesen (Art. 14 Abs. 2 RL 2013/33/EU).",
                                 "Three months after compulsory schooling began there is no "
                                 "school place yet."))
    p = Process(
        "kim_school_enrolment", "Schulplatzvermittlung Seiteneinsteiger",
        "Lokalprozess (ausführbar). School enrolment of a newly arrived child (P3): first "
        "counselling at the KI, then the health examination (GA) and the school assignment "
        "(Schulamt) in parallel, then admission at the school. Children under 6 and adults "
        "end early with a recommendation. Runs as the office-specific work of the KI_SEB "
        "referral protocol, or on its own when a family comes to the KI directly.",
        ["KI_SEB", "GA", "SCHUL", "SCHULE", "KIM_KO"],
        participant="Kommunales Integrationszentrum – Schulplatzvermittlung")
    p.start("Start_School", "Kind vorgestellt")
    p.user("Task_NewcomerCounselling", "Erstberatung Seiteneinsteiger durchführen", counselling,
           doc="First counselling of family and child; record schooling, languages and a "
               "placement proposal.", basis="SchulG NRW; Erlass Seiteneinsteiger",
           rag=RAG_IN)
    p.script("Task_DeriveTrack", "Bildungsweg bestimmen", _lines(
        defaults({"case_id": "None", "remarks": "None", "last_grade_abroad": "None"}),
        "age = age_on(child_birth_date, today())",
        "schulpflicht_begin = assignment_or_registration_date",
        'track = "berufskolleg" if age >= 16 else ("primar" if age < 10 else "sek1")',
    ), doc="Age on today and start of compulsory schooling; track primary (6-9), lower "
           "secondary (10-15) or vocational college (16-17).", basis=SCHOOL_BASIS,
        rag=RAG_FORMAL)
    p.xgw("Gw_Track", "Schulpflichtig?", default="Flow_Gw_Track_Gw_ParSplit")
    p.script("Task_KitaResult", "Ergebnis: Kita statt Schule", _lines(
        'outcome = "no_action_needed"',
        "decision_date = today()",
        'track = "kita"',
        'notes_for_cm = "Nicht schulpflichtig: Kita-Platz über das Jugendamt vermitteln '
        '(JA:JUGENDHILFE)."',
    ), doc="Under 6: not of compulsory school age; recommend a childcare referral to JA.",
        basis="§ 24 SGB VIII", rag=RAG_NOTICE)
    p.end("End_Kita", "Kita empfohlen")
    p.script("Task_AdultResult", "Ergebnis: nicht mehr schulpflichtig", _lines(
        'outcome = "no_action_needed"',
        "decision_date = today()",
        'track = "adult"',
        'notes_for_cm = "Nicht mehr schulpflichtig: Integrationskurs (IKT), '
        'Jugendmigrationsdienst (JMD) oder Agentur für Arbeit (AA) prüfen."',
    ), doc="18 or older: suggest IKT, JMD or AA instead.", basis=SCHOOL_BASIS, rag=RAG_NOTICE)
    p.end("End_Adult", "Andere Angebote empfohlen")
    p.pgw("Gw_ParSplit", "Untersuchung und Zuweisung")
    exam_sub = p.sub("Sub_HealthExam", "Untersuchung (mit Frist)", lane="GA",
                     doc="The health examination with a 28-day reminder to the GA team lead.",
                     basis="§ 54 SchulG NRW; § 20 IfSG", rag=RAG_CHECK)
    school_sub = p.sub("Sub_AssignSchool", "Schulplatzzuweisung (mit Fristen)", lane="SCHUL",
                       doc="The school assignment with reminders at 14 and 28 days and a "
                           "critical escalation 3 months after compulsory schooling began.",
                       basis=SCHOOL_BASIS, rag=RAG_DECIDE)
    p.pgw("Gw_ParJoin", "Zusammenführen")
    p.user("Task_ConfirmAdmission", "Aufnahme bestätigen", admit, lane="SCHULE",
           doc="The school confirms admission and the first school day.",
           basis="SchulG NRW; § 20 Abs. 9 IfSG", rag=RAG_NOTICE)
    p.xgw("Gw_Measles", "Masernschutz fehlt?", default="Flow_Gw_Measles_Gw_MeaslesMerge")
    p.throw("Msg_NotifyGA", "Fehlenden Masernschutznachweis melden", "measles_proof_missing",
            '{"case_id": case_id, "school_number": school_number, '
            '"reported_at": today(), "basis": "§ 20 Abs. 9 IfSG"}', lane="SCHULE",
            doc="Report the missing measles proof to the public health office; admission "
                "is not blocked (compulsory schooling).")
    p.xgw("Gw_MeaslesMerge")
    p.script("Task_EnrolmentResult", "Ergebnis: Schulplatz", _lines(
        'outcome = "granted"',
        "decision_date = today()",
        'notes_for_cm = "Schulplatz: " + school_name + ", Beginn " + start_date',
    ), doc="Sum up school, start date and support model for the case manager.",
        basis=SCHOOL_BASIS, rag=RAG_NOTICE, lane="SCHULE")
    p.end("End_Enrolled", "Schulplatz vermittelt", lane="SCHULE")
    p.chain("Start_School", "Task_NewcomerCounselling", "Task_DeriveTrack", "Gw_Track")
    p.flow("Gw_Track", "Task_KitaResult", "age < 6", name="unter 6")
    p.flow("Gw_Track", "Task_AdultResult", "age >= 18", name="ab 18")
    p.flow("Gw_Track", "Gw_ParSplit", name="6 bis 17")
    p.flow("Task_KitaResult", "End_Kita")
    p.flow("Task_AdultResult", "End_Adult")
    p.flow("Gw_ParSplit", "Sub_HealthExam")
    p.flow("Gw_ParSplit", "Sub_AssignSchool")
    p.flow("Sub_HealthExam", "Gw_ParJoin")
    p.flow("Sub_AssignSchool", "Gw_ParJoin")
    p.chain("Gw_ParJoin", "Task_ConfirmAdmission", "Gw_Measles")
    p.flow("Gw_Measles", "Msg_NotifyGA", 'measles_proof == "fehlt"', name="ja")
    p.flow("Gw_Measles", "Gw_MeaslesMerge", name="nein")
    p.chain("Msg_NotifyGA", "Gw_MeaslesMerge", "Task_EnrolmentResult", "End_Enrolled")

    e = exam_sub
    e.start("Start_HealthExam")
    e.user("Task_HealthExam", "Schuleingangsuntersuchung durchführen", exam,
           doc="Examine the child (health data only with the GA:UNTERSUCHUNG consent "
               "including HEALTH).", basis="§ 54 SchulG NRW; § 20 IfSG", rag=RAG_CHECK)
    e.boundary_timer("Bnd_ExamReminder", "28 Tage", "Task_HealthExam", "timeDuration", '"P28D"')
    e.user("Task_RemindHealthExam", "Erinnerung: Untersuchung ausstehend", remind_exam,
           props={"role": "TEAM_LEAD"}, doc="Reminder to the GA team lead after 28 days.",
           basis="§ 54 SchulG NRW", rag=RAG_CHECK)
    e.end("End_ExamReminded")
    e.end("End_HealthExam", "Untersucht", terminate=True)
    e.chain("Start_HealthExam", "Task_HealthExam", "End_HealthExam")
    e.chain("Bnd_ExamReminder", "Task_RemindHealthExam", "End_ExamReminded")

    a = school_sub
    a.start("Start_AssignSchool")
    a.user("Task_AssignSchool", "Schulplatz zuweisen", assign,
           doc="Assign a school place compatible with the track.", basis=SCHOOL_BASIS,
           rag=RAG_DECIDE, instructions="Bildungsweg: {{ track }}. Vorschlag KI: "
                                        "{{ placement_proposal }}.")
    a.boundary_timer("Bnd_School14", "14 Tage", "Task_AssignSchool", "timeDuration", '"P14D"')
    a.boundary_timer("Bnd_School28", "28 Tage", "Task_AssignSchool", "timeDuration", '"P28D"')
    a.boundary_timer("Bnd_School3M", "3 Monate Schulpflicht", "Task_AssignSchool", "timeDate",
                     'iso_at(add_months(schulpflicht_begin, 3), "08:00")')
    a.user("Task_RemindAssignSchool", "Erinnerung: Schulplatz ausstehend", remind_school,
           doc="Reminder to the school authority after 14 days.", basis=SCHOOL_BASIS,
           rag=RAG_DECIDE)
    a.user("Task_EscalateAssignSchool", "Eskalation: Schulplatz nach 28 Tagen offen",
           escalate_school, lane="KIM_KO",
           doc="Escalation to KIM coordination (and the Schulamt team lead) after 28 days.",
           basis=SCHOOL_BASIS, rag=RAG_DECIDE)
    a.user("Task_EducationAccessCritical", "Kritisch: Bildungszugang > 3 Monate", critical,
           lane="KIM_KO", props={"priority": "critical"},
           doc="Three months after compulsory schooling began (EU Reception Directive "
               "Art. 14(2)).", basis="Art. 14 Abs. 2 RL 2013/33/EU", rag=RAG_DECIDE)
    a.end("End_SchoolReminded")
    a.end("End_SchoolEscalated")
    a.end("End_SchoolCritical")
    a.end("End_AssignSchool", "Zugewiesen", terminate=True)
    a.chain("Start_AssignSchool", "Task_AssignSchool", "End_AssignSchool")
    a.chain("Bnd_School14", "Task_RemindAssignSchool", "End_SchoolReminded")
    a.chain("Bnd_School28", "Task_EscalateAssignSchool", "End_SchoolEscalated")
    a.chain("Bnd_School3M", "Task_EducationAccessCritical", "End_SchoolCritical")
    return p


# ================================================================================================
# P1: case intake and clearing
# ================================================================================================

GENDERS: list[Option] = [("f", "weiblich", "female"), ("m", "männlich", "male"),
                         ("d", "divers", "diverse"), ("x", "keine Angabe", "not stated")]
DISTRICTS: list[Option] = [  # [D] a municipality replaces these with its own districts
    ("mitte", "Mitte", "Centre"), ("nord", "Nord", "North"), ("ost", "Ost", "East"),
    ("sued", "Süd", "South"), ("west", "West", "West"),
]
EXISTING_CM: list[Option] = [
    ("none", "Keines", "None"), ("jc_fallmanagement", "Fallmanagement Jobcenter",
                                  "Job centre case management"),
    ("jugendamt_hilfeplan", "Hilfeplan Jugendamt", "Youth office support plan"),
    ("mbe", "Migrationsberatung (MBE)", "Migration counselling (MBE)"),
    ("jmd", "Jugendmigrationsdienst (JMD)", "Youth migration service (JMD)"),
    ("rechtliche_betreuung", "Rechtliche Betreuung", "Legal custodianship"),
    ("other", "Sonstiges", "Other"),
]
INQUIRY_FIELDS = [
    "source_channel", "referring_office", "first_name", "last_name", "name_latin",
    "birth_date", "gender", "nationality", "languages", "interpreter_needed", "phone", "email",
    "street", "postcode", "city", "arrival_date_de", "residence_status", "household_size",
    "minors_in_household", "urgent", "urgent_reason", "inquiry_reason",
]
PERSON_FIELDS = [
    "first_name", "last_name", "name_latin", "birth_date", "gender", "nationality",
    "languages", "interpreter_needed", "phone", "email", "street", "postcode", "city",
    "arrival_date_de", "residence_status", "household_size", "minors_in_household",
]


def inquiry_form() -> Form:
    return Form(
        "p1-anfrage", ("Anfrage erfassen", "Record the inquiry"),
        ("Wer fragt an, über welchen Weg, wie dringend. Namen werden genau so gespeichert, "
         "wie sie eingegeben werden (jede Schrift).",
         "Who asks, through which channel, how urgent. Names are stored exactly as entered "
         "(any script)."), [
            enum("source_channel", "Zugangsweg", "Channel", [
                ("walk_in", "Offene Sprechstunde", "Walk-in"),
                ("referral_office", "Zuweisung durch eine Stelle", "Referred by an office"),
                ("phone_selfreferral", "Telefonisch / selbst", "Phone / self-referral"),
                ("outreach", "Aufsuchend", "Outreach"), ("other", "Sonstiges", "Other")],
                 req=True),
            office("referring_office", "Zuweisende Stelle", "Referring office"),
            person_name("first_name", "Vorname(n)", "First name(s)", req=True),
            person_name("last_name", "Familienname", "Family name", req=True),
            name_latin("name_latin", "Name in lateinischer Schrift", "Name in Latin script"),
            date("birth_date", "Geburtsdatum", "Date of birth", req=True, past=True),
            enum("gender", "Geschlecht", "Gender", GENDERS, req=True),
            nationality("nationality", "Staatsangehörigkeit", "Nationality", req=True),
            languages("languages", "Sprachen", "Languages", req=True),
            boolean("interpreter_needed", "Dolmetschung nötig", "Interpreter needed", req=True),
            phone("phone", "Telefon", "Phone"),
            email("email", "E-Mail", "E-mail"),
            text("street", "Straße und Hausnummer", "Street and number", max_len=100),
            postcode("postcode", "Postleitzahl", "Postcode"),
            text("city", "Ort", "City", max_len=100),
            date("arrival_date_de", "Einreise nach Deutschland", "Arrival in Germany",
                 past=True, min="$birth_date"),
            enum("residence_status", "Aufenthaltsstatus", "Residence status",
                 RESIDENCE_STATUSES, req=True),
            integer("household_size", "Personen im Haushalt", "Household size", 1, 20,
                    req=True),
            integer("minors_in_household", "Davon minderjährig", "Of whom minors", 0, 20,
                    req=True, help_de="Höchstens so viele wie Personen im Haushalt.",
                    help_en="At most the household size."),
            boolean("urgent", "Dringend", "Urgent", req=True),
            text("urgent_reason", "Grund der Dringlichkeit", "Reason for urgency", min_len=10,
                 max_len=500),
            text("inquiry_reason", "Anliegen", "Reason for the inquiry", req=True, min_len=10,
                 max_len=1000),
        ],
        rules=[when("source_channel", "referral_office", require=["referring_office"]),
               when("urgent", True, require=["urgent_reason"])],
        any_of=[["phone"], ["email"], ["street", "postcode", "city"]],
        dependent_required={"street": ["postcode", "city"], "postcode": ["street", "city"],
                            "city": ["street", "postcode"]},
        compare=[MINORS_AT_MOST_HOUSEHOLD],
    )


def short_advice_form(slug: str) -> Form:
    return Form(
        slug, ("Kurzberatung dokumentieren", "Document short advice"),
        ("Kurzberatung ohne Fallmanagement. Keine identifizierenden Angaben: die Anfrage wird "
         "nach 30 Tagen anonymisiert.",
         "Short advice without case management. No identifying details: the inquiry is "
         "anonymised after 30 days."), [
            multi("topics", "Themen", "Topics", HANDLUNGSFELDER, req=True),
            office("referred_to", "Verwiesen an", "Referred to"),
            text("advice_note", "Vermerk (ohne Namen)", "Note (no names)", max_len=1000),
        ])


def build_intake_clearing() -> Process:
    allocate = Form("p1-zuweisung", ("Fall zuweisen", "Allocate the case"),
                    ("Fallverantwortliche Person und Bezirk festlegen.",
                     "Choose the responsible case manager and the district."), [
        text("assigned_cm", "Fallmanager:in (Kennung)", "Case manager (user id)", req=True,
             max_len=64, pattern="^[a-z0-9][a-z0-9._-]{1,63}$",
             help_de="Benutzerkennung mit Rolle KIM_CM; Hinweis ab 40 offenen Fällen.",
             help_en="User id with the KIM_CM role; warning from 40 open cases."),
        enum("district", "Bezirk", "District", DISTRICTS, req=True),
        text("allocation_note", "Vermerk", "Note", max_len=500),
    ])
    interview = Form("p1-erstgespraech", ("Erstgespräch durchführen und informieren",
                                          "Hold the first interview and inform"),
                     ("Erstgespräch; Information nach Art. 13 DSGVO in einer verständlichen "
                      "Sprache.", "First interview; information under Art. 13 GDPR in a "
                                  "language the person understands."), [
        date("intake_date", "Datum des Erstgesprächs", "Date of the interview", req=True,
             past=True, min="$$inquiry_date",
             help_de="Nicht vor dem Tag der Anfrage, nicht in der Zukunft.",
             help_en="Not before the day of the inquiry, not in the future."),
        boolean("informed_art13", "Über die Datenverarbeitung informiert (Art. 13 DSGVO)",
                "Informed about data processing (Art. 13 GDPR)", req=True, must_be_true=True),
        language("information_language", "Sprache der Information", "Language of the "
                 "information", req=True),
        enum("interpreter_used", "Dolmetschung", "Interpreting", INTERPRETERS, req=True,
             help_de="Hinweis, wenn Dolmetschung nötig war und keine eingesetzt wurde.",
             help_en="Warning if an interpreter was needed and none was used."),
        text("interview_summary", "Gesprächsnotiz (nur Fallmanagement)",
             "Interview notes (case management only)", max_len=4000),
    ])
    cm_consent = Form("p1-einwilligung-cm", ("Einwilligung Case Management erfassen",
                                             "Record the case-management consent"),
                      ("Basiseinwilligung KIM_CM:CASE_MANAGEMENT (schriftlich oder elektronisch, "
                       "§ 67b Abs. 2 SGB X).",
                       "Base consent KIM_CM:CASE_MANAGEMENT (written or electronic)."), [
        boolean("consent_cm_given", "Einwilligung erteilt", "Consent given", req=True),
        date("consent_date", "Datum der Einwilligung", "Date of consent", past=True,
             min="$$intake_date", help_de="Nicht vor dem Erstgespräch, nicht in der Zukunft.",
             help_en="Not before the first interview, not in the future."),
        enum("consent_form", "Form", "Form", CONSENT_FORMS),
        enum("signed_by", "Unterschrieben von", "Signed by", SIGNERS,
             help_de="Unter 16: Sorgeberechtigte; 16-17: die Person und Sorgeberechtigte.",
             help_en="Under 16: guardian; 16-17: the person and a guardian."),
        person_name("guardian_name", "Name der/des Sorgeberechtigten", "Name of the guardian"),
        guardian_cosigned(),
        language("consent_language", "Sprache der Einwilligung", "Language of the consent"),
        boolean("includes_health_data", "Einschließlich Gesundheitsdaten (Art. 9 DSGVO)",
                "Including health data (Art. 9 GDPR)", req=True),
        document_ref("document_ref", "Unterschriebene Einwilligung", "Signed consent"),
        boolean("feedback_to_referrer", "Rückmeldung an die zuweisende Stelle erlaubt",
                "Feedback to the referring office allowed",
                help_de="Erzeugt die Einwilligung KIM:FEEDBACK_REFERRER. Pflicht, wenn eine "
                        "Stelle zugewiesen hat.",
                help_en="Creates the consent KIM:FEEDBACK_REFERRER. Required when an office "
                        "referred the person."),
    ], rules=[
        when("consent_cm_given", True, require=["consent_date", "consent_form", "signed_by",
                                                "consent_language"]),
        when("signed_by", ["parent_guardian", "legal_guardian", "betreuer"],
             require=["guardian_name"]),
        when("consent_form", "schriftlich", require=["document_ref"]),
    ], case_if=[
        *signer_rules("consent_date"),
        # brief F1.4: feedback_to_referrer "if source_channel = referral_office" (F1.1)
        {"key": "$$source_channel", "const": "referral_office",
         "then": when("consent_cm_given", True, require=["feedback_to_referrer"])},
    ])
    clearing = Form("p1-clearing", ("Clearing: Indikation prüfen", "Clearing: check indication"),
                    ("Ist Case Management angezeigt? Vorschlag: mindestens drei Handlungsfelder "
                     "und die Regelversorgung reicht nicht.",
                     "Is case management indicated? Suggested: at least three fields of action "
                     "and standard services are not enough."), [
        multi("handlungsfelder_need", "Handlungsfelder mit Bedarf", "Fields of action with "
              "needs", HANDLUNGSFELDER, req=True),
        integer("involved_actors_count", "Beteiligte Stellen", "Offices involved", 0, 30,
                req=True),
        boolean("regelversorgung_sufficient", "Regelversorgung reicht aus",
                "Standard services are enough", req=True),
        enum("existing_case_management", "Bestehendes Fallmanagement", "Existing case "
             "management", EXISTING_CM, req=True),
        boolean("cm_indicated", "Case Management angezeigt", "Case management indicated",
                req=True),
        text("clearing_rationale", "Begründung", "Rationale", req=True, min_len=20,
             max_len=2000),
        office("handover_office", "Übergabe an", "Hand over to"),
    ], rules=[{
        "if": {"properties": {"cm_indicated": {"const": False},
                              "existing_case_management": {"not": {"const": "none"}}},
               "required": ["cm_indicated", "existing_case_management"]},
        "then": {"required": ["handover_office"]},
    }])
    handover = Form("p1-uebergabe", ("An bestehende Stelle übergeben",
                                     "Hand over to the existing service"),
                    ("Übergabe an das bestehende Fallmanagement als Vermittlung (P0); "
                     "eine Einwilligung ist nötig.",
                     "Hand-over to the existing service as a referral (P0); needs consent."), [
        purpose_field("handover_purpose", "Zweck", "Purpose", req=True),
        text("handover_note", "Übergabevermerk", "Hand-over note", req=True, max_len=1000),
    ])
    remind_alloc = acknowledge_form("p1-erinnerung-zuweisung", ("Erinnerung: Fall zuweisen",
                                                                "Reminder: allocate the case"),
                                    ("Die Zuweisungsfrist (1 Tag dringend, sonst 5 Tage) ist "
                                     "abgelaufen.", "The allocation deadline has passed."))
    remind_cm = acknowledge_form("p1-erstkontakt-cm", ("Erstkontakt überfällig",
                                                       "First contact overdue"),
                                 ("14 Tage nach der Zuweisung fand kein Erstgespräch statt.",
                                  "No first interview 14 days after allocation."))
    remind_ko = acknowledge_form("p1-erstkontakt-ko", ("Erstkontakt überfällig (Koordination)",
                                                       "First contact overdue (coordination)"),
                                 ("14 Tage nach der Zuweisung fand kein Erstgespräch statt.",
                                  "No first interview 14 days after allocation."))
    remind_clearing = acknowledge_form("p1-erinnerung-clearing", ("Erinnerung: Clearing",
                                                                  "Reminder: clearing"),
                                       ("30 Tage nach dem Erstgespräch ist das Clearing offen.",
                                        "Clearing still open 30 days after the interview."))
    p = Process(
        "kim_intake_clearing", "Fallaufnahme und Clearing",
        "Lokalprozess (ausführbar). Case intake and clearing (P1): record the inquiry, "
        "allocate the case, hold the first interview with the Art. 13 GDPR information, "
        "record the base consent and decide whether case management is indicated; then open "
        "the case (support plan P2), hand over to an existing service (a referral through "
        "P0) or document short advice. Started from the UI (walk-in) or by the message "
        "intake_request (through kim_intake_request).",
        ["KIM_KO", "KIM_CM"], participant="Kommune – KIM")
    p.start("Start_Intake", "Anfrage eingegangen")
    p.script("Task_InitIntake", "Fall anlegen", _lines(
        defaults({"walk_in": "False", "intake_id": "None", "consents": "[]",
                  "case_id": "None"}),
        'if case_id is None:',
        '    case_id = case_ref()',
        'case_status = "inquiry"',
    ), doc="Create the case id; walk-ins are recorded by the case manager, other inquiries "
           "by KIM coordination.", basis=TINTG, rag=RAG_IN, lane="KIM_KO")
    p.xgw("Gw_Entry", "Offene Sprechstunde?", default="Flow_Gw_Entry_Task_RecordInquiry")
    p.user("Task_RecordInquiry", "Anfrage erfassen", inquiry_form(),
           doc="Record the inquiry (form F1.1).", basis=TINTG, rag=RAG_IN)
    p.user("Task_RecordInquiryWalkIn", "Anfrage erfassen (Sprechstunde)", inquiry_form(),
           lane="KIM_CM", doc="Record a walk-in inquiry (form F1.1).", basis=TINTG,
           rag=RAG_IN)
    p.script("Task_NormaliseInquiry", "Anfrage übernehmen", _lines(
        defaults({n: "None" for n in INQUIRY_FIELDS}),
        "inquiry_date = today()",
        "person = {" + ", ".join(f'"{n}": {n}' for n in PERSON_FIELDS) + "}",
        'case_status = "intake"',
    ), doc="Keep the inquiry data together as the person record.", basis=TINTG, rag=RAG_IN)
    alloc = p.sub("Sub_Allocate", "Fall zuweisen (mit Frist)",
                  doc="Allocation with an SLA reminder to the KIM_KO team lead: 1 day if "
                      "urgent, else 5 days.", basis=TINTG, rag=RAG_DECIDE)
    interview_sub = p.sub("Sub_Interview", "Erstgespräch (mit Frist)", lane="KIM_CM",
                          doc="First interview with a 14-day first-contact SLA (reminder to "
                              "the case manager and to KIM coordination).", basis=TINTG,
                          rag=RAG_IN)
    p.xgw("Gw_BaseConsent", "Basiseinwilligung im Register?",
          default="Flow_Gw_BaseConsent_Task_RecordCmConsent")
    p.script("Task_UseRegisteredConsent", "Einwilligung aus dem Register übernehmen", _lines(
        defaults({"referring_office": "None"}),
        'base = find_consent("KIM_CM", "KIM_CM:CASE_MANAGEMENT")',
        "consent_cm_given = True",
        'includes_health_data = bool(base.get("includes_health"))',
        'consent_date = base.get("valid_from")',
        'feedback_to_referrer = has_consent(referring_office or "KIM_CM", '
        '"KIM:FEEDBACK_REFERRER")',
        "base = None",
    ), doc="The consent register already holds a valid base consent for the case (recorded "
           "on the case page, the API, the CLI or by another process): it is not asked for "
           "again. Feedback to the referrer only with a registered KIM:FEEDBACK_REFERRER.",
        basis=CONSENT_BASIS, rag=RAG_IN, lane="KIM_CM")
    p.xgw("Gw_ConsentMerge")
    p.user("Task_RecordCmConsent", "Einwilligung Case Management erfassen", cm_consent,
           lane="KIM_CM", doc="Record the base consent (form F1.4).", basis=CONSENT_BASIS,
           rag=RAG_COOP)
    p.script("Task_StoreCmConsent", "Einwilligung übernehmen", _lines(
        defaults({"consent_date": "None", "consent_form": "None", "signed_by": "None",
                  "guardian_name": "None", "consent_language": "None", "document_ref": "None",
                  "feedback_to_referrer": "False"}),
        "if consent_cm_given:",
        '    base = {"consent_id": new_id("E"), "recipient_office": "KIM_CM",',
        '            "purpose": "KIM_CM:CASE_MANAGEMENT",',
        '            "data_categories": allowed_categories("KIM_CM:CASE_MANAGEMENT"),',
        '            "includes_health": includes_health_data, "valid_from": consent_date,',
        '            "valid_until": add_months(consent_date, 24), "form": consent_form,',
        '            "signed_by": signed_by,',
        '            "guardian_name": guardian_name, "consent_language": consent_language,',
        '            "document_ref": document_ref, "recorded_at": today(), "status": "active"}',
        "    consents = consents + [record_consent(base)]",
        "    if feedback_to_referrer:",
        '        consents = consents + [record_consent({"consent_id": new_id("E"), '
        '"recipient_office": referring_office or "KIM_CM", "purpose": "KIM:FEEDBACK_REFERRER", '
        '"data_categories": ["IDENT"], "includes_health": False, "valid_from": consent_date, '
        '"valid_until": add_months(consent_date, 24), "recorded_at": today(), '
        '"status": "active"})]',
        "    base = None",
    ), doc="Store the base consent (and the feedback consent for the referrer).",
        basis=CONSENT_BASIS, rag=RAG_IN, lane="KIM_CM")
    p.xgw("Gw_Consent", "Einwilligung erteilt?",
          default="Flow_Gw_Consent_Task_ShortAdviceNoConsent")
    p.throw("Msg_ConsentRecorded", "Einwilligung registrieren", CONSENT_MESSAGE,
            '{"case_id": case_id, "consents": [c for c in consents if c["purpose"] in '
            '("KIM_CM:CASE_MANAGEMENT", "KIM:FEEDBACK_REFERRER")]}', lane="KIM_CM",
            doc="Record the base consent in the consent register.")
    clearing_sub = p.sub("Sub_Clearing", "Clearing (mit Frist)", lane="KIM_CM",
                         doc="Clearing with a reminder 30 days after the interview.",
                         basis=TINTG, rag=RAG_CHECK)
    p.user("Task_ShortAdviceNoConsent", "Kurzberatung dokumentieren",
           short_advice_form("p1-kurzberatung"), lane="KIM_CM",
           doc="No consent: document short advice without identifying data (DP-01).",
           basis=TINTG, rag=RAG_OUT)
    p.script("Task_Anonymise", "Anfrage zur Anonymisierung vormerken", _lines(
        'anonymise_on = add_days(today(), 30)',
        'case_status = "short_advice"',
    ), doc="The inquiry is reduced to anonymous statistics after 30 days (brief 5.6).",
        basis="Art. 5 Abs. 1 lit. e DSGVO", rag=RAG_FORMAL, lane="KIM_CM")
    p.end("End_NoConsent", "Ohne Einwilligung beendet", lane="KIM_CM")
    p.xgw("Gw_Feedback", "Rückmeldung an Zuweisende?", default="Flow_Gw_Feedback_Gw_FeedbackMerge")
    p.throw("Msg_IntakeAcknowledged", "Rückmeldung senden", "intake_acknowledged",
            '{"intake_id": intake_id, "case_id": case_id, '
            '"referring_office": referring_office, "accepted": cm_indicated == True}',
            lane="KIM_CM",
            doc="Tell the referring service whether case management was accepted (only with "
                "the consent KIM:FEEDBACK_REFERRER). The referrer correlates on intake_id; "
                "case_id is the pseudonymous case reference every message envelope carries.")
    p.xgw("Gw_FeedbackMerge")
    p.xgw("Gw_Indication", "Case Management angezeigt?",
          default="Flow_Gw_Indication_Task_ShortAdvice")
    p.script("Task_OpenCase", "Fall eröffnen", _lines(
        'case_status = "active"',
        "case_opened = today()",
    ), doc="Open the case (status active).", basis=TINTG, rag=RAG_DECIDE, lane="KIM_CM")
    p.call("Call_SupportPlan", "Hilfeplanung durchführen", "kim_support_plan", lane="KIM_CM",
           doc="Run the support plan (P2) for the opened case.", basis=TINTG, rag=RAG_DECIDE)
    p.end("End_CaseOpened", "Fall bearbeitet", lane="KIM_CM")
    p.user("Task_Handover", "An bestehende Stelle übergeben", handover, lane="KIM_CM",
           doc="Hand the case over to the service that already supports the person.",
           basis=TINTG, rag=RAG_OUT)
    p.script("Task_PrepareHandover", "Übergabe vorbereiten", _lines(
        'referral = {"office": handover_office, "purpose": handover_purpose, '
        '"requested_service": handover_note}',
        "goals = []",
        "assessment = {}",
    ), doc="The hand-over is a referral to that office.", basis=TINTG, rag=RAG_FORMAL,
        lane="KIM_CM")
    p.call("Call_Handover", "Übergabe vermitteln", "kim_single_referral", lane="KIM_CM",
           doc="Send the hand-over through the referral protocol (needs consent).",
           basis=TINTG, rag=RAG_OUT)
    p.script("Task_StoreHandover", "Übergabe vermerken", _lines(
        "referrals = [referral_record]",
        'case_status = "handed_over"',
    ), doc="Keep the referral record.", basis=TINTG, rag=RAG_IN, lane="KIM_CM")
    p.end("End_HandedOver", "Übergeben", lane="KIM_CM")
    p.user("Task_ShortAdvice", "Kurzberatung dokumentieren (kein Case Management)",
           short_advice_form("p1-kurzberatung"), lane="KIM_CM",
           doc="Case management is not indicated: document short advice.", basis=TINTG,
           rag=RAG_OUT)
    p.script("Task_CloseShortAdvice", "Kurzberatung abschließen", 'case_status = "short_advice"',
             doc="The inquiry ends as short advice.", basis=TINTG, rag=RAG_FORMAL,
             lane="KIM_CM")
    p.end("End_ShortAdvice", "Kurzberatung", lane="KIM_CM")
    p.chain("Start_Intake", "Task_InitIntake", "Gw_Entry")
    p.flow("Gw_Entry", "Task_RecordInquiryWalkIn", "walk_in == True", name="ja")
    p.flow("Gw_Entry", "Task_RecordInquiry", name="nein")
    p.flow("Task_RecordInquiry", "Task_NormaliseInquiry")
    p.flow("Task_RecordInquiryWalkIn", "Task_NormaliseInquiry")
    p.chain("Task_NormaliseInquiry", "Sub_Allocate", "Sub_Interview", "Gw_BaseConsent")
    p.flow("Gw_BaseConsent", "Task_UseRegisteredConsent",
           'has_consent("KIM_CM", "KIM_CM:CASE_MANAGEMENT")', name="ja")
    p.flow("Gw_BaseConsent", "Task_RecordCmConsent", name="nein")
    p.chain("Task_RecordCmConsent", "Task_StoreCmConsent", "Gw_Consent")
    p.flow("Gw_Consent", "Msg_ConsentRecorded", "consent_cm_given == True", name="ja")
    p.flow("Msg_ConsentRecorded", "Gw_ConsentMerge")
    p.flow("Task_UseRegisteredConsent", "Gw_ConsentMerge")
    p.flow("Gw_ConsentMerge", "Sub_Clearing")
    p.flow("Gw_Consent", "Task_ShortAdviceNoConsent", name="nein")
    p.chain("Task_ShortAdviceNoConsent", "Task_Anonymise", "End_NoConsent")
    p.chain("Sub_Clearing", "Gw_Feedback")
    p.flow("Gw_Feedback", "Msg_IntakeAcknowledged",
           "intake_id is not None and feedback_to_referrer == True", name="ja")
    p.flow("Gw_Feedback", "Gw_FeedbackMerge", name="nein")
    p.chain("Msg_IntakeAcknowledged", "Gw_FeedbackMerge", "Gw_Indication")
    p.flow("Gw_Indication", "Task_OpenCase", "cm_indicated == True", name="ja")
    p.flow("Gw_Indication", "Task_Handover",
           "cm_indicated == False and handover_office is not None", name="Übergabe")
    p.flow("Gw_Indication", "Task_ShortAdvice", name="nein")
    p.chain("Task_OpenCase", "Call_SupportPlan", "End_CaseOpened")
    p.chain("Task_Handover", "Task_PrepareHandover", "Call_Handover", "Task_StoreHandover",
            "End_HandedOver")
    p.chain("Task_ShortAdvice", "Task_CloseShortAdvice", "End_ShortAdvice")

    a = alloc
    a.start("Start_Allocate")
    a.user("Task_AllocateCase", "Fall zuweisen", allocate,
           doc="Allocate the case to a case manager and a district.", basis=TINTG,
           rag=RAG_DECIDE, due='add_days(inquiry_date, 1 if urgent else 5)')
    a.boundary_timer("Bnd_AllocationSla", "Zuweisungsfrist", "Task_AllocateCase",
                     "timeDuration", '"P1D" if urgent else "P5D"',
                     doc="Allocation SLA: P1D if urgent, else P5D (non-interrupting).")
    a.user("Task_RemindAllocation", "Erinnerung: Fall zuweisen", remind_alloc,
           props={"role": "TEAM_LEAD"}, doc="Reminder to the KIM_KO team lead.", basis=TINTG,
           rag=RAG_DECIDE)
    a.end("End_AllocationReminded")
    a.end("End_Allocated", "Zugewiesen", terminate=True)
    a.chain("Start_Allocate", "Task_AllocateCase", "End_Allocated")
    a.chain("Bnd_AllocationSla", "Task_RemindAllocation", "End_AllocationReminded")

    i = interview_sub
    i.start("Start_Interview")
    i.user("Task_IntakeInterview", "Erstgespräch durchführen und informieren", interview,
           doc="First interview; inform the person about case management and data protection "
               "(Art. 13 GDPR) in a language they understand (form F1.3).",
           basis=f"{TINTG}; Art. 13 DSGVO", rag=RAG_IN)
    i.boundary_timer("Bnd_FirstContactCm", "14 Tage", "Task_IntakeInterview", "timeDuration",
                     '"P14D"')
    i.boundary_timer("Bnd_FirstContactKo", "14 Tage", "Task_IntakeInterview", "timeDuration",
                     '"P14D"')
    i.user("Task_RemindFirstContact", "Erstkontakt überfällig", remind_cm,
           doc="First-contact SLA passed: reminder to the case manager.", basis=TINTG,
           rag=RAG_IN)
    i.user("Task_RemindFirstContactKo", "Erstkontakt überfällig (Koordination)", remind_ko,
           lane="KIM_KO", doc="First-contact SLA passed: information to KIM coordination.",
           basis=TINTG, rag=RAG_IN)
    i.end("End_FirstContactReminded")
    i.end("End_FirstContactReminderKo")
    i.end("End_Interviewed", "Gespräch geführt", terminate=True)
    i.chain("Start_Interview", "Task_IntakeInterview", "End_Interviewed")
    i.chain("Bnd_FirstContactCm", "Task_RemindFirstContact", "End_FirstContactReminded")
    i.chain("Bnd_FirstContactKo", "Task_RemindFirstContactKo", "End_FirstContactReminderKo")

    c = clearing_sub
    c.start("Start_Clearing")
    c.user("Task_Clearing", "Clearing: Indikation prüfen", clearing,
           doc="Decide whether case management is indicated (form F1.7); suggestion: at least "
               "three fields of action and standard services are not enough.",
           instructions="Vorschlag: Case Management ist angezeigt, wenn mindestens drei "
                        "Handlungsfelder Bedarf haben und die Regelversorgung nicht reicht.",
           basis=TINTG, rag=RAG_CHECK)
    c.boundary_timer("Bnd_ClearingReminder", "30 Tage", "Task_Clearing", "timeDuration",
                     '"P30D"')
    c.user("Task_RemindClearing", "Erinnerung: Clearing", remind_clearing,
           doc="Clearing still open 30 days after the interview.", basis=TINTG, rag=RAG_CHECK)
    c.script("Task_ClearingDefaults", "Clearing übernehmen", defaults(
        {"handover_office": "None", "feedback_to_referrer": "False"}),
        doc="Optional answers get a value.", basis=TINTG)
    c.end("End_ClearingReminded")
    c.end("End_Cleared", "Geklärt", terminate=True)
    c.chain("Start_Clearing", "Task_Clearing", "Task_ClearingDefaults", "End_Cleared")
    c.chain("Bnd_ClearingReminder", "Task_RemindClearing", "End_ClearingReminded")
    return p


def build_intake_request() -> Process:
    p = Process(
        "kim_intake_request", "Anfrage einer Stelle empfangen",
        "Lokalprozess (ausführbar). Receives the message intake_request from a referring "
        "service (only if the person agreed to be referred) and runs intake and clearing "
        "(P1) for it.", ["KIM_KO"], participant="Kommune – KIM-Koordination")
    p.start("Msg_IntakeRequest", "Anfrage einer Stelle", message="intake_request",
            var="intake", doc="A referring service asks KIM to take on a person.")
    p.script("Task_MapIntake", "Anfrage übernehmen", _lines(
        'intake_id = intake.get("intake_id")',
        'referring_office = intake.get("referring_office")',
        'intake_reason = intake.get("reason")',
        'intake_urgency = intake.get("urgency") or "normal"',
        'intake_person = intake.get("person") or {}',
        'case_id = intake.get("case_id")',
        "walk_in = False",
    ), doc="Take the referrer's data as a starting point for the inquiry form.",
        basis=TINTG, rag=RAG_IN)
    p.call("Call_IntakeClearing", "Fallaufnahme und Clearing durchführen",
           "kim_intake_clearing", doc="Run P1 for the referred person.", basis=TINTG,
           rag=RAG_CHECK)
    p.end("End_IntakeRequest", "Anfrage bearbeitet")
    p.chain("Msg_IntakeRequest", "Task_MapIntake", "Call_IntakeClearing", "End_IntakeRequest")
    return p


# ================================================================================================
# P2: assessment, support plan with parallel referrals, monitoring
# ================================================================================================

POSITIVE_DECISIONS = ("asyl_art16a", "fluechtling", "subsidiaer", "abschiebungsverbot")

# The referral suggestion table (brief 4.3), hit policy COLLECT: every matching row suggests
# one office:purpose. Inputs are Python expressions on the case data; entries use "?" for the
# input value. (label, expression) per input; per rule: {input index: entry}, outputs, reason.
DMN_INPUTS: list[tuple[str, str]] = [
    ("Tage bis Ablauf des Titels",
     "days_until(permit_valid_until) if permit_valid_until else 9999"),
    ("Verlängerung beantragt", "bool(renewal_applied_date)"),
    ("BAMF-Entscheidung", "bamf_decision"),
    ("Aktuelle Leistungen", "benefits_current"),
    ("Schulpflichtiges Kind ohne Schulplatz",
     'len([c for c in children if c.get("schulpflichtig") and '
     'c.get("school_status") == "not_enrolled"]) > 0'),
    ("Kind von 1 bis 5 ohne Kita",
     'len([c for c in children if c.get("age") is not None and 1 <= c["age"] < 6 and '
     'c.get("kita_status") == "none"]) > 0'),
    ("Räumung droht", "bool(eviction_risk)"),
    ("Integrationskurs", "integration_course_status"),
    ("Ausländischer Abschluss ohne Anerkennung",
     'bool(foreign_qualification) and recognition_status == "none"'),
    ("Kinder ohne Kindergeld", 'len(children) > 0 and kindergeld_status == "none"'),
    ("Alter", "age_on(birth_date, today()) if birth_date else -1"),
    ("Erwerbsstatus", "employment_status"),
]
_IN_P4 = f"? in {POSITIVE_DECISIONS!r}".replace("'", '"')
DMN_RULES: list[dict] = [
    {"when": {0: "? <= 56", 1: "False"}, "office": "ABH", "purpose": "ABH:AUFENTHALT",
     "process": "", "reason": "Titel läuft in höchstens 56 Tagen ab: Verlängerung vor Ablauf "
                              "beantragen (Fortgeltungsfiktion, § 81 Abs. 4 AufenthG)"},
    {"when": {2: _IN_P4, 3: '"asylblg"'}, "office": "JC", "purpose": "JC:SGB2",
     "process": "kim_recognition_transition",
     "reason": "Anerkannt und noch AsylbLG: Rechtskreiswechsel, AsylbLG endet zum Monatsende "
               "(§ 1 Abs. 3 AsylbLG)"},
    {"when": {2: _IN_P4, 3: '"asylblg"'}, "office": "SOZ", "purpose": "SOZ:LEISTUNG",
     "process": "kim_recognition_transition",
     "reason": "AsylbLG-Leistungen zum Monatsende einstellen (§ 1 Abs. 3 AsylbLG)"},
    {"when": {2: _IN_P4, 3: '"asylblg"'}, "office": "ABH", "purpose": "ABH:AUFENTHALT",
     "process": "kim_recognition_transition",
     "reason": "Aufenthaltserlaubnis nach Anerkennung erteilen (§ 25 AufenthG)"},
    {"when": {4: "True"}, "office": "KI_SEB", "purpose": "KI_SEB:SCHULPLATZ",
     "process": "kim_school_enrolment",
     "reason": "Schulpflichtiges Kind ohne Schulplatz (§ 34 SchulG NRW)"},
    {"when": {5: "True"}, "office": "JA", "purpose": "JA:JUGENDHILFE", "process": "",
     "reason": "Kind ab 1 Jahr ohne Kita-Platz (§ 24 SGB VIII)"},
    {"when": {6: "True"}, "office": "WOHN", "purpose": "WOHN:SICHERUNG",
     "process": "kim_housing_emergency",
     "reason": "Drohender Wohnungsverlust (§ 22 Abs. 8-9 SGB II, § 36 SGB XII)"},
    {"when": {7: '? in ("entitled_not_registered", "obliged_not_registered")'},
     "office": "IKT", "purpose": "IKT:KURSANMELDUNG", "process": "",
     "reason": "Integrationskurs nicht angemeldet; Anspruch erlischt ein Jahr nach Erteilung "
               "des Titels (§ 44 Abs. 2 AufenthG)"},
    {"when": {8: "True"}, "office": "ANERK", "purpose": "ANERK:BERATUNG", "process": "",
     "reason": "Ausländischer Abschluss ohne Anerkennung (BQFG)"},
    {"when": {9: "True"}, "office": "FK", "purpose": "FK:KINDERGELD", "process": "",
     "reason": "Kindergeld nicht beantragt; Nachzahlung nur für 6 Monate (§ 66 Abs. 3 EStG)"},
    {"when": {10: "12 <= ? <= 26"}, "office": "JMD", "purpose": "JMD:BERATUNG", "process": "",
     "reason": "Altersgruppe des Jugendmigrationsdienstes (12 bis 26, optional)"},
    {"when": {11: '"unemployed"', 3: '? != "sgb2"'}, "office": "AA",
     "purpose": "AA:VERMITTLUNG", "process": "",
     "reason": "Arbeitslos ohne Bürgergeld: Vermittlung nach SGB III"},
]
DMN_OUTPUTS = [("suggested_office", "Stelle"), ("suggested_purpose", "Zweck"),
               ("suggested_process", "Themenprozess"), ("suggested_reason", "Begründung")]
DECISION_ID = "suggest_referrals"
# engine/deploy.py hands SpiffWorkflow's add_dmn_xml an ElementTree instead of its root
# element, so no .dmn file deploys yet. Until that is fixed, P2 evaluates the same rule table
# in a generated script task and the .dmn file is not written into bpmn/ (it would break the
# deployment of the whole folder). Set to True once DMN files deploy.
USE_DMN = True


def dmn_condition(rule: dict) -> str:
    """A rule's input entries as one Python condition over v1..vN (the DMN semantics: an
    entry with ? is evaluated with ? = the input value, any other entry is compared with ==)."""
    parts = []
    for i, entry in sorted(rule["when"].items()):
        var = f"v{i + 1}"
        parts.append(f"({entry.replace('?', var)})" if "?" in entry else f"{var} == ({entry})")
    return " and ".join(parts) or "True"


def suggestion_script() -> str:
    """The suggestion table as a script (same rows, same order, same outputs as the DMN)."""
    lines = [f"{name} = []" for name, _ in DMN_OUTPUTS]
    lines += [f"v{i + 1} = {expr}" for i, (_, expr) in enumerate(DMN_INPUTS)]
    for rule in DMN_RULES:
        lines.append(f"if {dmn_condition(rule)}:")
        for name, _ in DMN_OUTPUTS:
            value = json.dumps(rule[name.replace("suggested_", "")], ensure_ascii=False)
            lines.append(f"    {name} = {name} + [{value}]")
    lines += [f"v{i + 1} = None" for i in range(len(DMN_INPUTS))]
    return "\n".join(lines)


def render_dmn() -> str:
    """The referral suggestion decision as DMN 1.3 (Python expressions, hit policy COLLECT)."""
    w = _Writer()
    w(0, '<?xml version="1.0" encoding="UTF-8"?>')
    w(0, '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
         'xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" '
         'xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" '
         'id="Definitions_suggest_referrals" name="Vermittlungsvorschläge" '
         'namespace="https://lotse.example/dmn/suggest_referrals" '
         'exporter="Lotse catalogue generator (processes/catalogue.py)" exporterVersion="1">')
    w(1, f'<decision id="{DECISION_ID}" name="Vermittlungen vorschlagen">')
    w(2, "<description>Suggestions only: the case manager decides (brief 4.3). Input and "
         "output entries are Python expressions (SpiffWorkflow DMN, not FEEL); ? stands for "
         "the input value.</description>")
    w(2, '<decisionTable id="DecisionTable_suggest_referrals" hitPolicy="COLLECT">')
    for i, (label, expr) in enumerate(DMN_INPUTS):
        w(3, f"<input id=\"Input_{i + 1}\" label={_attr(label)}>")
        w(4, f'<inputExpression id="InputExpression_{i + 1}" typeRef="string">')
        w(5, f"<text>{escape(expr)}</text>")
        w(4, "</inputExpression>")
        w(3, "</input>")
    for name, label in DMN_OUTPUTS:
        w(3, f'<output id="Output_{name}" label={_attr(label)} name="{name}" '
             'typeRef="string" />')
    for r, rule in enumerate(DMN_RULES, start=1):
        w(3, f'<rule id="Rule_{r}">')
        w(4, f"<description>{escape(rule['reason'])}</description>")
        for i in range(len(DMN_INPUTS)):
            entry = rule["when"].get(i, "-")
            w(4, f'<inputEntry id="Rule_{r}_In_{i + 1}"><text>{escape(entry)}</text></inputEntry>')
        for name, _ in DMN_OUTPUTS:
            value = json.dumps(rule[name.replace("suggested_", "")], ensure_ascii=False)
            w(4, f'<outputEntry id="Rule_{r}_{name}"><text>{escape(value)}</text></outputEntry>')
        w(3, "</rule>")
    w(2, "</decisionTable>")
    w(1, "</decision>")
    w(1, '<dmndi:DMNDI>')
    w(2, '<dmndi:DMNDiagram id="DMNDiagram_suggest_referrals">')
    w(3, f'<dmndi:DMNShape id="DMNShape_{DECISION_ID}" dmnElementRef="{DECISION_ID}">')
    w(4, '<dc:Bounds height="80" width="180" x="160" y="100" />')
    w(3, "</dmndi:DMNShape>")
    w(2, "</dmndi:DMNDiagram>")
    w(1, "</dmndi:DMNDI>")
    w(0, "</definitions>")
    return "\n".join(w.lines) + "\n"


ASSESSMENT_OPTIONAL = [
    "residence_title_basis", "permit_issue_date", "permit_valid_until", "renewal_applied_date",
    "wohnsitzauflage", "wohnsitzauflage_municipality", "bamf_file_number",
    "bamf_decision_date", "schooling_years", "foreign_qualification", "qualification_title",
    "recognition_status", "kindergeld_status", "health_need", "disability", "health_notes",
]
ASSESSMENT_KEYS = [
    "residence_status", "residence_title_basis", "permit_issue_date", "permit_valid_until",
    "renewal_applied_date", "wohnsitzauflage", "wohnsitzauflage_municipality",
    "bamf_file_number", "bamf_decision", "bamf_decision_date", "german_level",
    "integration_course_status", "schooling_years", "foreign_qualification",
    "qualification_title", "recognition_status", "employment_status", "benefits_current",
    "kindergeld_status", "housing_situation", "eviction_risk", "children", "health_need",
    "disability", "health_notes",
]
TITLE_STATUSES = ["aufenthaltserlaubnis", "niederlassungserlaubnis", "daueraufenthalt_eu"]
LIMITED_STATUSES = ["aufenthaltserlaubnis", "fiktionsbescheinigung", "visum", "duldung",
                    "aufenthaltsgestattung"]
BAMF_DECISIONS: list[Option] = [
    ("pending", "Offen", "Pending"), ("asyl_art16a", "Asyl (Art. 16a GG)", "Asylum (Art. 16a)"),
    ("fluechtling", "Flüchtlingsschutz", "Refugee protection"),
    ("subsidiaer", "Subsidiärer Schutz", "Subsidiary protection"),
    ("abschiebungsverbot", "Abschiebungsverbot", "Ban on deportation"),
    ("abgelehnt", "Abgelehnt", "Rejected"), ("unzulaessig", "Unzulässig", "Inadmissible"),
    ("none", "Kein Asylverfahren", "No asylum procedure"),
]
COURSE_STATUS: list[Option] = [
    ("not_applicable", "Nicht zutreffend", "Not applicable"),
    ("entitled_not_registered", "Berechtigt, nicht angemeldet", "Entitled, not registered"),
    ("obliged_not_registered", "Verpflichtet, nicht angemeldet", "Obliged, not registered"),
    ("registered", "Angemeldet", "Registered"), ("attending", "Nimmt teil", "Attending"),
    ("completed", "Abgeschlossen", "Completed"), ("interrupted", "Unterbrochen", "Interrupted"),
]
NEED_LEVELS: list[Option] = [("none", "Kein", "None"), ("low", "Gering", "Low"),
                             ("medium", "Mittel", "Medium"), ("high", "Hoch", "High")]


def goal_statuses(name: str, de: str, en: str, *, min_items: int = 0) -> Fld:
    """One status per goal, in the order of the plan's goals (required)."""
    s = {"type": "array", "maxItems": 15,
         "items": {"type": "string", "enum": [c for c, _, _ in GOAL_STATUS]},
         "x-enum-labels": _labels(GOAL_STATUS), **_base(de, en, None, None)}
    if min_items:
        s["minItems"] = min_items
    return Fld(name, s, {"ui:widget": "goal-status"}, True)


def assessment_form() -> Form:
    return Form(
        "p2-assessment", ("Assessment durchführen", "Carry out the assessment"),
        ("Bedarfe und Ressourcen je Handlungsfeld. Gesundheitsangaben nur mit ausdrücklicher "
         "Einwilligung (Art. 9 DSGVO); ohne sie werden sie nicht gespeichert.",
         "Needs and resources per field of action. Health details only with explicit consent "
         "(Art. 9 GDPR); without it they are not stored."), [
            enum("residence_status", "Aufenthaltsstatus", "Residence status",
                 RESIDENCE_STATUSES, req=True),
            text("residence_title_basis", "Rechtsgrundlage des Titels", "Legal basis of the "
                 "title", max_len=50, help_de="z. B. § 25 Abs. 2 AufenthG"),
            date("permit_issue_date", "Titel erteilt am", "Permit issued on", past=True),
            date("permit_valid_until", "Titel gültig bis", "Permit valid until",
                 exclusiveMin="$permit_issue_date",
                 help_de="Ein abgelaufenes Datum ist möglich und wird markiert.",
                 help_en="A past date is allowed and flagged as expired."),
            date("renewal_applied_date", "Verlängerung beantragt am", "Renewal applied for on",
                 past=True),
            boolean("wohnsitzauflage", "Wohnsitzauflage (§ 12a AufenthG)",
                    "Residence obligation (§ 12a AufenthG)"),
            text("wohnsitzauflage_municipality", "Gemeinde der Wohnsitzauflage",
                 "Municipality of the residence obligation", max_len=100),
            text("bamf_file_number", "BAMF-Aktenzeichen", "BAMF file number", max_len=12,
                 pattern="^[0-9]{7,8}-[0-9]{3}$", help_de="Format 1234567-123"),
            enum("bamf_decision", "BAMF-Entscheidung", "BAMF decision", BAMF_DECISIONS,
                 req=True),
            date("bamf_decision_date", "Datum der BAMF-Entscheidung", "Date of the BAMF "
                 "decision", past=True),
            enum("german_level", "Deutschkenntnisse", "German level", [
                ("none", "Keine", "None"), ("A1", "A1", "A1"), ("A2", "A2", "A2"),
                ("B1", "B1", "B1"), ("B2", "B2", "B2"), ("C1", "C1", "C1"),
                ("C2", "C2", "C2")], req=True),
            enum("integration_course_status", "Integrationskurs", "Integration course",
                 COURSE_STATUS, req=True),
            integer("schooling_years", "Schuljahre", "Years of schooling", 0, 25),
            boolean("foreign_qualification", "Ausländischer Berufsabschluss",
                    "Foreign qualification"),
            text("qualification_title", "Abschluss", "Qualification", max_len=200),
            enum("recognition_status", "Anerkennung", "Recognition", [
                ("none", "Keine", "None"), ("counselling", "In Beratung", "Counselling"),
                ("applied", "Beantragt", "Applied"), ("partial", "Teilweise", "Partial"),
                ("full", "Voll", "Full"), ("rejected", "Abgelehnt", "Rejected")]),
            enum("employment_status", "Erwerbsstatus", "Employment status", [
                ("employed", "Beschäftigt", "Employed"),
                ("self_employed", "Selbstständig", "Self-employed"),
                ("unemployed", "Arbeitslos", "Unemployed"),
                ("training", "In Ausbildung", "In training"),
                ("not_permitted", "Keine Arbeitserlaubnis", "Not permitted to work"),
                ("not_able", "Nicht erwerbsfähig", "Not able to work"),
                ("parental_leave", "Elternzeit", "Parental leave"),
                ("school", "Schule", "School")], req=True),
            enum("benefits_current", "Aktuelle Leistungen", "Current benefits", BENEFITS,
                 req=True),
            enum("kindergeld_status", "Kindergeld", "Child benefit", [
                ("none", "Nicht beantragt", "Not applied"), ("applied", "Beantragt", "Applied"),
                ("granted", "Bewilligt", "Granted"),
                ("not_entitled", "Kein Anspruch", "Not entitled")]),
            enum("housing_situation", "Wohnsituation", "Housing situation", [
                ("own_lease", "Eigener Mietvertrag", "Own lease"),
                ("sublease", "Untermiete", "Sublease"),
                ("municipal_accommodation", "Kommunale Unterkunft", "Municipal accommodation"),
                ("state_facility", "Landeseinrichtung", "State facility"),
                ("homeless", "Wohnungslos", "Homeless"),
                ("with_relatives", "Bei Verwandten", "With relatives"),
                ("women_shelter", "Frauenhaus", "Women's shelter")], req=True),
            boolean("eviction_risk", "Wohnungsverlust droht", "Risk of losing the home",
                    req=True),
            items("children", "Kinder", "Children", [
                person_name("child_first_name", "Vorname", "First name", req=True),
                date("child_birth_date", "Geburtsdatum", "Date of birth", req=True, past=True),
                enum("school_status", "Schule", "School", [
                    ("attending", "Besucht eine Schule", "Attending"),
                    ("not_enrolled", "Ohne Schulplatz", "Not enrolled"),
                    ("too_young", "Noch nicht schulpflichtig", "Too young")], req=True),
                enum("kita_status", "Kita", "Childcare", [
                    ("attending", "Besucht eine Kita", "Attending"),
                    ("none", "Kein Platz", "No place"),
                    ("not_applicable", "Nicht zutreffend", "Not applicable")]),
            ], max_items=15),
            boolean("health_need", "Gesundheitlicher Bedarf", "Health need"),
            boolean("disability", "Behinderung", "Disability"),
            text("health_notes", "Gesundheit (Notiz)", "Health (note)", max_len=1000),
            items("needs", "Bedarf je Handlungsfeld", "Need per field of action", [
                enum("handlungsfeld", "Handlungsfeld", "Field of action", HANDLUNGSFELDER,
                     req=True),
                enum("need_level", "Bedarf", "Need", NEED_LEVELS, req=True),
                text("resources", "Ressourcen", "Resources", max_len=1000),
            ], max_items=11),
        ],
        rules=[
            when("residence_status", TITLE_STATUSES, require=["residence_title_basis"]),
            when("residence_status", ["aufenthaltserlaubnis", "niederlassungserlaubnis",
                                      "daueraufenthalt_eu"], require=["permit_issue_date"]),
            when("residence_status", LIMITED_STATUSES, require=["permit_valid_until"]),
            when("wohnsitzauflage", True, require=["wohnsitzauflage_municipality"]),
            when("bamf_decision", [c for c, _, _ in BAMF_DECISIONS
                                   if c not in ("pending", "none")],
                 require=["bamf_decision_date"]),
            when("foreign_qualification", True, require=["qualification_title",
                                                         "recognition_status"]),
            {"if": {"properties": {"children": {"minItems": 1}}, "required": ["children"]},
             "then": {"required": ["kindergeld_status"]}},
        ],
    )


def plan_form(registry: OfficeRegistry) -> Form:
    per_office = [
        {"if": {"properties": {"office": {"const": o.code}}, "required": ["office"]},
         "then": {"properties": {"purpose": {"enum": list(o.purposes)}}}}
        for o in referral_offices(registry) if o.purposes
    ]
    return Form(
        "p2-hilfeplan", ("Hilfeplan vereinbaren", "Agree the support plan"),
        ("SMART-Ziele, wer was bis wann tut, und die Vermittlungen, die gesendet werden "
         "sollen (Zielvereinbarung mit der Person).",
         "SMART goals, who does what by when, and the referrals to send (goal agreement "
         "with the person)."), [
            items("goals", "Ziele", "Goals", [
                enum("handlungsfeld", "Handlungsfeld", "Field of action", HANDLUNGSFELDER,
                     req=True),
                text("goal_text", "Ziel", "Goal", req=True, min_len=10, max_len=500),
                date("target_date", "Zieldatum", "Target date", req=True,
                     exclusiveMin="today", max="today+P24M",
                     help_de="Nach heute, höchstens in 24 Monaten.",
                     help_en="After today, at most in 24 months."),
                enum("responsible", "Verantwortlich", "Responsible", [
                    ("client", "Person selbst", "The person"),
                    ("kim_cm", "Fallmanagement", "Case management"),
                    ("office", "Stelle", "Office")], req=True),
                office("responsible_office", "Verantwortliche Stelle", "Responsible office"),
                integer("priority", "Priorität", "Priority", 1, 3, req=True),
            ], req=True, min_items=1, max_items=15,
                rules=[when("responsible", "office", require=["responsible_office"])]),
            items("selected_referrals", "Vermittlungen", "Referrals", [
                office("office", "Stelle", "Office", req=True),
                purpose_field("purpose", "Zweck", "Purpose", req=True),
                text("requested_service", "Erbetene Leistung", "Requested service",
                     max_len=300),
                enum("urgency", "Dringlichkeit", "Urgency", [
                    ("normal", "Normal", "Normal"), ("urgent", "Dringend", "Urgent"),
                    ("critical", "Kritisch", "Critical")]),
            ], req=True, max_items=20, rules=per_office),
            boolean("client_agreed", "Zielvereinbarung mit der Person getroffen",
                    "Goal agreement made with the person", req=True, must_be_true=True),
            date("agreement_date", "Datum der Vereinbarung", "Date of the agreement", req=True,
                 past=True),
            enum("agreement_form", "Form der Vereinbarung", "Form of the agreement", [
                ("signed_paper", "Unterschrieben (Papier)", "Signed on paper"),
                ("signed_electronic", "Elektronisch unterschrieben", "Signed electronically"),
                ("oral_documented", "Mündlich, dokumentiert", "Oral, documented")], req=True),
            language("plan_language", "Sprache des Hilfeplans", "Language of the plan",
                     req=True),
            date("next_review_date", "Nächste Überprüfung", "Next review", req=True,
                 exclusiveMin="today", max="today+P6M",
                 help_de="Nach heute, höchstens in 6 Monaten; üblich 3 Monate.",
                 help_en="After today, at most in 6 months; usually 3 months."),
            boolean("conference_requested", "Fallkonferenz gewünscht", "Case conference "
                    "requested", help_de="Vorgeschlagen bei drei oder mehr Stellen.",
                    help_en="Suggested with three or more offices."),
        ])


def review_form() -> Form:
    return Form(
        "p2-monitoring", ("Ergebnisse bewerten (Monitoring)", "Review the results (monitoring)"),
        ("Zielerreichung, Rückmeldungen der Stellen und nächster Schritt.",
         "Goal attainment, the offices' results and the next step."), [
            goal_statuses("goal_status", "Stand je Ziel (in der Reihenfolge der Ziele)",
                          "Status per goal (in the order of the goals)", min_items=1),
            items("referral_review", "Bewertung der Vermittlungen", "Review of the referrals", [
                text("referral_id", "Vermittlung", "Referral", req=True, max_len=100),
                boolean("satisfied", "Zufrieden", "Satisfied", req=True),
                text("comment", "Kommentar", "Comment", max_len=500),
            ], max_items=30),
            date("contact_date", "Kontakt am", "Contact on", req=True, past=True),
            enum("contact_channel", "Kontaktweg", "Contact channel", CONTACT_CHANNELS, req=True),
            boolean("new_needs", "Neue Bedarfe (erneutes Assessment)",
                    "New needs (re-assessment)", req=True),
            boolean("close_case", "Fall abschließen", "Close the case", req=True),
            date("next_review_date", "Nächste Überprüfung", "Next review",
                 exclusiveMin="today", max="today+P6M",
                 help_de="Nach heute, höchstens in 6 Monaten.",
                 help_en="After today, at most in 6 months."),
            boolean("structural_issue_observed", "Strukturelles Problem beobachtet",
                    "Structural issue observed"),
            text("structural_issue_text", "Strukturelles Problem (ohne Namen)",
                 "Structural issue (no names)", max_len=1000,
                 ui_help="Wird anonymisiert an die KIM-Koordination gegeben; keine Namen."),
        ],
        rules=[
            when("new_needs", True, props={"close_case": {
                "const": False, "x-messages": {"const": {
                    "de": "Neue Bedarfe und Abschluss schließen sich aus",
                    "en": "New needs and closing exclude each other"}}}}),
            when("close_case", False, require=["next_review_date"]),
            when("structural_issue_observed", True, require=["structural_issue_text"]),
        ])


def build_support_plan(registry: OfficeRegistry) -> Process:
    consent_flds, consent_rules = consent_fields()
    consent_form = Form(
        "p2-einwilligung", ("Einwilligungen je Stelle erfassen", "Record consent per office"),
        ("Eine Einwilligung je Stelle und Zweck (F2.3): Kategorien, Gültigkeit, Form, "
         "Sprache, Information über Folgen der Verweigerung.",
         "One consent per office and purpose (F2.3)."), consent_flds, rules=consent_rules,
        case_if=signer_rules("valid_from"))
    conference = Form("p2-fallkonferenz", ("Fallkonferenz durchführen",
                                           "Hold a case conference"),
                      ("Fallkonferenz mit den beteiligten Stellen (jede braucht die Einwilligung "
                       "KIM:CASE_CONFERENCE).", "Case conference with the offices involved."), [
        date("conference_date", "Datum", "Date", req=True, past=True),
        offices_list("participants", "Teilnehmende Stellen", "Participating offices",
                     req=True),
        text("agreements", "Vereinbarungen", "Agreements", req=True, max_len=2000),
        boolean("plan_changes", "Hilfeplan ändern", "Change the plan", req=True),
    ])
    talk = Form("p2-monitoring-gespraech", ("Monitoring-Gespräch führen",
                                            "Hold the monitoring talk"),
                ("Überprüfungstermin laut Hilfeplan.", "Review date of the plan."), [
        date("contact_date", "Gespräch am", "Talk on", req=True, past=True),
        enum("contact_channel", "Kontaktweg", "Contact channel", CONTACT_CHANNELS, req=True),
        text("talk_note", "Notiz (nur Fallmanagement)", "Note (case management only)",
             max_len=2000),
    ])
    contact = Form("p2-monitoring-kontakt", ("Monitoring-Kontakt fällig",
                                             "Monitoring contact due"),
                   ("Seit 42 Tagen ist kein Kontakt dokumentiert.",
                    "No contact recorded for 42 days."), [
        date("contact_made_on", "Kontakt am", "Contact on", req=True, past=True),
        enum("contact_made_channel", "Kontaktweg", "Contact channel", CONTACT_CHANNELS,
             req=True),
        text("contact_note", "Notiz", "Note", max_len=1000),
    ])
    no_contact = Form("p2-kontaktabbruch", ("Abschluss wegen Kontaktabbruch prüfen",
                                            "Check closure for loss of contact"),
                      ("Seit drei Monaten ist kein Kontakt dokumentiert.",
                       "No contact recorded for three months."), [
        enum("no_contact_decision", "Entscheidung", "Decision", [
            ("keep_trying", "Weiter versuchen", "Keep trying"),
            ("propose_closure", "Abschluss vorschlagen (nächste Überprüfung)",
             "Propose closure (next review)")], req=True),
        text("no_contact_note", "Notiz", "Note", max_len=1000),
    ])
    rejustify = Form("p2-fortsetzung", ("Fortsetzung begründen", "Justify continuation"),
                     ("Der Fall ist seit 12 Monaten offen: Fortsetzung begründen und "
                      "freigeben (Teamleitung / KIM-Koordination).",
                      "The case has been open for 12 months: justify continuing it."), [
        boolean("continue_case", "Fall fortsetzen", "Continue the case", req=True),
        text("justification", "Begründung", "Justification", req=True, min_len=20,
             max_len=2000),
    ])
    p = Process(
        "kim_support_plan", "Rechtskreisübergreifende Hilfeplanung",
        "Lokalprozess (ausführbar). Assessment, support plan with parallel referrals and "
        "monitoring (P2): assess needs, get referral suggestions (DMN), agree the plan (with "
        "an optional case conference), record a consent per office, send all referrals in "
        "parallel (kim_single_referral), review the results and monitor until re-assessment "
        "or closure (P6). Each re-assessment, plan change and monitoring round is a loop of "
        "subprocess rounds. After 12 months KIM coordination is asked to justify continuing. "
        "Consent revocations are handled by the consent register (withdrawals, follow-up "
        "task kim_consent_followup).",
        ["KIM_CM", "KIM_KO"], participant="Kommune – KIM-Fallmanagement")
    p.start("Start_Plan", "Fall eröffnet")
    p.script("Task_InitPlan", "Hilfeplanung vorbereiten", _lines(
        defaults({"case_id": "None", "referrals": "[]", "person": "{}",
                  "case_opened": "today()", "first_name": "None", "last_name": "None",
                  "birth_date": "None", "plan_history": "[]", "review_history": "[]",
                  "structural_issues": "[]", "permit_watch_started": "False", "cycle": "0"}),
        "if case_id is None:",
        '    case_id = case_ref()',
        'case_status = "active"',
        'plan_next = "reassess"',
    ), doc="Initialise the case's plan data.", basis=TINTG, rag=RAG_IN)
    p.pgw("Gw_Fork", "Fall begleiten")
    cycle = p.sub("Sub_PlanCycle", "Hilfeplanzyklus",
                  doc="One cycle: assessment, plan, consents, referrals, monitoring; ends with "
                      "re-assessment (next cycle) or closure.", basis=TINTG, rag=RAG_CHECK,
                  loop={"type": "standard", "maximum": 50,
                        "condition": 'plan_next == "reassess"'})
    p.end("End_Closed", "Fall abgeschlossen", terminate=True,
          doc="Ends the case and every listener of it.")
    p.wait("Tmr_Rejustify", "12 Monate seit Fallbeginn", "timeDate",
           'iso_at(add_months(case_opened, 12), "08:00")',
           doc="Twelve months after the case opened.")
    p.user("Task_Rejustify", "Fortsetzung begründen", rejustify, lane="KIM_KO",
           props={"role": "TEAM_LEAD"},
           doc="Justify continuing the case after 12 months (team lead / KIM coordination).",
           basis=TINTG, rag=RAG_DECIDE)
    p.end("End_Rejustified", lane="KIM_KO")
    p.chain("Start_Plan", "Task_InitPlan", "Gw_Fork")
    p.flow("Gw_Fork", "Sub_PlanCycle")
    p.flow("Gw_Fork", "Tmr_Rejustify")
    p.flow("Sub_PlanCycle", "End_Closed")
    p.chain("Tmr_Rejustify", "Task_Rejustify", "End_Rejustified")


    c = cycle
    c.start("Start_Cycle", "Zyklus beginnt")
    c.user("Task_Assessment", "Assessment durchführen", assessment_form(),
           doc="Assess needs and resources per field of action (form F2.1).", basis=TINTG,
           rag=RAG_CHECK)
    c.script("Task_NormaliseAssessment", "Assessment übernehmen", _lines(
        defaults({**{n: "None" for n in ASSESSMENT_OPTIONAL}, "children": "[]",
                  "needs": "[]"}),
        "cycle = cycle + 1",
        "children = children_facts(children)",
        'health_allowed = has_consent("KIM_CM", "KIM_CM:CASE_MANAGEMENT", "HEALTH")',
        "health_data_dropped = False",
        "if not health_allowed and (health_need or disability or health_notes):",
        "    health_data_dropped = True",
        "    health_need = None",
        "    disability = None",
        "    health_notes = None",
        "assessment = {" + ", ".join(f'"{k}": {k}' for k in ASSESSMENT_KEYS) + "}",
        "assessed_on = today()",
        "permit_expired = permit_valid_until is not None and permit_valid_until < today()",
    ), doc="Keep the assessment; health details are dropped without an explicit health "
           "consent (Art. 9 GDPR); compute the children's age and compulsory schooling.",
        basis=f"{TINTG}; Art. 9 DSGVO", rag=RAG_FORMAL)
    c.xgw("Gw_PermitWatch", "Titel befristet?", default="Flow_Gw_PermitWatch_Gw_WatchMerge")
    c.throw("Msg_StartPermitWatch", "Fristenüberwachung starten", "permit_watch_requested",
            '{"case_id": case_id, "permit_valid_until": permit_valid_until, '
            '"renewal_applied_date": renewal_applied_date, "person": person}',
            doc="Start the residence-permit watch for this case (kim_permit_watch).")
    c.script("Task_WatchStarted", "Fristenüberwachung vermerken",
             "permit_watch_started = True", doc="The watch runs once per case.",
             basis="§ 81 Abs. 4 AufenthG")
    c.xgw("Gw_WatchMerge")
    if USE_DMN:
        c.rule("Rule_SuggestReferrals", "Vermittlungen vorschlagen", DECISION_ID,
               doc="Suggest referrals from the assessment (DMN, hit policy COLLECT). "
                   "Suggestions only: the case manager decides.", basis=TINTG)
    else:
        c.script("Rule_SuggestReferrals", "Vermittlungen vorschlagen", suggestion_script(),
                 doc="Suggest referrals from the assessment: the rows of the DMN table "
                     f"{DECISION_ID} (hit policy COLLECT) as a script until DMN files deploy. "
                     "Suggestions only: the case manager decides.", basis=TINTG,
                 rag=RAG_CHECK)
    c.script("Task_CollectSuggestions", "Vorschläge zusammenstellen", _lines(
        defaults({"suggested_office": "[]", "suggested_purpose": "[]",
                  "suggested_process": "[]", "suggested_reason": "[]"}),
        "suggested_referrals = []",
        "for i in range(len(suggested_office or [])):",
        '    same = [s for s in suggested_referrals if s["purpose"] == suggested_purpose[i]]',
        "    if same:",
        '        same[0]["reason"] = same[0]["reason"] + "; " + suggested_reason[i]',
        '        same[0]["process"] = same[0]["process"] or suggested_process[i]',
        "    else:",
        '        suggested_referrals = suggested_referrals + [{"office": suggested_office[i], '
        '"purpose": suggested_purpose[i], "process": suggested_process[i], '
        '"reason": suggested_reason[i]}]',
        "same = None",
        "suggested_office = None",
        "suggested_purpose = None",
        "suggested_process = None",
        "suggested_reason = None",
    ), doc="One suggestion per office and purpose, with its reasons.", basis=TINTG)
    agree = c.sub("Sub_PlanAgreement", "Hilfeplan vereinbaren (mit Fallkonferenz)",
                  doc="Agree the plan; a case conference may change it (each change is a new "
                      "round).", basis=TINTG, rag=RAG_DECIDE,
                  loop={"type": "standard", "maximum": 10, "condition": "plan_changes == True"})
    c.script("Task_PrepareConsents", "Fehlende Einwilligungen ermitteln", _lines(
        "consents_needed = missing_consents(selected_referrals)",
        "consent_outcomes = []",
    ), doc="Which selected referrals lack a valid consent.", basis=CONSENT_BASIS,
        rag=RAG_FORMAL)
    per_office = c.sub("Sub_ConsentsPerOffice", "Einwilligungen je Stelle erfassen",
                       doc="One consent record per office and purpose that lacks one "
                           "(sequential multi-instance).", basis=CONSENT_BASIS, rag=RAG_COOP,
                       loop={"type": "sequential", "input": "consents_needed",
                             "item": "consent_request", "output": "consent_outcomes",
                             "output_item": "consent_outcome"})
    c.script("Task_StoreConsents", "Einwilligungen übernehmen", _lines(
        "referrals_to_send = consented(selected_referrals)",
        "referrals_refused = [r for r in selected_referrals if r not in referrals_to_send]",
        "round_records = []",
    ), doc="Only referrals with a valid consent are sent (the consent guard).",
        basis=CONSENT_BASIS, rag=RAG_FORMAL)
    c.call("Call_Referrals", "Vermittlungen durchführen", "kim_single_referral",
           doc="All referrals of the plan run in parallel, one instance per office "
               "(parallel multi-instance call activity).", basis=TINTG, rag=RAG_OUT,
           loop={"type": "parallel", "input": "referrals_to_send", "item": "referral",
                 "output": "round_records", "output_item": "referral_record"})
    c.script("Task_StoreReferrals", "Vermittlungsergebnisse übernehmen", _lines(
        "referrals = referrals + round_records",
        'review_next = "monitor"',
    ), doc="Keep every referral record in the case's referral list.", basis=TINTG)
    monitoring = c.sub("Sub_Monitoring", "Monitoring",
                       doc="Review the results; until re-assessment or closure, wait for the "
                           "next review date and hold a monitoring talk (each a round).",
                       basis=TINTG, rag=RAG_CHECK,
                       loop={"type": "standard", "maximum": 100,
                             "condition": 'review_next == "monitor"'})
    c.xgw("Gw_Next", "Abschließen?", default="Flow_Gw_Next_Task_Reassess")
    c.call("Call_Closure", "Fall abschließen", "kim_case_closure",
           doc="Close and evaluate the case (P6).", basis=TINTG, rag=RAG_NOTICE)
    c.script("Task_AfterClosure", "Abschluss übernehmen",
             'plan_next = "reassess" if case_status == "reopened" else "close"',
             doc="A case reopened within six months starts a new cycle.", basis=TINTG)
    c.script("Task_Reassess", "Erneutes Assessment vormerken", 'plan_next = "reassess"',
             doc="New needs: the next cycle starts with a fresh assessment (history kept).",
             basis=TINTG)
    c.script("Task_CloseCycle", "Zyklus dokumentieren", _lines(
        'plan_history = plan_history + [{"cycle": cycle, "assessed_on": assessed_on, '
        '"goals": goals, "selected_referrals": selected_referrals, '
        '"suggested_referrals": suggested_referrals, '
        '"referral_ids": [x["referral_id"] for x in round_records]}]',
        *[f"{n} = None" for n in (
            "goals", "selected_referrals", "suggested_referrals", "consents_needed",
            "consent_outcomes", "referrals_to_send", "referrals_refused", "round_records",
            "children", "needs", "assessment", "x")],
    ), doc="Keep the cycle in the plan history; lists of this cycle are cleared so the next "
           "cycle starts fresh.", basis=TINTG)
    c.end("End_Cycle", "Zyklus beendet")
    c.chain("Start_Cycle", "Task_Assessment", "Task_NormaliseAssessment", "Gw_PermitWatch")
    c.flow("Gw_PermitWatch", "Msg_StartPermitWatch",
           "permit_valid_until is not None and not permit_watch_started", name="ja")
    c.flow("Gw_PermitWatch", "Gw_WatchMerge", name="nein")
    c.chain("Msg_StartPermitWatch", "Task_WatchStarted", "Gw_WatchMerge",
            "Rule_SuggestReferrals", "Task_CollectSuggestions", "Sub_PlanAgreement",
            "Task_PrepareConsents", "Sub_ConsentsPerOffice", "Task_StoreConsents",
            "Call_Referrals", "Task_StoreReferrals", "Sub_Monitoring", "Gw_Next")
    c.flow("Gw_Next", "Call_Closure", 'review_next == "close"', name="ja")
    c.flow("Gw_Next", "Task_Reassess", name="neue Bedarfe")
    c.chain("Call_Closure", "Task_AfterClosure", "Task_CloseCycle")
    c.flow("Task_Reassess", "Task_CloseCycle")
    c.flow("Task_CloseCycle", "End_Cycle")

    a = agree
    a.start("Start_Agreement")
    a.user("Task_SupportPlan", "Hilfeplan vereinbaren", plan_form(registry),
           doc="Agree SMART goals and choose the referrals (form F2.2); the suggestions are "
               "shown with their reasons.",
           instructions="Vorschläge: {{ suggested_referrals }}", basis=TINTG, rag=RAG_DECIDE)
    a.script("Task_NormalisePlan", "Hilfeplan übernehmen", _lines(
        defaults({"conference_requested": "False", "selected_referrals": "[]"}),
        "plan_changes = False",
    ), doc="Optional answers get a value.", basis=TINTG)
    a.xgw("Gw_Conference", "Fallkonferenz?", default="Flow_Gw_Conference_End_Agreed")
    a.user("Task_CaseConference", "Fallkonferenz durchführen", conference, lane="KIM_KO",
           doc="Hold the case conference; it may change the plan (back to the plan).",
           basis=f"{TINTG}; Einwilligung KIM:CASE_CONFERENCE", rag=RAG_DECIDE)
    a.script("Task_StoreConference", "Fallkonferenz dokumentieren",
             "conference_requested = False",
             doc="The conference is documented; a new one needs a new request.", basis=TINTG,
             lane="KIM_KO")
    a.end("End_Agreed", "Vereinbart")
    a.end("End_Conference", "Konferenz beendet", lane="KIM_KO")
    a.chain("Start_Agreement", "Task_SupportPlan", "Task_NormalisePlan", "Gw_Conference")
    a.flow("Gw_Conference", "Task_CaseConference", "conference_requested == True", name="ja")
    a.flow("Gw_Conference", "End_Agreed", name="nein")
    a.chain("Task_CaseConference", "Task_StoreConference", "End_Conference")

    po = per_office
    po.start("Start_ConsentPerOffice")
    po.user("Task_RecordConsentPerOffice", "Einwilligung je Stelle erfassen", consent_form,
            doc="Record the consent for this office and purpose (form F2.3).",
            instructions="Einwilligung für {{ consent_request.office }} / "
                         "{{ consent_request.purpose }}.",
            basis=CONSENT_BASIS, rag=RAG_COOP)
    po.script("Task_BuildConsent", "Einwilligung anlegen", _lines(
        "consent_outcome = None",
        "if consent_given:",
        "    " + CONSENT_RECORD.replace("\n", "\n    "),
        "    consent_outcome = record_consent(new_consent)",
    ), doc="Build the consent record (nothing if the person refused).", basis=CONSENT_BASIS)
    po.xgw("Gw_ConsentGiven", "Erteilt?", default="Flow_Gw_ConsentGiven_Gw_ConsentMerge")
    po.throw("Msg_ConsentRecorded", "Einwilligung registrieren", CONSENT_MESSAGE,
             '{"case_id": case_id, "consents": [consent_outcome]}',
             doc="Record the consent in the consent register (the referral gate checks it).")
    po.xgw("Gw_ConsentMerge")
    po.end("End_ConsentPerOffice")
    po.chain("Start_ConsentPerOffice", "Task_RecordConsentPerOffice", "Task_BuildConsent",
             "Gw_ConsentGiven")
    po.flow("Gw_ConsentGiven", "Msg_ConsentRecorded", "consent_outcome is not None", name="ja")
    po.flow("Gw_ConsentGiven", "Gw_ConsentMerge", name="nein")
    po.chain("Msg_ConsentRecorded", "Gw_ConsentMerge", "End_ConsentPerOffice")

    m = monitoring
    m.start("Start_Monitoring")
    m.user("Task_ReviewResults", "Ergebnisse bewerten (Monitoring)", review_form(),
           doc="Review goal attainment and the offices' results (form F2.5); decide on "
               "monitoring, re-assessment or closure.",
           instructions="Vermittlungen: {{ referrals }}", basis=TINTG, rag=RAG_CHECK)
    m.script("Task_EvaluateReview", "Bewertung übernehmen", _lines(
        defaults({"referral_review": "[]", "next_review_date": "None",
                  "structural_issue_observed": "False", "structural_issue_text": "None"}),
        'review_next = "reassess" if new_needs else ("close" if close_case else "monitor")',
        "last_contact_date = contact_date",
        'review_history = review_history + [{"contact_date": contact_date, '
        '"channel": contact_channel, "goal_status": goal_status, "new_needs": new_needs, '
        '"close_case": close_case}]',
        "structural_issue_rejected = False",
        "if structural_issue_observed and structural_issue_text:",
        "    text_ = structural_issue_text.lower()",
        "    names = [n.lower() for n in (first_name, last_name) if n]",
        "    if any([n in text_ for n in names]):",
        "        structural_issue_rejected = True",
        "    else:",
        '        structural_issues = structural_issues + [{"text": structural_issue_text, '
        '"reported_on": today()}]',
        "    text_ = None",
        "    names = None",
        "goal_status = None",
        "referral_review = None",
        "structural_issue_text = None",
        "structural_issue_observed = False",
    ), doc="Decide the next step; structural issues go, without names, to KIM coordination.",
        basis=TINTG)
    m.xgw("Gw_Monitor", "Weiter begleiten?", default="Flow_Gw_Monitor_End_MonitoringDone")
    wait = m.sub("Sub_AwaitReview", "Bis zur nächsten Überprüfung begleiten",
                 doc="Until the next review date: remind of a monitoring contact 42 days "
                     "after the last one and propose closure after three months without "
                     "contact; the monitoring talk ends the wait.", basis=TINTG, rag=RAG_IN)
    m.end("End_MonitoringRound", "Runde beendet")
    m.end("End_MonitoringDone", "Monitoring beendet")
    m.chain("Start_Monitoring", "Task_ReviewResults", "Task_EvaluateReview", "Gw_Monitor")
    m.flow("Gw_Monitor", "Sub_AwaitReview", 'review_next == "monitor"', name="ja")
    m.flow("Gw_Monitor", "End_MonitoringDone", name="nein")
    m.flow("Sub_AwaitReview", "End_MonitoringRound")

    w = wait
    w.start("Start_AwaitReview")
    w.pgw("Gw_ReviewFork", "Begleiten")
    w.wait("Tmr_NextReview", "Überprüfungstermin", "timeDate",
           'iso_at(next_review_date, "08:00")')
    w.user("Task_MonitoringTalk", "Monitoring-Gespräch führen", talk,
           doc="Hold the monitoring talk on the review date.", basis=TINTG, rag=RAG_CHECK)
    w.end("End_Talked", "Gespräch geführt", terminate=True)
    w.wait("Tmr_ContactDue", "42 Tage ohne Kontakt", "timeDate",
           'iso_at(add_days(last_contact_date, 42), "08:00")')
    w.user("Task_MonitoringContact", "Monitoring-Kontakt fällig", contact,
           doc="No contact for 42 days: get in touch.", basis=TINTG, rag=RAG_COOP)
    w.end("End_ContactMade")
    w.wait("Tmr_NoContact", "3 Monate ohne Kontakt", "timeDate",
           'iso_at(add_months(last_contact_date, 3), "08:00")')
    w.user("Task_ProposeClosure", "Abschluss wegen Kontaktabbruch prüfen", no_contact,
           doc="No contact for three months: consider closing the case (closure reason "
               "no_contact in the next review).", basis=TINTG, rag=RAG_DECIDE)
    w.end("End_ClosureChecked")
    w.chain("Start_AwaitReview", "Gw_ReviewFork")
    for t in ("Tmr_NextReview", "Tmr_ContactDue", "Tmr_NoContact"):
        w.flow("Gw_ReviewFork", t)
    w.chain("Tmr_NextReview", "Task_MonitoringTalk", "End_Talked")
    w.chain("Tmr_ContactDue", "Task_MonitoringContact", "End_ContactMade")
    w.chain("Tmr_NoContact", "Task_ProposeClosure", "End_ClosureChecked")
    return p


# ================================================================================================
# P6: case closure and evaluation
# ================================================================================================

CLOSURE_REASONS: list[Option] = [
    ("goals_achieved", "Ziele erreicht", "Goals achieved"),
    ("client_request", "Wunsch der Person", "Client's request"),
    ("moved_away", "Weggezogen", "Moved away"), ("no_contact", "Kontaktabbruch", "No contact"),
    ("transferred", "Übergeben", "Transferred"),
    ("consent_revoked_entirely", "Einwilligung vollständig widerrufen",
     "Consent revoked entirely"),
    ("deceased", "Verstorben", "Deceased"), ("other", "Sonstiges", "Other"),
]
STRUCTURAL_CATEGORIES: list[Option] = [
    ("waiting_times", "Wartezeiten", "Waiting times"),
    ("unclear_responsibility", "Unklare Zuständigkeit", "Unclear responsibility"),
    ("communication_channels", "Kommunikationswege", "Communication channels"),
    ("interpreting", "Sprachmittlung", "Interpreting"),
    ("digital_access", "Digitaler Zugang", "Digital access"),
    ("legal_barriers", "Rechtliche Hürden", "Legal barriers"),
    ("housing_market", "Wohnungsmarkt", "Housing market"), ("other", "Sonstiges", "Other"),
]


def build_case_closure() -> Process:
    prepare = Form(
        "p6-abschluss", ("Fallabschluss vorbereiten", "Prepare case closure"),
        ("Abschlussgrund, Zielerreichung, Rückmeldung der Person, strukturelle Probleme "
         "(ohne Namen).", "Closure reason, goal attainment, feedback, structural issues "
                          "(no names)."), [
            enum("closure_reason", "Abschlussgrund", "Closure reason", CLOSURE_REASONS,
                 req=True),
            # "≥ last recorded activity": the last monitoring contact of P2 (its review
            # decides the closure); a case closed without monitoring has no such date
            date("closure_date", "Abschlussdatum", "Closure date", req=True, past=True,
                 min="$$last_contact_date",
                 help_de="Nicht vor dem letzten dokumentierten Kontakt, nicht in der Zukunft.",
                 help_en="Not before the last recorded contact, not in the future."),
            items("contact_attempts", "Kontaktversuche", "Contact attempts", [
                date("date", "Datum", "Date", req=True, past=True),
                enum("channel", "Weg", "Channel", [
                    ("phone", "Telefon", "Phone"), ("letter", "Brief", "Letter"),
                    ("email", "E-Mail", "E-mail"), ("home_visit", "Hausbesuch", "Home visit"),
                    ("sms", "SMS", "SMS")], req=True),
            ], max_items=20),
            office("transferred_to", "Übergeben an", "Transferred to"),
            goal_statuses("goal_final_status", "Endstand je Ziel (in der Reihenfolge der Ziele)",
                          "Final status per goal (in the order of the goals)"),
            integer("client_feedback_score", "Rückmeldung der Person (1-5)",
                    "Client feedback (1-5)", 1, 5),
            text("final_summary", "Abschlussbericht (nur Fallmanagement)",
                 "Final summary (case management only)", req=True, max_len=2000),
            boolean("structural_issue", "Strukturelles Problem", "Structural issue"),
            enum("structural_issue_category", "Kategorie", "Category", STRUCTURAL_CATEGORIES),
            text("structural_issue_text", "Beschreibung (ohne Namen)", "Description (no names)",
                 max_len=1000),
        ],
        rules=[
            when("closure_reason", "no_contact", require=["contact_attempts"],
                 props={"contact_attempts": {"minItems": 3}}),
            when("closure_reason", "transferred", require=["transferred_to"]),
            when("structural_issue", True, require=["structural_issue_category",
                                                    "structural_issue_text"]),
        ])
    approve = Form("p6-freigabe", ("Abschluss freigeben", "Approve the closure"),
                   ("Freigabe durch die Teamleitung (lange Fälle, Kontaktabbruch, "
                    "vollständiger Widerruf).", "Approval by the team lead."), [
        boolean("closure_approved", "Abschluss freigegeben", "Closure approved", req=True,
                must_be_true=True),
        text("approval_note", "Vermerk", "Note", max_len=1000),
    ])
    structural = Form("p6-generative-themen", ("Generative Themen aufnehmen",
                                               "Take up structural issues"),
                      ("Strukturelles Problem aus einem abgeschlossenen Fall (anonymisiert).",
                       "Structural issue from a closed case (anonymised)."), [
        enum("structural_action", "Weiteres Vorgehen", "Next step", [
            ("working_group", "In Arbeitsgruppe einbringen", "Take to a working group"),
            ("steering_group", "In Lenkungsgruppe einbringen", "Take to the steering group"),
            ("monitor", "Beobachten", "Monitor"), ("no_action", "Keine Maßnahme", "No action")],
             req=True),
        text("structural_note", "Vermerk", "Note", max_len=1000),
    ])
    reopen = Form("p6-wiederaufnahme", ("Wiederaufnahme: Einwilligung prüfen",
                                        "Reopening: check consent"),
                  ("Der Fall wird innerhalb von sechs Monaten wieder aufgenommen; die "
                   "Basiseinwilligung muss gültig sein oder neu erteilt werden.",
                   "The case is reopened within six months; the base consent must be valid "
                   "or given again."), [
        boolean("consent_confirmed", "Einwilligung gültig oder neu erteilt",
                "Consent valid or given again", req=True, must_be_true=True),
        date("reopened_on", "Wiederaufgenommen am", "Reopened on", req=True, past=True),
    ])
    p = Process(
        "kim_case_closure", "Fallabschluss und Evaluation",
        "Lokalprozess (ausführbar). Case closure and evaluation (P6): prepare the closure, "
        "withdraw open referrals, get team-lead approval where required, produce the "
        "anonymised statistics record, pass structural issues to KIM coordination, plan "
        "retention, announce case_closed, allow reopening for six months, and pseudonymise "
        "the case 36 months after closure.",
        ["KIM_CM", "KIM_KO"], participant="Kommune – KIM-Fallmanagement")
    p.start("Start_Closure", "Abschluss angestoßen")
    p.script("Task_InitClosure", "Abschluss vorbereiten", defaults({
        "referrals": "[]", "case_opened": "today()", "case_id": "None", "first_name": "None",
        "last_name": "None", "birth_date": "None", "gender": "None",
        "residence_status": "None", "handlungsfelder_need": "[]", "plan_history": "[]",
        "structural_issues": "[]"}),
        doc="Case data come from the support plan.", basis=TINTG, rag=RAG_IN)
    p.user("Task_PrepareClosure", "Fallabschluss vorbereiten", prepare,
           doc="Record the closure reason, goal attainment and feedback (form F6.1).",
           basis=TINTG, rag=RAG_NOTICE)
    p.script("Task_CheckClosure", "Abschluss prüfen", _lines(
        defaults({"contact_attempts": "[]", "transferred_to": "None",
                  "client_feedback_score": "None", "structural_issue": "False",
                  "structural_issue_category": "None", "structural_issue_text": "None"}),
        "case_duration_days = days_between(case_opened, closure_date)",
        "referrals_to_withdraw = open_referrals(referrals)",
        "structural_issue_rejected = False",
        "if structural_issue and structural_issue_text:",
        "    text_ = structural_issue_text.lower()",
        "    if any([n.lower() in text_ for n in (first_name, last_name) if n]):",
        "        structural_issue_rejected = True",
        "        structural_issue = False",
        "    text_ = None",
    ), doc="Duration, open referrals; a structural-issue text naming the person is not "
           "passed on.", basis=TINTG, rag=RAG_FORMAL)
    p.xgw("Gw_OpenReferrals", "Offene Vermittlungen?",
          default="Flow_Gw_OpenReferrals_Gw_OpenMerge")
    withdraw = p.sub("Sub_WithdrawReferrals", "Offene Vermittlungen zurücknehmen",
                     doc="Withdraw every open referral (reason case_closed); each office's "
                         "task leaves its queue.", basis=TINTG, rag=RAG_OUT,
                     loop={"type": "parallel", "input": "referrals_to_withdraw",
                           "item": "open_referral"})
    p.script("Task_MarkWithdrawn", "Rücknahmen vermerken", _lines(
        "withdrawn_ids = [r[\"referral_id\"] for r in referrals_to_withdraw]",
        "referrals = [dict(r, status=\"withdrawn\") if r[\"referral_id\"] in withdrawn_ids "
        "else r for r in referrals]",
    ), doc="The withdrawn referrals end as withdrawn.", basis=TINTG)
    p.xgw("Gw_OpenMerge")
    p.xgw("Gw_Approval", "Freigabe nötig?", default="Flow_Gw_Approval_Gw_ApprovalMerge")
    p.user("Task_ApproveClosure", "Abschluss freigeben", approve, props={"role": "TEAM_LEAD"},
           doc="Team-lead approval for cases over a year, closure for no contact, or full "
               "revocation of consent.", basis=TINTG, rag=RAG_DECIDE)
    p.xgw("Gw_ApprovalMerge")
    p.script("Svc_Statistics", "Statistik anonymisiert erfassen", _lines(
        'stats_record = {"handlungsfelder": handlungsfelder_need, '
        '"duration_days": case_duration_days,',
        '                "turnaround_by_office": turnaround_by_office(referrals),',
        '                "goal_outcomes": goal_final_status, "closure_reason": closure_reason,',
        '                "age_band": age_band(birth_date, closure_date) if birth_date else None,',
        '                "gender": gender, "residence_status_at_start": residence_status,',
        '                "referral_count": len(referrals)}',
    ), doc="An anonymised record for the KIM statistics: no names, no dates of birth, no "
           "addresses.", basis=f"{TINTG}; Art. 89 DSGVO", rag=RAG_OUT)
    p.xgw("Gw_Structural", "Strukturelles Problem?",
          default="Flow_Gw_Structural_Gw_StructuralMerge")
    p.user("Task_StructuralIssues", "Generative Themen aufnehmen", structural, lane="KIM_KO",
           doc="KIM coordination takes up the structural issue (generative themes).",
           instructions="{{ structural_issue_category }}: {{ structural_issue_text }}",
           basis=TINTG, rag=RAG_CHECK)
    p.xgw("Gw_StructuralMerge")
    p.script("Svc_PlanRetention", "Aufbewahrung planen", _lines(
        "pseudonymise_on = add_months(closure_date, 36)",
        "audit_purge_on = add_months(closure_date, 60)",
        "reopen_until = add_months(closure_date, 6)",
        'case_status = "closed"',
    ), doc="Pseudonymise after 36 months, purge the audit segment after 60 months (brief "
           "5.6, DPO to confirm).", basis="§ 84 SGB X; Art. 5 Abs. 1 lit. e DSGVO",
        rag=RAG_FORMAL)
    p.throw("Msg_CaseClosed", "Fallabschluss melden", "case_closed",
            '{"case_id": case_id, "closure_reason": closure_reason, '
            '"closure_date": closure_date}',
            doc="Tell the case's other processes (e.g. the permit watch) that it is closed.")
    window = p.sub("Sub_ReopenWindow", "Wiederaufnahme ermöglichen",
                   doc="For six months the case can be reopened (case_reopened).",
                   basis=TINTG, rag=RAG_IN)
    p.xgw("Gw_Reopened", "Wiederaufgenommen?", default="Flow_Gw_Reopened_Tmr_Pseudonymise")
    p.end("End_Reopened", "Wiederaufgenommen")
    p.wait("Tmr_Pseudonymise", "36 Monate nach Abschluss", "timeDate",
           'iso_at(pseudonymise_on, "02:00")')
    p.script("Svc_Pseudonymise", "Fall pseudonymisieren", _lines(
        "first_name = pseudonym()",
        "last_name = None",
        "name_latin = None",
        "birth_date = birth_date[:4] if birth_date else None",
        *[f"{n} = None" for n in (
            "street", "postcode", "city", "phone", "email", "interview_summary",
            "final_summary", "structural_issue_text", "person", "goals", "talk_note",
            "guardian_name", "landlord_name", "notes")],
        'case_status = "pseudonymised"',
    ), doc="Names become a random pseudonym, the birth date its year; contact data and free "
           "texts are deleted (brief 5.6).", basis="§ 84 SGB X; Art. 17 DSGVO",
        rag=RAG_FORMAL)
    p.end("End_Pseudonymised", "Pseudonymisiert")
    p.chain("Start_Closure", "Task_InitClosure", "Task_PrepareClosure", "Task_CheckClosure",
            "Gw_OpenReferrals")
    p.flow("Gw_OpenReferrals", "Sub_WithdrawReferrals", "len(referrals_to_withdraw) > 0",
           name="ja")
    p.flow("Gw_OpenReferrals", "Gw_OpenMerge", name="nein")
    p.chain("Sub_WithdrawReferrals", "Task_MarkWithdrawn", "Gw_OpenMerge", "Gw_Approval")
    p.flow("Gw_Approval", "Task_ApproveClosure",
           'case_duration_days > 365 or closure_reason in ("no_contact", '
           '"consent_revoked_entirely")', name="ja")
    p.flow("Gw_Approval", "Gw_ApprovalMerge", name="nein")
    p.chain("Task_ApproveClosure", "Gw_ApprovalMerge", "Svc_Statistics", "Gw_Structural")
    p.flow("Gw_Structural", "Task_StructuralIssues", "structural_issue == True", name="ja")
    p.flow("Gw_Structural", "Gw_StructuralMerge", name="nein")
    p.chain("Task_StructuralIssues", "Gw_StructuralMerge", "Svc_PlanRetention",
            "Msg_CaseClosed", "Sub_ReopenWindow", "Gw_Reopened")
    p.flow("Gw_Reopened", "End_Reopened", 'case_status == "reopened"', name="ja")
    p.flow("Gw_Reopened", "Tmr_Pseudonymise", name="nein")
    p.chain("Tmr_Pseudonymise", "Svc_Pseudonymise", "End_Pseudonymised")

    wd = withdraw
    wd.start("Start_Withdraw")
    wd.script("Task_SetWithdrawal", "Rücknahme vorbereiten", _lines(
        'referral_id = open_referral["referral_id"]',
        'withdraw_office = open_referral.get("office")',
    ), doc="The referral to withdraw.", basis=TINTG)
    wd.throw("Msg_Withdraw", "Vermittlung zurücknehmen", "referral_withdrawn",
             '{"referral_id": referral_id, "case_id": case_id, "office": withdraw_office, '
             '"reason": "case_closed"}')
    wd.end("End_Withdraw")
    wd.chain("Start_Withdraw", "Task_SetWithdrawal", "Msg_Withdraw", "End_Withdraw")

    rw = window
    rw.start("Start_ReopenWindow")
    rw.pgw("Gw_ReopenFork", "Warten")
    rw.catch("Msg_CaseReopened", "Wiederaufnahme beantragt", "case_reopened", "reopening")
    rw.user("Task_ReopenConsentCheck", "Wiederaufnahme: Einwilligung prüfen", reopen,
            doc="Check the base consent before the case continues (back to the support "
                "plan).", basis=CONSENT_BASIS, rag=RAG_COOP)
    rw.script("Task_Reopen", "Fall wieder öffnen", 'case_status = "reopened"',
              doc="The support plan starts a new cycle.", basis=TINTG)
    rw.end("End_ReopenRequested", "Wiederaufgenommen", terminate=True)
    rw.wait("Tmr_ReopenWindow", "6 Monate nach Abschluss", "timeDate",
            'iso_at(reopen_until, "00:05")')
    rw.end("End_ReopenWindowClosed", "Frist abgelaufen", terminate=True)
    rw.chain("Start_ReopenWindow", "Gw_ReopenFork")
    rw.flow("Gw_ReopenFork", "Msg_CaseReopened")
    rw.flow("Gw_ReopenFork", "Tmr_ReopenWindow")
    rw.chain("Msg_CaseReopened", "Task_ReopenConsentCheck", "Task_Reopen",
             "End_ReopenRequested")
    rw.flow("Tmr_ReopenWindow", "End_ReopenWindowClosed")
    return p


def build_case_reopening() -> Process:
    form = Form("p6-wiederaufnahme-beantragen", ("Wiederaufnahme beantragen",
                                                 "Request reopening"),
                ("Die Person meldet sich innerhalb von sechs Monaten nach Abschluss wieder.",
                 "The person returns within six months of closure."), [
        text("reopen_reason", "Anlass", "Reason", req=True, min_len=10, max_len=1000),
    ])
    p = Process(
        "kim_case_reopening", "Fall wiederaufnehmen",
        "Lokalprozess (ausführbar). Asks a closed case (P6, within six months) to reopen: "
        "sends case_reopened for the case_id.", ["KIM_CM"],
        participant="Kommune – KIM-Fallmanagement")
    p.start("Start_Reopening", "Person meldet sich wieder")
    p.user("Task_RequestReopen", "Wiederaufnahme beantragen", form,
           doc="Record why the case is reopened.", basis=TINTG, rag=RAG_IN)
    p.end("End_Reopening", "Wiederaufnahme beantragt", message="case_reopened",
          payload='{"case_id": case_id, "reason": reopen_reason, "requested_on": today()}')
    p.chain("Start_Reopening", "Task_RequestReopen", "End_Reopening")
    return p


# ================================================================================================
# P4: recognition -> residence permit + integration course + job centre; the permit watch
# ================================================================================================

def _referral_script(office_code: str, purpose: str, service: str, *, urgency: str = "normal",
                     deadline: str | None = None) -> str:
    extra = f', "legal_deadline": {deadline}' if deadline else ""
    return (f'referral = {{"office": "{office_code}", "purpose": "{purpose}", '
            f'"requested_service": {service}, "urgency": "{urgency}"{extra}}}')


def build_recognition_transition() -> Process:
    decision = Form("p4-bamf-bescheid", ("BAMF-Bescheid erfassen", "Record the BAMF decision"),
                    ("Positiver BAMF-Bescheid: AsylbLG endet zum Ende des Monats der "
                     "Anerkennung (§ 1 Abs. 3 AsylbLG); SGB II folgt ab dem nächsten Monat.",
                     "Positive BAMF decision: AsylbLG ends at the end of the month of "
                     "recognition; SGB II follows from the next month."), [
        enum("bamf_decision", "BAMF-Entscheidung", "BAMF decision",
             [o for o in BAMF_DECISIONS if o[0] in POSITIVE_DECISIONS], req=True),
        date("bamf_decision_date", "Datum des Bescheids", "Date of the decision", req=True,
             past=True),
        date("service_date", "Zugestellt am", "Served on", req=True, past=True,
             min="$bamf_decision_date",
             help_de="Nicht vor dem Datum des Bescheids.", help_en="Not before the decision."),
        text("bamf_file_number", "BAMF-Aktenzeichen", "BAMF file number", max_len=12,
             pattern="^[0-9]{7,8}-[0-9]{3}$"),
        text_list("persons_covered", "Erfasste Personen (Haushaltsmitglieder)",
                  "Persons covered (household members)", req=True, max_len=100),
        integer("children_in_household", "Kinder im Haushalt", "Children in the household", 0,
                15, req=True),
    ])
    check = Form("p4-uebergang", ("Übergang prüfen", "Check the transition"),
                 ("Leistungsbeginn SGB II mit dem Ende der AsylbLG-Leistungen vergleichen.",
                  "Compare the start of SGB II with the end of AsylbLG."), [
        date("sgb2_benefit_start", "Leistungsbeginn SGB II", "Start of SGB II benefits",
             req=True),
        text("transition_note", "Vermerk", "Note", max_len=1000),
    ])
    gap = Form("p4-luecke", ("Leistungslücke klären", "Bridge the benefit gap"),
               ("Zwischen AsylbLG und SGB II droht eine Lücke: Vorschuss nach § 42 SGB I "
                "beantragen oder Weiterzahlung klären.",
                "A gap between AsylbLG and SGB II: ask for an advance (§ 42 SGB I)."), [
        enum("bridging_measure", "Maßnahme", "Measure", [
            ("vorschuss_42_sgb1", "Vorschuss (§ 42 SGB I) beantragt", "Advance requested"),
            ("soz_weiterzahlung", "Weiterzahlung durch das Sozialamt", "Continued payment"),
            ("other", "Sonstiges", "Other")], req=True),
        date("bridging_requested_on", "Beantragt am", "Requested on", req=True, past=True),
        text("bridging_note", "Vermerk", "Note", max_len=1000),
    ])
    jc_missing = acknowledge_form("p4-jc-antrag-fehlt", (
        "JC-Antrag fehlt – Leistungslücke droht", "Job centre application missing"),
        ("Zehn Tage vor Ende der Antragsfrist liegt kein Ergebnis des Jobcenters vor.",
         "Ten days before the application deadline there is no result from the job centre."))
    jc_escalate = acknowledge_form("p4-eskalation-jc", (
        "Eskalation: JC-Antrag zum Fristende offen", "Escalation: job centre application open"),
        ("Die Antragsfrist für das Bürgergeld ist erreicht.",
         "The application deadline for citizen's income is reached."))
    course = acknowledge_form("p4-kursanspruch", (
        "Kursanspruch verfällt in 3 Monaten", "Course entitlement lapses in 3 months"),
        ("Neun Monate nach Erteilung des Titels ist der Integrationskurs nicht belegt "
         "(§ 44 Abs. 2 AufenthG).", "Nine months after the permit the course is not "
                                    "booked."))
    kindergeld = acknowledge_form("p4-kindergeld", (
        "Kindergeld nicht beantragt", "Child benefit not applied for"),
        ("30 Tage nach Beginn ist kein Kindergeldantrag bestätigt; Nachzahlung nur für "
         "6 Monate (§ 66 Abs. 3 EStG).", "30 days on, no child-benefit application is "
                                          "confirmed."))
    p = Process(
        "kim_recognition_transition", "Rechtskreiswechsel nach Anerkennung",
        "Lokalprozess (ausführbar). Change of legal domain after recognition (P4): record the "
        "BAMF decision, compute the AsylbLG end and the SGB II application deadline, refer "
        "in parallel to ABH (permit), JC (citizen's income), SOZ (end AsylbLG) and FK (child "
        "benefit), then IKT (integration course), check the transition for a benefit gap and "
        "start the residence-permit watch.",
        ["KIM_CM", "KIM_KO"], participant="Kommune – KIM-Fallmanagement")
    p.start("Start_Transition", "Anerkennung bekannt")
    p.user("Task_RecordBamfDecision", "BAMF-Bescheid erfassen", decision,
           doc="Record the positive BAMF decision and its service date.",
           basis="§ 1 Abs. 3 AsylbLG; § 25 AufenthG", rag=RAG_IN)
    p.script("Task_ComputeDates", "Fristen berechnen", _lines(
        defaults({"person": "{}", "assessment": "{}", "goals": "[]",
                  "case_id": "None", "bamf_file_number": "None"}),
        'if case_id is None:',
        '    case_id = case_ref()',
        "asylblg_end = end_of_month(bamf_decision_date)",
        "sgb2_start = add_days(asylblg_end, 1)",
        "jc_application_latest = end_of_month(sgb2_start)",
    ), doc="AsylbLG ends at the end of the month of recognition; SGB II from the next month; "
           "the JC application must be filed by the end of that month (§ 37 Abs. 2 SGB II).",
        basis="§ 1 Abs. 3 AsylbLG; § 37 Abs. 2 SGB II", rag=RAG_FORMAL)
    p.pgw("Gw_Split", "Stellen beteiligen")
    # ABH, then IKT
    p.script("Task_PrepAbh", "Vermittlung ABH vorbereiten", _referral_script(
        "ABH", "ABH:AUFENTHALT", '"Aufenthaltserlaubnis erteilen (§ 25 Abs. 1/2/3 AufenthG)"'),
        doc="Referral to the foreigners' authority.", basis="§ 25 AufenthG", rag=RAG_FORMAL)
    p.call("Call_AbhReferral", "Aufenthaltserlaubnis vermitteln", "kim_single_referral",
           doc="Referral ABH:AUFENTHALT through the referral protocol.", basis="§ 25 AufenthG",
           rag=RAG_OUT)
    p.script("Task_StoreAbh", "Ergebnis ABH übernehmen", _lines(
        "abh_referral = referral_record",
        'abh_result = referral_record.get("result") or {}',
        'permit_issue_date = abh_result.get("permit_issue_date")',
        'permit_valid_until = abh_result.get("permit_valid_until")',
        'course_needed = abh_referral["status"] == "completed" and '
        'abh_result.get("integration_course_obligation") != False',
    ), doc="Permit dates and the integration-course obligation from the ABH result.",
        basis="§ 44, § 44a AufenthG")
    p.xgw("Gw_Course", "Integrationskurs?", default="Flow_Gw_Course_Gw_CourseMerge")
    p.script("Task_PrepIkt", "Kursanmeldung vorbereiten", _referral_script(
        "IKT", "IKT:KURSANMELDUNG", '"Platz im Integrationskurs"'),
        doc="Referral to the course provider.", basis="§ 44 AufenthG; IntV", rag=RAG_FORMAL)
    course_sub = p.sub("Sub_CourseRegistration", "Kursanmeldung (mit Frist)",
                       doc="Course registration; 9 months after the permit the case manager "
                           "is warned that the entitlement lapses after a year.",
                       basis="§ 44 Abs. 2 AufenthG", rag=RAG_OUT)
    p.script("Task_StoreIkt", "Ergebnis Kursträger übernehmen", "ikt_referral = referral_record",
             doc="Keep the course provider's result.", basis="§ 44 AufenthG")
    p.xgw("Gw_CourseMerge")
    # JC
    p.script("Task_PrepJc", "Vermittlung JC vorbereiten", _referral_script(
        "JC", "JC:SGB2", '"Bürgergeld-Antrag aufnehmen (Rechtskreiswechsel)"',
        urgency="urgent",
        deadline='{"date": jc_application_latest, "basis": "§ 37 Abs. 2 SGB II"}'),
        doc="Referral to the job centre with the application deadline.",
        basis="§ 37 Abs. 2 SGB II", rag=RAG_FORMAL)
    jc_sub = p.sub("Sub_JcReferral", "Bürgergeld-Antrag (mit Fristen)",
                   doc="The JC referral with a warning ten days before the application "
                       "deadline and an escalation on the deadline.",
                   basis="§ 37 Abs. 2 SGB II", rag=RAG_OUT)
    p.script("Task_StoreJc", "Ergebnis JC übernehmen", _lines(
        "jc_referral = referral_record",
        'sgb2_benefit_start_reported = (referral_record.get("result") or {})'
        '.get("sgb2_benefit_start")',
    ), doc="Keep the job centre's result.", basis="SGB II")
    # SOZ
    p.script("Task_PrepSoz", "Vermittlung SOZ vorbereiten", _referral_script(
        "SOZ", "SOZ:LEISTUNG", '"AsylbLG-Leistungen zum " + asylblg_end + " einstellen, '
        'Auszug aus der Unterkunft klären"'),
        doc="Referral to the social welfare office.", basis="§ 1 Abs. 3 AsylbLG",
        rag=RAG_FORMAL)
    p.call("Call_SozReferral", "AsylbLG-Ende vermitteln", "kim_single_referral",
           doc="Referral SOZ:LEISTUNG.", basis="§ 1 Abs. 3 AsylbLG", rag=RAG_OUT)
    p.script("Task_StoreSoz", "Ergebnis SOZ übernehmen", "soz_referral = referral_record",
             doc="Keep the social welfare office's result.", basis="AsylbLG")
    # FK
    p.xgw("Gw_Children", "Kinder?", default="Flow_Gw_Children_Gw_ChildrenMerge")
    p.script("Task_PrepFk", "Vermittlung FK vorbereiten", _referral_script(
        "FK", "FK:KINDERGELD", '"Kindergeldantrag unterstützen"'),
        doc="Referral to the family benefits office.", basis="§ 62 EStG", rag=RAG_FORMAL)
    fk_sub = p.sub("Sub_FkReferral", "Kindergeld (mit Frist)",
                   doc="The child-benefit referral with a reminder after 30 days (back-payment "
                       "only for six months).", basis="§ 66 Abs. 3 EStG", rag=RAG_OUT)
    p.script("Task_StoreFk", "Ergebnis FK übernehmen", "fk_referral = referral_record",
             doc="Keep the family benefits office's result.", basis="EStG")
    p.xgw("Gw_ChildrenMerge")
    p.pgw("Gw_Join", "Zusammenführen")
    p.script("Task_CollectTransition", "Ergebnisse zusammenführen", _lines(
        defaults({"abh_referral": "None", "jc_referral": "None", "soz_referral": "None",
                  "fk_referral": "None", "ikt_referral": "None",
                  "sgb2_benefit_start_reported": "None", "permit_valid_until": "None"}),
        "referrals = [r for r in (abh_referral, jc_referral, soz_referral, fk_referral, "
        "ikt_referral) if r]",
    ), doc="Collect the referral records of all branches (their consents are in the "
           "register).", basis=TINTG)
    p.user("Task_CheckTransition", "Übergang prüfen", check,
           doc="Check that SGB II starts when AsylbLG ends.",
           instructions="AsylbLG endet am {{ asylblg_end }}; SGB II ab {{ sgb2_start }}. "
                        "Gemeldet: {{ sgb2_benefit_start_reported }}.",
           basis="§ 37 Abs. 2 SGB II", rag=RAG_CHECK)
    p.xgw("Gw_Gap", "Leistungslücke?", default="Flow_Gw_Gap_Gw_GapMerge")
    p.user("Task_BridgeGap", "Leistungslücke klären (Vorschuss § 42 SGB I)", gap,
           doc="SGB II starts later than AsylbLG ends: bridge the gap.", basis="§ 42 SGB I",
           rag=RAG_COOP)
    p.xgw("Gw_GapMerge")
    p.xgw("Gw_Watch", "Befristeter Titel?", default="Flow_Gw_Watch_End_Transition")
    p.throw("Msg_StartPermitWatch", "Fristenüberwachung starten", "permit_watch_requested",
            '{"case_id": case_id, "permit_valid_until": permit_valid_until, '
            '"renewal_applied_date": None, "person": person}',
            doc="Start the residence-permit watch (kim_permit_watch).")
    p.end("End_Transition", "Übergang abgeschlossen")
    p.chain("Start_Transition", "Task_RecordBamfDecision", "Task_ComputeDates", "Gw_Split")
    for first in ("Task_PrepAbh", "Task_PrepJc", "Task_PrepSoz", "Gw_Children"):
        p.flow("Gw_Split", first)
    p.chain("Task_PrepAbh", "Call_AbhReferral", "Task_StoreAbh", "Gw_Course")
    p.flow("Gw_Course", "Task_PrepIkt", "course_needed == True", name="ja")
    p.flow("Gw_Course", "Gw_CourseMerge", name="nein")
    p.chain("Task_PrepIkt", "Sub_CourseRegistration", "Task_StoreIkt", "Gw_CourseMerge",
            "Gw_Join")
    p.chain("Task_PrepJc", "Sub_JcReferral", "Task_StoreJc", "Gw_Join")
    p.chain("Task_PrepSoz", "Call_SozReferral", "Task_StoreSoz", "Gw_Join")
    p.flow("Gw_Children", "Task_PrepFk", "children_in_household > 0", name="ja")
    p.flow("Gw_Children", "Gw_ChildrenMerge", name="nein")
    p.chain("Task_PrepFk", "Sub_FkReferral", "Task_StoreFk", "Gw_ChildrenMerge", "Gw_Join")
    p.chain("Gw_Join", "Task_CollectTransition", "Task_CheckTransition", "Gw_Gap")
    p.flow("Gw_Gap", "Task_BridgeGap", "sgb2_benefit_start > sgb2_start", name="ja")
    p.flow("Gw_Gap", "Gw_GapMerge", name="nein")
    p.chain("Task_BridgeGap", "Gw_GapMerge", "Gw_Watch")
    p.flow("Gw_Watch", "Msg_StartPermitWatch", "permit_valid_until is not None", name="ja")
    p.flow("Gw_Watch", "End_Transition", name="nein")
    p.flow("Msg_StartPermitWatch", "End_Transition")

    for sub, call_id, call_name, timers in (
        (course_sub, "Call_IktReferral", "Kursplatz vermitteln", [
            ("Bnd_CourseLapsing", "9 Monate nach Erteilung",
             'iso_at(add_months(permit_issue_date or today(), 9), "08:00")',
             "Task_CourseEntitlementLapsing", "Kursanspruch verfällt in 3 Monaten "
             "(§ 44 Abs. 2 AufenthG)", course, "KIM_CM", "§ 44 Abs. 2 AufenthG",
             "Nine months after the permit the course is still not booked.")]),
        (jc_sub, "Call_JcReferral", "Bürgergeld-Antrag vermitteln", [
            ("Bnd_JcMissing", "10 Tage vor Antragsfrist",
             'iso_at(add_days(jc_application_latest, -10), "08:00")',
             "Task_JcApplicationMissing", "JC-Antrag fehlt – Leistungslücke droht", jc_missing,
             "KIM_CM", "§ 37 Abs. 2 SGB II",
             "Ten days before the deadline the job centre has not reported a result."),
            ("Bnd_JcDeadline", "Antragsfrist", 'iso_at(jc_application_latest, "08:00")',
             "Task_EscalateJcApplication", "Eskalation: JC-Antrag zum Fristende offen",
             jc_escalate, "KIM_KO", "§ 37 Abs. 2 SGB II",
             "The application deadline is reached: KIM coordination takes it up.")]),
        (fk_sub, "Call_FkReferral", "Kindergeld vermitteln", [
            ("Bnd_Kindergeld", "30 Tage", '"P30D"', "Task_KindergeldReminder",
             "Kindergeld nicht beantragt", kindergeld, "KIM_CM", "§ 66 Abs. 3 EStG",
             "30 days on the child-benefit application is not confirmed.")]),
    ):
        sid = call_id.replace("Call_", "")
        sub.start(f"Start_{sid}")
        sub.call(call_id, call_name, "kim_single_referral",
                 doc="The referral through the referral protocol.", basis=TINTG, rag=RAG_OUT)
        sub.end(f"End_{sid}", "Vermittlung beendet", terminate=True)
        sub.chain(f"Start_{sid}", call_id, f"End_{sid}")
        for bid, bname, expr, tid, tname, form, lane, basis, doc in timers:
            kind = "timeDuration" if expr.startswith('"P') else "timeDate"
            sub.boundary_timer(bid, bname, call_id, kind, expr)
            sub.user(tid, tname, form, lane=lane, doc=doc, basis=basis, rag=RAG_COOP)
            sub.end(f"End_{tid}")
            sub.chain(bid, tid, f"End_{tid}")
    return p


def build_permit_watch() -> Process:
    prepare = Form("pw-vorbereiten", ("Verlängerung Aufenthaltstitel vorbereiten",
                                      "Prepare the permit renewal"),
                   ("Der Titel läuft in acht Wochen ab. Den Antrag vor Ablauf stellen: dann "
                    "gilt der Titel fort (§ 81 Abs. 4 S. 1 AufenthG).",
                    "The permit expires in eight weeks. Apply before expiry to keep it valid "
                    "(§ 81 Abs. 4 S. 1 AufenthG)."), [
        boolean("renewal_applied", "Verlängerung bereits beantragt", "Renewal already applied "
                "for", req=True),
        date("renewal_applied_date", "Beantragt am", "Applied on", past=True),
        text("renewal_note", "Vermerk", "Note", max_len=1000),
    ], rules=[when("renewal_applied", True, require=["renewal_applied_date"])])
    record = Form("pw-antrag", ("Verlängerungsantrag erfassen", "Record the renewal "
                                "application"),
                  ("Datum, an dem der Verlängerungsantrag bei der Ausländerbehörde einging.",
                   "Date the renewal application reached the foreigners' authority."), [
        date("renewal_applied_date", "Beantragt am", "Applied on", req=True, past=True),
        text("renewal_note", "Vermerk", "Note", max_len=1000),
    ])
    missing_cm = acknowledge_form("pw-antrag-fehlt", (
        "Verlängerungsantrag fehlt – 4 Wochen bis Ablauf", "Renewal application missing"),
        ("Vier Wochen vor Ablauf ist kein Verlängerungsantrag erfasst.",
         "Four weeks before expiry there is no renewal application."))
    missing_ko = acknowledge_form("pw-antrag-fehlt-ko", (
        "Verlängerungsantrag fehlt – 4 Wochen bis Ablauf (Koordination)",
        "Renewal application missing (coordination)"),
        ("Vier Wochen vor Ablauf ist kein Verlängerungsantrag erfasst (Fall fristkritisch).",
         "Four weeks before expiry there is no renewal application (deadline critical)."))
    late = Form("pw-verspaetet", ("Verspäteter Antrag – Fortgeltungsanordnung beantragen",
                                  "Late application – request an order of continued validity"),
                ("Der Titel ist abgelaufen, ohne dass ein Antrag vorlag: keine "
                 "Fortgeltungsfiktion. Die ABH kann die Fortgeltung anordnen (§ 81 Abs. 4 S. 3 "
                 "AufenthG).", "The permit expired without an application: no fiction; the "
                               "ABH may order continued validity."), [
        date("renewal_applied_date", "Antrag gestellt am", "Applied on", req=True, past=True),
        text("hardship_reason", "Gründe für die Anordnung (unbillige Härte)",
             "Reasons for the order (hardship)", req=True, min_len=10, max_len=2000),
    ])
    p = Process(
        "kim_permit_watch", "Fristenüberwachung Aufenthaltstitel",
        "Lokalprozess (ausführbar). Residence-permit watch: 56 days before expiry the case "
        "manager prepares the renewal, 28 days before a missing application is flagged to "
        "the case manager and KIM coordination (deadline critical), after expiry a late "
        "application needs an order of continued validity (§ 81 Abs. 4 S. 3 AufenthG). The "
        "recorded application date decides the fiction status and the ABH referral; an ABH "
        "result with a new valid-until date restarts the watch. Ends when the case closes.",
        ["KIM_CM", "KIM_KO"], participant="Kommune – KIM-Fallmanagement")
    p.start("Msg_WatchRequested", "Überwachung angefordert", message="permit_watch_requested",
            var="watch", doc="Started for a person with a time-limited title.")
    p.script("Task_InitWatch", "Überwachung einrichten", _lines(
        'case_id = watch.get("case_id")',
        'permit_valid_until = watch["permit_valid_until"]',
        'renewal_applied_date = watch.get("renewal_applied_date")',
        'person = watch.get("person") or {}',
        "assessment = {}",
        "goals = []",
        "fiktion_status = None",
        "deadline_critical = False",
        "watch_history = []",
        "watch_next = None",
    ), doc="Take the permit's valid-until date.", basis="§ 81 Abs. 4 AufenthG", rag=RAG_IN)
    # boundary on a plain subprocess around the loop (SpiffWorkflow cannot interrupt a loop)
    outer = p.sub("Sub_Watch", "Titel überwachen (bis Fallabschluss)",
                  doc="The watch cycles until the case closes.", basis="§ 81 Abs. 4 AufenthG",
                  rag=RAG_CHECK)
    p.boundary_message("Bnd_CaseClosed", "Fall abgeschlossen", "Sub_Watch", "case_closed",
                       "closure", doc="The case was closed (case_closed): the watch ends.")
    p.end("End_WatchEnded", "Überwachung beendet")
    p.end("End_CaseClosed", "Fall abgeschlossen", terminate=True)
    p.chain("Msg_WatchRequested", "Task_InitWatch", "Sub_Watch", "End_WatchEnded")
    outer.start("Start_Watch")
    cyc = outer.sub("Sub_WatchCycle", "Titel überwachen",
                    doc="One watch cycle per valid-until date (a loop of rounds).",
                    basis="§ 81 Abs. 4 AufenthG", rag=RAG_CHECK,
                    loop={"type": "standard", "maximum": 50,
                          "condition": 'watch_next == "restart"'})
    outer.end("End_Watch")
    outer.chain("Start_Watch", "Sub_WatchCycle", "End_Watch")
    p.flow("Bnd_CaseClosed", "End_CaseClosed")

    c = cyc
    c.start("Start_WatchCycle")
    c.xgw("Gw_AlreadyApplied", "Antrag schon gestellt?",
          default="Flow_Gw_AlreadyApplied_Sub_AwaitRenewal")
    race = c.sub("Sub_AwaitRenewal", "Verlängerungsantrag abwarten",
                 doc="Reminders before and after expiry until the application date is "
                     "recorded.", basis="§ 81 Abs. 4 AufenthG", rag=RAG_COOP)
    c.xgw("Gw_Fiktion", "Antrag vor Ablauf?", default="Flow_Gw_Fiktion_Task_NoFiktion")
    c.script("Task_Fortgeltung", "Fortgeltung vermerken", _lines(
        'fiktion_status = "fortgeltung_81_4_s1"',
        "fiktion_warning = None",
        "deadline_critical = False",
        _referral_script("ABH", "ABH:AUFENTHALT", '"Verlängerung / Fiktionsbescheinigung '
                         'ausstellen (§ 81 Abs. 4 S. 1, Abs. 5 AufenthG)"'),
    ), doc="Applied before expiry: the old title continues (Fortgeltungsfiktion).",
        basis="§ 81 Abs. 4 S. 1, Abs. 5 AufenthG", rag=RAG_FORMAL)
    c.script("Task_NoFiktion", "Keine Fiktion vermerken", _lines(
        'fiktion_status = "keine_fiktion_verspaetet"',
        'fiktion_warning = "FIKTION_NOT_TRIGGERED"',
        _referral_script("ABH", "ABH:AUFENTHALT", '"Anordnung der Fortgeltung prüfen '
                         '(§ 81 Abs. 4 S. 3 AufenthG)"', urgency="critical"),
    ), doc="Applied after expiry: no fiction by law; ask the ABH to order continued "
           "validity.", basis="§ 81 Abs. 4 S. 3 AufenthG", rag=RAG_FORMAL)
    c.xgw("Gw_FiktionMerge")
    c.call("Call_AbhRenewal", "Verlängerung vermitteln", "kim_single_referral",
           doc="Referral ABH:AUFENTHALT for the renewal.", basis="§ 81 AufenthG", rag=RAG_OUT)
    c.script("Task_EvaluateRenewal", "Ergebnis der Verlängerung übernehmen", _lines(
        'new_until = (referral_record.get("result") or {}).get("permit_valid_until")',
        'watch_history = watch_history + [{"permit_valid_until": permit_valid_until, '
        '"renewal_applied_date": renewal_applied_date, "fiktion_status": fiktion_status, '
        '"referral_id": referral_record["referral_id"], "outcome": referral_record["outcome"]}]',
        "if new_until and new_until > permit_valid_until:",
        "    permit_valid_until = new_until",
        "    renewal_applied_date = None",
        "    deadline_critical = False",
        '    watch_next = "restart"',
        "else:",
        '    watch_next = "end"',
        "new_until = None",
    ), doc="A new valid-until date restarts the watch; otherwise it ends.",
        basis="§ 81 AufenthG")
    c.end("End_WatchCycle")
    c.chain("Start_WatchCycle", "Gw_AlreadyApplied")
    c.flow("Gw_AlreadyApplied", "Gw_Fiktion", "renewal_applied_date is not None", name="ja")
    c.flow("Gw_AlreadyApplied", "Sub_AwaitRenewal", name="nein")
    c.flow("Sub_AwaitRenewal", "Gw_Fiktion")
    c.flow("Gw_Fiktion", "Task_Fortgeltung", "renewal_applied_date <= permit_valid_until",
           name="vor Ablauf")
    c.flow("Gw_Fiktion", "Task_NoFiktion", name="verspätet")
    c.flow("Task_Fortgeltung", "Gw_FiktionMerge")
    c.flow("Task_NoFiktion", "Gw_FiktionMerge")
    c.chain("Gw_FiktionMerge", "Call_AbhRenewal", "Task_EvaluateRenewal", "End_WatchCycle")

    r = race
    r.start("Start_AwaitRenewal")
    r.pgw("Gw_RenewalFork", "Fristen")
    r.wait("Tmr_Prepare", "8 Wochen vor Ablauf", "timeDate",
           'iso_at(add_days(permit_valid_until, -56), "08:00")')
    r.user("Task_PrepareRenewal", "Verlängerung Aufenthaltstitel vorbereiten", prepare,
           due="add_days(permit_valid_until, -28)",
           doc="Prepare the renewal with the person eight weeks before expiry.",
           instructions="Titel gültig bis {{ permit_valid_until }}.",
           basis="§ 81 Abs. 4 S. 1 AufenthG", rag=RAG_COOP)
    r.xgw("Gw_PrepApplied", "Beantragt?",
          default="Flow_Gw_PrepApplied_Task_RecordRenewalApplication")
    r.end("End_AppliedEarly", "Antrag erfasst", terminate=True)
    r.user("Task_RecordRenewalApplication", "Verlängerungsantrag erfassen", record,
           due="permit_valid_until",
           doc="Record the date the renewal application was filed.",
           basis="§ 81 Abs. 4 AufenthG", rag=RAG_IN)
    r.end("End_Applied", "Antrag erfasst", terminate=True)
    r.wait("Tmr_Missing", "4 Wochen vor Ablauf", "timeDate",
           'iso_at(add_days(permit_valid_until, -28), "08:00")')
    r.script("Task_MarkCritical", "Fall fristkritisch vermerken", "deadline_critical = True",
             doc="Four weeks before expiry without an application the case is deadline "
                 "critical (case flag deadline_critical).",
             basis="§ 81 Abs. 4 S. 1 AufenthG", rag=RAG_IN)
    r.pgw("Gw_MissingFork", "Beide informieren")
    r.user("Task_RenewalMissing", "Verlängerungsantrag fehlt – 4 Wochen bis Ablauf",
           missing_cm, props={"deadline_critical": "true"},
           doc="Four weeks before expiry there is no application (case deadline critical).",
           basis="§ 81 Abs. 4 AufenthG", rag=RAG_COOP)
    r.user("Task_RenewalMissingKo", "Verlängerungsantrag fehlt – 4 Wochen bis Ablauf "
           "(Koordination)", missing_ko, lane="KIM_KO", props={"deadline_critical": "true"},
           doc="KIM coordination is informed as well.", basis="§ 81 Abs. 4 AufenthG",
           rag=RAG_COOP)
    r.end("End_MissingCm")
    r.end("End_MissingKo", lane="KIM_KO")
    r.wait("Tmr_Expired", "Tag nach Ablauf", "timeDate",
           'iso_at(add_days(permit_valid_until, 1), "00:05")')
    r.script("Task_MarkNoFiktion", "Keine Fortgeltungsfiktion vermerken", _lines(
        'fiktion_status = "keine_fiktion_verspaetet"',
        'fiktion_warning = "FIKTION_NOT_TRIGGERED"',
        "deadline_critical = True",
    ), doc="The permit expired without an application: no fiction by law (warning "
           "FIKTION_NOT_TRIGGERED); only an order of the ABH can help.",
        basis="§ 81 Abs. 4 S. 3 AufenthG", rag=RAG_IN)
    r.user("Task_LateApplication", "Verspäteter Antrag – Fortgeltungsanordnung beantragen "
           "(§ 81 Abs. 4 S. 3 AufenthG)", late, props={"priority": "critical"},
           doc="The permit has expired without an application: file it now and ask for an "
               "order of continued validity.", basis="§ 81 Abs. 4 S. 3 AufenthG",
           rag=RAG_COOP)
    r.end("End_AppliedLate", "Verspäteter Antrag erfasst", terminate=True)
    r.chain("Start_AwaitRenewal", "Gw_RenewalFork")
    for t in ("Tmr_Prepare", "Tmr_Missing", "Tmr_Expired"):
        r.flow("Gw_RenewalFork", t)
    r.chain("Tmr_Prepare", "Task_PrepareRenewal", "Gw_PrepApplied")
    r.flow("Gw_PrepApplied", "End_AppliedEarly", "renewal_applied == True", name="ja")
    r.flow("Gw_PrepApplied", "Task_RecordRenewalApplication", name="nein")
    r.flow("Task_RecordRenewalApplication", "End_Applied")
    r.chain("Tmr_Missing", "Task_MarkCritical", "Gw_MissingFork")
    r.flow("Gw_MissingFork", "Task_RenewalMissing")
    r.flow("Gw_MissingFork", "Task_RenewalMissingKo")
    r.flow("Task_RenewalMissing", "End_MissingCm")
    r.flow("Task_RenewalMissingKo", "End_MissingKo")
    r.chain("Tmr_Expired", "Task_MarkNoFiktion", "Task_LateApplication", "End_AppliedLate")
    return p


# ================================================================================================
# P5: housing emergency
# ================================================================================================

NOTICE_TYPES: list[Option] = [
    ("fristlose_kuendigung_zahlungsverzug", "Fristlose Kündigung wegen Zahlungsverzug",
     "Termination without notice for arrears"),
    ("ordentliche_kuendigung", "Ordentliche Kündigung", "Ordinary termination"),
    ("raeumungsklage", "Räumungsklage", "Eviction suit"),
    ("raeumungsurteil", "Räumungsurteil", "Eviction judgment"),
    ("raeumungstermin", "Räumungstermin", "Eviction date set"),
    ("unbewohnbar", "Wohnung unbewohnbar", "Home uninhabitable"),
    ("haeusliche_gewalt", "Häusliche Gewalt", "Domestic violence"),
    ("sonstiges", "Sonstiges", "Other"),
]
HOUSING_OPTIONAL = ["eviction_suit_served_date", "eviction_date", "arrears_amount",
                    "landlord_name", "court_reference"]


def housing_form() -> Form:
    return Form(
        "p5-notfall", ("Wohnungsnotfall erfassen", "Record the housing emergency"),
        ("Kündigung, Räumungsklage oder Räumungstermin: Fristen werden berechnet "
         "(Schonfrist § 569 Abs. 3 Nr. 2 BGB).",
         "Termination, eviction suit or eviction date: the deadlines are computed."), [
            enum("notice_type", "Art des Notfalls", "Kind of emergency", NOTICE_TYPES,
                 req=True),
            date("notice_date", "Datum des Schreibens", "Date of the notice", req=True,
                 past=True),
            date("eviction_suit_served_date", "Räumungsklage zugestellt am",
                 "Eviction suit served on", past=True, min="$notice_date"),
            date("eviction_date", "Räumungstermin", "Eviction date", min="today",
                 help_de="Heute oder später.", help_en="Today or later."),
            eur("arrears_amount", "Mietrückstand", "Rent arrears"),
            eur("monthly_rent_gross", "Bruttowarmmiete monatlich", "Gross monthly rent",
                req=True, positive=True, maximum=10_000),
            enum("benefits_current", "Aktuelle Leistungen", "Current benefits", BENEFITS,
                 req=True),
            integer("household_size", "Personen im Haushalt", "Household size", 1, 20,
                    req=True),
            integer("minors_in_household", "Davon minderjährig", "Of whom minors", 0, 20,
                    req=True, help_de="Höchstens so viele wie Personen im Haushalt.",
                    help_en="At most the household size."),
            person_name("landlord_name", "Vermieter:in", "Landlord"),
            text("court_reference", "Gerichtliches Aktenzeichen", "Court reference",
                 max_len=50),
        ],
        rules=[
            when("notice_type", ["raeumungsklage", "raeumungsurteil", "raeumungstermin"],
                 require=["eviction_suit_served_date"]),
            when("notice_type", "raeumungstermin", require=["eviction_date"]),
            when("notice_type", ["fristlose_kuendigung_zahlungsverzug", "raeumungsklage"],
                 require=["arrears_amount"]),
        ],
        compare=[MINORS_AT_MOST_HOUSEHOLD])


FAR_FUTURE = '"2999-12-31T00:00:00+01:00"'


def build_housing_emergency() -> Process:
    landlord = Form("p5-vermieter", ("Kontakt Vermieter / Sicherung prüfen",
                                     "Contact the landlord / check securing the tenancy"),
                    ("Gespräch mit der Vermieterseite über Zahlung oder Vereinbarung.",
                     "Talk with the landlord about payment or an agreement."), [
        date("landlord_contacted_on", "Kontakt am", "Contacted on", req=True, past=True),
        enum("landlord_position", "Haltung der Vermieterseite", "Landlord's position", [
            ("accepts_payment", "Akzeptiert Zahlung", "Accepts payment"),
            ("demands_move_out", "Besteht auf Auszug", "Demands move-out"),
            ("negotiating", "Verhandelt", "Negotiating"),
            ("unreachable", "Nicht erreichbar", "Unreachable")], req=True),
        text("agreement_notes", "Vereinbarungen", "Agreements", max_len=1000),
    ])
    shelter = Form("p5-notunterbringung", ("Notunterbringung sicherstellen",
                                           "Secure emergency accommodation"),
                   ("Räumung in weniger als sieben Tagen: Unterbringung nach OBG NRW.",
                    "Eviction in less than seven days: accommodation under police law."), [
        text("accommodation_address", "Unterkunft (Anschrift)", "Accommodation address",
             req=True, max_len=200),
        date("accommodation_date", "Unterbringung ab", "Accommodated from", req=True),
        text("accommodation_note", "Vermerk", "Note", max_len=1000),
    ])
    outcome = Form("p5-ergebnis", ("Ergebnis dokumentieren", "Document the outcome"),
                   ("Ergebnis der Wohnraumsicherung.", "Outcome of the tenancy protection."), [
        enum("housing_outcome", "Ergebnis", "Outcome", [
            ("tenancy_secured", "Mietverhältnis gesichert", "Tenancy secured"),
            ("alternative_housing", "Andere Wohnung", "Alternative housing"),
            ("emergency_accommodation", "Notunterkunft", "Emergency accommodation"),
            ("homeless", "Wohnungslos", "Homeless"),
            ("with_relatives", "Bei Verwandten", "With relatives")], req=True),
        date("outcome_date", "Datum", "Date", req=True, past=True),
        text("outcome_note", "Vermerk", "Note", max_len=1000),
    ])
    remind = acknowledge_form("p5-erinnerung-entscheidung", (
        "Erinnerung: Entscheidung Mietschuldenübernahme", "Reminder: decision on arrears"),
        ("28 Tage vor Ende der Schonfrist fehlt die Entscheidung des Leistungsträgers "
         "(auch die Teamleitung dort informieren).",
         "28 days before the grace period ends there is no decision yet."))
    at_risk = acknowledge_form("p5-schonfrist-gefaehrdet", (
        "Schonfrist gefährdet", "Grace period at risk"),
        ("14 Tage vor Ende der Schonfrist fehlt die Entscheidung (mit der Teamleitung der "
         "Fachstelle klären).", "14 days before the grace period ends there is no decision."))
    expired = acknowledge_form("p5-schonfrist-abgelaufen", (
        "Schonfrist abgelaufen – Alternativen/Unterbringung",
        "Grace period expired – alternatives/accommodation"),
        ("Die Schonfrist ist ohne Entscheidung abgelaufen: Alternativen und Unterbringung "
         "klären (mit dem Ordnungsamt).", "The grace period expired without a decision."))
    p = Process(
        "kim_housing_emergency", "Drohender Wohnungsverlust – Wohnraumsicherung",
        "Lokalprozess (ausführbar). Housing emergency (P5): record the emergency, compute the "
        "grace period (§ 569 Abs. 3 Nr. 2 BGB, §§ 187, 188, 193 BGB), then in parallel: "
        "landlord contact (WOHN), the decision on assuming the arrears by the benefit body "
        "(JC for SGB II, else SOZ) with reminders before the grace period ends, debt "
        "counselling for arrears of two months' rent or more, and emergency accommodation "
        "(ORD) if eviction is less than seven days away; then document the outcome.",
        ["KIM_CM", "WOHN", "KIM_KO", "ORD"], participant="Kommune – Wohnraumsicherung")
    p.start("Start_Housing", "Wohnungsnotfall bekannt")
    p.script("Task_InitHousing", "Notfall anlegen", _lines(
        defaults({"entry": '"cm"', "person": "{}", "assessment": "{}",
                  "goals": "[]", "case_id": "None"}),
        "if case_id is None:",
        '    case_id = case_ref()',
    ), doc="The case manager records the emergency, or WOHN after a court notice.",
        basis="§ 22 Abs. 8-9 SGB II; § 36 SGB XII", rag=RAG_IN)
    p.xgw("Gw_Entry", "Mitteilung des Gerichts?",
          default="Flow_Gw_Entry_Task_RecordHousingEmergency")
    p.user("Task_RecordHousingEmergency", "Wohnungsnotfall erfassen", housing_form(),
           doc="Record the emergency (form F5.1).", basis="§ 22 Abs. 8 SGB II; § 36 SGB XII",
           rag=RAG_IN)
    p.user("Task_RecordHousingEmergencyWohn", "Wohnungsnotfall erfassen (Gerichtsmitteilung)",
           housing_form(), lane="WOHN",
           doc="The specialist unit records the court's notice (own legal basis; KIM only "
               "with the client's consent).", basis="§ 22 Abs. 9 SGB II; § 36 Abs. 2 SGB XII",
           rag=RAG_IN)
    p.script("Task_ComputeSchonfrist", "Schonfrist berechnen", _lines(
        defaults({n: "None" for n in HOUSING_OPTIONAL}),
        "schonfrist_end = next_business_day(add_months(eviction_suit_served_date, 2)) "
        "if eviction_suit_served_date else None",
        "decision_deadline = add_days(schonfrist_end, -14) if schonfrist_end else None",
        "decision_reminder = add_days(schonfrist_end, -28) if schonfrist_end else None",
        "arrears_months = round(arrears_amount / monthly_rent_gross, 2) if arrears_amount "
        "else 0",
        'payer = "JC" if benefits_current == "sgb2" else "SOZ"',
        'payer_purpose = "JC:SGB2" if payer == "JC" else "SOZ:LEISTUNG"',
        "emergency = eviction_date is not None and days_until(eviction_date) < 7",
    ), doc="Grace period: 2 months after service of the eviction suit, moved to the next "
           "business day (BGB §§ 187(1), 188(2), 193); decision deadline 14 days and "
           "reminder 28 days before. Payer: JC for SGB II (§ 22 Abs. 8 SGB II), else SOZ "
           "(§ 36 SGB XII).", basis="§ 569 Abs. 3 Nr. 2 BGB; §§ 187, 188, 193 BGB",
        rag=RAG_FORMAL)
    p.pgw("Gw_Par", "Wohnung sichern")
    p.user("Task_LandlordContact", "Kontakt Vermieter / Sicherung prüfen", landlord,
           lane="WOHN", doc="Contact the landlord and check whether the tenancy can be "
                            "secured.", basis="§ 22 Abs. 8 SGB II; § 36 SGB XII",
           rag=RAG_COOP)
    p.script("Task_PrepPayer", "Vermittlung Leistungsträger vorbereiten", _lines(
        'referral = {"office": payer, "purpose": payer_purpose, '
        '"requested_service": "Mietschuldenübernahme prüfen und entscheiden", '
        '"urgency": "critical", "legal_deadline": {"date": schonfrist_end, '
        '"basis": "§ 569 Abs. 3 Nr. 2 BGB"}, '
        '"data": {"arrears_amount": arrears_amount, "monthly_rent_gross": monthly_rent_gross}}',
    ), doc="Referral to the payer to decide on assuming the arrears.",
        basis="§ 22 Abs. 8 SGB II; § 36 SGB XII", rag=RAG_FORMAL)
    payer_sub = p.sub("Sub_PayerDecision", "Mietschuldenübernahme (mit Fristen)",
                      doc="The payer's decision with reminders 28 and 14 days before the "
                          "grace period ends and a task when it has expired.",
                      basis="§ 569 Abs. 3 Nr. 2 BGB", rag=RAG_DECIDE)
    p.script("Task_StorePayer", "Entscheidung übernehmen", _lines(
        "payer_referral = referral_record",
        'payer_result = referral_record.get("result") or {}',
    ), doc="Keep the payer's decision.", basis="§ 22 Abs. 8 SGB II")
    p.xgw("Gw_Arrears", "Rückstand ab 2 Monatsmieten?", default="Flow_Gw_Arrears_Gw_ArrearsMerge")
    p.script("Task_PrepDebt", "Schuldnerberatung vorbereiten", _referral_script(
        "FWT", "FWT:SCHULDNERBERATUNG", '"Schuldnerberatung"'),
        doc="Referral to debt counselling (the consent is asked for first if missing).",
        basis="§ 11 Abs. 5 SGB XII", rag=RAG_FORMAL)
    p.call("Call_DebtReferral", "Schuldnerberatung vermitteln", "kim_single_referral",
           doc="Referral FWT:SCHULDNERBERATUNG.", basis="§ 11 Abs. 5 SGB XII", rag=RAG_OUT)
    p.script("Task_StoreDebt", "Schuldnerberatung vermerken", "debt_referral = referral_record",
             doc="Keep the debt counselling referral.", basis="§ 11 Abs. 5 SGB XII")
    p.xgw("Gw_ArrearsMerge")
    p.xgw("Gw_Urgency", "Räumung in weniger als 7 Tagen?",
          default="Flow_Gw_Urgency_Gw_UrgencyMerge")
    p.user("Task_EmergencyAccommodation", "Notunterbringung sicherstellen", shelter,
           lane="ORD", doc="Secure emergency accommodation (police law).", basis="OBG NRW",
           rag=RAG_DECIDE)
    p.xgw("Gw_UrgencyMerge")
    p.pgw("Gw_Join", "Zusammenführen")
    p.user("Task_HousingOutcome", "Ergebnis dokumentieren", outcome, lane="WOHN",
           doc="Document the outcome of the tenancy protection.",
           basis="§ 22 Abs. 8 SGB II; § 36 SGB XII", rag=RAG_NOTICE)
    p.end("End_Housing", "Wohnungsnotfall bearbeitet", lane="WOHN")
    p.chain("Start_Housing", "Task_InitHousing", "Gw_Entry")
    p.flow("Gw_Entry", "Task_RecordHousingEmergencyWohn", 'entry == "court"', name="Gericht")
    p.flow("Gw_Entry", "Task_RecordHousingEmergency", name="Fallmanagement")
    p.flow("Task_RecordHousingEmergency", "Task_ComputeSchonfrist")
    p.flow("Task_RecordHousingEmergencyWohn", "Task_ComputeSchonfrist")
    p.flow("Task_ComputeSchonfrist", "Gw_Par")
    for first in ("Task_LandlordContact", "Task_PrepPayer", "Gw_Arrears", "Gw_Urgency"):
        p.flow("Gw_Par", first)
    p.flow("Task_LandlordContact", "Gw_Join")
    p.chain("Task_PrepPayer", "Sub_PayerDecision", "Task_StorePayer", "Gw_Join")
    p.flow("Gw_Arrears", "Task_PrepDebt", "arrears_months >= 2", name="ja")
    p.flow("Gw_Arrears", "Gw_ArrearsMerge", name="nein")
    p.chain("Task_PrepDebt", "Call_DebtReferral", "Task_StoreDebt", "Gw_ArrearsMerge",
            "Gw_Join")
    p.flow("Gw_Urgency", "Task_EmergencyAccommodation", "emergency == True", name="ja")
    p.flow("Gw_Urgency", "Gw_UrgencyMerge", name="nein")
    p.chain("Task_EmergencyAccommodation", "Gw_UrgencyMerge", "Gw_Join")
    p.chain("Gw_Join", "Task_HousingOutcome", "End_Housing")

    s_ = payer_sub
    s_.start("Start_PayerDecision")
    s_.call("Call_PayerReferral", "Mietschuldenübernahme vermitteln", "kim_single_referral",
            doc="Referral to JC (SGB II) or SOZ.", basis="§ 22 Abs. 8 SGB II; § 36 SGB XII",
            rag=RAG_OUT)
    s_.end("End_PayerDecided", "Entschieden", terminate=True)
    s_.chain("Start_PayerDecision", "Call_PayerReferral", "End_PayerDecided")
    for bid, bname, expr, tid, tname, form, lane, doc in (
        ("Bnd_DecisionReminder", "28 Tage vor Schonfristende",
         f'iso_at(decision_reminder, "00:05") if decision_reminder else {FAR_FUTURE}',
         "Task_RemindPayerDecision", "Erinnerung: Entscheidung Mietschuldenübernahme", remind,
         "KIM_CM", "Reminder to the case manager (and the payer's team lead)."),
        ("Bnd_DecisionDeadline", "14 Tage vor Schonfristende",
         f'iso_at(decision_deadline, "00:05") if decision_deadline else {FAR_FUTURE}',
         "Task_SchonfristAtRisk", "Schonfrist gefährdet", at_risk, "KIM_KO",
         "The grace period is at risk: KIM coordination and the WOHN team lead."),
        ("Bnd_SchonfristEnd", "Schonfristende",
         f'iso_at(schonfrist_end, "23:59") if schonfrist_end else {FAR_FUTURE}',
         "Task_SchonfristExpired", "Schonfrist abgelaufen – Alternativen/Unterbringung",
         expired, "WOHN", "The grace period ended without a decision."),
    ):
        s_.boundary_timer(bid, bname, "Call_PayerReferral", "timeDate", expr)
        s_.user(tid, tname, form, lane=lane, doc=doc, basis="§ 569 Abs. 3 Nr. 2 BGB",
                rag=RAG_COOP)
        s_.end(f"End_{tid}", lane=lane)
        s_.chain(bid, tid, f"End_{tid}")
    return p


def build_housing_court_notice() -> Process:
    p = Process(
        "kim_housing_court_notice", "Mitteilung über Räumungsklage empfangen",
        "Lokalprozess (ausführbar). Receives the court's notice of an eviction suit "
        "(court_eviction_notice, § 22 Abs. 9 SGB II, § 36 Abs. 2 SGB XII) at the tenancy "
        "protection unit and runs the housing emergency process (P5) on the unit's own "
        "legal basis.", ["WOHN"], participant="Fachstelle Wohnraumsicherung")
    p.start("Msg_CourtNotice", "Mitteilung des Gerichts", message="court_eviction_notice",
            var="notice", doc="The court notifies the benefit body of an eviction suit.")
    p.script("Task_MapNotice", "Mitteilung übernehmen", _lines(
        'entry = "court"',
        'case_id = notice.get("case_id")',
        'court_reference = notice.get("court_reference")',
        'court_served_date = notice.get("served_date")',
    ), doc="The unit records the emergency from the notice.",
        basis="§ 22 Abs. 9 SGB II; § 36 Abs. 2 SGB XII", rag=RAG_IN)
    p.call("Call_HousingEmergency", "Wohnraum sichern", "kim_housing_emergency",
           doc="Run P5.", basis="§ 22 Abs. 9 SGB II", rag=RAG_CHECK)
    p.end("End_CourtNotice", "Mitteilung bearbeitet")
    p.chain("Msg_CourtNotice", "Task_MapNotice", "Call_HousingEmergency", "End_CourtNotice")
    return p


# ================================================================================================
# The catalogue: folders, files, generation
# ================================================================================================

def catalogue(registry: OfficeRegistry | None = None) -> dict[str, list[Process]]:
    """Folder name under bpmn/ -> the processes generated into it."""
    reg = registry or OfficeRegistry.load()
    return {
        "p0_referral_protocol": [build_referral_protocol(reg)],
        "kim_single_referral": [build_single_referral()],
        "p3_school_enrolment": [build_school_enrolment()],
        "p1_intake_clearing": [build_intake_clearing(), build_intake_request()],
        "p2_support_plan": [build_support_plan(reg)],
        "p6_case_closure": [build_case_closure(), build_case_reopening()],
        "p4_recognition_transition": [build_recognition_transition(), build_permit_watch()],
        "p5_housing_emergency": [build_housing_emergency(), build_housing_court_notice()],
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
            if p.id == "kim_support_plan" and USE_DMN:
                out[f"{folder}/{DECISION_ID}.dmn"] = render_dmn()
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
