"""REST endpoints for data protection and audit: consent-scoped case data, consents,
the Art. 15 access report, the audit log (search, verify) and, outside production, the
test clock.

Case data follow DP-03/04: another office's case is a 404 (logged as
``data.read_denied``), fields outside the consent are left out, and asking for a
category outside it explicitly is a 403 ``CONSENT_SCOPE``. Every answer with case data
writes ``data.read`` (web/readlog.py)."""

from __future__ import annotations

from datetime import datetime

from flask import g, request

from engine import audit as engine_audit
from engine.errors import InvalidInput, NotFound
from processes.access_report import access_report as build_access_report
from processes.consent import expire_consents
from web import audit_queries as aq
from web import consents, readlog, visibility
from web.api import Blueprint
from web.api.dp_schemas import (
    AccessReportSchema,
    AuditArgs,
    AuditPageSchema,
    CaseDataArgs,
    CaseSchema,
    ClockBody,
    ClockSchema,
    ConsentBody,
    ConsentSchema,
    RevokeBody,
    VerifyArgs,
    VerifySchema,
)
from web.api.schemas import CASE_REF, ErrorSchema
from web.ctx import actor, services
from web.errors import Forbidden, Unauthorized

blp = Blueprint("dp_api", __name__, url_prefix="/api",
                description="Data protection: consent-scoped case data, consents, access "
                            "report, audit log")
test_blp = Blueprint("test_api", __name__, url_prefix="/api/test",
                     description="Test helpers (only when LOTSE_ENV is development or test)")


def _require_token():
    if g.get("user") is None:
        raise Unauthorized("ein gültiges Bearer-Token ist nötig / a valid bearer token is "
                           "required")


blp.before_request(_require_token)
test_blp.before_request(_require_token)

_DESC = {400: "INVALID_INPUT", 401: "UNAUTHORIZED", 403: "FORBIDDEN / CONSENT_SCOPE",
         404: "NOT_FOUND (also for a case the caller's office has no referral and consent "
              "for)", 409: "CONFLICT (e.g. the consent is revoked already)"}


def errors(bp, *codes: int):
    def deco(fn):
        for code in (401, *codes):
            fn = bp.alt_response(code, schema=ErrorSchema, description=_DESC.get(code, ""))(fn)
        return fn

    return deco


class CaseNotFound(NotFound):
    code = "CASE_NOT_FOUND"


def _ref(case_ref: str) -> str:
    if not CASE_REF.match(case_ref):
        raise CaseNotFound(f"Fall {case_ref} nicht gefunden / case {case_ref} not found")
    return case_ref


def _instances(case_ref: str) -> list[dict]:
    found = visibility.instances_for(g.user, case_ref=_ref(case_ref))
    if not found:
        raise CaseNotFound(f"Fall {case_ref} nicht gefunden / case {case_ref} not found",
                           case_ref=case_ref)
    return found


# ---------------------------------------------------------------- case data
@blp.route("/cases/<path:case_ref>", methods=["GET"])
@blp.response(200, CaseSchema)
@errors(blp, 404)
def get_case(case_ref):
    """A case: its instances the caller may see, each with the case data within the
    caller's consent scope, and ``not_shared``: the categories outside that scope by code
    and German name (never values), as the case page names them "nicht freigegeben"."""
    eng = services().engine
    view = visibility.access(g.user, case_ref)
    out = []
    for inst in _instances(case_ref):
        shown = eng.show(inst["instance_id"])
        seen = visibility.case_data(g.user, case_ref, shown.get("data") or {},
                                    instance_id=inst["instance_id"])
        out.append({"instance_id": inst["instance_id"], "process_id": inst["process_id"],
                    "version": inst["version"], "status": inst["status"], "data": seen.data,
                    "data_masked": seen.masked, "hidden_fields": seen.hidden,
                    **_field_categories(seen)})
    return {"case_ref": case_ref, "categories": sorted(view.categories), "instances": out,
            "not_shared": _not_shared(view)}


def _field_categories(seen) -> dict:
    """Masked answers (auditors) name each field's category: ``{path: category}``."""
    return {"field_categories": seen.field_categories} if seen.masked else {}


