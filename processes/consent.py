"""Consents (DP-02), the access decision (DP-03/04), minimal referral payloads (DP-05) and
revocation and expiry with their effects (DP-06/07)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.actor import SYSTEM, Actor
from engine.audit import add_at_commit
from engine.clock import BERLIN
from engine.errors import Conflict, InvalidInput, LotseError
from engine.models import AuditEvent, Base, Message, UTCDateTime
from processes.dataprotection import Policy
from processes.models import Referral
from processes.referrals import OPEN

BASE_PURPOSE = "KIM_CM:CASE_MANAGEMENT"


class ConsentMissing(LotseError):
    """A referral was to be sent without an active consent for office and purpose."""

    code = "CONSENT_MISSING"


class ConsentScope(LotseError):
    """A category outside the consent was asked for explicitly (403)."""

    code = "CONSENT_SCOPE"


class ConsentDuplicate(Conflict):
    """A consent for the same case, office and purpose with an overlapping validity is
    active already (409): the register keeps one consent per case, office and purpose."""

    code = "CONSENT_DUPLICATE"


class Consent(Base):
    """A person's consent to share categories of case data with an office for a purpose."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_case_office", "case_id", "recipient_office", "status"),)
    consent_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(100))
    person_ref: Mapped[str | None] = mapped_column(String(40))
    recipient_office: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(60))
    categories: Mapped[list] = mapped_column(JSON)
    includes_health: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # active|revoked|expired
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_channel: Mapped[str | None] = mapped_column(String(40))
    revoked_by: Mapped[str | None] = mapped_column(String(100))


def _today(now: datetime) -> date:
    return now.astimezone(BERLIN).date()


def active_consent(session: Session, case_id: str, office: str, purpose: str | None,
                   now: datetime) -> Consent | None:
    """The active, currently valid consent for (case, office[, purpose])."""
    today = _today(now)
    q = select(Consent).where(Consent.case_id == case_id, Consent.recipient_office == office,
                              Consent.status == "active", Consent.valid_from <= today,
                              Consent.valid_until >= today)
    if purpose is not None:
        q = q.where(Consent.purpose == purpose)
    return session.scalars(q.order_by(Consent.recorded_at.desc())).first()


def record_consent(engine, *, case_id: str, office: str, purpose: str, categories: list[str],
                   valid_from: date, valid_until: date, includes_health: bool = False,
                   actor: Actor = SYSTEM, policy: Policy | None = None) -> dict:
    """Record a consent (immutable afterwards except for its status)."""
    policy = policy or Policy.load()
    unknown = [c for c in categories if c not in policy.categories]
    if unknown:
        raise InvalidInput(f"unknown data categories: {', '.join(unknown)}")
    if valid_until < valid_from:
        raise InvalidInput("valid_until lies before valid_from")
    if purpose not in policy.purposes:
        raise InvalidInput(f"unknown purpose {purpose}")
    now = engine.now()
    with engine.db.unit_of_work() as s:
        existing = overlapping(s, case_id, office, purpose, valid_from, valid_until)
        if existing is not None:
            raise ConsentDuplicate(
                f"Für Fall {case_id}, Stelle {office} und Zweck {purpose} besteht bereits "
                f"eine aktive Einwilligung ({existing.consent_id}, gültig "
                f"{existing.valid_from.isoformat()} bis {existing.valid_until.isoformat()}); "
                "sie wird nicht doppelt erfasst. Zum Ändern widerrufen und neu erfassen. / "
                f"An active consent for case {case_id}, office {office} and purpose {purpose} "
                f"exists already ({existing.consent_id}, valid {existing.valid_from.isoformat()}"
                f" to {existing.valid_until.isoformat()}); it is not recorded twice. To change "
                "it, revoke it and record a new one.",
                consent_id=existing.consent_id, office=office, purpose=purpose)
        c = Consent(consent_id=str(uuid.uuid4()), case_id=case_id, recipient_office=office,
                    purpose=purpose, categories=sorted(set(categories)),
                    includes_health=includes_health, valid_from=valid_from,
                    valid_until=valid_until, status="active", recorded_by=actor.user,
                    recorded_at=now)
        s.add(c)
        audit_recorded(s, c, actor=actor, now=now)
        return consent_dict(c)


