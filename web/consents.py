"""Consents for the case manager (pages and API): list, record, revoke (DP-02/06).

Checks the input against the office registry and the purpose matrix of
``processes/data_protection.toml``, then calls ``processes.consent``; revoking applies
DP-06 at once (open referrals suspended, the office's tasks leave its worklist, the case
manager gets the follow-up task)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from engine.errors import InvalidInput, NotFound
from processes import consent
from processes.dataprotection import NEVER_SHARED, SPECIAL
from web.accounts import Principal
from web.ctx import actor, services
from web.errors import Forbidden
from web.visibility import case_exists, may_manage_consents, policy

CHANNELS = ("written", "oral", "electronic")


class ConsentNotFound(NotFound):
    code = "CONSENT_NOT_FOUND"


class CaseNotFound(NotFound):
    code = "CASE_NOT_FOUND"


def require_manager(user: Principal) -> None:
    if not may_manage_consents(user):
        raise Forbidden("only the case manager (KIM_CM) records and revokes consents")


def purposes() -> dict[str, list[str]]:
    """purpose -> categories a consent for it may cover (CM notes only for the base)."""
    out = {}
    for p, cats in sorted(policy().purposes.items()):
        allowed = set(cats)
        if p != consent.BASE_PURPOSE:
            allowed.discard(NEVER_SHARED)
        out[p] = [c for c in policy().categories if c in allowed]
    return out


def for_case(case_ref: str) -> list[dict]:
    """Every consent of the case (all states), oldest first."""
    with services().db.reader() as s:
        rows = s.scalars(select(consent.Consent).where(consent.Consent.case_id == case_ref)
                         .order_by(consent.Consent.recorded_at,
                                   consent.Consent.consent_id)).all()
        return [{**consent.consent_dict(c), "recorded_by": c.recorded_by,
                 "recorded_at": c.recorded_at.isoformat(),
                 "revocation_channel": c.revocation_channel, "revoked_by": c.revoked_by}
                for c in rows]


def _date(value, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date YYYY-MM-DD", field=name) from None


def record(user: Principal, case_ref: str, body: dict) -> dict:
    """Record a consent for the case from a validated request body."""
    require_manager(user)
    if not case_exists(case_ref):
        raise CaseNotFound(f"case {case_ref} not found", case_ref=case_ref)
    svc = services()
    office = str(body.get("office") or "").strip()
    purpose = str(body.get("purpose") or "").strip()
    if office not in svc.offices.active_codes():
        raise InvalidInput(f"unknown office {office!r}", field="office")
    allowed = purposes()
    if purpose not in allowed:
        raise InvalidInput(f"unknown purpose {purpose!r}", field="purpose")
    prefix = purpose.split(":", 1)[0]
    if prefix in svc.offices.codes() and prefix != office:
        raise InvalidInput(f"purpose {purpose} belongs to office {prefix}", field="purpose")
    cats = body.get("categories") or []
    if isinstance(cats, str):
        cats = [cats]
    cats = sorted({str(c) for c in cats})
    if not cats:
        raise InvalidInput("choose at least one data category", field="categories")
    outside = [c for c in cats if c not in allowed[purpose]]
    if outside:
        raise InvalidInput(f"categories not allowed for {purpose}: {', '.join(outside)}",
                           field="categories")
    health = bool(body.get("includes_health"))
    if SPECIAL in cats and not health:
        raise InvalidInput("health data need the explicit health consent (Art. 9)",
                           field="includes_health")
    valid_from = _date(body.get("valid_from"), "valid_from")
    valid_until = _date(body.get("valid_until"), "valid_until")
    if valid_until < valid_from:
        raise InvalidInput("valid_until lies before valid_from", field="valid_until")
    return consent.record_consent(svc.engine, case_id=case_ref, office=office, purpose=purpose,
                                  categories=cats, valid_from=valid_from,
                                  valid_until=valid_until, includes_health=health,
                                  actor=actor(), policy=policy())


def get(consent_id: str) -> dict:
    with services().db.reader() as s:
        c = s.get(consent.Consent, consent_id) if len(consent_id) <= 36 else None
        if c is None:
            raise ConsentNotFound(f"consent {consent_id} not found", consent_id=consent_id)
        return consent.consent_dict(c)


def revoke(user: Principal, consent_id: str, channel: str) -> dict:
    """Revoke a consent now (one step, DP-06); returns the consent with its effects."""
    require_manager(user)
    get(consent_id)
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    return consent.revoke_consent(services().engine, consent_id, actor=actor(),
                                  channel=channel)
