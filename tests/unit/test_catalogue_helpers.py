"""The catalogue's script helpers (processes/helpers.py), each on its own, and the consent
listener that moves consents recorded in BPMN into the consent register."""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from engine import clock as engine_clock
from engine import sandbox
from engine.clock import SettableClock
from processes import dates
from processes import helpers as H
from processes.dataprotection import Policy
from processes.offices import OfficeRegistry

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _clock():
    with engine_clock.using(SettableClock(NOW)):
        yield


def consent(office="JC", purpose="JC:SGB2", **kw):
    return {"consent_id": "E-1", "recipient_office": office, "purpose": purpose,
            "data_categories": ["IDENT", "FINANCE"], "includes_health": False,
            "valid_from": "2026-01-01", "valid_until": "2026-12-31", "status": "active", **kw}


def test_has_consent_checks_office_purpose_status_validity_and_category():
    c = [consent()]
    assert H.has_consent(c, "JC", "JC:SGB2")
    assert not H.has_consent(c, "JC", "AA:VERMITTLUNG")
    assert not H.has_consent(c, "ABH", "JC:SGB2")
    assert H.has_consent(c, "JC", "JC:SGB2", "FINANCE")
    assert not H.has_consent(c, "JC", "JC:SGB2", "HOUSING")
    assert not H.has_consent([consent(status="revoked")], "JC", "JC:SGB2")
    assert not H.has_consent([consent(valid_from="2026-03-03")], "JC", "JC:SGB2")
    assert not H.has_consent([consent(valid_until="2026-03-01")], "JC", "JC:SGB2")
    assert H.has_consent([consent(valid_until="2026-03-02")], "JC", "JC:SGB2")  # last day
    assert H.has_consent(c, "JC", "JC:SGB2", on="2026-12-31")
    assert not H.has_consent(c, "JC", "JC:SGB2", on="2027-01-01")
    assert not H.has_consent(None, "JC", "JC:SGB2")


def test_health_needs_the_explicit_flag():
    c = [consent(data_categories=["IDENT", "HEALTH"])]
    assert not H.has_consent(c, "JC", "JC:SGB2", "HEALTH")
    c = [consent(data_categories=["IDENT", "HEALTH"], includes_health=True)]
    assert H.has_consent(c, "JC", "JC:SGB2", "HEALTH")


def test_find_missing_and_consented():
    c = [consent(consent_id="E-1"), consent(consent_id="E-2")]
    assert H.find_consent(c, "JC", "JC:SGB2")["consent_id"] == "E-2"
    assert H.find_consent(c, "ABH", "ABH:AUFENTHALT") is None
    refs = [{"office": "JC", "purpose": "JC:SGB2"}, {"office": "ABH",
                                                    "purpose": "ABH:AUFENTHALT"},
            {"office": "ABH", "purpose": "ABH:AUFENTHALT", "requested_service": "x"}]
    assert H.missing_consents(c, refs) == [{"office": "ABH", "purpose": "ABH:AUFENTHALT"}]
    assert H.consented(refs, c) == [refs[0]]


def test_revoke_consent_marks_and_keeps_the_record():
    out = H.revoke_consent([consent()], "E-1", "2026-03-02")
    assert out[0]["status"] == "revoked" and out[0]["revoked_at"] == "2026-03-02"
    assert not H.has_consent(out, "JC", "JC:SGB2")
    again = H.revoke_consent(out, "E-1", "2026-04-01")
    assert again[0]["revoked_at"] == "2026-03-02"  # never reactivated or re-dated


def test_allowed_categories_follow_the_data_protection_file():
    policy = Policy.load()
    for purpose, cats in policy.purposes.items():
        assert set(H.allowed_categories(purpose)) == set(cats) - {"CM_NOTES"}
    assert H.allowed_categories("SCHULE:AUFNAHME") == ["IDENT", "CONTACT", "FAMILY", "EDU",
                                                       "PLAN"]  # [D] default
    assert H.allowed_categories("UNKNOWN:X") == []


