"""Number comparisons between fields (``x-lotse-compare``): every operator at its boundary,
both languages naming both fields, together with other errors, inside list items, the
schema check (deploy and lint refuse malformed rules) and the catalogue's forms."""

from __future__ import annotations

import json

import pytest

from engine import forms
from engine.deploy import SourceFile
from engine.lint import ERROR, lint_files
from processes.offices import OfficeRegistry
from processes.validators import make_format_checker
from tests import bpmn_builder as B
from tests.conftest import BPMN_DIR

CHECKER = make_format_checker()
REGISTRY = OfficeRegistry.load()
PROPS = {
    "household_size": {"type": "integer", "minimum": 1, "title": "Personen im Haushalt",
                       "x-title-en": "Household size"},
    "minors": {"type": "integer", "minimum": 0, "title": "Davon minderjährig",
               "x-title-en": "Of whom minors"},
    "note": {"type": "string", "maxLength": 3, "title": "Notiz"},
}


def _schema(*rules: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": PROPS,
            "x-lotse-compare": list(rules)}


def _rule(op: str = "<=", **more) -> dict:
    return {"field": "minors", "op": op, "other": "household_size", **more}


@pytest.mark.parametrize("op,ok", [
    ("<=", {2: True, 3: True, 4: False}), ("<", {2: True, 3: False, 4: False}),
    (">=", {2: False, 3: True, 4: True}), (">", {2: False, 3: False, 4: True}),
    ("==", {2: False, 3: True, 4: False}), ("!=", {2: True, 3: False, 4: True}),
])
def test_every_operator_at_its_boundary(op, ok):
    s = _schema(_rule(op))
    assert forms.check_schema(s, format_checker=CHECKER) is None
    for minors, valid in ok.items():
        errors = forms.validate_form(s, {"household_size": 3, "minors": minors})
        assert (errors == {}) is valid, (op, minors, errors)
        if not valid:
            assert list(errors) == ["minors"]


def test_messages_name_both_fields_in_german_and_english():
    s = _schema(_rule())
    data = {"household_size": 2, "minors": 3}
    assert forms.validate_form(s, data) == {
        "minors": ["„Davon minderjährig“ darf nicht größer sein als „Personen im Haushalt“ (2)"]}
    assert forms.validate_form(s, data, lang="en") == {
        "minors": ["'Of whom minors' must not be greater than 'Household size' (2)"]}


def test_plus_shifts_the_other_field():
    s = _schema(_rule(plus=-1))
    assert forms.validate_form(s, {"household_size": 3, "minors": 2}) == {}
    (msg,) = forms.validate_form(s, {"household_size": 3, "minors": 3})["minors"]
    assert "„Personen im Haushalt“ − 1 (2)" in msg


def test_reported_with_every_other_error_at_once():
    errors = forms.validate_form(_schema(_rule()),
                                 {"household_size": 1, "minors": 2, "note": "toolong"})
    assert set(errors) == {"minors", "note"}


def test_missing_or_non_number_operand_leaves_the_rule_out():
    s = _schema(_rule())
    assert forms.validate_form(s, {"minors": 5}) == {}
    errors = forms.validate_form(s, {"household_size": "zwei", "minors": 5})
    assert set(errors) == {"household_size"}  # only the type error of the field itself


def test_rule_inside_list_items_compares_the_same_item():
    s = {"type": "object", "properties": {"homes": {"type": "array", "items": _schema(_rule())}}}
    errors = forms.validate_form(s, {"homes": [{"household_size": 4, "minors": 2},
                                               {"household_size": 1, "minors": 2}]})
    assert list(errors) == ["homes.1.minors"]


@pytest.mark.parametrize("rules,words", [
    ({"field": "minors"}, "non-empty list"),
    ([], "non-empty list"),
    (["minors <= household_size"], "must be an object"),
    ([{"field": "minors", "op": "<="}], "must be an object"),
    ([_rule("=<")], "'=<' is not one of"),
    ([{**_rule(), "other": "nobody"}], "'nobody' is not a property"),
    ([{**_rule(), "field": "note"}], "'note' is not a number property"),
    ([{**_rule(), "other": "minors"}], "the same property"),
    ([_rule(plus="5")], "plus must be a number"),
    ([_rule(extra=1)], "unknown key 'extra'"),
])
def test_malformed_rules_are_refused(rules, words):
    s = {**_schema(), "x-lotse-compare": rules}
    problem = forms.check_schema(s, format_checker=CHECKER)
    assert problem and "x-lotse-compare" in problem and words in problem, problem


def test_rule_needs_an_object_with_properties():
    problem = forms.check_schema({"type": "object", "properties": {
        "n": {"type": "integer", "x-lotse-compare": [_rule()]}}})
    assert problem and "object schema with properties" in problem


