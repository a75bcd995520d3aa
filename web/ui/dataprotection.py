"""Data-protection pages: recording and revoking consents on the case page (case manager)
and the printable Art. 15 access report (case manager, data-protection officer)."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for

from engine.errors import Conflict, InvalidInput
from processes.access_report import access_report
from processes.consent import ConsentDuplicate
from web import consents, visibility
from web.auth import login_required
from web.ctx import actor, lang, office_name, services, t
from web.errors import Forbidden
from web.flashes import flash
from web.ui import bp
from web.ui.cases import CASE_REF_MAX, _render, may_access_report


def _case_for_manager(case_ref: str) -> list[dict]:
    if len(case_ref) > CASE_REF_MAX:
        abort(404)
    consents.require_manager(g.user)
    instances = visibility.instances_for(g.user, case_ref=case_ref)
    if not instances:
        abort(404)
    return instances


@bp.post("/cases/<path:case_ref>/consents")
@login_required
def record_consent(case_ref: str):
    """Record a consent (office, purpose, categories, validity, health flag)."""
    instances = _case_for_manager(case_ref)
    form = request.form
    body = {"office": form.get("office"), "purpose": form.get("purpose"),
            "categories": form.getlist("categories"),
            "includes_health": form.get("includes_health") == "on",
            "valid_from": form.get("valid_from"), "valid_until": form.get("valid_until")}
    try:
        out = consents.record(g.user, case_ref, body)
    except InvalidInput as exc:
        return _render(instances, case_ref=case_ref, consent_values=body,
                       consent_error=t("consent.invalid", detail=exc.message)), 422
    except ConsentDuplicate as exc:  # one consent per case, office and purpose: nothing added
        return _render(instances, case_ref=case_ref, consent_values=body,
                       consent_error=exc.message), 409
    flash({"key": "consent.recorded_ok", "params": {"office": out["office"],
                                                    "purpose": out["purpose"]}}, "success")
    return redirect(url_for("ui.case", case_ref=case_ref) + "#consents")


@bp.post("/cases/<path:case_ref>/consents/<consent_id>/revoke")
@login_required
def revoke_consent(case_ref: str, consent_id: str):
    """Revoke a consent in one step; its effects apply at once (DP-06)."""
    _case_for_manager(case_ref)
    if consents.get(consent_id)["case_id"] != case_ref:
        abort(404)
    try:
        out = consents.revoke(g.user, consent_id, request.form.get("channel") or "")
    except (InvalidInput, Conflict) as exc:
        flash(t("consent.revoke_failed", detail=exc.message), "error")
        return redirect(url_for("ui.case", case_ref=case_ref) + "#consents")
    eff = out.get("effects") or {}
    flash({"key": "consent.revoked_ok",
           "params": {"office": out["office"], "purpose": out["purpose"],
                      "n": len(eff.get("withdrawn") or [])}}, "success")
    return redirect(url_for("ui.case", case_ref=case_ref) + "#consents")


# ------------------------------------------------------------------ Art. 15 report
def require_report_role() -> None:
    if not may_access_report(g.user):
        raise Forbidden("only the case manager (KIM_CM) or the data-protection officer")


@bp.get("/access-report")
@login_required
def access_report_start():
    """Data-protection officer: pick the case whose person asked for access."""
    require_report_role()
    ref = (request.args.get("ref") or "").strip()
    if ref:
        return redirect(url_for("ui.access_report_page", case_ref=ref[:CASE_REF_MAX]))
    return render_template("access_report_start.html", nav="access_report")


@bp.get("/cases/<path:case_ref>/access-report")
@login_required
def access_report_page(case_ref: str):
    """The Art. 15 report as a printable page (generating it writes data.export)."""
    require_report_role()
    if len(case_ref) > CASE_REF_MAX:
        abort(404)
    report = access_report(services().engine, case_ref, actor=actor(),
                           policy=visibility.policy())
    cats = visibility.policy().categories
    cat_names = {c: (n.get(lang()) or n.get("de") or c) for c, n in cats.items()}
    return render_template("access_report.html", report=report, cat_names=cat_names,
                           office_name=office_name, nav="access_report")
