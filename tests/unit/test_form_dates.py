"""Relative date rules (``x-lotse-date``): every rule kind at its boundary days, on the
engine clock (Europe/Berlin), inside lists of objects, and the schema check at deploy."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from engine import clock, forms
from engine.form_dates import shift
from processes import catalogue
from processes.validators import make_format_checker

CHECKER = make_format_checker()


def _schema(**props) -> dict:
    return {"type": "object", "additionalProperties": False,
            "properties": {name: {"type": "string", "format": "date", "title": name.title(),
                                  **({"x-lotse-date": rule} if rule else {})}
                           for name, rule in props.items()}}


def _errors(schema: dict, data: dict, today: str, lang: str = "de") -> dict:
    # 22:30 UTC is already the next day in Berlin: "today" must follow Berlin
    y, m, d = map(int, today.split("-"))
    now = datetime(y, m, d, 10, 0, tzinfo=timezone.utc)
    with clock.using(clock.SettableClock(now)):
        return forms.validate_form(schema, data, format_checker=CHECKER, lang=lang)


@pytest.mark.parametrize("value,ok", [("2026-03-14", False), ("2026-03-15", True),
                                      ("2026-09-11", True), ("2026-09-12", False)])
def test_min_today_max_today_plus_180_days(value, ok):
    s = _schema(expected=({"min": "today", "max": "today+P180D"}))
    errors = _errors(s, {"expected": value}, "2026-03-15")
    assert (errors == {}) is ok, errors


@pytest.mark.parametrize("value,ok", [("2026-03-14", False), ("2026-03-15", False),
                                      ("2026-03-16", True)])
def test_exclusive_min_today(value, ok):
    errors = _errors(_schema(required_by={"exclusiveMin": "today"}), {"required_by": value},
                     "2026-03-15")
    assert (errors == {}) is ok, errors


@pytest.mark.parametrize("value,ok", [("2026-08-31", True), ("2026-09-01", False)])
def test_months_clamp_at_the_month_end(value, ok):
    # 31 Aug 2025 + 12 months = 31 Aug 2026; 28 Feb + P6M = 28 Aug; 31 Mar + P6M = 30 Sep
    s = _schema(valid_from=None, valid_until={"max": "$valid_from+P12M"})
    errors = _errors(s, {"valid_from": "2025-08-31", "valid_until": value}, "2026-01-10")
    assert (errors == {}) is ok, errors


def test_shift_months_and_leap_years():
    assert shift(date(2026, 1, 31), "+", 1, "M") == date(2026, 2, 28)
    assert shift(date(2028, 1, 31), "+", 1, "M") == date(2028, 2, 29)
    assert shift(date(2026, 3, 31), "+", 6, "M") == date(2026, 9, 30)
    assert shift(date(2028, 2, 29), "+", 1, "Y") == date(2029, 2, 28)
    assert shift(date(2026, 3, 1), "-", 7, "D") == date(2026, 2, 22)
    assert shift(date(2026, 1, 1), "-", 1, "M") == date(2025, 12, 1)


@pytest.mark.parametrize("value,ok", [("1990-05-03", False), ("1990-05-04", True)])
def test_gte_another_field(value, ok):
    s = _schema(birth_date=None, arrival=({"min": "$birth_date"}))
    errors = _errors(s, {"birth_date": "1990-05-04", "arrival": value}, "2026-03-15")
    assert (errors == {}) is ok, errors
    if not ok:
        assert errors == {"arrival": ["Frühestens Birth_Date (04.05.1990)"]}


def test_a_missing_or_invalid_referenced_field_is_skipped():
    s = _schema(birth_date=None, arrival=({"min": "$birth_date"}))
    assert _errors(s, {"arrival": "1990-01-01"}, "2026-03-15") == {}
    errors = _errors(s, {"birth_date": "1990-02-30", "arrival": "1980-01-01"}, "2026-03-15")
    assert list(errors) == ["birth_date"]  # the bad date itself is reported, once


def test_max_today_and_exclusive_max():
    s = _schema(a={"max": "today"}, b={"exclusiveMax": "today"})
    assert _errors(s, {"a": "2026-03-15", "b": "2026-03-14"}, "2026-03-15") == {}
    errors = _errors(s, {"a": "2026-03-16", "b": "2026-03-15"}, "2026-03-15", lang="en")
    assert errors == {"a": ["Not after today (2026-03-15)"],
                      "b": ["Must be before today (2026-03-15)"]}


def test_the_movable_engine_clock_decides_what_today_is():
    s = _schema(required_by={"exclusiveMin": "today"})
    assert _errors(s, {"required_by": "2026-03-16"}, "2026-03-15") == {}
    assert _errors(s, {"required_by": "2026-03-16"}, "2026-03-16") != {}
    # 23:30 in Berlin on 15 March is 22:30 UTC: still the 15th in Berlin
    late = datetime(2026, 3, 15, 22, 30, tzinfo=timezone.utc)
    with clock.using(clock.SettableClock(late)):
        assert forms.validate_form(s, {"required_by": "2026-03-16"}) == {}
    after_midnight = datetime(2026, 3, 15, 23, 30, tzinfo=timezone.utc)  # 00:30 on the 16th
    with clock.using(clock.SettableClock(after_midnight)):
        assert forms.validate_form(s, {"required_by": "2026-03-16"}) != {}


def test_rules_inside_a_list_of_objects_and_all_errors_at_once():
    goal = {"type": "object", "properties": {
        "target_date": {"type": "string", "format": "date",
                        "x-lotse-date": {"exclusiveMin": "today", "max": "today+P24M"}},
        "goal_text": {"type": "string", "minLength": 10}}}
    s = {"type": "object", "properties": {"goals": {"type": "array", "items": goal},
                                          "next": {"type": "string",
                                                   "x-lotse-date": {"exclusiveMin": "today"}}}}
    data = {"goals": [{"target_date": "2026-03-16", "goal_text": "long enough text"},
                      {"target_date": "2026-03-15", "goal_text": "short"},
                      {"target_date": "2028-03-16", "goal_text": "long enough text"}],
            "next": "2026-01-01"}
    errors = _errors(s, data, "2026-03-15")
    assert set(errors) == {"goals.1.target_date", "goals.1.goal_text", "goals.2.target_date",
                           "next"}
    assert errors["goals.2.target_date"] == ["Spätestens 15.03.2028"]
    assert errors["next"] == ["Muss nach heute (15.03.2026) liegen"]


def test_a_rule_inside_a_branch_applies_only_when_the_branch_does():
    s = {"type": "object", "properties": {"kind": {"enum": ["a", "b"]},
                                          "d": {"type": "string"}},
         "allOf": [{"if": {"properties": {"kind": {"const": "a"}}},
                    "then": {"properties": {"d": {"type": "string",
                                                  "x-lotse-date": {"min": "today"}}}}}]}
    assert _errors(s, {"kind": "b", "d": "2020-01-01"}, "2026-03-15") == {}
    assert set(_errors(s, {"kind": "a", "d": "2020-01-01"}, "2026-03-15")) == {"d"}


@pytest.mark.parametrize("rule,problem", [
    ({"mn": "today"}, "unknown key"),
    ({"min": "yesterday"}, "is not 'today'"),
    ({"min": "today+P3X"}, "is not 'today'"),
    ({"min": "today+P1Y6M"}, "is not 'today'"),
    ({"min": "$nope"}, "unknown field 'nope'"),
    ({"min": "2026-02-30"}, "not a real date"),
    ({}, "non-empty object"),
    ("today", "non-empty object"),
])
def test_check_schema_refuses_malformed_rules(rule, problem):
    s = {"type": "object", "properties": {"d": {"type": "string", "x-lotse-date": rule}}}
    found = forms.check_schema(s)
    assert found is not None and problem in found, found


def test_check_schema_refuses_a_rule_that_would_never_run():
    s = {"type": "object", "x-lotse-date": {"min": "today"}, "properties": {}}
    assert "directly on a property" in forms.check_schema(s)
    s = {"type": "object", "properties": {"n": {"type": "integer",
                                                "x-lotse-date": {"min": "today"}}}}
    assert "date property" in forms.check_schema(s)


def test_the_catalogue_declares_the_brief_rules():
    rules = {}
    for procs in catalogue.catalogue().values():
        for p in procs:
            for name, text in catalogue.render_forms(p).items():
                if not name.endswith("-schema.json"):
                    continue
                schema = json.loads(text)
                assert forms.check_schema(schema, format_checker=CHECKER) is None, name
                for where, node in forms._walk(schema, ""):
                    if "x-lotse-date" in node:
                        rules[where.rsplit("/", 1)[-1]] = node["x-lotse-date"]
    assert rules["expected_result_date"] == {"min": "today", "max": "today+P180D"}
    assert rules["required_by"] == {"exclusiveMin": "today"}
    assert rules["arrival_date_de"] == {"min": "$birth_date"}
    assert rules["valid_until"] == {"exclusiveMin": "today", "max": "$valid_from+P24M"}
    assert rules["next_review_date"] == {"exclusiveMin": "today", "max": "today+P6M"}
    assert rules["target_date"] == {"exclusiveMin": "today", "max": "today+P24M"}
    assert rules["start_date"] == {"min": "today"}
    assert rules["eviction_date"] == {"min": "today"}
    assert rules["eviction_suit_served_date"] == {"min": "$notice_date"}
    assert rules["service_date"] == {"min": "$bamf_decision_date"}
    assert rules["permit_valid_until"] == {"exclusiveMin": "$permit_issue_date"}
