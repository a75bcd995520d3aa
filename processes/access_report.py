"""The Art. 15 GDPR access report for the person of a case (DP-15)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.actor import SYSTEM, Actor
from engine.audit import add_at_commit
from engine.models import AuditEvent, Message, ProcessInstance
from engine.stored_clock import parse_duration
from processes.consent import Consent, consent_dict
from processes.dataprotection import ENVELOPE, Policy
from processes.models import Referral
from processes.retention import DEFAULT_MONTHS

RIGHTS = [
    {"de": "Auskunft (Art. 15 DSGVO)", "en": "Access (Art. 15 GDPR)"},
    {"de": "Berichtigung (Art. 16 DSGVO)", "en": "Rectification (Art. 16 GDPR)"},
    {"de": "Löschung (Art. 17 DSGVO)", "en": "Erasure (Art. 17 GDPR)"},
    {"de": "Einschränkung der Verarbeitung (Art. 18 DSGVO)",
     "en": "Restriction of processing (Art. 18 GDPR)"},
    {"de": "Widerruf einer Einwilligung mit Wirkung für die Zukunft (Art. 7 Abs. 3 DSGVO)",
     "en": "Withdrawal of consent for the future (Art. 7(3) GDPR)"},
    {"de": "Beschwerde bei der Aufsichtsbehörde (Art. 77 DSGVO)",
     "en": "Complaint to the supervisory authority (Art. 77 GDPR)"},
]


def access_report(engine, case_ref: str, *, actor: Actor = SYSTEM,
                  policy: Policy | None = None) -> dict:
    """Data by category, purposes, recipients with dates, consents, planned pseudonymisation."""
    policy = policy or Policy.load()
    now = engine.now()
    with engine.db.reader() as s:
        instances = s.scalars(select(ProcessInstance).where(ProcessInstance.case_ref == case_ref)
                              .order_by(ProcessInstance.id)).all()
        consents = [consent_dict(c) for c in s.scalars(
            select(Consent).where(Consent.case_id == case_ref).order_by(Consent.recorded_at))]
        referrals = s.scalars(select(Referral).where(Referral.case_id == case_ref)).all()
        sent = dict(s.execute(
            select(Message.corr_value, func.min(Message.created_at))
            .where(Message.name == "referral_sent", Message.corr_key == "referral_id",
                   Message.corr_value.in_([r.referral_id for r in referrals]))
            .group_by(Message.corr_value)).all()) if referrals else {}
    if not instances and not consents:
        from engine.errors import NotFound

        raise NotFound(f"case {case_ref} not found")
    data: dict = {}
    for inst in instances:
        for key, value in engine.show(inst.id)["data"].items():
            if key not in ENVELOPE:
                data[key] = value
    # every single value with its own category: nested records (children, goals, a stored
    # referral's shared_data) field by field, as the policy classifies them
    by_category: dict[str, dict] = {}
    for path, cat, value in policy.values_of(dict(sorted(data.items()))):
        by_category.setdefault(cat, {})[path] = value
    recipients: dict[str, dict] = {}
    for r in referrals:
        consent = next((c for c in consents if c["consent_id"] == r.consent_id), None)
        first = sent.get(r.referral_id, r.sent_at)
        rec = recipients.setdefault(r.office, {"office": r.office, "purposes": [],
                                               "categories": [], "first_transmission": None,
                                               "last_transmission": None})
        if r.purpose and r.purpose not in rec["purposes"]:
            rec["purposes"].append(r.purpose)
        if consent:
            rec["categories"] = sorted(set(rec["categories"]) | set(consent["categories"]))
        stamps = [t for t in (rec["first_transmission"], first.isoformat()) if t]
        rec["first_transmission"], rec["last_transmission"] = min(stamps), max(
            [t for t in (rec["last_transmission"], first.isoformat()) if t])
    ended = [i.completed_at for i in instances if i.completed_at is not None]
    all_ended = instances and all(i.status in ("completed", "cancelled", "pseudonymised")
                                  for i in instances)
    planned = (max(ended) + timedelta(days=round(DEFAULT_MONTHS * 30.44))).date().isoformat() \
        if all_ended and ended else None
    report = {
        "case_id": case_ref,
        "generated_at": now.isoformat(),
        "answer_due_by": (now + parse_duration("P1M", now)).date().isoformat(),
        "data_by_category": by_category,
        "purposes": sorted({c["purpose"] for c in consents} | {r.purpose for r in referrals
                                                                if r.purpose}),
        "recipients": sorted(recipients.values(), key=lambda r: r["office"]),
        "consents": consents,
        "planned_pseudonymisation": planned,
        "sources": ["betroffene Person / data subject"],
        "rights": RIGHTS,
    }
    with engine.db.unit_of_work() as s:
        add_at_commit(s, AuditEvent(at=now, event_type="data.export", actor=actor.user,
                                    details={"case_id": case_ref, "report": "art15",
                                             "categories": sorted(by_category)}))
    return report