def _not_shared(view) -> list[dict]:
    """The categories outside the caller's scope, by code and German name (the case page's
    "nicht freigegeben" list); no values."""
    pol = visibility.policy()
    return [{"category": c, "label": pol.label(c)} for c in visibility.not_shared(view)]


@blp.route("/cases/<path:case_ref>/data", methods=["GET"])
@blp.arguments(CaseDataArgs, location="query")
@blp.response(200, CaseSchema)
@errors(blp, 400, 403, 404)
def get_case_data(args, case_ref):
    """The case data of the requested categories (all the caller may see without
    ``category``); a category outside the consent scope answers 403 CONSENT_SCOPE."""
    instances = _instances(case_ref)
    if g.user.has("auditor") and not g.user.is_worker:
        raise Forbidden("Prüfer:innen sehen keine personenbezogenen Werte / auditors see no "
                        "personal values")
    requested = sorted(set(args["category"]))
    view = (visibility.check_categories(g.user, case_ref, requested) if requested
            else visibility.access(g.user, case_ref))
    pol = visibility.policy()
    eng = services().engine
    out = []
    for inst in instances:
        data = eng.show(inst["instance_id"]).get("data") or {}
        if requested:  # the asked-for categories, inside containers too
            data = pol.cut(data, set(requested))
        seen = visibility.case_data(g.user, case_ref, data, instance_id=inst["instance_id"])
        out.append({"instance_id": inst["instance_id"], "process_id": inst["process_id"],
                    "version": inst["version"], "status": inst["status"], "data": seen.data,
                    "data_masked": seen.masked, "hidden_fields": seen.hidden,
                    **_field_categories(seen)})
    return {"case_ref": case_ref, "categories": requested or sorted(view.categories),
            "instances": out, "not_shared": _not_shared(view)}


# ---------------------------------------------------------------- consents
def _consent_case(case_ref: str) -> str:
    ref = _ref(case_ref)
    if not (visibility.case_exists(ref) or consents.for_case(ref)):
        raise CaseNotFound(f"Fall {case_ref} nicht gefunden / case {case_ref} not found",
                           case_ref=case_ref)
    return ref


@blp.route("/cases/<path:case_ref>/consents", methods=["GET"])
@blp.response(200, ConsentSchema(many=True))
@errors(blp, 403, 404)
def list_consents(case_ref):
    """Every consent of the case (active, revoked, expired); no personal values.
    Case manager (KIM_CM), data-protection officer, auditor."""
    if not (visibility.may_manage_consents(g.user) or g.user.has("dpo", "auditor")):
        raise Forbidden("nur Fallmanagement, Datenschutzbeauftragte oder Prüfer:innen / only "
                        "the case manager, the data-protection officer or an auditor")
    return consents.for_case(_consent_case(case_ref))


@blp.route("/cases/<path:case_ref>/consents", methods=["POST"])
@blp.arguments(ConsentBody)
@blp.response(201, ConsentSchema)
@errors(blp, 400, 403, 404, 409)
def record_consent(body, case_ref):
    """Record a consent (case manager of KIM_CM): office, purpose, categories within what
    the purpose allows, validity, explicit health flag."""
    consents.require_manager(g.user)
    return consents.record(g.user, _consent_case(case_ref), body)


@blp.route("/consents/<consent_id>/revoke", methods=["POST"])
@blp.arguments(RevokeBody)
@blp.response(200, ConsentSchema)
@errors(blp, 400, 403, 404, 409)
def revoke_consent(body, consent_id):
    """Revoke a consent at once (DP-06): open referrals under it become
    ``suspended_consent_revoked``, the office's tasks leave its worklist, the case manager
    gets the follow-up task."""
    consents.require_manager(g.user)
    return consents.revoke(g.user, consent_id, body["channel"])