def overlapping(s: Session, case_id: str, office: str, purpose: str, valid_from: date,
                valid_until: date) -> Consent | None:
    """The active consent of (case, office, purpose) whose validity overlaps the given one
    (the oldest, the one a duplicate is refused for or merged into)."""
    return s.scalars(select(Consent).where(
        Consent.case_id == case_id, Consent.recipient_office == office,
        Consent.purpose == purpose, Consent.status == "active",
        Consent.valid_from <= valid_until, Consent.valid_until >= valid_from,
    ).order_by(Consent.recorded_at, Consent.consent_id)).first()


def register_from_process(s: Session, case_id: str, record: dict, *, now: datetime,
                          instance_id: int | None) -> tuple[Consent, bool]:
    """A consent a process recorded (a DP-02 record of its form F1.4/F2.3) into the register,
    in the step's session; returns (the register's row, whether it was merged).

    One consent per case, office and purpose: when an active one overlaps, nothing is added;
    the existing consent is extended (categories added, health flag, validity widened) and
    ``consent.merged`` names both ids. A process re-recording the same consent (a retried
    step, a message announcing what a helper registered) changes nothing."""
    start = _day(record.get("valid_from")) or _today(now)
    end = _day(record.get("valid_until")) or start.replace(year=start.year + 2)
    office, purpose = str(record["recipient_office"]), str(record["purpose"])
    cats = set(record.get("data_categories") or record.get("categories") or [])
    health = bool(record.get("includes_health"))
    existing = s.get(Consent, record.get("consent_id")) if record.get("consent_id") else None
    if existing is not None and existing.status != "active":
        return existing, True  # a revoked or expired consent is never reactivated
    if existing is None:
        existing = overlapping(s, case_id, office, purpose, start, end)
    if existing is None:
        row = Consent(consent_id=str(record.get("consent_id") or uuid.uuid4()),
                      case_id=case_id, recipient_office=office, purpose=purpose,
                      categories=sorted(cats), includes_health=health, valid_from=start,
                      valid_until=end, status="active", recorded_by=record.get("recorded_by"),
                      recorded_at=now)
        s.add(row)
        # same transaction as the row: no consent without its consent.recorded entry
        audit_recorded(s, row, actor=Actor(), now=now, via="process", instance_id=instance_id)
        s.flush()
        return row, False
    before = (set(existing.categories), existing.includes_health, existing.valid_from,
              existing.valid_until)
    existing.categories = sorted(before[0] | cats)
    existing.includes_health = before[1] or health
    existing.valid_from = min(before[2], start)
    existing.valid_until = max(before[3], end)
    after = (set(existing.categories), existing.includes_health, existing.valid_from,
             existing.valid_until)
    if after != before or record.get("consent_id") not in (None, existing.consent_id):
        details: dict[str, Any] = {
            "consent_id": existing.consent_id, "office": office, "purpose": purpose,
            "case_id": case_id, "categories": list(existing.categories),
            "valid_from": existing.valid_from.isoformat(),
            "valid_until": existing.valid_until.isoformat(), "via": "process"}
        if record.get("consent_id") not in (None, existing.consent_id):
            details["merged_consent_id"] = record["consent_id"]
        if instance_id is not None:
            details["from_instance"] = instance_id
        _audit(s, "consent.merged", Actor(), now, case_id, details)
    s.flush()
    return existing, True


def case_consents(s: Session, case_id: str, now: datetime) -> list[dict]:
    """The case's active, currently valid consents as processes read them (DP-02 records:
    recipient_office, purpose, data_categories, includes_health, validity)."""
    today = _today(now)
    rows = s.scalars(select(Consent).where(
        Consent.case_id == case_id, Consent.status == "active", Consent.valid_from <= today,
        Consent.valid_until >= today).order_by(Consent.recorded_at, Consent.consent_id))
    return [process_record(c) for c in rows]


def process_record(c: Consent) -> dict:
    """A register row in the shape of the processes' DP-02 records."""
    return {"consent_id": c.consent_id, "recipient_office": c.recipient_office,
            "purpose": c.purpose, "data_categories": list(c.categories),
            "includes_health": c.includes_health, "valid_from": c.valid_from.isoformat(),
            "valid_until": c.valid_until.isoformat(), "status": c.status}


