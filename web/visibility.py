"""Which cases and which case data a viewer may see (pages and API alike), DP-03/04.

* Office workers see a case only with an actual referral to their office and an active
  consent for it (``processes.consent.case_access``); otherwise it does not exist for
  them (404, logged as ``data.read_denied``). Of its data they see the categories that
  consent and the purpose allow; asking for another category explicitly is a 403
  ``CONSENT_SCOPE``.
* The case manager (office KIM_CM) sees what the base consent covers (without a base
  consent: identity and contact only).
* Auditors see every case with field names and masked values; other roles see none.

Every answer that carries case data gets it through ``case_data`` or ``cut``, which note
the read for ``web.readlog`` (DP-11).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flask import g, has_request_context
from sqlalchemy import exists, or_, select

from engine.models import ProcessInstance
from processes import consent
from processes.dataprotection import Policy
from processes.models import Referral
from web import readlog
from web.accounts import Principal
from web.ctx import services

MASK = "•••"
CM_OFFICE = "KIM_CM"


@lru_cache(maxsize=1)
def policy() -> Policy:
    """The shipped data-protection policy (read once)."""
    return Policy.load()


@dataclass(frozen=True)
class CaseView:
    """What the viewer may see of one case."""

    visible: bool
    categories: frozenset[str] = frozenset()
    masked: bool = False  # auditors: field names, no values
    purposes: tuple[str, ...] = ()
    office: str | None = None  # the viewer's office the access comes from


@dataclass(frozen=True)
class Visible:
    data: dict
    masked: bool
    hidden: int  # fields left out because the consent scope does not cover them
    # categories the viewer may not see in this case, in the policy's order (shown by name
    # as "nicht freigegeben"); empty for auditors (masked) and viewers without access
    not_shared: tuple[str, ...] = ()
    # masked answers (auditors): field path -> its category
    field_categories: dict | None = None


def not_shared(view: CaseView) -> tuple[str, ...]:
    """The policy's categories outside ``view`` (a viewer with access to the case)."""
    if not view.visible or view.masked:
        return ()
    return tuple(c for c in policy().categories if c not in view.categories)


def is_case_manager(user: Principal) -> bool:
    """Case management staff: a worker of office KIM_CM."""
    return user.is_worker and CM_OFFICE in user.work_offices


def may_manage_consents(user: Principal) -> bool:
    """Record and revoke consents: the case manager role in office KIM_CM."""
    return user.has("case_manager") and CM_OFFICE in user.work_offices


def access(user: Principal, case_ref: str | None) -> CaseView:
    """The viewer's access to case ``case_ref`` (cached for the request)."""
    if not case_ref:
        return CaseView(False)
    cache = g.setdefault("lotse_case_access", {}) if has_request_context() else {}
    key = (user.id, case_ref)
    if key not in cache:
        cache[key] = _access(user, case_ref)
    return cache[key]


def _access(user: Principal, case_ref: str) -> CaseView:
    if user.is_worker:
        svc = services()
        now = svc.engine.now()
        cm = is_case_manager(user)
        with svc.db.reader() as s:
            acc = consent.case_access(s, policy(), case_ref, user.work_offices, now,
                                      case_manager=cm)
            if cm:
                return CaseView(acc.visible, acc.categories,
                                purposes=(consent.BASE_PURPOSE,), office=CM_OFFICE)
            if not acc.visible:
                return CaseView(False)
            purposes, offices = [], []
            for ref in s.scalars(select(Referral).where(Referral.case_id == case_ref,
                                                        Referral.office.in_(
                                                            user.work_offices))):
                if consent.active_consent(s, case_ref, ref.office, ref.purpose, now):
                    purposes.append(ref.purpose or "")
                    offices.append(ref.office)
        return CaseView(True, acc.categories, purposes=tuple(sorted(set(purposes))),
                        office=sorted(offices)[0] if offices else None)
    if user.has("auditor"):
        return CaseView(True, frozenset(), masked=True)
    return CaseView(False)


# referral states that no longer open a case to the office (processes.consent.case_access)
CLOSED_REFERRAL = ("withdrawn", "suspended_consent_revoked", "forwarded")


def case_scope(user: Principal):
    """The SQL condition on ``process_instance`` that says the same as ``access(user,
    case_ref).visible`` for every row at once, so lists page exactly and never look at the
    cases the viewer may not see: None when the viewer may see every case (the case manager,
    auditors); for another office's worker an instance without a case, or one whose case
    has a live referral to one of its offices with an active, currently valid consent for
    that referral's office and purpose (``processes.consent.case_access``); nothing with a
    case for everybody else."""
    if user.is_worker:
        if is_case_manager(user):
            return None
        offices = sorted(user.work_offices)
        if not offices:
            return ProcessInstance.case_ref.is_(None)
        today = consent._today(services().engine.now())
        c = consent.Consent
        consented = exists().where(
            c.case_id == Referral.case_id, c.recipient_office == Referral.office,
            or_(Referral.purpose.is_(None), c.purpose == Referral.purpose),
            c.status == "active", c.valid_from <= today, c.valid_until >= today)
        live = exists().where(
            Referral.case_id == ProcessInstance.case_ref, Referral.office.in_(offices),
            Referral.state.not_in(CLOSED_REFERRAL), consented)
        return or_(ProcessInstance.case_ref.is_(None), live)
    if user.has("auditor"):
        return None
    return ProcessInstance.case_ref.is_(None)


