"""Form validation: every error at once, keyed by field, in German or English."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from engine.forms import (
    FORM_KEY,
    LocalizedFormatChecker,
    check_schema,
    clean_and_validate,
    normalize,
    validate_form,
)

DATE = "Ungültiges Datum (JJJJ-MM-TT)"

PERSON = {
    "type": "object",
    "required": ["first_name", "last_name"],
    "properties": {
        "first_name": {"type": "string", "maxLength": 20},
        "last_name": {"type": "string"},
        "birth_date": {"type": "string", "format": "date"},
        "postcode": {
            "type": "string",
            "pattern": "^[0-9]{5}$",
            "x-messages": {"pattern": {"de": "Fünf Ziffern", "en": "Five digits"}},
        },
        "gender": {"enum": ["f", "m", "d", "x"]},
        "household_size": {"type": "integer", "minimum": 1, "maximum": 20},
        "note": {"type": ["string", "null"]},
        "children": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["first_name"],
                "properties": {
                    "first_name": {"type": "string"},
                    "birth_date": {"type": "string", "format": "date"},
                },
            },
        },
    },
}


@pytest.fixture
def dates() -> jsonschema.FormatChecker:
    """A checker whose "date" only accepts real ISO calendar dates."""
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date", raises=ValueError)
    def _date(value: object) -> bool:
        import datetime
        import re

        if not isinstance(value, str):
            return True
        return bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)) and bool(
            datetime.date.fromisoformat(value)
        )

    return checker


def test_valid_data_gives_no_errors(dates):
    data = {"first_name": "Amina", "last_name": "Haddad", "birth_date": "1990-02-28"}
    assert validate_form(PERSON, data, format_checker=dates) == {}


def test_missing_required_fields_are_keyed_by_field_name():
    assert validate_form(PERSON, {}) == {
        "first_name": ["Pflichtfeld"],
        "last_name": ["Pflichtfeld"],
    }


def test_whitespace_only_counts_as_missing_and_strings_are_trimmed():
    raw = {"first_name": "   ", "last_name": "  Haddad \t", "postcode": ""}
    cleaned, errors = clean_and_validate(PERSON, raw)
    assert cleaned == {"last_name": "Haddad"}
    assert errors == {"first_name": ["Pflichtfeld"]}
    assert raw["first_name"] == "   "  # the caller's dict is not changed


def test_normalize_recurses_and_keeps_nulls_only_where_allowed():
    raw = {
        "first_name": " A ",
        "gender": None,
        "note": None,
        "children": [{"first_name": " Lina ", "birth_date": " "}],
    }
    before = copy.deepcopy(raw)
    assert normalize(PERSON, raw) == {
        "first_name": "A",
        "note": None,
        "children": [{"first_name": "Lina"}],
    }
    assert raw == before


def test_pattern_uses_custom_message_in_both_languages():
    data = {"first_name": "A", "last_name": "B", "postcode": "1234"}
    assert validate_form(PERSON, data)["postcode"] == ["Fünf Ziffern"]
    assert validate_form(PERSON, data, lang="en")["postcode"] == ["Five digits"]


def test_pattern_without_custom_message():
    schema = {"properties": {"code": {"type": "string", "pattern": "^[A-Z]+$"}}}
    assert validate_form(schema, {"code": "abc"}) == {"code": ["Ungültiges Format"]}


def test_enum_lists_allowed_values():
    errors = validate_form(PERSON, {"first_name": "A", "last_name": "B", "gender": "w"})
    assert errors == {"gender": ["Ungültiger Wert (erlaubt: f, m, d, x)"]}


@pytest.mark.parametrize("value", ["2024-02-30", "01.02.2024", "2024-2-1", "20240201", "heute"])
def test_date_format_is_enforced(dates, value):
    errors = validate_form(
        PERSON, {"first_name": "A", "last_name": "B", "birth_date": value}, format_checker=dates
    )
    assert errors == {"birth_date": [DATE]}


def test_leap_day_is_a_valid_date(dates):
    data = {"first_name": "A", "last_name": "B", "birth_date": "2024-02-29"}
    assert validate_form(PERSON, data, format_checker=dates) == {}


def test_limits_types_and_lengths():
    data = {"first_name": "X" * 21, "last_name": 7, "household_size": 0}
    assert validate_form(PERSON, data) == {
        "first_name": ["Höchstens 20 Zeichen"],
        "last_name": ["Ungültiger Typ (erwartet: Text)"],
        "household_size": ["Muss mindestens 1 sein"],
    }
    data = {"first_name": "A", "last_name": "B", "household_size": 21}
    assert validate_form(PERSON, data, lang="en") == {"household_size": ["Must be at most 20"]}


def test_nested_array_items_get_dotted_paths(dates):
    data = {
        "first_name": "A",
        "last_name": "B",
        "children": [{"first_name": "Lina", "birth_date": "2019-13-01"}, {}],
    }
    assert validate_form(PERSON, data, format_checker=dates) == {
        "children.0.birth_date": [DATE],
        "children.1.first_name": ["Pflichtfeld"],
    }


def test_all_errors_are_reported_at_once(dates):
    data = {"first_name": " ", "postcode": "x", "gender": "?", "birth_date": "2020-02-31"}
    _, errors = clean_and_validate(PERSON, data, format_checker=dates)
    assert set(errors) == {"first_name", "last_name", "postcode", "gender", "birth_date"}


def test_english_messages(dates):
    data = {"last_name": "B", "birth_date": "31.12.2000", "gender": "w"}
    assert validate_form(PERSON, data, format_checker=dates, lang="en") == {
        "first_name": ["This field is required"],
        "birth_date": ["Invalid date (YYYY-MM-DD)"],
        "gender": ["Invalid value (allowed: f, m, d, x)"],
    }


def test_unknown_language_falls_back_to_german():
    assert validate_form(PERSON, {"last_name": "B"}, lang="xx") == {"first_name": ["Pflichtfeld"]}


CONDITIONAL = {
    "type": "object",
    "properties": {
        "has_job": {"type": "boolean"},
        "employer": {
            "type": "string",
            "x-messages": {"required": {"de": "Arbeitgeber angeben", "en": "Name the employer"}},
        },
        "reason": {"type": "string"},
        "phone": {"type": "string"},
        "contact_time": {"type": "string"},
    },
    "if": {"properties": {"has_job": {"const": True}}, "required": ["has_job"]},
    "then": {"required": ["employer"]},
    "else": {"required": ["reason"]},
    "dependentRequired": {"phone": ["contact_time"]},
}


def test_if_then_requirement_is_keyed_by_missing_field_with_its_message():
    assert validate_form(CONDITIONAL, {"has_job": True}) == {"employer": ["Arbeitgeber angeben"]}
    assert validate_form(CONDITIONAL, {"has_job": True}, lang="en") == {
        "employer": ["Name the employer"]
    }
    assert validate_form(CONDITIONAL, {"has_job": True, "employer": "Fa. Meyer"}) == {}


def test_else_branch_requirement():
    assert validate_form(CONDITIONAL, {"has_job": False}) == {"reason": ["Pflichtfeld"]}


def test_dependent_required_is_keyed_by_missing_field():
    errors = validate_form(CONDITIONAL, {"has_job": False, "reason": "Kurs", "phone": "0521"})
    assert errors == {"contact_time": ["Pflichtfeld"]}


def test_conditional_requirement_inside_all_of_and_after_normalize():
    schema = {
        "type": "object",
        "properties": {"moved": {"type": "boolean"}, "new_address": {"type": "string"}},
        "allOf": [
            {
                "if": {"properties": {"moved": {"const": True}}, "required": ["moved"]},
                "then": {"required": ["new_address"]},
            }
        ],
    }
    _, errors = clean_and_validate(schema, {"moved": True, "new_address": "  "})
    assert errors == {"new_address": ["Pflichtfeld"]}


def test_any_of_required_alternatives_give_one_form_message():
    schema = {
        "type": "object",
        "properties": {"phone": {"type": "string"}, "email": {"type": "string"}},
        "anyOf": [{"required": ["phone"]}, {"required": ["email"]}],
    }
    assert validate_form(schema, {}) == {
        FORM_KEY: ["Mindestens eines dieser Felder ausfüllen: phone, email"]
    }
    assert validate_form(schema, {"email": "a@b.de"}) == {}


def test_unknown_fields_are_rejected_unless_additional_properties_true():
    data = {"first_name": "A", "last_name": "B", "shoe_size": 42}
    assert validate_form(PERSON, data) == {"shoe_size": ["Unbekanntes Feld"]}
    assert validate_form(PERSON, data, lang="en") == {"shoe_size": ["Unknown field"]}
    assert validate_form({**PERSON, "additionalProperties": True}, data) == {}


def test_unknown_fields_nested_and_with_explicit_false():
    data = {"first_name": "A", "last_name": "B", "children": [{"first_name": "L", "x": 1}]}
    assert validate_form(PERSON, data) == {"children.0.x": ["Unbekanntes Feld"]}
    closed = {**PERSON, "additionalProperties": False}
    assert validate_form(closed, {"first_name": "A", "last_name": "B", "a": 1, "b": 2}) == {
        "a": ["Unbekanntes Feld"],
        "b": ["Unbekanntes Feld"],
    }


def test_fields_declared_in_branches_and_refs_are_known():
    schema = {
        "type": "object",
        "$defs": {"address": {"properties": {"street": {"type": "string"}}}},
        "properties": {"kind": {"type": "string"}},
        "allOf": [{"$ref": "#/$defs/address"}],
        "then": {"properties": {"extra": {"type": "string"}}},
    }
    assert validate_form(schema, {"kind": "a", "street": "Hauptstr. 1", "extra": "x"}) == {}


def test_localized_format_checker_supplies_messages():
    checker = LocalizedFormatChecker(
        formats=(), messages={"even": {"de": "Gerade Zahl nötig", "en": "Even number needed"}}
    )
    checker.checks("even")(lambda v: not isinstance(v, int) or v % 2 == 0)
    schema = {"properties": {"n": {"type": "integer", "format": "even"}}}
    assert validate_form(schema, {"n": 3}, format_checker=checker) == {"n": ["Gerade Zahl nötig"]}
    assert validate_form(schema, {"n": 3}, format_checker=checker, lang="en") == {
        "n": ["Even number needed"]
    }
    assert validate_form(schema, {"n": 4}, format_checker=checker) == {}


def test_default_format_checker_checks_standard_date():
    schema = {"properties": {"d": {"type": "string", "format": "date"}}}
    assert validate_form(schema, {"d": "2024-02-30"}) == {"d": [DATE]}


def test_check_schema():
    assert check_schema(PERSON) is None
    assert check_schema(CONDITIONAL) is None
    problem = check_schema({"type": "text"})
    assert problem is not None and "text" in problem
    assert "minLength" in (check_schema({"properties": {"a": {"minLength": -1}}}) or "")
    assert check_schema([]) is not None  # type: ignore[arg-type]


def test_check_schema_reports_unknown_formats_and_bad_messages():
    checker = jsonschema.FormatChecker(formats=["date"])
    schema = {"properties": {"d": {"type": "string", "format": "past_date"}}}
    assert check_schema(schema) is None  # without a checker any format is allowed
    assert "past_date" in (check_schema(schema, format_checker=checker) or "")
    bad = {"properties": {"d": {"type": "string", "x-messages": {"pattern": 3}}}}
    assert "x-messages" in (check_schema(bad) or "")


def test_required_inside_a_ref_target_is_keyed_with_its_path():
    schema = {
        "type": "object",
        "$defs": {
            "child": {
                "type": "object",
                "required": ["first_name"],
                "properties": {
                    "first_name": {"type": "string", "x-messages": {"required": "Vorname fehlt"}}
                },
            }
        },
        "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/child"}}},
    }
    assert validate_form(schema, {"children": [{"first_name": "A"}, {}]}) == {
        "children.1.first_name": ["Vorname fehlt"]
    }
