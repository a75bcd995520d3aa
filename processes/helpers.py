"""Script helpers the KIM catalogue processes call, beyond the date helpers in processes.dates.

Helpers are plain functions: the sandbox gives them no access to task data, so everything they
need is passed in (``has_consent(consents, "JC", "JC:SGB2")`` reads the ``consents`` list the
process keeps in its data). Results are JSON-serialisable (str, int, bool, list, dict).

Register ``HELPERS`` (bound to the shipped office registry) or ``make_helpers(registry)`` (bound
to the municipality's registry) next to ``processes.dates.HELPERS`` in the script registry.

The data-category configuration (brief 5.2/5.3) used by the consent form and the referral
payload filter is derived from ``processes/data_protection.toml`` (its only source):
``DATA_CATEGORIES``, ``CATEGORY_MATRIX`` (the maximum categories each office:purpose may ever
receive) and ``FIELD_CATEGORIES`` (which case field belongs to which category).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine import clock
from processes.dataprotection import NEVER_SHARED as DP_NEVER_SHARED
from processes.dataprotection import Policy
from processes.dates import age_on, due_in, to_date
from processes.offices import OfficeRegistry, UnknownOffice

# --- data categories (brief 5.2/5.3) --------------------------------------------------------------
# processes/data_protection.toml is the single source: the labels, the maximum categories per
# purpose and the category of each case field are derived from it (the same file the consent
# gate cuts referral data with). A helper set bound to another file: make_helpers(policy=...).

NEVER_SHARED = frozenset({DP_NEVER_SHARED})


def data_categories(policy: Policy) -> dict[str, tuple[str, str]]:
    """Category code -> (German, English) label, in the file's order."""
    return {code: (labels.get("de", code), labels.get("en", labels.get("de", code)))
            for code, labels in policy.categories.items()}


def category_matrix(policy: Policy) -> dict[str, tuple[str, ...]]:
    """Purpose -> the categories a consent for it may cover at most (never CM_NOTES)."""
    order = list(policy.categories)
    return {purpose: tuple(c for c in order if c in cats and c not in NEVER_SHARED)
            for purpose, cats in policy.purposes.items()}


_POLICY = Policy.load()
DATA_CATEGORIES: dict[str, tuple[str, str]] = data_categories(_POLICY)
CATEGORY_MATRIX: dict[str, tuple[str, ...]] = category_matrix(_POLICY)
# Which case field belongs to which category (referral payloads carry only consented ones).
FIELD_CATEGORIES: dict[str, str] = dict(_POLICY.fields)

TERMINAL_REFERRAL_STATES = frozenset({"completed", "forwarded", "withdrawn",
                                      "suspended_consent_revoked", "not_sent"})


# --- consents -------------------------------------------------------------------------------------

def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return to_date(value)


def _today() -> date:
    return clock.now_berlin().date()


def _valid(consent: Mapping, on: date) -> bool:
    if consent.get("status", "active") != "active":
        return False
    start, end = _day(consent.get("valid_from")), _day(consent.get("valid_until"))
    return (start is None or start <= on) and (end is None or on <= end)


def find_consent(consents: Iterable[Mapping] | None, office: str, purpose: str,
                 on: Any = None) -> dict | None:
    """The most recently recorded valid consent for (office, purpose), or None."""
    day = _day(on) or _today()
    found = None
    for c in consents or []:
        if c.get("recipient_office") == office and c.get("purpose") == purpose and _valid(c, day):
            found = dict(c)
    return found


def has_consent(consents: Iterable[Mapping] | None, office: str | None, purpose: str | None,
                category: str | None = None, on: Any = None) -> bool:
    """Whether an active consent for (office, purpose) is valid on ``on`` (default today) and,
    if ``category`` is given, covers it (HEALTH also needs ``includes_health``)."""
    day = _day(on) or _today()
    for c in consents or []:
        if c.get("recipient_office") != office or c.get("purpose") != purpose:
            continue
        if not _valid(c, day):
            continue
        if category is None:
            return True
        cats = c.get("data_categories") or []
        if category in cats and (category != "HEALTH" or c.get("includes_health")):
            return True
    return False


