"""REST endpoints for what the case pages and the designer do: case list and search, a
case's referrals with their history and SLA dates, one data category of a case, an
instance's history of executed elements, and deploying a process definition.

Scoping: a case another office may not see is a 404 (``web.visibility``, logged as
``data.read_denied``); case data leave only through ``visibility.case_data`` (logged as
``data.read``). Error messages are German first, English second."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from flask import g, jsonify, request
from sqlalchemy import select

from engine.deploy import SourceFile
from engine.errors import DeployError, InstanceNotFound, InvalidInput
from engine.lint import ERROR, lint_files
from engine.models import AuditEvent
from processes.referrals import list_referrals
from web import audit_queries as aq
from web import case_queries as cq
from web import readlog, visibility
from web.api import Blueprint, case_search
from web.api.case_schemas import (
    CaseCategorySchema,
    CaseListSchema,
    CaseReferralsSchema,
    CaseSearchArgs,
    DeployForm,
    DeployRefusedSchema,
    DeployResultSchema,
    InstanceHistorySchema,
)
from web.api.dp_routes import CaseNotFound, _require_token
from web.api.schemas import CASE_REF, ErrorSchema
from web.ctx import services
from web.designer import drafts
from web.errors import Forbidden

blp = Blueprint("case_api", __name__, url_prefix="/api",
                description="Cases: search, referrals, one data category, instance history; "
                            "deploying process definitions")
blp.before_request(_require_token)

_DESC = {400: "INVALID_INPUT", 401: "UNAUTHORIZED",
         403: "FORBIDDEN (role) / CONSENT_SCOPE (category outside the consent)",
         404: "CASE_NOT_FOUND / INSTANCE_NOT_FOUND (also for a case the caller may not see)",
         413: "REQUEST_ENTITY_TOO_LARGE", 422: "LINT_ERRORS / DEPLOY_REFUSED"}

DEPLOY_ROLES = ("process_designer",)
DEPLOY_SUFFIXES = (".bpmn", ".dmn", ".json")
DEPLOY_MAX_FILES = 50
UPLOAD_NAME_RE = re.compile(r"[^A-Za-z0-9._ -]+")
# message of a referral.status_changed entry -> the event of the referral's history
EVENTS = {"referral_sent": "sent", "referral_acknowledged": "acknowledged",
          "referral_forwarded": "forwarded", "referral_info_requested": "info_requested",
          "referral_info_provided": "info_provided", "referral_result": "result",
          "referral_withdrawn": "withdrawn"}


def errors(*codes: int):
    def deco(fn):
        for code in (401, *codes):
            fn = blp.alt_response(code, schema=ErrorSchema, description=_DESC.get(code, ""))(fn)
        return fn

    return deco


def _case(case_ref: str) -> list[dict]:
    """The case's instances the caller may see; 404 (a refusal logged) otherwise."""
    if not CASE_REF.match(case_ref):
        raise CaseNotFound(f"Fall {case_ref} nicht gefunden / case {case_ref} not found")
    found = visibility.instances_for(g.user, case_ref=case_ref)
    if not found:
        raise CaseNotFound(f"Fall {case_ref} nicht gefunden / case {case_ref} not found",
                           case_ref=case_ref)
    return found


# ---------------------------------------------------------------- case list and search
@blp.route("/cases", methods=["GET"])
@blp.arguments(CaseSearchArgs, location="query")
@blp.response(200, CaseListSchema)
@errors(400, 403)
def list_cases(args):
    """Process instances of the cases the caller may see, newest first; filter by case
    reference (prefix ``ref``), ``process_id``, ``status``, ``office``; page with ``next``
    as ``after``. Office workers (their offices' cases with referral and consent), the case
    manager (KIM_CM), auditors (all); other roles 403. No case data (nothing to log)."""
    if not (g.user.work_offices or cq.sees_all_cases(g.user)):
        raise Forbidden("Ihre Rolle sieht keine Fälle / your role sees no cases")
    items, nxt = case_search.search(services().db, g.user, ref=args["ref"],
                                    process_id=args["process_id"], status=args["status"],
                                    office=args["office"], limit=args["limit"],
                                    after=args["after"])
    return {"items": items, "next": nxt}


