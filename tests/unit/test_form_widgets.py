"""Issue 15: the task-form widgets without a browser: nested groups read from field names
like ``children[0][first_name]``, dates typed as TT.MM.JJJJ, amounts as German decimals,
states and languages by name; "add entry"/"remove" and where nested errors are shown."""

from __future__ import annotations

import copy
import json

import pytest
from werkzeug.datastructures import MultiDict

from processes.validators import DEFAULT_LANGUAGES, NATIONALITIES
from web import form_codes
from web.forms_ui import (
    apply_action,
    build_fields,
    form_action,
    iter_fields,
    parse_date_text,
    parse_money,
    parse_submission,
)

CHILD = {"type": "object", "required": ["first_name", "birth_date"], "properties": {
    "first_name": {"type": "string", "title": "Vorname", "x-title-en": "First name"},
    "birth_date": {"type": "string", "format": "past-date", "title": "Geburtsdatum"},
    "langs": {"type": "array", "items": {"type": "string", "format": "language"}},
    "pets": {"type": "array", "items": {"type": "string"}, "title": "Tiere"}}}
SCHEMA = {"type": "object", "properties": {
    "children": {"type": "array", "title": "Kinder", "x-title-en": "Children", "items": CHILD},
    "address": {"type": "object", "title": "Anschrift", "properties": {
        "street": {"type": "string", "title": "Straße"},
        "moved_in": {"type": "string", "format": "date", "title": "Eingezogen"}}},
    "nationality": {"type": "string", "format": "nationality", "title": "Staatsangehörigkeit",
                    "description": "ISO-3166-Code (3 Buchstaben)"},
    "languages": {"type": "array", "items": {"type": "string", "format": "language"},
                  "title": "Sprachen"},
    "rent": {"type": "number", "format": "eur", "title": "Miete"},
    "language": {"type": "string", "format": "language", "title": "Sprache"},
    "free": {"type": "object", "title": "Frei"},
    "raw_list": {"type": "array", "items": {}, "title": "Liste"}}}


def test_nested_arrays_and_objects_are_read_from_bracketed_names():
    form = MultiDict([
        ("children[0][first_name]", "Lina"), ("children[0][birth_date]", "03.04.2016"),
        ("children[0][langs]", "Arabisch"), ("children[0][langs]", "de"),
        ("children[0][pets][0]", "Katze"), ("children[0][pets][1]", ""),
        ("children[1][__entry]", "1"), ("children[1][first_name]", " "),  # an empty entry
        ("children[2][first_name]", "Omar"),
        ("address[street]", "Hauptstr. 1"), ("address[moved_in]", "1.8.2024"),
        ("nationality", "Syrien"), ("language", "Ukrainisch"),
        ("languages", "ar"), ("languages", "Dari"),
        ("rent", "1.850,00"), ("free", '{"a": 1}'), ("raw_list", "[1, 2]")])
    data, raw = parse_submission(SCHEMA, form)
    assert data == {
        "children": [{"first_name": "Lina", "birth_date": "2016-04-03", "langs": ["ar", "de"],
                      "pets": ["Katze"]},
                     {"first_name": "Omar"}],
        "address": {"street": "Hauptstr. 1", "moved_in": "2024-08-01"},
        "nationality": "SYR", "language": "uk", "languages": ["ar", "prs"], "rent": 1850,
        "free": {"a": 1}, "raw_list": [1, 2]}
    # shown again as typed, the empty entry left out so entries line up with error keys
    assert [c["first_name"] for c in raw["children"]] == ["Lina", "Omar"]
    assert raw["children"][0]["birth_date"] == "03.04.2016" and raw["rent"] == "1.850,00"
    # with keep_empty (an add/remove button) the empty entry stays on the page
    _, kept = parse_submission(SCHEMA, form, keep_empty=True)
    assert len(kept["children"]) == 3