def missing_consents(consents: Iterable[Mapping] | None, referrals: Iterable[Mapping] | None,
                     on: Any = None) -> list[dict]:
    """The ``{"office", "purpose"}`` items of ``referrals`` without a valid consent."""
    out: list[dict] = []
    for r in referrals or []:
        item = {"office": r.get("office"), "purpose": r.get("purpose")}
        if not has_consent(consents, item["office"], item["purpose"], on=on) and item not in out:
            out.append(item)
    return out


def consented(referrals: Iterable[Mapping] | None, consents: Iterable[Mapping] | None,
              on: Any = None) -> list[dict]:
    """The referrals that have a valid consent (the ones that may be sent)."""
    return [dict(r) for r in referrals or []
            if has_consent(consents, r.get("office"), r.get("purpose"), on=on)]


def allowed_categories(purpose: str, *, policy: Policy | None = None) -> list[str]:
    """The categories a consent for ``purpose`` may cover at most (brief 5.3)."""
    matrix = CATEGORY_MATRIX if policy is None else category_matrix(policy)
    return list(matrix.get(purpose, ()))


def share_by_consent(categories: Iterable[str] | None, office: str | None = None,
                     *records: Mapping | None, policy: Policy | None = None) -> dict:
    """Merge ``records`` and keep only fields whose category the consent covers (DP-05).

    CM_NOTES and fields of unknown category are never shared; goals (PLAN) are reduced to those
    the receiving ``office`` is responsible for.
    """
    fields = FIELD_CATEGORIES if policy is None else policy.fields
    allowed = set(categories or ()) - NEVER_SHARED
    out: dict[str, Any] = {}
    for record in records:
        for key, value in (record or {}).items():
            cat = fields.get(key)
            if cat is None or cat not in allowed or value is None:
                continue
            if key == "goals" and office is not None:
                value = [g for g in value or [] if g.get("responsible_office") == office]
            out[key] = value
    return out


def revoke_consent(consents: Iterable[Mapping] | None, consent_id: str,
                   revoked_at: Any = None) -> list[dict]:
    """A copy of ``consents`` with ``consent_id`` marked revoked (the record itself is kept)."""
    out = []
    for c in consents or []:
        c = dict(c)
        if c.get("consent_id") == consent_id and c.get("status", "active") == "active":
            c["status"] = "revoked"
            c["revoked_at"] = str(revoked_at or _today().isoformat())
        out.append(c)
    return out


# --- referrals ------------------------------------------------------------------------------------

def new_id(prefix: str = "R") -> str:
    """A fresh random identifier such as ``R-3f9c2a1b7d4e`` (referrals, consents)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def pseudonym() -> str:
    """A pseudonym ``P-`` + 8 random hex characters, not derived from any name (brief 5.6)."""
    return f"P-{uuid.uuid4().hex[:8]}"


def open_referrals(referrals: Iterable[Mapping] | None) -> list[dict]:
    """Referrals whose status is not terminal (completed, forwarded, withdrawn, ...)."""
    return [dict(r) for r in referrals or []
            if r.get("status") not in TERMINAL_REFERRAL_STATES]


def days_between(start: Any, end: Any) -> int:
    """Calendar days from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    return (to_date(end) - to_date(start)).days


def turnaround_by_office(referrals: Iterable[Mapping] | None) -> dict:
    """Days from sending to the result per office (completed referrals only; statistics)."""
    out: dict[str, list[int]] = {}
    for r in referrals or []:
        if r.get("status") == "completed" and r.get("sent_at") and r.get("closed_at"):
            out.setdefault(r["office"], []).append(days_between(r["sent_at"], r["closed_at"]))
    return {k: round(sum(v) / len(v)) for k, v in sorted(out.items())}


def age_band(birth_date: Any, on: Any = None) -> str:
    """Anonymised age band for statistics: 0-5, 6-17, 18-26, 27-44, 45-64, 65+."""
    age = age_on(birth_date, on)
    for limit, label in ((5, "0-5"), (17, "6-17"), (26, "18-26"), (44, "27-44"), (64, "45-64")):
        if age <= limit:
            return label
    return "65+"


def schulpflichtig(birth_date: Any, on: Any = None) -> bool:
    """NRW: a child who turns 6 by 30 September starts school on 1 August of that year
    (§ 35 SchulG NRW [K]); compulsory schooling is counted here until the 18th birthday [D]."""
    born = to_date(birth_date)
    ref = _day(on) or _today()
    start_year = born.year + 6 if (born.month, born.day) <= (9, 30) else born.year + 7
    return ref >= date(start_year, 8, 1) and age_on(born, ref) < 18


