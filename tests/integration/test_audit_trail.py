"""Issue 14.3: the case audit alone proves who was sent what. A referral of the shipped
catalogue (kim_single_referral -> office_referral for JC) is walked, and only the case's audit
entries, as the auditor reads them (``web.audit_queries``), are used to reconstruct: which
office sent which message to which office, who received it (instance, element), the
answers, why a task disappeared (element, reason, trigger), and a revocation's withdrawal
with case and reason. No personal value of the case is in any audit entry, and
``lotse audit verify`` (the real CLI) finds the chain intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import clock as engine_clock
from engine.models import AuditEvent
from processes import demo_catalogue as D
from processes.consent import revoke_consent
from tests.integration import test_catalogue_support as S
from tests.integration.test_catalogue_referral import PERSON, _start
from web import audit_queries as aq

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


def _case(cat, case_ref="K-1") -> list[dict]:
    """The case's audit entries, oldest first, exactly as the auditor's case page has them."""
    return aq.export_rows(cat.db, aq.AuditFilter(case_ref=case_ref))


def _one(rows, event_type, **match) -> dict:
    found = [r for r in rows if r["event_type"] == event_type
             and all(r["details"].get(k) == v for k, v in match.items())]
    assert len(found) == 1, (event_type, match, [r["details"] for r in rows
                                                 if r["event_type"] == event_type])
    return found[0]


def _no_personal_values(cat):
    """No value of the test person in any audit entry (raw, before any masking)."""
    with cat.db.reader() as s:
        text = json.dumps([e.details for e in s.scalars(select(AuditEvent))],
                          ensure_ascii=False)
    for key in ("first_name", "last_name", "birth_date", "phone", "interview_summary"):
        assert PERSON[key] not in text, key
    assert "Bitte prüfen" not in text  # the requested service is free text


def _verify_with_cli(db):
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")
    proc = subprocess.run([sys.executable, "-m", "web.cli", "audit", "verify", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is True and out["entries"] > 0


def test_case_audit_reconstructs_who_sent_whom_what(cat, db):
    cm_iid = _start(cat)
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    S.complete(cat, "JC", "Task_ProcessReferral", D.result_data("granted"))
    rows = _case(cat)
    rid = _one(rows, "message.sent", name="referral_sent")["details"]["referral_id"]
    assert rid

    # A (KIM_CM, the case manager's instance) sends the referral to B (JC)
    sent = _one(rows, "message.sent", name="referral_sent")
    assert {k: sent["details"][k] for k in ("from_office", "to_office", "referral_id",
                                            "case_id", "from_instance")} == {
        "from_office": "KIM_CM", "to_office": "JC", "referral_id": rid, "case_id": "K-1",
        "from_instance": cm_iid}
    assert sent["details"]["message_id"]
    assert sent["instance_id"] == cm_iid and sent["office"] == "KIM_CM"
    # B receives it: a new instance of JC's referral protocol, caught by its start event
    got = _one(rows, "message.received", message_id=sent["details"]["message_id"])
    jc_iid = got["instance_id"]
    assert jc_iid != cm_iid and got["office"] == "JC"
    assert {k: got["details"][k] for k in ("name", "from_office", "to_office", "referral_id",
                                           "case_id", "from_instance", "to_instance")} == {
        "name": "referral_sent", "from_office": "KIM_CM", "to_office": "JC",
        "referral_id": rid, "case_id": "K-1", "from_instance": cm_iid, "to_instance": jc_iid}
    assert got["details"]["element"] == got["element_id"] == "Msg_ReferralSent"
    assert got["at"] >= sent["at"]

    # B answers twice (acknowledgement, result) and A receives each answer
    for name in ("referral_acknowledged", "referral_result"):
        answer = _one(rows, "message.sent", name=name)
        assert answer["instance_id"] == jc_iid and answer["office"] == "JC"
        assert {k: answer["details"][k] for k in ("from_office", "to_office", "referral_id",
                                                  "case_id", "from_instance")} == {
            "from_office": "JC", "to_office": "KIM_CM", "referral_id": rid, "case_id": "K-1",
            "from_instance": jc_iid}
        back = _one(rows, "message.received", message_id=answer["details"]["message_id"])
        assert back["instance_id"] == cm_iid and back["office"] == "KIM_CM"
        assert back["details"]["to_instance"] == cm_iid and back["details"]["element"]
        assert back["details"]["from_office"] == "JC" and back["details"]["name"] == name
    assert _one(rows, "message.sent", name="referral_result")["details"]["outcome"] == "granted"
    # the referral's states are in the case audit too, with the case
    states = [r["details"]["to"] for r in rows if r["event_type"] == "referral.status_changed"]
    assert states == ["sent", "acknowledged", "completed"]
    _no_personal_values(cat)
    _verify_with_cli(db)


def test_revocation_withdrawal_and_the_cancelled_task_name_case_reason_and_element(cat, db):
    cm_iid = _start(cat)
    ack = S.find(cat, "JC", "Task_AckReferral")
    consent_id = cat.show(cm_iid)["data"]["consents"][0]["consent_id"]
    revoke_consent(cat, consent_id, channel="phone")
    assert S.names(cat, "JC") == []
    rows = _case(cat)
    rid = _one(rows, "message.sent", name="referral_sent")["details"]["referral_id"]

    _one(rows, "consent.revoked", consent_id=consent_id, case_id="K-1", office="JC")
    # the withdrawal: referral, case and reason, from the case management to the office
    withdrawn = _one(rows, "message.sent", name="referral_withdrawn")
    assert {k: withdrawn["details"][k] for k in ("referral_id", "case_id", "reason",
                                                 "from_office", "to_office")} == {
        "referral_id": rid, "case_id": "K-1", "reason": "consent_revoked",
        "from_office": "KIM_CM", "to_office": "JC"}
    change = _one(rows, "referral.status_changed", to="suspended_consent_revoked")
    assert change["details"]["referral_id"] == rid and change["details"]["case_id"] == "K-1"
    assert change["details"]["reason"] == "consent_revoked"
    received = _one(rows, "message.received", message_id=withdrawn["details"]["message_id"])
    assert received["instance_id"] == ack["instance_id"] and received["office"] == "JC"
    assert received["details"]["reason"] == "consent_revoked"
    # the office's task left its queue: which task, where, and why
    gone = _one(rows, "task.cancelled", task_id=ack["task_id"])
    assert gone["instance_id"] == ack["instance_id"] and gone["office"] == "JC"
    assert gone["element_id"] == "Task_AckReferral"
    assert {k: gone["details"].get(k) for k in ("element", "reason", "trigger",
                                                "trigger_kind", "by_message",
                                                "message_id")} == {
        "element": "Task_AckReferral", "reason": "boundary_event",
        "trigger": "Bnd_WithdrawnAck", "trigger_kind": "message",
        "by_message": "referral_withdrawn", "message_id": withdrawn["details"]["message_id"]}
    _no_personal_values(cat)
    _verify_with_cli(db)


def test_cancelled_instance_and_terminate_end_event_are_reasons_too(cat, clock, db):
    cm_iid = _start(cat)
    clock.advance(timedelta(days=11))  # past due_ack and the escalation (2 x SLA)
    cat.fire_due_timers()
    escalation = S.find(cat, "KIM_KO", "Task_EscalateNoAck")
    ack = S.find(cat, "JC", "Task_AckReferral")
    S.complete(cat, "JC", "Task_AckReferral", D.ack_data())
    rows = _case(cat)
    closed = _one(rows, "task.cancelled", task_id=escalation["task_id"])
    assert closed["instance_id"] == cm_iid and closed["office"] == "KIM_KO"
    assert closed["details"]["element"] == "Task_EscalateNoAck"
    # the acknowledgement ended the waiting subprocess at its terminate end event
    assert closed["details"]["reason"] == "terminate_end_event"
    assert closed["details"]["trigger"] == "End_AckReceived"
    assert closed["details"]["by_message"] == "referral_acknowledged"
    assert closed["details"]["cause"] == "acknowledged"  # End_AckReceived's cancel_reason

    process = S.find(cat, "JC", "Task_ProcessReferral")
    assert cat.cancel(ack["instance_id"], reason="consent_revoked") is True
    rows = _case(cat)
    gone = _one(rows, "task.cancelled", task_id=process["task_id"])
    assert gone["details"]["element"] == "Task_ProcessReferral"
    assert gone["details"]["reason"] == "instance_cancelled"
    assert gone["details"]["cause"] == "consent_revoked"
    assert gone["office"] == "JC"
    _no_personal_values(cat)
    _verify_with_cli(db)


def test_message_audit_facts_keep_ids_and_codes_only():
    """Whatever a listener returns, free text never reaches a message's audit entry."""
    from engine import messaging
    from engine.models import Message

    class Careless:
        def audit_facts(self, session, msg, payload):
            return {"from_office": "Amal Haddad", "to_office": "JC", "reason": "sehr privat",
                    "outcome": "granted"}

    msg = Message(id="m-1", name="referral_result", sender_instance_id=7)
    out = messaging.audit_facts(None, msg, {"referral_id": "R-1", "case_id": "K 1"},
                                [Careless()])
    assert out == {"name": "referral_result", "message_id": "m-1", "from_instance": 7,
                   "from_office": None, "to_office": "JC", "referral_id": "R-1",
                   "case_id": None, "outcome": "granted"}