def test_share_by_consent_keeps_only_consented_fields_and_never_notes():
    person = {"first_name": "Amal", "phone": "1", "interview_summary": "x", "unknown": 1,
              "health_notes": "y"}
    case = {"benefits_current": "sgb2", "goals": [
        {"goal_text": "a", "responsible_office": "JC"},
        {"goal_text": "b", "responsible_office": "ABH"}], "eviction_risk": None}
    out = H.share_by_consent(["IDENT", "FINANCE", "PLAN", "CM_NOTES"], "JC", person, case)
    assert out == {"first_name": "Amal", "benefits_current": "sgb2",
                   "goals": [{"goal_text": "a", "responsible_office": "JC"}]}
    assert H.share_by_consent(None, "JC", person) == {}


def test_ids_and_pseudonyms_are_random():
    assert H.new_id("R").startswith("R-") and len(H.new_id("R")) == 14
    assert H.new_id() != H.new_id()
    p = H.pseudonym()
    assert p.startswith("P-") and len(p) == 10 and p != H.pseudonym()


def test_open_referrals_and_turnaround():
    refs = [{"office": "JC", "status": "sent"}, {"office": "JC", "status": "completed",
                                                 "sent_at": "2026-01-01",
                                                 "closed_at": "2026-01-11"},
            {"office": "JC", "status": "completed", "sent_at": "2026-02-01",
             "closed_at": "2026-02-21"},
            {"office": "ABH", "status": "withdrawn"}, {"office": "AA", "status": "not_sent"}]
    assert H.open_referrals(refs) == [refs[0]]
    assert H.turnaround_by_office(refs) == {"JC": 15}
    assert H.days_between("2026-03-01", "2026-02-27") == -2


@pytest.mark.parametrize(("birth", "band"), [("2022-01-01", "0-5"), ("2010-01-01", "6-17"),
                                             ("2000-01-01", "18-26"), ("1990-01-01", "27-44"),
                                             ("1970-01-01", "45-64"), ("1950-01-01", "65+")])
def test_age_band(birth, band):
    assert H.age_band(birth) == band


@pytest.mark.parametrize(("birth", "on", "expected"), [
    ("2020-09-30", "2026-07-31", False),  # turns 6 by 30 Sept: from 1 Aug 2026
    ("2020-09-30", "2026-08-01", True),
    ("2020-10-01", "2026-08-01", False),  # turns 6 after 30 Sept: a year later
    ("2020-10-01", "2027-08-01", True),
    ("2008-03-01", "2026-03-01", False),  # 18
    ("2008-03-02", "2026-03-01", True),
])
def test_schulpflichtig_nrw(birth, on, expected):
    assert H.schulpflichtig(birth, on) is expected


def test_children_facts():
    kids = H.children_facts([{"child_first_name": "Omar", "child_birth_date": "2018-06-01"},
                             {"child_first_name": "X"}])
    assert kids[0]["age"] == 7 and kids[0]["schulpflichtig"] is True
    assert "age" not in kids[1]


def test_registry_helpers():
    helpers = H.make_helpers(OfficeRegistry.load())
    assert helpers["sla_days"]("JC") == 21 and helpers["sla_days"]("JC", "ack") == 5
    assert helpers["referral_due"]("JC", "result", "2026-03-02") == "2026-03-23"
    assert helpers["referral_due"]("WOHN", "result", "2026-03-02", True) == "2026-03-04"
    assert helpers["referral_due"]("WOHN", "result", "2026-03-02") == "2026-03-09"
    assert helpers["referral_due"]("JC", "ack") == "2026-03-07"
    assert helpers["default_purpose"]("MBE") == "MBE:BERATUNG"
    assert helpers["is_external"]("FK") is True and helpers["is_external"]("JC") is False
    for bad in (lambda: helpers["sla_days"]("XYZ"), lambda: helpers["sla_days"]("JC", "x"),
                lambda: helpers["default_purpose"]("XYZ"), lambda: helpers["is_external"]("Q")):
        with pytest.raises(ValueError):
            bad()


