"""Case pages: every instance of a case, its data, diagram and timeline."""

from __future__ import annotations

import json

from flask import Response, abort, g, redirect, render_template, request, url_for

from web import case_queries as cq
from web import consents, readlog, visibility
from web.auth import login_required
from web.ctx import lang, services
from web.ui import bp

CASE_REF_MAX = 100


def _display(value, node: dict | None, key: str | None = None,
             labels: dict | None = None) -> str:
    """A value in words (web/display.py: Ja/Nein, enum labels, dates, office names, lists
    and records in a line), never JSON."""
    from web import display

    return display.display_value(value, node, lang(), key=key, labels=labels)


def visible_data(inst: dict, data: dict, *, task_id: str | None = None,
                 named_only: bool = False) -> dict:
    """The case data this viewer may see (see web/visibility.py), ready for the pages:
    ``rows`` (fields inside containers such as a referral's ``shared_data`` listed one by one,
    a field shown once even if the data hold it twice), ``masked``, ``hidden`` (how many
    fields the consent scope leaves out) and ``not_shared`` (the categories outside the
    viewer's scope, by name). ``named_only`` leaves out the processes' working variables
    that no form and no entry of ``web.display.VARIABLES`` names (the task page: a
    caseworker reads the case, not ``cycle`` or ``round_records``); they are not read."""
    from web.display import field_label, has_label

    labels = cq.form_fields(services().db, inst["definition_id"])
    pol = visibility.policy()
    if named_only:
        data = {k: v for k, v in data.items()
                if has_label(k, labels.get(k)) or pol.is_container(k, v)}
    seen = visibility.case_data(g.user, inst["case_ref"], data, instance_id=inst["instance_id"],
                                task_id=task_id)
    rows: list[dict] = []
    shown: set[tuple[str, str]] = set()

    def add(values: dict, prefix: str) -> None:
        for key in sorted(values):
            value = values[key]
            if not seen.masked and pol.is_container(key, value):
                add(value, f"{prefix}{key}.")
                continue
            ident = (key, json.dumps(value, sort_keys=True, default=str))
            if ident in shown:
                continue
            shown.add(ident)
            node = labels.get(key)
            rows.append({"key": prefix + key,
                         "value": value if seen.masked else _display(value, node, key, labels),
                         "label": field_label(key, node, lang())})

    if seen.masked:  # auditors: one row per single value, with its category, masked
        cats = seen.field_categories or {}
        rows = [{"key": path, "value": value, "label": path,
                 "category": pol.label(cats.get(path, ""), lang()),
                 "category_code": cats.get(path)} for path, value in seen.data.items()]
    else:
        add(seen.data, "")
    not_shared = [{"category": c, "label": pol.label(c, lang())} for c in seen.not_shared]
    return {"rows": rows, "masked": seen.masked, "hidden": seen.hidden,
            "not_shared": not_shared}


def _instance_view(inst: dict) -> dict:
    svc = services()
    shown = svc.engine.show(inst["instance_id"])
    seen = visible_data(inst, shown.get("data") or {})
    xml = cq.diagram_xml(svc.db, inst["definition_id"], inst["process_id"])
    names = cq.element_names(xml)
    states = cq.element_states(svc.db, inst["instance_id"])
    # a run-time lane (the one referral protocol) takes its office from the instance's data
    lanes = cq.element_offices(svc.db, inst["definition_id"], inst["process_id"],
                               shown.get("data") or {})
    steps = [{"id": el, "name": names.get(el, el), "state": state, "office": lanes.get(el)}
             for state in ("active", "waiting", "completed") for el in states[state]
             if el in names]
    return {**inst, "data_rows": seen["rows"], "masked": seen["masked"],
            "hidden": seen["hidden"], "not_shared": seen["not_shared"],
            "states": states,
            # the office of each marked step, for the diagram's badges (its lane's office)
            "step_offices": {st["id"]: st["office"] for st in steps if st["office"]},
            "steps": steps, "names": names, "tasks": shown.get("tasks") or [],
            "has_diagram": xml is not None, "error": shown.get("error")}