def test_a_json_text_for_a_group_is_still_read_and_bad_values_reach_the_validator():
    data, _ = parse_submission(SCHEMA, MultiDict([
        ("children", '[{"first_name": "A"}]'), ("nationality", "Atlantis"),
        ("rent", "viel"), ("address[moved_in]", "31.02.2020")]))
    assert data == {"children": [{"first_name": "A"}], "nationality": "Atlantis",
                    "rent": "viel", "address": {"moved_in": "31.02.2020"}}


@pytest.mark.parametrize(("typed", "stored"), [
    ("01.02.1990", "1990-02-01"), ("1.2.1990", "1990-02-01"), (" 01.02.1990 ", "1990-02-01"),
    ("1990-02-01", "1990-02-01"),  # API clients and old pages send ISO
    ("31.02.1990", "31.02.1990"), ("01/02/1990", "01/02/1990"), ("morgen", "morgen")])
def test_dates(typed, stored):
    assert parse_date_text(typed) == stored


@pytest.mark.parametrize(("typed", "stored"), [
    ("1.850,00", 1850), ("1850,5", 1850.5), ("1.850", 1850), ("1850.00", 1850),
    ("1,850.00", 1850), ("12,34 €", 12.34), ("0,99", 0.99), ("1.234.567,89", 1234567.89),
    ("zwölf", "zwölf"), ("NaN", "NaN"), ("1,2,3", "1,2,3")])
def test_money(typed, stored):
    assert parse_money(typed) == stored


def test_codes_by_name_in_both_languages_and_every_allowed_code_has_a_name():
    assert form_codes.state_code("Syrien") == "SYR" == form_codes.state_code("syria")
    assert form_codes.state_code("SYR") == "SYR" and form_codes.state_code("staatenlos") == "XXA"
    assert form_codes.state_code("Kosovo") == "XKX" and form_codes.state_code("") is None
    assert form_codes.language_code("Arabisch") == "ar" == form_codes.language_code("arabic")
    assert form_codes.language_code("Nordkurdisch") == "kmr"
    for lang in ("de", "en"):
        states = dict(form_codes.state_options(lang))
        assert set(states) == set(NATIONALITIES)
        assert all(name != code for code, name in states.items())
        langs = dict(form_codes.language_options(lang))
        assert set(langs) == set(DEFAULT_LANGUAGES)
        assert all(name != code for code, name in langs.items())
    assert dict(form_codes.state_options("de"))["SYR"] == "Syrien"
    assert dict(form_codes.language_options("en"))["ar"] == "Arabic"


def test_widgets_names_and_ids_of_nested_fields():
    values = {"children": [{"first_name": "Lina", "birth_date": "2016-04-03",
                            "pets": ["Katze"]}], "nationality": "SYR", "rent": 1850.5,
              "languages": ["ar"], "language": "uk"}
    by = {f.name: f for f in iter_fields(build_fields(SCHEMA, {}, lang="de", values=values))}
    assert by["children"].widget == "repeat" and len(by["children"].items) == 1
    assert by["address"].widget == "object" and by["free"].widget == "json"
    assert by["raw_list"].widget == "json"
    first = by["children[0][first_name]"]
    assert first.id == "f-children-0-first_name" and first.value == "Lina"
    assert first.full_label == "Kinder, Eintrag 1: Vorname"
    assert by["children[0][birth_date]"].value == "03.04.2016"  # shown as TT.MM.JJJJ
    assert by["children[0][pets]"].widget == "repeat"
    assert by["children[0][pets][0]"].value == "Katze"
    assert by["nationality"].widget == "state" and by["nationality"].value == "Syrien"
    assert by["nationality"].hints[0][0].startswith("Namen eingeben")  # no code to know
    assert by["languages"].widget == "checkboxes" and ("ar", "Arabisch") in by["languages"].options
    assert by["language"].widget == "language" and by["language"].value == "Ukrainisch"
    assert by["rent"].widget == "money" and by["rent"].value == "1.850,50"
    en = {f.name: f for f in iter_fields(build_fields(SCHEMA, {}, lang="en", values=values))}
    assert en["nationality"].value == "Syria" and ("ar", "Arabic") in en["languages"].options
    assert en["children[0][first_name]"].full_label == "Children, Entry 1: First name"


