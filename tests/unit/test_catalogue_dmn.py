"""The referral suggestion decision (brief 4.3), row by row: the committed DMN table
(``bpmn/p2_support_plan/suggest_referrals.dmn``, which P2's business-rule task calls) evaluated
by SpiffWorkflow's DMN engine in the Lotse sandbox."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine import clock as engine_clock
from engine import sandbox
from engine.bpmn_xml import parse_xml
from engine.clock import SettableClock
from processes import dates
from processes.helpers import HELPERS

DMN_FILE = Path(__file__).resolve().parents[2] / "bpmn/p2_support_plan/suggest_referrals.dmn"
TODAY = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
ENGINE = sandbox.make_script_engine({**dates.HELPERS, **HELPERS})

BASE = {  # a case that triggers no rule
    "permit_valid_until": None, "renewal_applied_date": None, "bamf_decision": "none",
    "benefits_current": "sgb2", "children": [], "eviction_risk": False,
    "integration_course_status": "completed", "foreign_qualification": False,
    "recognition_status": None, "kindergeld_status": None, "birth_date": "1980-01-01",
    "employment_status": "employed",
}
CHILD_NOT_ENROLLED = {"child_first_name": "Omar", "child_birth_date": "2017-05-01",
                      "school_status": "not_enrolled", "age": 8, "schulpflichtig": True}
TODDLER = {"child_first_name": "Lina", "child_birth_date": "2023-06-01",
           "school_status": "too_young", "kita_status": "none", "age": 2,
           "schulpflichtig": False}

# (row, case data that should trigger exactly that row, office:purpose expected)
ROWS = [
    (1, {"permit_valid_until": "2026-04-15"}, {"ABH:AUFENTHALT"}),
    (2, {"bamf_decision": "fluechtling", "benefits_current": "asylblg"},
     {"JC:SGB2", "SOZ:LEISTUNG", "ABH:AUFENTHALT"}),
    (5, {"children": [CHILD_NOT_ENROLLED], "kindergeld_status": "granted"},
     {"KI_SEB:SCHULPLATZ"}),
    (6, {"children": [TODDLER], "kindergeld_status": "granted"}, {"JA:JUGENDHILFE"}),
    (7, {"eviction_risk": True}, {"WOHN:SICHERUNG"}),
    (8, {"integration_course_status": "entitled_not_registered"}, {"IKT:KURSANMELDUNG"}),
    (8, {"integration_course_status": "obliged_not_registered"}, {"IKT:KURSANMELDUNG"}),
    (9, {"foreign_qualification": True, "recognition_status": "none"}, {"ANERK:BERATUNG"}),
    (10, {"children": [{**CHILD_NOT_ENROLLED, "school_status": "attending"}],
          "kindergeld_status": "none"}, {"FK:KINDERGELD"}),
    (11, {"birth_date": "2005-01-01"}, {"JMD:BERATUNG"}),
    (12, {"employment_status": "unemployed", "benefits_current": "none"}, {"AA:VERMITTLUNG"}),
]
# (case data just outside a row's condition)
NEAR_MISSES = [
    {"permit_valid_until": "2026-04-28"},  # 57 days
    {"permit_valid_until": "2026-04-15", "renewal_applied_date": "2026-02-01"},
    {"bamf_decision": "fluechtling", "benefits_current": "sgb2"},
    {"bamf_decision": "abgelehnt", "benefits_current": "asylblg"},
    {"children": [{**CHILD_NOT_ENROLLED, "schulpflichtig": False}], "kindergeld_status": "x"},
    {"children": [{**TODDLER, "age": 0}], "kindergeld_status": "granted"},
    {"children": [{**TODDLER, "kita_status": "attending"}], "kindergeld_status": "granted"},
    {"integration_course_status": "registered"},
    {"foreign_qualification": True, "recognition_status": "applied"},
    {"children": [{**CHILD_NOT_ENROLLED, "school_status": "attending"}],
     "kindergeld_status": "applied"},
    {"birth_date": "1999-01-01"},  # 27
    {"birth_date": "2014-03-03"},  # 11
    {"employment_status": "unemployed", "benefits_current": "sgb2"},
]


def _decision():
    parser = SpiffBpmnParser()
    parser.add_dmn_xml(parse_xml(DMN_FILE.read_bytes()).getroot(), filename=DMN_FILE.name)
    return parser.get_engine("suggest_referrals", None)


DMN = _decision()


def _task(data: dict):
    return SimpleNamespace(data=data, workflow=SimpleNamespace(script_engine=ENGINE))


def _via_dmn(data: dict) -> list[tuple[str, str, str]]:
    with engine_clock.using(SettableClock(TODAY)):
        out = DMN.result(_task(data))
    return list(zip(out.get("suggested_office", []), out.get("suggested_purpose", []),
                    out.get("suggested_process", []), strict=True))


def _purposes(rows) -> set[str]:
    return {purpose for _office, purpose, _process in rows}


def test_the_table_has_one_row_per_brief_rule_and_collects():
    assert 'hitPolicy="COLLECT"' in DMN_FILE.read_text(encoding="utf-8")
    # brief 4.3: 10 rules, the P4 rule suggests three offices
    assert len(DMN.decision_table.rules) == 12


def test_no_rule_fires_for_a_quiet_case():
    assert _via_dmn(BASE) == []


@pytest.mark.parametrize(("row", "change", "expected"), ROWS,
                         ids=[f"row{r}-{sorted(e)[0]}" for r, _, e in ROWS])
def test_each_row_fires_on_its_condition(row, change, expected):
    data = {**BASE, **change}
    assert _purposes(_via_dmn(data)) == expected


@pytest.mark.parametrize("change", NEAR_MISSES)
def test_just_outside_a_condition_nothing_fires(change):
    data = {**BASE, **change}
    assert _via_dmn(data) == []


def test_topic_processes_are_named():
    data = {**BASE, "bamf_decision": "subsidiaer", "benefits_current": "asylblg",
            "eviction_risk": True, "children": [CHILD_NOT_ENROLLED], "kindergeld_status": "none"}
    rows = _via_dmn(data)
    processes = {purpose: process for _o, purpose, process in rows}
    assert processes["JC:SGB2"] == "kim_recognition_transition"
    assert processes["WOHN:SICHERUNG"] == "kim_housing_emergency"
    assert processes["KI_SEB:SCHULPLATZ"] == "kim_school_enrolment"
    assert processes["FK:KINDERGELD"] == ""


def test_several_rules_collect_in_table_order():
    data = {**BASE, "permit_valid_until": "2026-03-20", "employment_status": "unemployed",
            "benefits_current": "none", "birth_date": "2004-06-01"}
    assert [p for _o, p, _x in _via_dmn(data)] == ["ABH:AUFENTHALT", "JMD:BERATUNG",
                                                    "AA:VERMITTLUNG"]
