"""Rules that depend on the case data of earlier tasks: the keyword ``x-lotse-case-if``
(engine/form_case.py). A rule applies its ``then`` schema to the form when a ``$$key`` of
the case data meets the condition (a value, a range, or the age of a date); without case
data, or when the key is absent, the rule does not apply. Deploy and lint refuse malformed
rules; the catalogue uses it for the consent signer by age and the school form by track."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine import clock, forms
from processes.validators import make_format_checker
from tests.conftest import BPMN_DIR

CHECKER = make_format_checker()
PROPS = {"signed_by": {"type": "string", "enum": ["self", "guardian"],
                       "title": "Unterschrieben von", "x-title-en": "Signed by"},
         "guardian_name": {"type": "string", "title": "Name Sorgeberechtigte"},
         "signed_on": {"type": "string", "format": "date", "title": "Datum"},
         "school_form": {"type": "string", "title": "Schulform"}}
NOT_SELF = {"properties": {"signed_by": {"not": {"const": "self"}, "x-messages": {"not": {
    "de": "Unter 16 unterschreiben Sorgeberechtigte", "en": "Under 16 a guardian signs"}}}}}
UNDER_16 = {"key": "$$person.birth_date", "as": "age", "on": "signed_on", "maximum": 15,
            "then": NOT_SELF}
TEEN = {"key": ["$$birth_date", "$$person.birth_date"], "as": "age", "minimum": 16,
        "maximum": 17, "then": {"required": ["guardian_name"]}}
TRACK = {"key": "$$track", "enum": ["primar"], "then": {"properties": {"school_form": {
    "enum": ["grundschule"]}}}}


def _schema(*rules):
    return {"type": "object", "properties": PROPS, "x-lotse-case-if": list(rules)}


def _check(schema, data, case, lang="de"):
    with clock.using(clock.SettableClock(datetime(2026, 3, 15, 10, tzinfo=timezone.utc))):
        return forms.validate_form(schema, data, context=case, lang=lang)


@pytest.mark.parametrize("born,ok", [("2010-03-16", False), ("2010-03-15", True)])
def test_age_on_todays_date_decides(born, ok):
    s = _schema({k: v for k, v in UNDER_16.items() if k != "on"})
    assert forms.check_schema(s) is None
    errors = _check(s, {"signed_by": "self"}, {"person": {"birth_date": born}})
    assert (errors == {}) is ok, errors
    if not ok:
        assert errors == {"signed_by": ["Unter 16 unterschreiben Sorgeberechtigte"]}
        en = _check(s, {"signed_by": "self"}, {"person": {"birth_date": born}}, "en")
        assert en == {"signed_by": ["Under 16 a guardian signs"]}


def test_age_on_a_date_field_of_the_form():
    s = _schema(UNDER_16)
    case = {"person": {"birth_date": "2010-03-10"}}  # 16 since 10 March 2026
    assert _check(s, {"signed_by": "self", "signed_on": "2026-03-01"}, case) != {}
    assert _check(s, {"signed_by": "self", "signed_on": "2026-03-10"}, case) == {}
    assert _check(s, {"signed_by": "self"}, case) == {}  # no date: today


def test_the_first_present_key_counts_and_a_range_needs_both_ends():
    s = _schema(TEEN)
    assert forms.check_schema(s) is None
    teen = {"birth_date": None, "person": {"birth_date": "2009-06-01"}}  # 16
    assert _check(s, {"signed_by": "self"}, teen) == {"guardian_name": ["Pflichtfeld"]}
    assert _check(s, {"signed_by": "self", "guardian_name": "A"}, teen) == {}
    adult = {"birth_date": "2007-01-01", "person": {"birth_date": "2009-06-01"}}  # 19 first
    assert _check(s, {"signed_by": "self"}, adult) == {}


def test_a_value_in_the_case_data_selects_the_schema():
    s = _schema(TRACK)
    assert _check(s, {"school_form": "gymnasium"}, {"track": "primar"}) == {
        "school_form": ["Ungültiger Wert (erlaubt: grundschule)"]}
    assert _check(s, {"school_form": "gymnasium"}, {"track": "sek1"}) == {}
    assert _check(s, {"school_form": "grundschule"}, {"track": "primar"}) == {}


@pytest.mark.parametrize("case", [None, {}, {"track": None}, {"person": {"birth_date": "x"}},
                                  {"person": {"birth_date": "2030-01-01"}}])
def test_without_the_case_value_no_rule_applies(case):
    s = _schema(UNDER_16, TRACK)
    assert _check(s, {"signed_by": "self", "school_form": "gymnasium"}, case) == {}


@pytest.mark.parametrize("rule,words", [
    ({**TRACK, "key": "track"}, "'$$key'"),
    ({**TRACK, "key": []}, "'$$key'"),
    ({**TRACK, "then": "x"}, "then"),
    ({**TRACK, "then": {"type": "nonsense"}}, "then"),
    ({k: v for k, v in TRACK.items() if k != "then"}, "then"),
    ({"key": "$$track", "then": {}}, "condition"),
    ({**UNDER_16, "as": "years"}, "'age'"),
    ({**UNDER_16, "on": "nobody"}, "'nobody'"),
    ({**UNDER_16, "maximum": "15"}, "maximum"),
    ({**TRACK, "enum": "primar"}, "enum"),
    ({**TRACK, "extra": 1}, "unknown key 'extra'"),
])
def test_malformed_rules_are_refused(rule, words):
    problem = forms.check_schema(_schema(rule))
    assert problem and "x-lotse-case-if" in problem and words in problem, problem
    assert "x-lotse-case-if" in (forms.check_schema({"type": "object", "properties": {
        "n": {"type": "string", "x-lotse-case-if": [TRACK]}}}) or "")


def test_a_rule_inside_then_is_checked_too():
    bad = {**TRACK, "then": {"properties": {"d": {"type": "string",
                                                  "x-lotse-date": {"min": "tomorrow"}}}}}
    assert "x-lotse-date" in (forms.check_schema(_schema(bad)) or "")


def _form(path):
    return forms.load_form((BPMN_DIR / path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", ["p1_intake_clearing/p1-einwilligung-cm-schema.json",
                                  "p2_support_plan/p2-einwilligung-schema.json",
                                  "kim_single_referral/vm-einwilligung-schema.json"])
def test_catalogue_consents_follow_the_signer_rules_by_age(path):
    """F1.4/F2.3 (brief: under 16 not `self`; 16-17 `self` and a guardian signature)."""
    schema = _form(path)
    assert forms.check_schema(schema, format_checker=CHECKER) is None
    given = "consent_cm_given" if "cm" in path else "consent_given"
    date_field = "consent_date" if "cm" in path else "valid_from"
    base = {given: True, "signed_by": "self", date_field: "2026-03-01"}

    def errors(born, **data):
        case = {"birth_date": born, "person": {"birth_date": born}}
        found = _check({**schema, "required": [], "allOf": []}, {**base, **data}, case)
        return {k: v for k, v in found.items() if k in ("signed_by", "guardian_name",
                                                          "guardian_cosigned")}

    assert errors("2011-01-01") and "signed_by" in errors("2011-01-01")      # 15
    assert errors("2011-01-01", signed_by="parent_guardian", guardian_name="A") == {}
    assert set(errors("2009-06-01")) == {"guardian_name", "guardian_cosigned"}  # 16
    assert "signed_by" in errors("2009-06-01", signed_by="parent_guardian",
                                 guardian_name="A", guardian_cosigned=True)
    assert errors("2009-06-01", guardian_name="A", guardian_cosigned=True) == {}
    assert errors("2000-01-01") == {}                                          # adult


def test_catalogue_school_form_fits_the_track():
    schema = _form("p3_school_enrolment/p3-schulplatz-schema.json")
    assert forms.check_schema(schema, format_checker=CHECKER) is None
    loose = {**schema, "required": []}
    for track, fits, not_fits in (("primar", "grundschule", "gymnasium"),
                                  ("sek1", "gymnasium", "grundschule"),
                                  ("berufskolleg", "berufskolleg", "grundschule")):
        assert _check(loose, {"school_form": fits}, {"track": track}) == {}
        assert list(_check(loose, {"school_form": not_fits}, {"track": track})) == [
            "school_form"]


def test_catalogue_feedback_question_is_required_for_a_referred_inquiry():
    """F1.4: feedback_to_referrer is required if source_channel (F1.1) = referral_office."""
    schema = _form("p1_intake_clearing/p1-einwilligung-cm-schema.json")
    data = {"consent_cm_given": True, "consent_date": "2026-03-01", "consent_form":
            "elektronisch", "signed_by": "self", "consent_language": "ar",
            "includes_health_data": False}
    adult = {"birth_date": "1990-01-01"}
    assert _check(schema, data, {**adult, "source_channel": "referral_office"}) == {
        "feedback_to_referrer": ["Pflichtfeld"]}
    assert _check(schema, data, {**adult, "source_channel": "walk_in"}) == {}
