"""Relative date rules (``x-lotse-date``): every rule kind at its boundary days, on the
engine clock (Europe/Berlin), inside lists of objects, and the schema check at deploy."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from engine import clock, forms
from engine.form_dates import shift
from processes.validators import make_format_checker

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
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


# --- $$key: bounds from the case data (the task's workflow data) -----------------------------

def _case_errors(schema: dict, data: dict, context, today: str = "2026-03-15",
                 lang: str = "de") -> dict:
    y, m, d = map(int, today.split("-"))
    with clock.using(clock.SettableClock(datetime(y, m, d, 10, 0, tzinfo=timezone.utc))):
        _, errors = forms.clean_and_validate(schema, data, format_checker=CHECKER, lang=lang,
                                             context=context)
        return errors


@pytest.mark.parametrize("value,ok", [("2026-03-01", False), ("2026-03-02", True),
                                      ("2026-03-10", True)])
def test_case_bound_reads_the_task_data(value, ok):
    s = _schema(intake_date={"min": "$$inquiry_date"})
    errors = _case_errors(s, {"intake_date": value}, {"inquiry_date": "2026-03-02"})
    assert (errors == {}) is ok, errors
    if not ok:
        assert errors == {"intake_date": ["Frühestens 02.03.2026"]}
        en = _case_errors(s, {"intake_date": value}, {"inquiry_date": "2026-03-02"}, lang="en")
        assert en == {"intake_date": ["Not before 2026-03-02"]}


@pytest.mark.parametrize("value,ok", [("2026-04-07", False), ("2026-04-08", True)])
def test_case_bound_with_a_duration_and_a_nested_key(value, ok):
    # first_school_day >= start_date - 7 days; the key may sit inside an object of the data
    s = _schema(first_school_day={"min": "$$school.start_date-P7D"})
    errors = _case_errors(s, {"first_school_day": value},
                          {"school": {"start_date": "2026-04-15"}})
    assert (errors == {}) is ok, errors


def test_case_bound_accepts_a_date_object_and_all_errors_come_at_once():
    s = _schema(a={"min": "$$x"}, b={"max": "today"}, c={"exclusiveMin": "$$x"})
    errors = _case_errors(s, {"a": "2026-01-01", "b": "2026-03-16", "c": "2026-03-01"},
                          {"x": date(2026, 3, 1)})
    assert errors == {"a": ["Frühestens 01.03.2026"], "b": ["Spätestens heute (15.03.2026)"],
                      "c": ["Muss nach 01.03.2026 liegen"]}


@pytest.mark.parametrize("context", [
    None,                                    # no case data (a check outside the engine)
    {},                                      # key absent
    {"inquiry_date": None},                  # recorded as empty
    {"inquiry_date": "02.03.2026"},          # not ISO
    {"inquiry_date": "2026-02-30"},          # not a real date
    {"inquiry_date": "2026-03-02T10:00:00+01:00"},  # a timestamp, not a date
    {"inquiry_date": datetime(2026, 3, 2, 10, tzinfo=timezone.utc)},
    {"inquiry_date": 20260302},
    {"inquiry": "2026-03-02"},               # dotted path through a non-object
])
def test_case_bound_does_not_apply_without_a_date_in_the_data(context):
    s = _schema(intake_date={"min": "$$inquiry_date"}, other={"min": "$$inquiry.date"})
    assert _case_errors(s, {"intake_date": "2000-01-01", "other": "2000-01-01"}, context) == {}


def test_case_bound_does_not_read_form_fields_and_form_bound_not_case_data():
    # $$key is the task's data, never a sibling of the form; $field never the task's data
    s = _schema(a=None, b={"min": "$$a"}, c={"min": "$a"})
    data = {"a": "2026-03-10", "b": "2026-03-01", "c": "2026-03-11"}
    assert _case_errors(s, data, {"b": "2026-01-01"}) == {}
    assert _case_errors(s, data, {"a": "2026-03-05"}) == {"b": ["Frühestens 05.03.2026"]}


def test_case_data_is_per_thread():
    """Two validations run at the same time, each with its own task data: a format check
    that waits for the other thread holds both inside validate_form before the date rules
    are evaluated, so a shared (non-thread-local) context would leak one case into the
    other."""
    import threading

    import jsonschema

    barrier = threading.Barrier(2, timeout=10)
    sync = jsonschema.FormatChecker()
    sync.checks("sync")(lambda _value: barrier.wait() >= 0)
    s = {"type": "object", "properties": {"s": {"type": "string", "format": "sync"},
                                          "d": {"type": "string",
                                                "x-lotse-date": {"min": "$$x"}}}}
    results: dict[str, dict] = {}

    def run(name: str, bound: str) -> None:
        results[name] = forms.validate_form(s, {"s": "go", "d": "2026-03-10"},
                                            format_checker=sync, context={"x": bound})

    threads = [threading.Thread(target=run, args=("early", "2026-03-01")),
               threading.Thread(target=run, args=("late", "2026-03-12"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"early": {}, "late": {"d": ["Frühestens 12.03.2026"]}}
    # the context ends with the call: without context= the bound does not apply
    assert forms.validate_form(s, {"d": "2000-01-01"}) == {}


@pytest.mark.parametrize("bound", ["$$inquiry_date", "$$referral.sent_at", "$$a_1.b_2.c",
                                   "$$start_date-P7D", "$$x+P6M"])
def test_check_schema_accepts_case_keys_it_cannot_know(bound):
    s = {"type": "object", "properties": {"d": {"type": "string", "x-lotse-date": {"min": bound}}}}
    assert forms.check_schema(s) is None


@pytest.mark.parametrize("bound", ["$$", "$$1abc", "$$a..b", "$$a.", "$$.a", "$$a-b",
                                   "$$$a", "$$a+P7", "$$a-7D", "$$ a"])
def test_check_schema_refuses_malformed_case_keys(bound):
    s = {"type": "object", "properties": {"d": {"type": "string", "x-lotse-date": {"min": bound}}}}
    found = forms.check_schema(s)
    assert found is not None and "$$case_key" in found, found


def test_relocalized_keeps_an_engine_error_a_recheck_without_data_misses():
    server = {"intake_date": ["Frühestens 02.03.2026"], "note": ["Pflichtfeld"]}
    local = {"note": ["This field is required"]}
    assert forms.relocalized(server, local) == {"intake_date": ["Frühestens 02.03.2026"],
                                                "note": ["This field is required"]}


def test_check_schema_refuses_a_rule_that_would_never_run():
    s = {"type": "object", "x-lotse-date": {"min": "today"}, "properties": {}}
    assert "directly on a property" in forms.check_schema(s)
    s = {"type": "object", "properties": {"n": {"type": "integer",
                                                "x-lotse-date": {"min": "today"}}}}
    assert "date property" in forms.check_schema(s)


def test_the_catalogue_declares_the_brief_rules():
    rules = {}
    paths = [p for p in sorted(BPMN_DIR.glob("*/*-schema.json"))
             if not p.name.endswith("-uischema.json")]
    assert len(paths) > 50
    for path in paths:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert forms.check_schema(schema, format_checker=CHECKER) is None, path.name
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
    # rules against data of earlier tasks of the case ($$key)
    assert rules["intake_date"] == {"min": "$$inquiry_date"}
    assert rules["consent_date"] == {"min": "$$intake_date"}
    assert rules["first_school_day"] == {"min": "$$start_date-P7D"}
    assert rules["closure_date"] == {"min": "$$last_contact_date"}


def test_the_referral_protocol_checks_the_decision_against_the_ack_date():
    """Offices working in Lotse: decision_date >= acknowledged_on (set when they acknowledge);
    proxy offices: no rule (the answer may arrive after a decision dated earlier)."""
    seen = {}
    folder = BPMN_DIR / "p0_referral_protocol"
    assert "acknowledged_on = today()" in (folder / "office_referral.bpmn").read_text("utf-8")
    for path in folder.glob("p0-bearbeiten*-schema.json"):  # KI_SEB has none (P3 works)
        if not path.name.endswith("-uischema.json"):
            prop = json.loads(path.read_text("utf-8"))["properties"]["decision_date"]
            seen[path.name] = prop.get("x-lotse-date")
    assert seen["p0-bearbeiten-jc-schema.json"] == {"min": "$$acknowledged_on"}
    assert seen["p0-bearbeiten-bamf-schema.json"] is None  # proxy office
    # one process for every office (issue 13.1): 18 offices' own work forms and the generic
    # one (an office without its own form, working in Lotse: the rule applies)
    assert seen["p0-bearbeiten-schema.json"] == {"min": "$$acknowledged_on"}
    assert len(seen) == 19 and sum(v is None for v in seen.values()) == 5  # 5 proxy offices