def test_helpers_are_registrable_and_callable_from_the_sandbox():
    engine = sandbox.make_script_engine({**dates.HELPERS, **H.HELPERS})
    clash = set(dates.HELPERS) & set(H.HELPERS)
    assert clash == set()
    # scripts' has_consent/find_consent read the consent register of the running step's
    # case (issue 14.2; tests/e2e/test_consent_register.py): outside a step they refuse
    with pytest.raises(Exception, match="consent register"):
        engine.environment.execute('x = has_consent("JC", "JC:SGB2", "FINANCE")', {})
    # the list functions behind them work in the sandbox as before
    lists = sandbox.make_script_engine({**dates.HELPERS, **H.HELPERS,
                                        "has_consent_in": H.has_consent,
                                        "find_consent_in": H.find_consent})
    task = SimpleNamespace(data={"consents": [consent()]})
    assert lists.evaluate(task, 'has_consent_in(consents, "JC", "JC:SGB2", "FINANCE")') is True
    ctx = {"consents": [consent()]}
    lists.environment.execute('c = find_consent_in(consents, "JC", "JC:SGB2")\n'
                              'due = referral_due("JC", "ack", "2026-03-02")', ctx)
    assert ctx["c"]["consent_id"] == "E-1" and ctx["due"] == "2026-03-07"


def test_consent_recorder_writes_the_register_and_consumes_the_message(sqlite_db):
    from processes.consent import Consent

    msg = SimpleNamespace(name="consent_recorded", status="pending", reason=None,
                          sender_instance_id=None)  # the fields of engine.models.Message it reads
    record = consent(consent_id="E-abc", valid_until=None, recorded_by="anna")
    with sqlite_db.unit_of_work() as s:
        H.consent_recorder(s, msg, {"case_id": "K-1", "consents": [record]}, NOW)
        H.consent_recorder(s, msg, {"case_id": "K-1", "consents": [record]}, NOW)  # once
    assert msg.status == "delivered"
    with sqlite_db.reader() as s:
        (c,) = s.query(Consent).all()
        assert (c.case_id, c.recipient_office, c.purpose) == ("K-1", "JC", "JC:SGB2")
        assert c.categories == ["FINANCE", "IDENT"] and c.status == "active"
        assert c.valid_from == date(2026, 1, 1) and c.valid_until == date(2028, 1, 1)
    other = SimpleNamespace(name="referral_sent", status="pending")
    with sqlite_db.unit_of_work() as s:
        assert H.consent_recorder(s, other, {"case_id": "K-1"}, NOW) is None
    assert other.status == "pending"


def test_the_data_protection_file_is_the_only_source_of_the_matrix(tmp_path):
    """Helpers bound to a changed copy of data_protection.toml allow what the copy says."""
    from processes.dataprotection import DEFAULT_PATH, Policy

    text = DEFAULT_PATH.read_text(encoding="utf-8")
    old = '"GA:UNTERSUCHUNG" = ["IDENT", "CONTACT", "HEALTH"]'
    assert old in text
    changed = tmp_path / "dp.toml"
    changed.write_text(text.replace(old, '"GA:UNTERSUCHUNG" = ["IDENT", "HEALTH"]')
                       .replace('court_reference = "HOUSING"', 'court_reference = "IDENT"'),
                       encoding="utf-8")
    shipped = H.make_helpers()
    copy = H.make_helpers(policy=Policy.load(changed))
    assert shipped["allowed_categories"]("GA:UNTERSUCHUNG") == ["IDENT", "CONTACT", "HEALTH"]
    assert copy["allowed_categories"]("GA:UNTERSUCHUNG") == ["IDENT", "HEALTH"]
    record = {"court_reference": "2 C 17/26", "phone": "+49 521 1"}
    assert shipped["share_by_consent"](["IDENT", "CONTACT"], None, record) == {
        "phone": "+49 521 1"}
    assert copy["share_by_consent"](["IDENT"], None, record) == {"court_reference": "2 C 17/26"}
    # the module constants are the shipped file's, not a second copy
    assert H.CATEGORY_MATRIX == H.category_matrix(Policy.load())
    assert H.FIELD_CATEGORIES == Policy.load().fields
    assert not hasattr(H, "_DEFAULT_MATRIX")