def test_lint_refuses_a_form_with_a_malformed_rule():
    form = {**_schema(_rule("=<")), "required": []}
    doc = B.process("cmp", {"KIM_CM": ["S", "T", "E"]},
                    '<bpmn:startEvent id="S"/>' + B.user_task("T", "Prüfen", "f.json")
                    + '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "T") + B.flow("f2", "T", "E"))
    files = [SourceFile("p.bpmn", doc.encode()), SourceFile("f.json", json.dumps(form).encode())]
    errors = [f for f in lint_files(files, resolve_lane=REGISTRY.resolve_lane)
              if f.severity == ERROR]
    assert [(f.rule, f.element) for f in errors] == [("user-task-without-form", "T")]
    assert "x-lotse-compare[0].op" in errors[0].message


@pytest.mark.parametrize("path", ["p1_intake_clearing/p1-anfrage-schema.json",
                                  "p5_housing_emergency/p5-notfall-schema.json"])
def test_catalogue_forms_keep_minors_at_most_the_household(path):
    """F1.1 and F5.1 (brief: "minors_in_household ≤ household_size")."""
    schema = forms.load_form((BPMN_DIR / path).read_text(encoding="utf-8"))
    assert forms.check_schema(schema, format_checker=CHECKER) is None
    assert {"field": "minors_in_household", "op": "<=",
            "other": "household_size"} in schema["x-lotse-compare"]
    def minors_errors(minors: int) -> list[str] | None:
        data = {"household_size": 1, "minors_in_household": minors}
        return forms.validate_form({**schema, "required": []}, data).get("minors_in_household")

    assert minors_errors(2) and minors_errors(1) is None


def test_x_messages_on_the_object_replace_the_text():
    s = {**_schema(_rule()), "x-messages": {"x-lotse-compare": {
        "de": "Mehr Minderjährige als Personen", "en": "More minors than persons"}}}
    data = {"household_size": 1, "minors": 2}
    assert forms.validate_form(s, data) == {"minors": ["Mehr Minderjährige als Personen"]}
    assert forms.validate_form(s, data, lang="en") == {"minors": ["More minors than persons"]}


AGE_RULE = {"field": "years", "op": "<=", "other": "born", "other_as": "age", "plus": -5,
            "at_least": 0}
AGE_PROPS = {"born": {"type": "string", "format": "date", "title": "Geburtsdatum",
                      "x-title-en": "Date of birth"},
             "years": {"type": "integer", "minimum": 0, "title": "Schuljahre",
                       "x-title-en": "Years of school"}}


@pytest.mark.parametrize("born,years,ok", [
    ("2016-03-15", 5, True), ("2016-03-15", 6, False),   # age 10 today: at most 5
    ("2016-03-16", 4, True), ("2016-03-16", 5, False),   # turns 10 tomorrow: at most 4
    ("2022-01-01", 0, True), ("2022-01-01", 1, False),   # age 4: max(0, -1) = 0
])
def test_age_of_a_date_field_on_the_engine_clock(born, years, ok):
    from datetime import datetime, timezone

    from engine import clock

    s = {"type": "object", "properties": AGE_PROPS, "x-lotse-compare": [AGE_RULE]}
    assert forms.check_schema(s) is None
    with clock.using(clock.SettableClock(datetime(2026, 3, 15, 10, tzinfo=timezone.utc))):
        errors = forms.validate_form(s, {"born": born, "years": years})
        en = forms.validate_form(s, {"born": born, "years": years}, lang="en")
    assert (errors == {}) is ok, errors
    if not ok:
        (msg,) = errors["years"]
        assert msg.startswith("„Schuljahre“ darf nicht größer sein als Alter laut "
                              "„Geburtsdatum“ − 5, aber nicht unter 0 ("), msg
        assert en["years"][0].startswith("'Years of school' must not be greater than age "
                                         "from 'Date of birth' − 5"), en


def test_age_rule_needs_a_date_property_and_knows_only_age():
    def problem(**over):
        s = {"type": "object", "properties": AGE_PROPS,
             "x-lotse-compare": [{**AGE_RULE, **over}]}
        return forms.check_schema(s) or ""

    assert "'born' is not a number property" in problem(field="born", other="years")
    s = {"type": "object", "properties": {**AGE_PROPS, "n": {"type": "integer"}},
         "x-lotse-compare": [{**AGE_RULE, "other": "n"}]}
    assert "other: 'n' is not a date property" in forms.check_schema(s)
    assert "'months' is not 'age'" in problem(other_as="months")
    assert "at_least must be a number" in problem(at_least="0")


def test_catalogue_school_counselling_limits_schooling_by_age():
    """F3.1 (brief: "schooling_years_abroad ≤ max(0, age − 5)")."""
    path = BPMN_DIR / "p3_school_enrolment/p3-erstberatung-schema.json"
    schema = forms.load_form(path.read_text(encoding="utf-8"))
    assert forms.check_schema(schema, format_checker=CHECKER) is None
    assert {"field": "schooling_years_abroad", "op": "<=", "other": "child_birth_date",
            "other_as": "age", "plus": -5, "at_least": 0} in schema["x-lotse-compare"]


# --- a bound that is a sum of fields and case data: "arrears + 2 × monthly rent" -------------

MONEY = {"amount": {"type": "number", "title": "Übernommener Betrag",
                    "x-title-en": "Amount assumed"},
         "rent": {"type": "number", "title": "Monatsmiete", "x-title-en": "Monthly rent"}}
SUM_RULE = {"field": "amount", "op": "<=",
            "other": "$$shared_data.arrears + 2 * $$shared_data.rent"}


def _money(*rules):
    return {"type": "object", "properties": MONEY, "x-lotse-compare": list(rules)}


@pytest.mark.parametrize("amount,ok", [(1850, True), (1850.01, False), (100, True)])
def test_a_sum_of_case_values_bounds_a_field(amount, ok):
    s = _money(SUM_RULE)
    assert forms.check_schema(s) is None
    case = {"shared_data": {"arrears": 1050, "rent": 400}}
    errors = forms.validate_form(s, {"amount": amount}, context=case)
    assert (errors == {}) is ok, errors
    if not ok:
        assert errors == {"amount": [
            "„Übernommener Betrag“ darf nicht größer sein als shared_data.arrears + 2 × "
            "shared_data.rent (1850)"]}


def test_a_label_names_the_bound_in_both_languages_and_fields_mix_with_case_data():
    rule = {"field": "amount", "op": "<=", "other": "3 * rent + $$arrears - 50",
            "label": {"de": "Rückstand + 3 Monatsmieten − 50", "en": "arrears + 3 rents − 50"}}
    s = _money(rule)
    assert forms.check_schema(s) is None
    data, case = {"amount": 1000.5, "rent": 300}, {"arrears": 100}
    assert forms.validate_form(s, data, context=case) == {"amount": [
        "„Übernommener Betrag“ darf nicht größer sein als Rückstand + 3 Monatsmieten − 50 (950)"]}
    assert forms.validate_form(s, data, context=case, lang="en") == {"amount": [
        "'Amount assumed' must not be greater than arrears + 3 rents − 50 (950)"]}
    assert forms.validate_form(s, {**data, "amount": 950}, context=case) == {}


@pytest.mark.parametrize("case", [None, {}, {"shared_data": {"arrears": 1050}},
                                  {"shared_data": {"arrears": "viel", "rent": 400}},
                                  {"shared_data": {"arrears": True, "rent": 400}}])
def test_a_sum_with_a_missing_case_value_does_not_apply(case):
    assert forms.validate_form(_money(SUM_RULE), {"amount": 10**6}, context=case) == {}


@pytest.mark.parametrize("other,words", [
    ("$$a + ", "is not a sum"), ("2 ** $$a", "is not a sum"), ("$$a + nobody", "'nobody'"),
    ("$$a.", "is not a sum"), ("$$a + 2 * $$", "is not a sum"), ("", "is not a sum"),
])
def test_malformed_sums_are_refused(other, words):
    problem = forms.check_schema(_money({"field": "amount", "op": "<=", "other": other}))
    assert problem and "x-lotse-compare[0].other" in problem and words in problem, problem


def test_a_label_must_give_both_languages_and_age_takes_one_date_field():
    bad_label = {**SUM_RULE, "label": {"de": "Rückstand"}}
    assert "label" in (forms.check_schema(_money(bad_label)) or "")
    s = {"type": "object", "properties": AGE_PROPS, "x-lotse-compare": [
        {**AGE_RULE, "other": "born + 1"}]}
    assert "other_as" in (forms.check_schema(s) or "")


def test_catalogue_payer_amount_is_at_most_arrears_plus_two_rents():
    """Brief 4.6 b: amount ≤ arrears_amount + 2 × monthly_rent_gross (JC and SOZ)."""
    for office in ("jc", "soz"):
        path = BPMN_DIR / f"p0_referral_protocol/p0-bearbeiten-{office}-schema.json"
        schema = forms.load_form(path.read_text(encoding="utf-8"))
        assert forms.check_schema(schema, format_checker=CHECKER) is None
        data = {"outcome": "granted", "decision_date": "2020-01-01",
                "arrears_decision": "grant", "arrears_amount_assumed": 2000.0,
                "uebernahmeerklaerung_date": "2020-01-01"}
        case = {"shared_data": {"arrears_amount": 1000, "monthly_rent_gross": 450}}
        errors = forms.validate_form(schema, data, format_checker=CHECKER, context=case)
        assert list(errors) == ["arrears_amount_assumed"], errors
        ok = forms.validate_form(schema, {**data, "arrears_amount_assumed": 1900.0},
                                 format_checker=CHECKER, context=case)
        assert ok == {}, ok
