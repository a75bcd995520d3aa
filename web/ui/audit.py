"""Auditor pages: audit search (filters, keyset paging, CSV/JSON export), a case's timeline
across all its instances and offices, an instance's replay on its BPMN diagram, and the
verification of the hash chain. Every view writes ``audit.read`` (web/readlog.py); no
personal values are shown (field names and categories only)."""

from __future__ import annotations

import json

from flask import Response, abort, g, render_template, request, url_for

from engine import audit as engine_audit
from web import audit_queries as aq
from web import case_queries as cq
from web import readlog
from web.auth import roles_required
from web.ctx import services
from web.ui import bp
from web.ui.cases import CASE_REF_MAX

AUDITOR = ("auditor",)
VERIFIERS = ("auditor", "admin")


def _filter_args() -> dict:
    keys = ("office", "user", "from", "to", "event_type", "case", "instance")
    return {k: request.args.get(k) for k in keys if request.args.get(k)}


@bp.get("/audit")
@roles_required(*AUDITOR)
def audit_search():
    """Search the audit log by office, user, date range, event type (and case)."""
    db = services().db
    f = aq.parse_filter(request.args)
    after = aq.parse_after(request.args.get("after"))
    rows, nxt = aq.search(db, f, after=after)
    readlog.note_audit_read("search", filters=f.as_dict(), entries=len(rows),
                            page_after=after)
    return render_template("audit_search.html", nav="audit", rows=rows, next_after=nxt,
                           f=f, args=_filter_args(), event_types=aq.event_types(db),
                           offices=[o.code for o in services().offices],
                           audit_facts=aq.facts)


def _export(rows: list[dict], fmt: str, name: str) -> Response:
    if fmt == "csv":
        body = aq.to_csv(rows)
        mimetype = "text/csv"
    else:
        body = json.dumps({"entries": rows}, ensure_ascii=False, default=str, indent=1)
        mimetype = "application/json"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
        "Cache-Control": "no-store"})


@bp.get("/audit/export.<any(csv, json):fmt>")
@roles_required(*AUDITOR)
def audit_export(fmt: str):
    """Every entry matching the filters (oldest first) as CSV or JSON."""
    f = aq.parse_filter(request.args)
    rows = aq.export_rows(services().db, f)
    readlog.note_audit_read("export", format=fmt, filters=f.as_dict(), entries=len(rows))
    return _export(rows, fmt, "audit")


@bp.get("/audit/cases/<path:case_ref>")
@roles_required(*AUDITOR)
def audit_case(case_ref: str):
    """A case's timeline across all its instances and offices, and who read its data."""
    if len(case_ref) > CASE_REF_MAX or not aq.CASE_RE.match(case_ref):
        abort(404)
    db = services().db
    instances = aq.case_overview(db, case_ref)
    rows = aq.export_rows(db, aq.AuditFilter(case_ref=case_ref))
    if not instances and not rows:
        abort(404)
    readlog.note_audit_read("case_timeline", case_id=case_ref, entries=len(rows))
    reads = [r for r in rows if r["event_type"] in ("data.read", "data.read_denied",
                                                     "data.export")]
    names = {}
    for inst in instances:
        names.update(cq.element_names(cq.diagram_xml(db, inst["definition_id"],
                                                     inst["process_id"])))
    return render_template("audit_case.html", nav="audit", case_ref=case_ref,
                           instances=instances, rows=rows, reads=reads, element_names=names,
                           audit_facts=aq.facts)


@bp.get("/audit/cases/<path:case_ref>/export.<any(csv, json):fmt>")
@roles_required(*AUDITOR)
def audit_case_export(case_ref: str, fmt: str):
    if len(case_ref) > CASE_REF_MAX or not aq.CASE_RE.match(case_ref):
        abort(404)
    rows = aq.export_rows(services().db, aq.AuditFilter(case_ref=case_ref))
    readlog.note_audit_read("export", format=fmt, filters={"case_ref": case_ref},
                            case_id=case_ref, entries=len(rows))
    return _export(rows, fmt, f"audit-{case_ref.replace('/', '_')}")


@bp.get("/audit/instances/<int:instance_id>")
@roles_required(*AUDITOR)
def audit_replay(instance_id: int):
    """The path an instance took, on its diagram, with who and when at each element."""
    db = services().db
    found = cq.visible_instances(db, g.user, instance_id=instance_id)
    if not found:
        abort(404)
    inst = found[0]
    xml = cq.diagram_xml(db, inst["definition_id"], inst["process_id"])
    rep = aq.replay(db, instance_id, xml, inst["case_ref"])
    states = cq.element_states(db, instance_id)
    readlog.note_audit_read("replay", case_id=inst["case_ref"], instance=instance_id,
                            entries=len(rep["entries"]))
    return render_template("audit_replay.html", nav="audit", inst=inst, rep=rep,
                           states=states, has_diagram=xml is not None,
                           diagram_url=url_for("ui.diagram", instance_id=instance_id),
                           audit_facts=aq.facts)


@bp.get("/audit/verify")
@roles_required(*VERIFIERS)
def audit_verify():
    """Verify the hash chain from the last intact verification on (``?full=1``: all of it)
    and show the result (the first bad entry, if any)."""
    svc = services()
    full = request.args.get("full") in ("1", "true")
    result = engine_audit.verify(svc.db, incremental=not full, now=svc.engine.now())
    readlog.note_audit_read("verify", ok=result["ok"], mode=result.get("mode"))
    return render_template("audit_verify.html", nav="audit_verify", result=result)
