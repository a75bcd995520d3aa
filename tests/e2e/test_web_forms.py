"""JSON Schema -> HTML form fields, and HTML form -> JSON (no database needed)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from web.forms_ui import build_fields, group_errors, parse_submission

SCHEMA = {
    "type": "object",
    "required": ["count", "agree"],
    "properties": {
        "count": {"type": "integer", "title": "Anzahl", "x-title-en": "Count"},
        "amount": {"type": "number", "title": "Betrag"},
        "agree": {"type": "boolean", "title": "Einverstanden"},
        "tick": {"type": "boolean", "title": "Haken"},
        "langs": {"type": "array", "items": {"type": "string", "enum": ["de", "ar"],
                                             "x-enum-labels": {"de": {"ar": "Arabisch"}}}},
        "extra": {"type": "object", "title": "Extra"},
        "kind": {"type": "string", "enum": ["a", "b"],
                 "x-enum-labels": {"de": {"a": "Eins"}, "en": {"a": "One"}}},
        "when": {"type": "string", "format": "date", "description": "Datum",
                 "x-description-en": "Date"},
    },
}
UI = {"ui:order": ["agree", "*", "count"], "tick": {"ui:widget": "checkbox"},
      "kind": {"ui:help": "Hilfe"}}


def test_build_fields_order_widgets_and_labels():
    fields = build_fields(SCHEMA, UI, lang="en")
    names = [f.name for f in fields]
    assert names[0] == "agree" and names[-1] == "count"
    by = {f.name: f for f in fields}
    assert by["count"].label == "Count" and by["count"].required
    assert by["count"].attrs["inputmode"] == "numeric"
    assert by["amount"].attrs["inputmode"] == "decimal"
    assert by["agree"].widget == "yesno" and by["agree"].options[0] == ("true", "Yes")
    assert by["tick"].widget == "checkbox"
    assert by["langs"].widget == "checkboxes" and by["langs"].options == [("de", "de"),
                                                                          ("ar", "Arabisch")]
    assert by["extra"].widget == "json"
    assert by["kind"].widget == "select" and by["kind"].options[0] == ("a", "One")
    assert by["kind"].hints == [("Hilfe", "de")]  # German-only help marked lang="de"
    # issue 15: dates are typed as TT.MM.JJJJ, so the hint says so after the description
    assert by["when"].widget == "date" and by["when"].hints == [("Date", None),
                                                                ("Format: DD.MM.YYYY", None)]


def test_errors_per_field_and_for_the_form():
    errors = {"count": ["Pflichtfeld"], "langs.0": ["Ungültig"], "_form": ["Zu wenig"],
              "ghost": ["Unbekanntes Feld"]}
    grouped = group_errors(errors, SCHEMA)
    assert grouped["count"] == ["Pflichtfeld"] and grouped["langs"] == ["0: Ungültig"]
    assert grouped["_form"] == ["Zu wenig", "ghost: Unbekanntes Feld"]
    fields = {f.name: f for f in build_fields(SCHEMA, UI, lang="de", errors=errors)}
    assert fields["count"].errors == ["Pflichtfeld"]
    assert fields["count"].describedby == "f-count-error"


def test_parse_submission_types():
    form = MultiDict([("count", " 12 "), ("amount", "3,5"), ("agree", "false"),
                      ("tick__present", "1"), ("langs", "de"), ("langs", "ar"),
                      ("extra", '{"a": 1}'), ("kind", ""), ("when", "2026-01-31"),
                      ("csrf_token", "x"), ("injected", "y")])
    data, raw = parse_submission(SCHEMA, form)
    assert data == {"count": 12, "amount": 3.5, "agree": False, "tick": False,
                    "langs": ["de", "ar"], "extra": {"a": 1}, "when": "2026-01-31"}
    assert raw["count"] == " 12 " and raw["kind"] == ""


def test_parse_submission_keeps_bad_values_for_the_validator():
    data, _ = parse_submission(SCHEMA, MultiDict([("count", "zwölf"), ("amount", "1.2.3"),
                                                  ("agree", "vielleicht"), ("extra", "{")]))
    assert data == {"count": "zwölf", "amount": "1.2.3", "agree": "vielleicht", "extra": "{"}
    assert parse_submission(None, MultiDict([("a", "b")])) == ({}, {})