# ---------------------------------------------------------------- Art. 15
@blp.route("/cases/<path:case_ref>/access-report", methods=["GET"])
@blp.response(200, AccessReportSchema)
@errors(blp, 403, 404)
def access_report(case_ref):
    """The Art. 15 GDPR access report of the case's person (case manager of KIM_CM or the
    data-protection officer, as on the page; everyone else 403, auditors too); generating
    it writes ``data.export``. An unknown case is 404 CASE_NOT_FOUND."""
    from web.ui.cases import may_access_report

    if not may_access_report(g.user):
        raise Forbidden("nur das Fallmanagement (KIM_CM) oder die/der Datenschutzbeauftragte"
                        " / only the case manager (KIM_CM) or the data-protection officer")
    ref = _ref(case_ref)
    try:
        return build_access_report(services().engine, ref, actor=actor(),
                                   policy=visibility.policy())
    except CaseNotFound:
        raise
    except NotFound:
        raise CaseNotFound(f"Fall {ref} nicht gefunden / case {ref} not found",
                           case_ref=ref) from None


# ---------------------------------------------------------------- audit log
@blp.route("/audit/verify", methods=["GET"])
@blp.arguments(VerifyArgs, location="query")
@blp.response(200, VerifySchema)
@errors(blp, 400, 403)
def audit_verify(args):
    """Verify the audit hash chain from the last intact verification on (``?full=1``: the
    whole chain); name the first changed, removed or inserted entry (auditor, admin)."""
    if not g.user.has("auditor", "admin"):
        raise Forbidden("nur Prüfer:innen und Admins prüfen das Audit-Log / only auditors and "
                        "admins verify the audit log")
    svc = services()
    result = engine_audit.verify(svc.db, incremental=not args["full"], now=svc.engine.now())
    readlog.note_audit_read("verify", ok=result["ok"], mode=result.get("mode"))
    return result


@blp.route("/audit/events", methods=["GET"])
@blp.arguments(AuditArgs, location="query")
@blp.response(200, AuditPageSchema)
@errors(blp, 400, 403)
def audit_events(args):
    """Audit entries newest first, filtered by office, user, date range (``from``, ``to``),
    event type, case or instance; page with ``next`` as ``after`` (auditor)."""
    if not g.user.has("auditor"):
        raise Forbidden("nur Prüfer:innen lesen das Audit-Log / only auditors read the audit "
                        "log")
    f = aq.parse_filter(request.args)
    after = aq.parse_after(args["after"])
    rows, nxt = aq.search(services().db, f, after=after, limit=args["limit"])
    readlog.note_audit_read("search", channel_detail="api", filters=f.as_dict(),
                            entries=len(rows), page_after=after)
    return {"items": rows, "next": nxt}


# ---------------------------------------------------------------- test clock
@test_blp.route("/clock", methods=["POST"])
@test_blp.arguments(ClockBody)
@test_blp.response(200, ClockSchema)
@errors(test_blp, 400, 409)
def test_clock(body):
    """Move the engine clock (``set`` first, then ``advance``) and fire every timer due
    by then, deliver pending messages and expire lapsed consents before answering.
    Exists only when LOTSE_ENV is development or test."""
    from engine.errors import Conflict
    from engine.stored_clock import parse_duration

    eng = services().engine
    clock = eng.clock
    if not hasattr(clock, "set") or not hasattr(clock, "advance"):
        raise Conflict("die Uhr der Engine lässt sich nicht stellen / the engine clock cannot "
                       "be moved")
    if body["set"]:
        try:
            when = datetime.fromisoformat(body["set"])
        except ValueError:
            raise InvalidInput("set muss ein Zeitpunkt nach ISO 8601 sein / set must be an ISO "
                               "8601 date-time", field="set") from None
        clock.set(when)
    if body["advance"]:
        try:
            delta = parse_duration(body["advance"], eng.now())
        except ValueError as exc:
            raise InvalidInput(str(exc), field="advance") from None
        clock.advance(delta)
    expired = expire_consents(eng)
    fired = 0
    delivered = 0
    while True:  # a fired timer may make another one due or throw messages
        n = eng.fire_due_timers()
        d = eng.deliver_pending()
        fired, delivered = fired + n, delivered + d
        if not n and not d:
            break
    return {"now": eng.now().isoformat(), "timers_fired": fired,
            "messages_delivered": delivered, "consents_expired": expired}