def _day(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def audit_recorded(s: Session, c: Consent, *, actor: Actor, now: datetime,
                   via: str | None = None, instance_id: int | None = None) -> None:
    """The ``consent.recorded`` entry of a consent, in the session that adds it: ids, office,
    purpose and categories only. Every path that records a consent calls this (the register
    form and CLI above, a process's ``consent_recorded`` message in
    ``processes.helpers.consent_recorder``)."""
    details: dict[str, Any] = {"consent_id": c.consent_id, "office": c.recipient_office,
                               "purpose": c.purpose, "categories": list(c.categories),
                               "case_id": c.case_id}
    if via is not None:
        details["via"] = via
    if instance_id is not None:
        details["from_instance"] = instance_id
    _audit(s, "consent.recorded", actor, now, c.case_id, details)


def consent_dict(c: Consent) -> dict:
    """A consent as JSON (no personal values in it)."""
    return {"consent_id": c.consent_id, "case_id": c.case_id, "office": c.recipient_office,
            "purpose": c.purpose, "categories": list(c.categories),
            "includes_health": c.includes_health, "valid_from": c.valid_from.isoformat(),
            "valid_until": c.valid_until.isoformat(), "status": c.status,
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None}


def _audit(s: Session, event_type: str, actor: Actor, now: datetime, case_id: str | None,
           details: dict) -> None:
    add_at_commit(s, AuditEvent(at=now, event_type=event_type, actor=actor.user,
                                details=details))


class ConsentGate:
    """Message listener: a ``referral_sent`` needs an active consent for office and purpose;
    its ``data`` is cut down to the categories that consent and the purpose allow."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __call__(self, session: Session, msg: Message, payload: dict, now: datetime):
        if msg.name != "referral_sent":
            return None
        case_id, office, purpose = (str(payload.get(k) or "") for k in
                                    ("case_id", "office", "purpose"))
        consent = active_consent(session, case_id, office, purpose, now) if case_id else None
        if consent is None:
            raise ConsentMissing(
                f"no active consent to refer case {case_id or '?'} to {office} for {purpose}",
                office=office, purpose=purpose)
        allowed = self.policy.receivable(office, purpose, set(consent.categories),
                                         consent.includes_health)
        out = dict(payload)
        out["consent_id"] = consent.consent_id
        out["consent_valid_until"] = consent.valid_until.isoformat()
        if isinstance(payload.get("data"), dict):
            out["data"] = self.policy.cut(payload["data"], allowed)
        return out


def revoke_consent(engine, consent_id: str, *, actor: Actor = SYSTEM,
                   channel: str = "written", status: str = "revoked",
                   follow_up: bool = True) -> dict:
    """Revoke (or expire) a consent and apply DP-06 at once.

    Revoking the base consent (KIM_CM:CASE_MANAGEMENT) revokes every other active consent
    of the case at the same time and starts the case closure instead of a follow-up task.

    All of it - the consent, the withdrawals and their delivery, the cancelled receiving
    instances, the cascade and the closure or follow-up start - is one unit of work
    (``Engine.transaction``): if any step fails (a held lock, a refused delivery, a crash)
    the consent stays active and nothing else has happened either.
    """
    with engine.transaction() as tx:
        return _revoke_in(tx, consent_id, actor=actor, channel=channel, status=status,
                          follow_up=follow_up)


def _revoke_in(tx, consent_id: str, *, actor: Actor, channel: str, status: str,
               follow_up: bool) -> dict:
    s, now = tx.session, tx.now()
    c = s.get(Consent, consent_id, with_for_update=True)
    if c is None:
        from engine.errors import NotFound

        raise NotFound(f"consent {consent_id} not found")
    if c.status != "active":
        raise Conflict(f"consent is {c.status} already; a revoked consent is never "
                       "reactivated")
    c.status, c.revoked_at, c.revoked_by = status, now, actor.user
    c.revocation_channel = channel if status == "revoked" else None
    _audit(s, f"consent.{status}", actor, now, c.case_id,
           {"consent_id": c.consent_id, "office": c.recipient_office, "purpose": c.purpose,
            "case_id": c.case_id})
    refs = s.scalars(select(Referral).where(Referral.case_id == c.case_id,
                                            Referral.office == c.recipient_office,
                                            Referral.state.in_(OPEN))).all()
    ref_ids = [r.referral_id for r in refs if r.purpose in (None, c.purpose)]
    receivers = list(s.scalars(select(Message.target_instance_id).where(
        Message.name == "referral_sent", Message.corr_key == "referral_id",
        Message.corr_value.in_(ref_ids), Message.target_instance_id.is_not(None))))
    info = consent_dict(c)
    effects = _Effects()
    for rid in ref_ids:
        tx.publish("referral_withdrawn", {"referral_id": rid, "reason": "consent_revoked",
                                          "case_id": info["case_id"]}, actor=actor)
        effects.withdrawn.append(rid)
    for iid in receivers:
        if iid is not None and tx.cancel(iid, reason="consent_revoked", actor=actor):
            effects.cancelled_instances.append(iid)
    tx.publish("consent_revoked", {"case_id": info["case_id"], "consent_id": consent_id,
                                   "office": info["office"], "purpose": info["purpose"]},
               actor=actor)
    if info["purpose"] == BASE_PURPOSE:
        others = list(s.scalars(select(Consent.consent_id).where(
            Consent.case_id == info["case_id"], Consent.status == "active")))
        effects.cascaded = [_revoke_in(tx, cid, actor=actor, channel=channel, status=status,
                                       follow_up=False)["consent_id"] for cid in others]
        effects.closure = _start(tx, CLOSURE_PROCESS, info, actor,
                                 {"closure_reason": "consent_revoked_entirely"})
    elif follow_up:
        effects.follow_up = _start(tx, FOLLOW_UP_PROCESS, info, actor, {})
    info["effects"] = effects.__dict__
    return info


@dataclass
class _Effects:
    withdrawn: list[str] = field(default_factory=list)
    cancelled_instances: list[int] = field(default_factory=list)
    follow_up: int | None = None
    cascaded: list[str] = field(default_factory=list)
    closure: int | None = None


FOLLOW_UP_PROCESS = "kim_consent_followup"
CLOSURE_PROCESS = "kim_case_closure"


def _start(tx, process_id: str, info: dict, actor: Actor, extra: dict) -> int | None:
    """Start a follow-up process of the case in the revocation's transaction, if the
    catalogue has it deployed."""
    from engine.errors import ProcessNotFound

    try:
        out = tx.start(process_id, {"case_id": info["case_id"],
                                    "revoked_office": info["office"],
                                    "revoked_purpose": info["purpose"], **extra},
                       case_ref=info["case_id"], actor=actor)
    except ProcessNotFound:
        return None
    return out["instance_id"]


def expire_consents(engine) -> list[str]:
    """Consents past valid_until become expired, with the effects of a revocation (DP-07)."""
    today = _today(engine.now())
    with engine.db.reader() as s:
        ids = list(s.scalars(select(Consent.consent_id).where(Consent.status == "active",
                                                              Consent.valid_until < today)))
    for cid in ids:
        revoke_consent(engine, cid, status="expired")
    return ids


@dataclass(frozen=True)
class Access:
    """What an office may see of a case: nothing (not visible) or some categories."""

    visible: bool
    categories: frozenset[str] = frozenset()


def case_access(session: Session, policy: Policy, case_id: str, offices: frozenset[str],
                now: datetime, *, case_manager: bool = False) -> Access:
    """DP-03/04: the case manager sees what the base consent covers; another office sees a
    case only with an actual referral to it and an active consent, and only its categories."""
    if case_manager or "KIM_CM" in offices:
        # referral process data: the case manager's own referrals (data_protection.toml
        # [referral_data]); results returned before a revocation stay visible (DP-06)
        referral = policy.referral_data_for("case_manager")
        base = active_consent(session, case_id, "KIM_CM", BASE_PURPOSE, now)
        if base is None:
            return Access(True, frozenset({"IDENT", "CONTACT"}) | referral)
        cats = set(base.categories) | {"CM_NOTES"} | referral
        if not base.includes_health:
            cats.discard("HEALTH")
        return Access(True, frozenset(cats))
    cats = set()  # set[str], as in the branch above
    visible = False
    for ref in session.scalars(select(Referral).where(Referral.case_id == case_id,
                                                      Referral.office.in_(offices))):
        if ref.state in ("withdrawn", "suspended_consent_revoked", "forwarded"):
            continue
        consent = active_consent(session, case_id, ref.office, ref.purpose, now)
        if consent is None:
            continue
        visible = True
        cats |= policy.receivable(ref.office, ref.purpose or "", set(consent.categories),
                                  consent.includes_health)
        # the referral's own process data, on the referral's legal basis ([referral_data])
        cats |= policy.referral_data_for("referral_office")
    return Access(visible, frozenset(cats))
