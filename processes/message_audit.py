"""What the audit entries of a message name in KIM terms (brief 5.5, ``message.sent`` and
``message.received``: name, referral_id, sender/recipient office): which office sent it to
which, for which referral and case, and why (a reason code of a fixed vocabulary).

The engine asks its message listeners for these facts (``audit_facts``);
``processes.referrals.ReferralListener`` answers with ``facts`` below. Only ids and codes
leave this module: a free-text reason (e.g. why an office is not responsible) is never
taken, only the codes listed here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.models import Message
from processes.models import Referral

# the case management, which sends every referral (brief 4.1), unless the payload names
# another sending office (``sender_office``)
CASE_MANAGEMENT = "KIM_CM"
# referral messages from the case management to the receiving office; every other
# ``referral_*`` message goes from the office back to the case management
TO_OFFICE = frozenset({"referral_sent", "referral_info_provided", "referral_withdrawn",
                       "referral_escalated"})
# reason codes a payload may carry (withdrawal reasons, brief 4.1; escalation "no_ack")
REASONS = frozenset({"consent_revoked", "case_closed", "client_request", "duplicate",
                     "no_ack"})
OUTCOMES = frozenset({"granted", "partially_granted", "rejected", "appointment_scheduled",
                      "no_action_needed", "withdrawn", "forwarded"})


def _code(value) -> str | None:
    return str(value) if value not in (None, "") else None


def facts(session: Session, msg: Message, payload: dict) -> dict | None:
    """Sender and recipient office, referral, case and reason of a referral message (None
    for other messages: the engine then names the case and the catching lane)."""
    rid = _code(payload.get("referral_id"))
    if rid is None or not msg.name.startswith("referral_"):
        return None
    ref = session.get(Referral, rid)
    office = _code(payload.get("office")) or (ref.office if ref is not None else None)
    case_id = _code(payload.get("case_id")) or (ref.case_id if ref is not None else None)
    manager = _code(payload.get("sender_office")) if msg.name == "referral_sent" else None
    manager = manager or CASE_MANAGEMENT
    to_office = msg.name in TO_OFFICE
    out = {"referral_id": rid, "case_id": case_id,
           "from_office": manager if to_office else office,
           "to_office": office if to_office else manager}
    if payload.get("reason") in REASONS:
        out["reason"] = payload["reason"]
    if payload.get("outcome") in OUTCOMES:
        out["outcome"] = payload["outcome"]
    return out