def _render(instances: list[dict], *, case_ref: str | None, consent_values: dict | None = None,
            consent_error: str | None = None):
    views = [_instance_view(i) for i in instances]
    names: dict[str, str] = {}
    for v in views:
        names.update(v["names"])
    events = cq.timeline(services().db, [v["instance_id"] for v in views])
    if g.user.has("auditor"):
        readlog.note_audit_read("case_page", case_id=case_ref,
                                instances=[v["instance_id"] for v in views],
                                entries=len(events))
    manage = bool(case_ref) and visibility.may_manage_consents(g.user)
    consent_view = consent_form_context(case_ref, values=consent_values,
                                        error=consent_error) if manage and case_ref else None
    from web import deadlines  # the "Fristen / Deadlines" section (web/deadlines.py)

    return render_template("case.html", case_ref=case_ref, instances=views, events=events,
                           element_names=names, nav="cases", consent_view=consent_view,
                           may_report=bool(case_ref) and may_access_report(g.user),
                           deadlines=deadlines.for_case(case_ref, views))


def may_access_report(user) -> bool:
    """Art. 15 reports: the case manager (KIM_CM) and the data-protection officer."""
    return visibility.may_manage_consents(user) or user.has("dpo")


def consent_form_context(case_ref: str, *, values: dict | None = None,
                         error: str | None = None) -> dict:
    """What the consent section of the case page needs."""
    from processes.consent import BASE_PURPOSE

    svc = services()
    cats = visibility.policy().categories
    return {"consents": consents.for_case(case_ref), "purposes": consents.purposes(),
            "offices": [o for o in svc.offices if o.active],
            # referral process data need no consent category ([referral_data])
            "categories": [(c, names.get(lang()) or names.get("de") or c)
                           for c, names in cats.items()
                           if c != visibility.policy().referral_category],
            "channels": consents.CHANNELS, "base_purpose": BASE_PURPOSE,
            "form": values or {}, "error": error,
            "today": svc.engine.now().date().isoformat()}


@bp.get("/cases")
@login_required
def case_search():
    """Find a case by reference; lists the latest cases the user may see."""
    ref = (request.args.get("ref") or "").strip()
    if ref:
        return redirect(url_for("ui.case", case_ref=ref[:CASE_REF_MAX]))
    recent = visibility.instances_for(g.user, newest_first=True, limit=20)
    return render_template("cases.html", recent=recent, nav="cases")


@bp.get("/cases/<path:case_ref>")
@login_required
def case(case_ref: str):
    """Every instance of a case the user may see (404 when none)."""
    if len(case_ref) > CASE_REF_MAX:
        abort(404)
    instances = visibility.instances_for(g.user, case_ref=case_ref)
    if not instances:
        abort(404)
    return _render(instances, case_ref=case_ref)


@bp.get("/instances/<int:instance_id>")
@login_required
def instance(instance_id: int):
    """One instance (redirects to its case page when it has a case reference)."""
    found = visibility.instances_for(g.user, instance_id=instance_id)
    if not found:
        abort(404)
    if found[0]["case_ref"]:
        return redirect(url_for("ui.case", case_ref=found[0]["case_ref"]) +
                        f"#instance-{instance_id}")
    return _render(found, case_ref=None)


@bp.get("/instances/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    """The BPMN XML of the instance's process version (for the bpmn-js viewer)."""
    found = visibility.instances_for(g.user, instance_id=instance_id)
    if not found:
        abort(404)
    xml = cq.diagram_xml(services().db, found[0]["definition_id"], found[0]["process_id"])
    if xml is None:
        abort(404)
    return Response(xml, mimetype="application/xml",
                    headers={"Cache-Control": "private, max-age=300"})