# ---------------------------------------------------------------- referrals
@blp.route("/cases/<path:case_ref>/referrals", methods=["GET"])
@blp.response(200, CaseReferralsSchema)
@errors(404)
def case_referrals(case_ref):
    """The case's referrals with their history (sent, acknowledged, forwarded, result,
    withdrawn, ...), SLA due dates and overdue flags. Whoever may see the case: the case
    manager and auditors every referral, an office worker those to their offices."""
    _case(case_ref)
    svc = services()
    rows = list_referrals(svc.db, now=svc.engine.now(), case_id=case_ref)
    if not (visibility.is_case_manager(g.user) or cq.sees_all_cases(g.user)):
        rows = [r for r in rows if r["office"] in g.user.work_offices]
    history = _history([r["referral_id"] for r in rows])
    masked = not g.user.is_worker  # auditors: free text of an outcome masked
    for r in rows:
        r["history"] = history.get(r["referral_id"], [])
        if masked:
            r["outcome"] = aq.safe_value(r["outcome"])
    return {"case_ref": case_ref, "referrals": rows}


def _history(referral_ids: list[str]) -> dict[str, list[dict]]:
    if not referral_ids:
        return {}
    wanted = set(referral_ids)
    q = (select(AuditEvent).where(AuditEvent.event_type == "referral.status_changed",
                                  AuditEvent.details["referral_id"].as_string().in_(wanted))
         .order_by(AuditEvent.at, AuditEvent.id))
    out: dict[str, list[dict]] = {}
    with services().db.reader() as s:
        for e in s.scalars(q):
            d = e.details or {}
            message = d.get("message")
            # d["referral_id"]: present, the query matched on it
            out.setdefault(d["referral_id"], []).append({
                "at": e.at.isoformat(),
                "event": EVENTS.get(message, message) if message is not None else None,
                "from_state": d.get("from"), "to_state": d.get("to"),
                "reason": d.get("reason")})
    return out


# ---------------------------------------------------------------- one data category
@blp.route("/cases/<path:case_ref>/data/<category>", methods=["GET"])
@blp.response(200, CaseCategorySchema)
@errors(400, 403, 404)
def case_category(case_ref, category):
    """The fields of one data category of the case (``IDENT``, ``CONTACT``, ...), by path
    (``shared_data.first_name`` inside a container), for a caller whose office has an
    active consent covering it (logged as ``data.read``); otherwise 403 CONSENT_SCOPE,
    logged as a refused read (``data.read_denied``). Auditors see no values (403)."""
    instances = _case(case_ref)
    pol = visibility.policy()
    if category not in pol.categories:
        raise InvalidInput(f"unbekannte Datenkategorie {category} / unknown data category "
                           f"{category}", categories=[category])
    visibility.check_categories(g.user, case_ref, [category])
    eng = services().engine
    out = []
    for inst in instances:
        data = pol.cut(eng.show(inst["instance_id"]).get("data") or {}, {category})
        seen = visibility.case_data(g.user, case_ref, data, instance_id=inst["instance_id"])
        # leaves: the case-data fields by path (envelope keys such as ids are none)
        values = {path: value for path, cat, value in pol.leaves(seen.data)
                  if cat == category}
        out.append({"instance_id": inst["instance_id"], "process_id": inst["process_id"],
                    "status": inst["status"], "fields_": values})
    return {"case_ref": case_ref, "category": category, "label": pol.label(category, "de"),
            "label_en": pol.label(category, "en"), "instances": out}


# ---------------------------------------------------------------- instance history
@blp.route("/process-instances/<int:instance_id>/history", methods=["GET"])
@blp.response(200, InstanceHistorySchema)
@errors(404)
def instance_history(instance_id):
    """The instance's executed elements in order (element id, name, type, when, who,
    office), then the elements active or waiting now. Whoever may see the instance (office
    workers with access to its case, the case manager, auditors; an auditor's read writes
    ``audit.read``)."""
    found = visibility.instances_for(g.user, instance_id=instance_id)
    if not found:
        raise InstanceNotFound(f"Vorgang {instance_id} nicht gefunden / instance "
                               f"{instance_id} not found", instance_id=instance_id)
    inst = found[0]
    db = services().db
    xml = cq.diagram_xml(db, inst["definition_id"], inst["process_id"])
    rep = aq.replay(db, instance_id, xml, inst["case_ref"])
    kinds = {eid: el["kind"] for eid, el in aq.flow_elements(xml).items()}
    steps = [{"n": p["n"], "element_id": p["element_id"], "name": p["name"],
              "type": p["kind"], "state": "completed",
              "at": p["at"].isoformat() if p["at"] else None, "who": p["who"],
              "office": p["office"], "via": p["via"] if p["own"] else None}
             for p in rep["path"]]
    states = cq.element_states(db, instance_id)
    for state in ("active", "waiting"):
        for el in states[state]:
            if el in kinds:
                steps.append({"n": None, "element_id": el,
                              "name": rep["names"].get(el) or el, "type": kinds[el],
                              "state": state, "at": None, "who": None, "office": None,
                              "via": None})
    if cq.sees_all_cases(g.user):
        readlog.note_audit_read("replay", case_id=inst["case_ref"], instance=instance_id,
                                entries=len(steps))
    return {"instance_id": instance_id, "process_id": inst["process_id"],
            "version": inst["version"], "status": inst["status"],
            "case_ref": inst["case_ref"], "steps": steps}