def children_facts(children: Iterable[Mapping] | None, on: Any = None) -> list[dict]:
    """Each child with ``age`` and ``schulpflichtig`` computed (read-only fields of F2.1)."""
    out = []
    for c in children or []:
        c = dict(c)
        born = c.get("child_birth_date")
        if born:
            c["age"] = age_on(born, on)
            c["schulpflichtig"] = schulpflichtig(born, on)
        out.append(c)
    return out


# --- office registry ------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _load_registry(path: str | None) -> OfficeRegistry:
    return OfficeRegistry.load(Path(path) if path else None)


def _default_registry() -> OfficeRegistry:
    return _load_registry(os.environ.get("LOTSE_OFFICES_FILE") or None)


def make_helpers(registry: OfficeRegistry | None = None, *,
                 policy: Policy | None = None) -> dict[str, Callable[..., Any]]:
    """The helpers, with the SLA and purpose look-ups bound to ``registry`` and the data
    categories bound to ``policy`` (default: processes/data_protection.toml)."""

    def reg() -> OfficeRegistry:
        return registry if registry is not None else _default_registry()

    def sla_days(office: str, kind: str = "result") -> int:
        """The office's SLA in calendar days: ``kind`` "ack" or "result" (offices.toml)."""
        try:
            o = reg().get(office)
        except UnknownOffice as exc:
            raise ValueError(str(exc)) from None
        if kind == "ack":
            return o.sla_ack_days
        if kind == "result":
            return o.sla_result_days
        raise ValueError(f"unknown SLA kind {kind!r} (expected 'ack' or 'result')")

    def referral_due(office: str, kind: str = "result", start: Any = None,
                     urgent: bool = False) -> str:
        """Due of a referral sent at ``start`` under the office's SLA: for a moment (an ISO
        datetime such as ``now()``) the due time, the same Berlin wall time that many calendar
        days later (``processes.dates.due_in``, the one rule the referral record and the
        timers share); for a day (default today) the due day.
        WOHN results are due after 2 days when the referral is urgent (brief 4.1) [D]."""
        days = sla_days(office, kind)
        if urgent and office == "WOHN" and kind == "result":
            days = min(days, 2)
        if isinstance(start, datetime) or (isinstance(start, str) and "T" in start):
            return due_in(start, days)
        begin = _day(start) or _today()
        return (begin + timedelta(days=days)).isoformat()

    def default_purpose(office: str) -> str:
        """The first purpose configured for ``office`` (e.g. MBE -> MBE:BERATUNG)."""
        try:
            purposes = reg().get(office).purposes
        except UnknownOffice as exc:
            raise ValueError(str(exc)) from None
        if not purposes:
            raise ValueError(f"office {office!r} has no purposes configured")
        return purposes[0]

    def legal_domain(office: str) -> str:
        """The office's main legal domain (offices.toml ``legal_domain``, e.g. "SGB II")."""
        try:
            return reg().get(office).legal_domain
        except UnknownOffice as exc:
            raise ValueError(str(exc)) from None

    def is_external(office: str) -> bool:
        """Whether the office works in proxy mode (does not log in)."""
        try:
            return reg().get(office).external
        except UnknownOffice as exc:
            raise ValueError(str(exc)) from None

    return {
        # consents: the register is the single truth (processes.consent), read and written
        # in the running step's transaction for the instance's case; no process keeps a copy
        "has_consent": register_has_consent,
        "find_consent": register_find_consent,
        "missing_consents": register_missing_consents,
        "consented": register_consented,
        "record_consent": register_record_consent,
        "case_ref": this_case,
        "allowed_categories": lambda purpose: allowed_categories(purpose, policy=policy),
        "share_by_consent": lambda categories, office=None, *records: share_by_consent(
            categories, office, *records, policy=policy),
        "revoke_consent": revoke_consent,
        "new_id": new_id,
        "pseudonym": pseudonym,
        "open_referrals": open_referrals,
        "days_between": days_between,
        "turnaround_by_office": turnaround_by_office,
        "age_band": age_band,
        "schulpflichtig": schulpflichtig,
        "children_facts": children_facts,
        "sla_days": sla_days,
        "referral_due": referral_due,
        "default_purpose": default_purpose,
        "is_external": is_external,
        "legal_domain": legal_domain,
    }


