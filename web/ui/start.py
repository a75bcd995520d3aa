"""Start a case: choose a process, give a case reference, fill the start form (if any)."""

from __future__ import annotations

import re
import secrets

from flask import g, redirect, render_template, request, url_for

from engine import forms as engine_forms
from engine.errors import FormInvalid
from web import case_queries as cq
from web import feedback, queries, starting, visibility
from web.auth import login_required
from web.ctx import actor, lang, services, t
from web.errors import Forbidden
from web.flashes import flash, message
from web.forms_ui import build_fields, parse_submission
from web.ui import bp

CASE_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")


def suggest_ref() -> str:
    """A fresh pseudonymous case reference."""
    return f"KIM-{services().engine.now().year}-{secrets.token_hex(3).upper()}"


def _page(procs, chosen, *, case_ref, values=None, errors=None, ref_error=None, status=200):
    schema = ui = None
    if chosen is not None:
        schema, ui = cq.start_form(services().db, chosen["id"], chosen["process_id"])
    fields = build_fields(schema, ui, lang=lang(), values=values, errors=errors)
    summary = [(f.id, f.label, m) for f in fields for m in f.errors]
    if ref_error:
        summary.insert(0, ("case_ref", t("start.case_ref"), ref_error))
    return render_template("start.html", processes=procs, chosen=chosen, fields=fields,
                           summary=summary, case_ref=case_ref, ref_error=ref_error,
                           nav="start"), status


def _require_worker():
    if not g.user.is_worker:
        raise Forbidden("only caseworkers, case managers and team leads start cases")


# the intake (P1): where a new case begins, so the case manager's default
INTAKE_PROCESS = "kim_intake_clearing"


def _startable(procs: list[dict]) -> list[dict]:
    """The processes the user starts by hand: a plain (none) start event, an office of the
    start lane is theirs (processes started only by a message or a timer are the engine's,
    never offered). Sorted by name, the intake first."""
    from engine.read_model import hand_started

    db = services().db
    out = []
    for p in procs:
        info = starting.start_info(db, p["process_id"])
        if info is not None and starting.may_start(g.user, info) \
                and hand_started(db, p["id"], p["process_id"]):
            out.append(p)
    return sorted(out, key=lambda p: (p["process_id"] != INTAKE_PROCESS,
                                      (p["name"] or p["process_id"]).casefold()))


def _default(procs: list[dict]) -> dict | None:
    """The process chosen before the user chooses: the only one, or the intake for case
    management."""
    if len(procs) == 1:
        return procs[0]
    if visibility.is_case_manager(g.user):
        return next((p for p in procs if p["process_id"] == INTAKE_PROCESS), None)
    return None


@bp.get("/start")
@login_required
def start():
    """Step 1: choose a process; step 2 (``?process=``): case reference and start form."""
    _require_worker()
    every = queries.processes(services().db)
    procs = _startable(every)
    pid = request.args.get("process")
    chosen = next((p for p in procs if p["process_id"] == pid), None)
    if chosen is None and any(p["process_id"] == pid for p in every):
        raise starting.StartForbidden("not an office of the start lane", process_id=pid)
    if chosen is None and (not pid or len(procs) == 1):
        chosen = _default(procs)
    return _page(procs, chosen, case_ref=suggest_ref())


@bp.post("/start")
@login_required
def start_submit():
    """Start the instance; go to its first task when it is one of the user's."""
    _require_worker()
    svc = services()
    every = queries.processes(svc.db)
    procs = _startable(every)
    pid = request.form.get("process_id")
    chosen = next((p for p in procs if p["process_id"] == pid), None)
    case_ref = (request.form.get("case_ref") or "").strip()
    if chosen is None:
        if any(p["process_id"] == pid for p in every):
            raise starting.StartForbidden("not an office of the start lane", process_id=pid)
        return _page(procs, None, case_ref=case_ref, status=422)
    schema, _ui = cq.start_form(svc.db, chosen["id"], chosen["process_id"])
    data, raw = parse_submission(schema, request.form)
    ref_error = None if CASE_REF_RE.fullmatch(case_ref) else t("start.bad_ref")
    if ref_error:
        errors: dict = {}
        if schema:
            _, errors = engine_forms.clean_and_validate(
                schema, data, format_checker=svc.engine.format_checker, lang=lang())
        return _page(procs, chosen, case_ref=case_ref, values=raw, errors=errors,
                     ref_error=ref_error, status=422)
    try:
        data = starting.check_start(
            svc.db, g.user, chosen["process_id"], case_ref, data,
            sees_case=lambda ref: visibility.require_case(g.user, ref).visible,
            format_checker=svc.engine.format_checker, lang=lang())
        before = feedback.open_tasks(svc.db, case_ref=case_ref, instance_id=None)
        out = svc.engine.start(chosen["process_id"], data, case_ref, actor=actor())
    except starting.CaseForbidden:
        return _page(procs, chosen, case_ref=case_ref, values=raw,
                     ref_error=t("start.case_forbidden"), status=403)
    except FormInvalid as exc:
        return _page(procs, chosen, case_ref=case_ref, values=raw, errors=exc.errors,
                     status=422)
    opened = feedback.opened_since(svc.db, before, case_ref=case_ref,
                                   instance_id=out["instance_id"])
    flash(message("start.started_next" if opened else "start.started_none", ref=case_ref,
                  id=out["instance_id"], next=feedback.next_tasks_param(opened)), "success")
    mine = [r for r in svc.engine.tasks(instance_id=out["instance_id"])
            if r["office"] in g.user.work_offices]
    if mine:
        return redirect(url_for("ui.task", task_id=mine[0]["task_id"]))
    return redirect(url_for("ui.case", case_ref=case_ref))