# ---------------------------------------------------------------- deploy
@blp.route("/process-definitions", methods=["POST"])
@blp.arguments(DeployForm, location="files")
@blp.response(201, DeployResultSchema)
@blp.alt_response(422, schema=DeployRefusedSchema,
                  description="LINT_ERRORS (findings: the lint report) / DEPLOY_REFUSED "
                              "(problems)")
@errors(400, 403, 413)
def deploy(_form):
    """Deploy a process definition (process_designer): multipart ``files`` (repeatable)
    with the .bpmn, .dmn and .json (form) files. Refused with 422: ``LINT_ERRORS`` with
    the lint report (``findings``) while it has errors, ``DEPLOY_REFUSED`` with
    ``problems`` when the engine refuses. Deploying the same content again adds no
    version (``changed: false``)."""
    if not g.user.has(*DEPLOY_ROLES):
        raise Forbidden("nur Prozessdesigner:innen dürfen deployen / only process designers "
                        "may deploy")
    files = _uploaded()
    svc = services()
    # as the designer's requests: a model over LOTSE_MAX_MODEL_ELEMENTS is 413
    # MODEL_TOO_LARGE before lint spends time on it (issue 16.6)
    drafts.check_model_size(files, svc.settings.max_model_elements)
    findings = [f.to_dict() for f in lint_files(files, resolve_lane=svc.offices.resolve_lane,
                                                helpers=list(svc.engine.helpers),
                                                rules=svc.engine.lint_rules)]
    if any(f["severity"] == ERROR for f in findings):
        return jsonify({"error": "LINT_ERRORS", "findings": findings,
                        "message": "Der Prüfbericht enthält Fehler / the lint report has "
                                   "errors"}), 422
    try:
        outcomes = svc.engine.deploy_files(files, actor=g.user.name)
    except DeployError as exc:
        return jsonify({"error": "DEPLOY_REFUSED", "problems": exc.problems,
                        "findings": findings,
                        "message": f"Deployment abgelehnt / deployment refused: "
                                   f"{exc.message}"}), 422
    return {"outcomes": [{"process_id": o.process_id, "version": o.version,
                          "changed": o.changed, "definition_id": o.definition_id}
                         for o in outcomes], "findings": findings}, 201


def _uploaded() -> list[SourceFile]:
    sent = [f for f in request.files.getlist("files") if f is not None and f.filename]
    if not sent:
        raise InvalidInput("keine Dateien im Feld 'files' / no files in field 'files'",
                           field="files")
    if len(sent) > DEPLOY_MAX_FILES:
        raise InvalidInput(f"höchstens {DEPLOY_MAX_FILES} Dateien / at most "
                           f"{DEPLOY_MAX_FILES} files", field="files")
    out: list[SourceFile] = []
    names: set[str] = set()
    for f in sent:
        name = UPLOAD_NAME_RE.sub("_", PurePosixPath((f.filename or "").replace("\\", "/")).name)
        if not name.lower().endswith(DEPLOY_SUFFIXES) or name.startswith("."):
            raise InvalidInput(f"{name}: nur .bpmn, .dmn und .json / only .bpmn, .dmn and "
                               f".json files", field="files", file=name)
        if name in names:
            raise InvalidInput(f"{name}: zweimal hochgeladen / uploaded twice",
                               field="files", file=name)
        names.add(name)
        out.append(SourceFile(name, f.read()))
    return out