# --- the consent register, as BPMN scripts see it ------------------------------------------------
# A helper cannot take the session as an argument (scripts have none): the engine runs every
# step with its session and instance in engine.step_context. These helpers read the register
# for the instance's case there, so a consent recorded on the case page, the API or the CLI is
# seen by every process of the case, and one a script records (record_consent) is in the
# register at once, before the step's next gateway asks.

def _step():
    from engine import step_context

    step = step_context.current()
    if step is None:
        raise RuntimeError("consent helpers read the consent register: they run only inside "
                           "a process step")
    return step


def this_case() -> str:
    """The instance's case id: the case reference it was started with; an instance started
    without one gets a new ``K-…`` id here, which becomes its case reference (one id from
    the first step: instance, register and referrals)."""
    step = _step()
    if not step.instance.case_ref:
        step.instance.case_ref = new_id("K")
    return step.instance.case_ref


def _register(on: Any = None) -> list[dict]:
    from processes.consent import case_consents

    step = _step()
    if not step.instance.case_ref:
        return []
    now = step.now
    day = _day(on)
    if day is not None:
        now = datetime.combine(day, datetime.min.time().replace(hour=12), clock.BERLIN)
    return case_consents(step.session, step.instance.case_ref, now)


def register_has_consent(office: str, purpose: str, category: str | None = None,
                         on: Any = None) -> bool:
    """Whether the consent register holds an active consent of this case for (office,
    purpose), valid on ``on`` (default today), covering ``category`` if given (HEALTH also
    needs the explicit health flag)."""
    return has_consent(_register(on), office, purpose, category, on=on)


def register_find_consent(office: str, purpose: str, on: Any = None) -> dict | None:
    """The register's valid consent of this case for (office, purpose) (the latest recorded)
    as a DP-02 record, or None."""
    return find_consent(_register(on), office, purpose, on=on)


def register_missing_consents(referrals: Iterable[Mapping] | None, on: Any = None) -> list[dict]:
    """The ``{"office", "purpose"}`` items of ``referrals`` the register has no valid consent
    of this case for."""
    return missing_consents(_register(on), referrals, on=on)


def register_consented(referrals: Iterable[Mapping] | None, on: Any = None) -> list[dict]:
    """The referrals the register holds a valid consent of this case for."""
    return consented(referrals, _register(on), on=on)


def register_record_consent(record: Mapping) -> dict:
    """Record a consent of this case (a DP-02 record from a form) in the register now, in this
    step's transaction; returns the register's record. An active consent for the same
    office and purpose with overlapping validity is extended instead (categories, health flag,
    validity; audit ``consent.merged``): never a second row."""
    from processes.consent import process_record, register_from_process

    step = _step()
    row, _merged = register_from_process(step.session, this_case(), dict(record),
                                         now=step.now, instance_id=step.instance.id)
    return {**dict(record), **process_record(row)}


HELPERS: dict[str, Callable[..., Any]] = make_helpers()


# --- engine message listener ----------------------------------------------------------------------

CONSENT_MESSAGE = "consent_recorded"


def consent_recorder(session, msg, payload: dict, now) -> None:
    """Engine message listener (register before the consent gate): the catalogue's processes
    announce every consent they record (F1.4, F2.3, "Einwilligung einholen") with the message
    ``consent_recorded`` {case_id, consents: [DP-02 records]}; this writes them into the consent
    register (processes.consent.Consent) in the same transaction, so a referral sent in the
    same step passes the gate. The message itself is consumed here (not routed)."""
    if msg.name != CONSENT_MESSAGE:
        return None
    from processes.consent import register_from_process

    case_id = payload.get("case_id")
    for c in payload.get("consents") or []:
        if not case_id or not isinstance(c, Mapping) or not c.get("recipient_office") \
                or not c.get("purpose"):
            continue
        # one consent per case, office and purpose: an overlapping one is merged, not doubled
        register_from_process(session, str(case_id), dict(c), now=now,
                              instance_id=msg.sender_instance_id)
    session.flush()
    msg.status, msg.reason = "delivered", "recorded in the consent register"
    return None
