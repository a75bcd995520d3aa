"""Referrals as records: created and moved through their states by the messages the
processes exchange (brief 4.1), with due dates from the receiving office's SLA."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import add_at_commit
from engine.db import Database
from engine.models import AuditEvent, Message
from processes.models import Referral
from processes.offices import OfficeRegistry

TERMINAL = frozenset({"completed", "forwarded", "withdrawn", "suspended_consent_revoked"})
OPEN = frozenset({"sent", "acknowledged", "in_progress", "info_requested"})

# message name -> (states it may arrive in, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "referral_acknowledged": (frozenset({"sent"}), "acknowledged"),
    "referral_forwarded": (frozenset({"sent", "acknowledged"}), "forwarded"),
    "referral_info_requested": (frozenset({"acknowledged", "in_progress"}), "info_requested"),
    "referral_info_provided": (frozenset({"info_requested"}), "in_progress"),
    "referral_result": (frozenset({"acknowledged", "in_progress"}), "completed"),
    "referral_withdrawn": (OPEN, "withdrawn"),
}


class ReferralListener:
    """Engine message listener: keeps the referral table in step, in the same transaction."""

    def __init__(self, offices: OfficeRegistry) -> None:
        self.offices = offices

    def audit_facts(self, session: Session, msg: Message, payload: dict) -> dict | None:
        """Offices, referral, case and reason code for the message's audit entries."""
        from processes import message_audit

        return message_audit.facts(session, msg, payload)

    def __call__(self, session: Session, msg: Message, payload: dict, now: datetime) -> None:
        rid = payload.get("referral_id")
        if not rid:
            return
        rid = str(rid)
        if msg.name == "referral_sent":
            self._sent(session, msg, payload, rid, now)
            return
        rule = TRANSITIONS.get(msg.name)
        if rule is None:
            return
        ref = session.get(Referral, rid, with_for_update=True)
        if ref is None:
            return
        allowed, target = rule
        if msg.name == "referral_withdrawn" and payload.get("reason") == "consent_revoked":
            target = "suspended_consent_revoked"
        if ref.state not in allowed:
            return  # late or duplicate message: the referral keeps its state
        _audit_change(session, now, rid, ref.state, target, msg.name, case_id=ref.case_id,
                      reason=payload.get("reason"))
        ref.state = target
        if target == "acknowledged":
            ref.acknowledged_at = now
        if target in TERMINAL:
            ref.closed_at = now
            ref.outcome = payload.get("outcome") or payload.get("reason") or ref.outcome

    def _sent(self, session: Session, msg: Message, payload: dict, rid: str,
              now: datetime) -> None:
        if session.get(Referral, rid) is not None:
            return
        office = self.offices.get(str(payload.get("office")))
        _audit_change(session, now, rid, None, "sent", msg.name,
                      case_id=str(payload.get("case_id") or "") or None)
        session.add(Referral(
            referral_id=rid, case_id=str(payload.get("case_id") or "") or None,
            office=office.code, purpose=payload.get("purpose"), state="sent",
            sender_instance_id=msg.sender_instance_id, sent_at=now,
            consent_id=payload.get("consent_id"),
            due_ack=due_at(payload.get("due_ack"), now, office.sla_ack_days),
            due_result=due_at(payload.get("due_result"), now, office.sla_result_days),
        ))


def due_at(value, sent: datetime, days: int) -> datetime:
    """The record's due time: the one the sending process computed and armed its timers on
    (``due_ack``/``due_result`` of the payload, read by ``processes.dates.to_moment``), else
    ``days`` calendar days after ``sent`` at the same Berlin wall time (``dates.due_in``).
    Never ``sent + timedelta(days=...)`` in UTC: across a change of time that is an hour off
    the Berlin wall time the timers use."""
    from processes import dates

    if value not in (None, ""):
        try:
            return dates.to_moment(value).astimezone(timezone.utc)
        except (ValueError, TypeError):
            pass  # a malformed value in a payload: fall back to the office's SLA
    return dates.to_moment(dates.due_in(sent, days)).astimezone(timezone.utc)


def _audit_change(session: Session, now: datetime, rid: str, old: str | None, new: str,
                  message: str, *, case_id: str | None = None, reason=None) -> None:
    """``referral.status_changed`` with the referral, its case and the reason code of a
    withdrawal (``message_audit.REASONS`` only: never a free-text reason)."""
    from processes.message_audit import REASONS

    details = {"referral_id": rid, "case_id": case_id, "from": old, "to": new,
               "message": message}
    if reason in REASONS:
        details["reason"] = reason
    add_at_commit(session, AuditEvent(at=now, event_type="referral.status_changed",
                                      details=details))


def list_referrals(db: Database, *, now: datetime, case_id: str | None = None,
                   office: str | None = None) -> list[dict]:
    """Referrals with their overdue flags as of ``now``."""
    q = select(Referral).order_by(Referral.sent_at, Referral.referral_id)
    if case_id is not None:
        q = q.where(Referral.case_id == case_id)
    if office is not None:
        q = q.where(Referral.office == office)
    with db.reader() as s:
        return [referral_dict(r, now) for r in s.scalars(q)]


def referral_dict(r: Referral, now: datetime) -> dict:
    """A referral as JSON, with derived overdue flags."""
    overdue_ack = r.state == "sent" and now > r.due_ack
    overdue_result = r.state in OPEN and now > r.due_result
    return {
        "referral_id": r.referral_id, "case_id": r.case_id, "office": r.office,
        "purpose": r.purpose, "state": r.state, "sent_at": r.sent_at.isoformat(),
        "due_ack": r.due_ack.isoformat(), "due_result": r.due_result.isoformat(),
        "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None,
        "closed_at": r.closed_at.isoformat() if r.closed_at else None, "outcome": r.outcome,
        "overdue_ack": overdue_ack,
        "overdue_result": overdue_result,
        "first_overdue_at": (r.due_ack.isoformat() if overdue_ack
                             else r.due_result.isoformat() if overdue_result else None),
    }


def make_helpers(offices: OfficeRegistry):
    """Script helpers for SLA dates: ``sla_due(office, "ack"|"result")`` as ISO date."""
    from processes import dates

    def sla_due(office: str, kind: str = "result") -> str:
        o = offices.get(office)
        days = o.sla_ack_days if kind == "ack" else o.sla_result_days
        return dates.add_days(dates.today(), days)

    def escalation_due(office: str) -> str:
        """Sent + 2 x the result SLA: when an unanswered referral goes to KIM_KO."""
        return dates.add_days(dates.today(), 2 * offices.get(office).sla_result_days)

    return {"sla_due": sla_due, "escalation_due": escalation_due}
