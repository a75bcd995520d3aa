"""The container rule of data_protection.toml (issue 14.1): an object under a declared
container key is no field of its own; each key inside it is classified by its own name, at
any depth, by every cut and every read-log entry."""

from __future__ import annotations

import pytest

from processes.dataprotection import DataProtectionConfigError, Policy

POLICY = Policy.load()
CM_WITHOUT_HEALTH = frozenset(set(POLICY.categories) - {"HEALTH"})


def test_a_referral_payload_is_cut_field_by_field():
    data = {"referral_id": "R-1", "office": "JC", "outcome": "new",
            "shared_data": {"first_name": "Amal", "income": 450, "health_needs": "x"},
            "referral": {"referral_id": "R-1", "sent_at": "2026-03-01",
                         "data": {"first_name": "Amal", "income": 450, "health_needs": "x"}}}
    out = POLICY.cut(data, frozenset({"IDENT", "FINANCE"}))
    assert out == {"referral_id": "R-1", "office": "JC",
                   "shared_data": {"first_name": "Amal", "income": 450},
                   "referral": {"referral_id": "R-1",
                                "data": {"first_name": "Amal", "income": 450}}}
    # nothing of a category left: the container goes too
    assert POLICY.cut({"shared_data": {"health_needs": "x"}}, frozenset({"IDENT"})) == {}
    assert [p for p, _c, _v in POLICY.leaves(out)] == [
        "shared_data.first_name", "shared_data.income", "referral.data.first_name",
        "referral.data.income"]
    assert POLICY.categories_in(out) == ["FINANCE", "IDENT"]
    # outcome and sent_at are referral process data (REFERRAL, issue 14)
    assert POLICY.categories_in(data) == ["FINANCE", "HEALTH", "IDENT", "REFERRAL"]


def test_the_case_manager_without_health_consent_no_longer_sees_the_person_record_whole():
    person = {"first_name": "Amal", "health_needs": "Diabetes", "interview_summary": "n"}
    out = POLICY.cut({"person": person, "unknown_blob": {"health_needs": "x"}},
                     CM_WITHOUT_HEALTH)
    assert out == {"person": {"first_name": "Amal", "interview_summary": "n"},
                   "unknown_blob": {"health_needs": "x"}}  # undeclared object: CM_NOTES
    assert POLICY.cut({"unknown_blob": {"first_name": "A"}}, frozenset({"IDENT"})) == {}
    assert POLICY.cut({"person": "not an object"}, frozenset({"IDENT"})) == {}


def test_a_container_may_not_also_be_a_field(tmp_path):
    path = tmp_path / "dp.toml"
    path.write_text('[categories]\nIDENT = { de = "Identität", en = "Identity" }\n'
                    '[fields]\nperson = "IDENT"\n[containers]\nkeys = ["person", "case_id"]\n',
                    encoding="utf-8")
    with pytest.raises(DataProtectionConfigError) as exc:
        Policy.load(path)
    assert "container case_id" in str(exc.value) and "container person" in str(exc.value)
    assert POLICY.label("HEALTH") == "Gesundheit (Art. 9 DSGVO)"
    assert POLICY.label("HEALTH", "en") == "Health (Art. 9 GDPR)"