def case_exists(case_ref: str | None) -> bool:
    if not case_ref:
        return False
    with services().db.reader() as s:
        return bool(s.scalar(select(exists().where(ProcessInstance.case_ref == case_ref))))


def require_case(user: Principal, case_ref: str, *, instance_id: int | None = None) -> CaseView:
    """The viewer's access to the case; a refusal of an existing case is logged (callers
    answer 404 when it is not ``visible``)."""
    view = access(user, case_ref)
    if not view.visible and case_exists(case_ref):
        readlog.denied(case_ref, reason="no_referral_or_consent", instance_id=instance_id)
    return view


def instances_for(user: Principal, *, case_ref: str | None = None,
                  instance_id: int | None = None, **kw) -> list[dict]:
    """Instances the viewer may see (``web.case_queries.visible_instances``), limited to
    cases the viewer has access to; a refused case is logged."""
    from web import case_queries as cq

    db = services().db
    if case_ref is not None and not require_case(user, case_ref,
                                                 instance_id=instance_id).visible:
        return []
    # the case manager sees every instance of the cases it manages (all offices)
    # a list (no case asked for) is scoped in SQL, so its limit counts visible rows only
    scope = case_scope(user) if case_ref is None and instance_id is None else None
    found = cq.visible_instances(db, user, case_ref=case_ref, instance_id=instance_id,
                                 all_offices=is_case_manager(user), scope=scope, **kw)
    out = []
    for inst in found:
        ref = inst["case_ref"]
        if ref is None or access(user, ref).visible:
            out.append(inst)
        elif instance_id is not None:
            readlog.denied(ref, reason="no_referral_or_consent", instance_id=instance_id)
    if instance_id is not None and not found:
        ref = _case_of(instance_id)
        if ref is not None and not access(user, ref).visible:
            readlog.denied(ref, reason="no_referral_or_consent", instance_id=instance_id)
    return out


def _case_of(instance_id: int) -> str | None:
    from web.case_queries import MAX_ID

    if not 0 < instance_id <= MAX_ID:
        return None
    with services().db.reader() as s:
        return s.scalar(select(ProcessInstance.case_ref).where(ProcessInstance.id == instance_id))


def case_data(user: Principal, case_ref: str | None, data: dict, *,
              instance_id: int | None = None, task_id: str | None = None) -> Visible:
    """``data`` cut down to what ``user`` may see of the case ``case_ref`` (the read is
    noted for the read log)."""
    data = {k: v for k, v in data.items() if isinstance(k, str) and not k.startswith("_")}
    if user.is_worker:
        if not case_ref:
            return Visible({}, False, len(data))
        view = access(user, case_ref)
        pol = policy()
        shown = pol.cut(data, view.categories) if view.visible else {}
        note(case_ref, view, shown, instance_id=instance_id, task_id=task_id)
        hidden = sum(1 for _ in pol.leaves(data)) - sum(1 for _ in pol.leaves(shown))
        return Visible(shown, False, hidden, not_shared(view))
    if user.has("auditor"):
        # every single value by its path and category, nested records field by field
        # (``children[0].first_name``), each value masked
        found = list(policy().values_of(data))
        if case_ref:
            readlog.note_masked(case_ref, fields=[p for p, _c, _v in found],
                                instance_id=instance_id)
        return Visible({p: MASK for p, _c, _v in found}, True, 0,
                       field_categories={p: c for p, c, _v in found})
    return Visible({}, False, len(data))


def note(case_ref: str, view: CaseView, shown: dict, *, instance_id: int | None = None,
         task_id: str | None = None) -> None:
    """Note that ``shown`` (already cut) goes out in this response: the paths of its
    case-data fields (``shared_data.first_name`` inside a container) and their categories."""
    pol = policy()
    fields = [path for path, _cat, _v in pol.leaves(shown)]
    readlog.note_read(case_ref, fields=fields, categories=pol.categories_in(shown),
                      instance_id=instance_id, task_id=task_id, purposes=view.purposes,
                      office=view.office)


def check_categories(user: Principal, case_ref: str, requested: list[str]) -> CaseView:
    """Explicitly asked-for categories must lie within the viewer's scope (DP-04):
    ``ConsentScope`` (403) otherwise, logged as a refused read."""
    from engine.errors import InvalidInput

    unknown = [c for c in requested if c not in policy().categories]
    if unknown:
        raise InvalidInput(f"unknown data categories: {', '.join(unknown)}",
                           categories=unknown)
    view = access(user, case_ref)
    if view.masked:
        outside = list(requested)
    else:
        outside = [c for c in requested if c not in view.categories]
    if outside:
        readlog.denied(case_ref, reason="consent_scope", categories=outside,
                       office=view.office)
        raise consent.ConsentScope(
            "the consent does not cover the requested categories for your office",
            categories=sorted(outside))
    return view


def task_refused(task_id: str) -> None:
    """Log a refused read of another office's task (the answer is 404) when it exists."""
    import uuid

    from engine.models import HumanTask

    try:
        task_id = str(uuid.UUID(str(task_id)))
    except ValueError:
        return  # not a task id: nothing was refused
    with services().db.reader() as s:
        row = s.execute(select(HumanTask.case_ref, HumanTask.instance_id, HumanTask.office)
                        .where(HumanTask.id == task_id)).first()
    if row is not None:
        readlog.denied(row.case_ref, reason="another_office_task", instance_id=row.instance_id,
                       task_id=task_id)
