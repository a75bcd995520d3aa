"""Consent-gated referrals: refusal without consent, minimal payloads, revocation, expiry,
and which office may see a case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.audit import verify
from engine.errors import Conflict
from processes.consent import ConsentMissing, case_access, expire_consents, revoke_consent
from processes.dataprotection import Policy
from processes.referrals import list_referrals
from tests import bpmn_builder as B
from tests.conftest import BPMN_DIR
from tests.integration.test_referrals import CASE_DATA, consent_for
from tests.referral_models import cm_process, office_process


def _deploy(engine):
    engine.deploy_files(B.files(cm__bpmn=cm_process(), office__bpmn=office_process()))
    engine.deploy([BPMN_DIR / "kim_consent_followup"])


def _referral(engine):
    (ref,) = list_referrals(engine.db, now=engine.now(), case_id="K-1")
    return ref


def test_referral_without_consent_is_refused_and_nothing_is_written(engine):
    _deploy(engine)
    with pytest.raises(ConsentMissing) as exc:
        engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    assert exc.value.code == "CONSENT_MISSING"
    assert exc.value.fields["office"] == "JC" and exc.value.fields["purpose"] == "JC:SGB2"
    assert engine.tasks() == [] and engine.messages() == []
    assert list_referrals(engine.db, now=engine.now()) == []


def test_consent_for_another_purpose_or_office_does_not_count(engine):
    _deploy(engine)
    consent_for(engine, office="JC", purpose="AA:VERMITTLUNG")
    consent_for(engine, office="ABH", purpose="JC:SGB2")
    with pytest.raises(ConsentMissing):
        engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")


def test_payload_carries_only_consented_categories(engine):
    _deploy(engine)
    consent_for(engine, categories=("IDENT", "FINANCE", "HEALTH", "CM_NOTES"), health=False)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    (task,) = engine.tasks(office="JC")
    received = engine.show(task["instance_id"])["data"]["referral"]
    assert received["data"] == {"first_name": "Amal", "income": 450}  # no notes, no health
    assert received["consent_id"] and _referral(engine)["state"] == "sent"


def test_health_only_with_explicit_consent(engine):
    _deploy(engine)
    consent_for(engine, categories=("IDENT", "HEALTH"), health=True)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    (task,) = engine.tasks(office="JC")
    data = engine.show(task["instance_id"])["data"]["referral"]["data"]
    assert data == {"first_name": "Amal", "health_needs": "diabetes"}


def test_revocation_in_the_middle_of_a_running_referral(engine, db):
    _deploy(engine)
    c = consent_for(engine)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    (ack,) = engine.tasks(office="JC")
    engine.complete(ack["task_id"], {})  # acknowledged, office now works on it
    assert [t["name"] for t in engine.tasks(office="JC")] == ["Anliegen bearbeiten"]
    out = revoke_consent(engine, c["consent_id"], channel="oral")
    assert out["status"] == "revoked"
    assert _referral(engine)["state"] == "suspended_consent_revoked"
    assert engine.tasks(office="JC") == []  # the office's tasks left its queue at once
    assert [t["name"] for t in engine.tasks(office="KIM_CM")] == [
        "Hilfeplan nach Widerruf anpassen"]
    with db.reader() as s:
        assert not case_access(s, Policy.load(), "K-1", frozenset({"JC"}), engine.now()).visible
    with pytest.raises(Conflict):
        revoke_consent(engine, c["consent_id"])  # never reactivated, never revoked twice
    assert verify(db)["ok"]


def test_expiry_works_like_revocation(engine, clock):
    _deploy(engine)
    consent_for(engine, days=10)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    assert expire_consents(engine) == []
    clock.advance(timedelta(days=12))
    (cid,) = expire_consents(engine)
    assert _referral(engine)["state"] == "suspended_consent_revoked"
    assert engine.tasks(office="JC") == []
    assert "Hilfeplan nach Widerruf anpassen" in [t["name"] for t in engine.tasks()]


def test_an_office_sees_a_case_only_with_referral_and_consent(engine, db):
    _deploy(engine)
    policy = Policy.load()
    consent_for(engine, categories=("IDENT", "FINANCE", "CM_NOTES"))
    consent_for(engine, office="ABH", purpose="ABH:AUFENTHALT", categories=("IDENT",))
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    with db.reader() as s:
        jc = case_access(s, policy, "K-1", frozenset({"JC"}), engine.now())
        abh = case_access(s, policy, "K-1", frozenset({"ABH"}), engine.now())
        other = case_access(s, policy, "K-2", frozenset({"JC"}), engine.now())
    # CM_NOTES never shared; REFERRAL: the referral's own process data (issue 14)
    assert jc.visible and jc.categories == {"IDENT", "FINANCE", "REFERRAL"}
    assert not abh.visible  # consent alone is not enough: no referral to ABH
    assert not other.visible
    assert policy.cut(CASE_DATA, jc.categories) == {"case_id": "K-1", "first_name": "Amal",
                                                     "income": 450}


def test_access_report_lists_data_recipients_and_consents(engine, db):
    from processes.access_report import access_report

    _deploy(engine)
    c = consent_for(engine, categories=("IDENT", "FINANCE"))
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    report = access_report(engine, "K-1")
    assert report["data_by_category"]["IDENT"]["first_name"] == "Amal"
    assert report["data_by_category"]["HEALTH"]["health_needs"] == "diabetes"
    (rec,) = report["recipients"]
    assert rec["office"] == "JC" and rec["purposes"] == ["JC:SGB2"]
    assert rec["categories"] == ["FINANCE", "IDENT"] and rec["first_transmission"]
    assert [x["consent_id"] for x in report["consents"]] == [c["consent_id"]]
    assert report["planned_pseudonymisation"] is None  # the case is still open
    from sqlalchemy import select

    from engine.models import AuditEvent

    with db.reader() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.event_type == "data.export"))
    assert verify(db)["ok"]


def test_revoking_the_base_consent_revokes_all_and_starts_the_closure(engine):
    from processes.consent import BASE_PURPOSE

    engine.deploy([BPMN_DIR])  # the whole catalogue, with the closure process P6
    engine.deploy_files(B.files(cm__bpmn=cm_process(), office__bpmn=office_process()))
    base = consent_for(engine, office="KIM_CM", purpose=BASE_PURPOSE,
                       categories=("IDENT", "CONTACT", "CM_NOTES"))
    jc = consent_for(engine)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    out = revoke_consent(engine, base["consent_id"], channel="oral")
    assert out["effects"]["cascaded"] == [jc["consent_id"]]
    assert _referral(engine)["state"] == "suspended_consent_revoked"
    assert engine.tasks(office="JC") == []
    closure = engine.show(out["effects"]["closure"])
    assert closure["process_id"] == "kim_case_closure" and closure["status"] == "running"
    assert closure["data"]["closure_reason"] == "consent_revoked_entirely"
    assert out["effects"]["follow_up"] is None