def test_nested_errors_at_the_nested_field_and_unknown_paths_at_the_nearest_group():
    values = {"children": [{"first_name": "A"}, {"first_name": "B"}]}
    errors = {"children.1.birth_date": ["Ungültiges Datum (JJJJ-MM-TT)"],
              "children": ["Zu wenige"], "children.0.ghost.x": ["Unbekannt"]}
    fields = build_fields(SCHEMA, {}, lang="de", values=values, errors=errors)
    by = {f.path: f for f in iter_fields(fields)}
    assert by["children.1.birth_date"].errors == ["Ungültiges Datum (TT.MM.JJJJ)"]
    assert by["children.1.birth_date"].describedby.endswith("f-children-1-birth_date-error")
    assert by["children"].errors == ["Zu wenige", "0.ghost.x: Unbekannt"]
    assert by["children.0.first_name"].errors == []


def test_add_and_remove_entries():
    assert form_action(MultiDict([("__add", "children")])) == ("add", "children")
    assert form_action(MultiDict([("__remove", "children[1]")])) == ("remove", "children[1]")
    assert form_action(MultiDict([("x", "1")])) is None
    raw = {"children": [{"first_name": "A"}, {"first_name": "B"}]}
    out, focus = apply_action(SCHEMA, copy.deepcopy(raw), ("add", "children"))
    assert out["children"][-1] == {} and focus == "children.2"
    out, focus = apply_action(SCHEMA, copy.deepcopy(raw), ("remove", "children[0]"))
    assert out["children"] == [{"first_name": "B"}] and focus is None
    out, focus = apply_action(SCHEMA, copy.deepcopy(raw), ("add", "children[1][pets]"))
    assert out["children"][1]["pets"] == [""] and focus == "children.1.pets.0"
    out, _ = apply_action(SCHEMA, {}, ("add", "children"))
    assert out == {"children": [{}]}
    for target in ("ghost", "address", "children[9]", "children[x]", "nationality[0]"):
        for kind in ("add", "remove"):
            assert apply_action(SCHEMA, copy.deepcopy(raw), (kind, target))[0] == raw
    # the focus goes to the first field of the added entry; no autofocus elsewhere
    fields = build_fields(SCHEMA, {}, lang="de", values={"children": [{}, {}, {}]},
                          focus="children.2")
    focused = [f.path for f in iter_fields(fields) if f.attrs.get("focus")]
    assert focused == ["children.2.first_name"]


def test_multiple_choice_labels_written_on_the_array_are_shown():
    """The catalogue writes a multiple choice's labels on the array, not on its items: the
    clearing form once offered "arbeit_ausbildung" and the consent form "IDENT" as labels."""
    from pathlib import Path

    from web.display import display_value

    root = Path(__file__).resolve().parents[2] / "bpmn"
    for path, name, code, de, en in [
        ("p1_intake_clearing/p1-clearing-schema.json", "handlungsfelder_need",
         "arbeit_ausbildung", "Arbeit und Ausbildung", "Work and training"),
        ("p2_support_plan/p2-einwilligung-schema.json", "data_categories", "IDENT",
         "Identität", None),
    ]:
        schema = json.loads((root / path).read_text(encoding="utf-8"))
        by = {f.name: f for f in iter_fields(build_fields(schema, {}, lang="de"))}
        assert by[name].widget == "checkboxes"
        assert (code, de) in by[name].options, by[name].options
        assert all(label != value for value, label in by[name].options), by[name].options
        node = schema["properties"][name]
        assert display_value([code], node, "de") == de
        if en:
            en_by = {f.name: f for f in iter_fields(build_fields(schema, {}, lang="en"))}
            assert (code, en) in en_by[name].options
            assert display_value([code], node, "en") == en
