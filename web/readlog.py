"""Read logging (DP-11): the one place the web layer records who saw which case data.

* ``note_read`` - a response carries fields of a case. Called by ``web.visibility`` (every
  page, API answer and export gets case data through it), so a view cannot forget it.
  The entries are written by ``flush`` after the response is built, one ``data.read`` per
  case, in their own short write transaction; an answer that fails (status >= 400)
  carried no data and writes none. If writing fails, the response fails too (no data
  without its log entry): a locked or unreachable database answers 503 with Retry-After
  (``INSTANCE_BUSY`` / ``DATABASE_UNAVAILABLE``, as ``web.errors``), anything else 500.
* ``note_audit_read`` - an auditor view or export of the audit log (``audit.read``),
  written the same way.
* ``denied`` - a refused read (404 for another office's case, 403 for a category outside
  the consent): ``data.read_denied`` at once, since the response is an error.

Entries hold ids, field names, categories, offices and purposes - never values (DP-12).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, g, has_request_context, make_response, request

from engine.audit import add_at_commit
from engine.db import classify as classify_db_error
from engine.models import AuditEvent
from web.ctx import services, user
from web.errors import handle_database_error

_READS = "lotse_reads"
_AUDIT_READS = "lotse_audit_reads"
_MASKED = "lotse_masked_reads"


@dataclass
class _Read:
    fields: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    instances: set[int] = field(default_factory=set)
    purposes: set[str] = field(default_factory=set)
    task_id: str | None = None
    office: str | None = None


def _context() -> dict:
    """Where the read happened: channel, route (the pattern, not the path) and method."""
    if not has_request_context():
        return {}
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    channel = "api" if request.path.startswith("/api/") else "page"
    return {"channel": channel, "route": rule, "method": request.method}


def _viewer() -> tuple[str | None, str | None, dict]:
    """(actor, office, extra details) of the current user."""
    u = user()
    if u is None:
        return None, None, {}
    offices = sorted(u.work_offices)
    extra = {"roles": sorted(u.roles)}
    if len(offices) > 1:
        extra["offices"] = offices
    return u.name, (offices[0] if offices else None), extra


def note_read(case_id: str, *, fields, categories, instance_id: int | None = None,
              task_id: str | None = None, purposes=(), office: str | None = None) -> None:
    """This response carries ``fields`` (of ``categories``) of case ``case_id``."""
    fields = {f for f in fields if isinstance(f, str)}
    if not fields or not has_request_context():
        return
    reads: dict[str, _Read] = g.setdefault(_READS, {})
    r = reads.setdefault(case_id, _Read())
    r.fields |= fields
    r.categories |= set(categories)
    r.purposes |= set(purposes)
    if instance_id is not None:
        r.instances.add(int(instance_id))
    if task_id is not None:
        r.task_id = task_id
    if office is not None:
        r.office = office


def note_masked(case_id: str, *, fields, instance_id: int | None = None) -> None:
    """An auditor's answer shows field names (values masked) of case ``case_id``: one
    ``audit.read`` (view ``case_data``) per case and response."""
    if not has_request_context():
        return
    masked: dict[str, _Read] = g.setdefault(_MASKED, {})
    r = masked.setdefault(case_id, _Read())
    r.fields |= {f for f in fields if isinstance(f, str)}
    if instance_id is not None:
        r.instances.add(int(instance_id))


def note_audit_read(view: str, **details) -> None:
    """This response shows (part of) the audit log: ``view`` plus filters and counts."""
    if has_request_context():
        g.setdefault(_AUDIT_READS, []).append({"view": view, **details})


def denied(case_id: str | None, *, reason: str, instance_id: int | None = None,
           categories=(), office: str | None = None, task_id: str | None = None) -> None:
    """Write ``data.read_denied`` now (own transaction)."""
    actor, own_office, extra = _viewer()
    details = {"case_id": case_id, "reason": reason, **_context(), **extra}
    if instance_id is not None:
        details["instance"] = int(instance_id)
    if task_id is not None:
        details["task_id"] = task_id
    if categories:
        details["categories"] = sorted(categories)
    _write([AuditEvent(event_type="data.read_denied", actor=actor,
                       office=office or own_office, details=details)])


def flush(response):
    """after_request: write the noted reads when the answer carried data."""
    reads: dict[str, _Read] = g.pop(_READS, None) or {}
    audit_reads: list[dict] = g.pop(_AUDIT_READS, None) or []
    for case_id, r in sorted((g.pop(_MASKED, None) or {}).items()):
        audit_reads.append({"view": "case_data", "case_id": case_id, "fields": sorted(r.fields),
                            "instances": sorted(r.instances), "values": "masked"})
    if response.status_code >= 400 or not (reads or audit_reads):
        return response
    actor, own_office, extra = _viewer()
    ctx = _context()
    entries = []
    for case_id, r in sorted(reads.items()):
        details = {"case_id": case_id, "fields": sorted(r.fields),
                   "categories": sorted(r.categories), **ctx, **extra}
        if r.instances:
            details["instances"] = sorted(r.instances)
        if r.purposes:
            details["purposes"] = sorted(r.purposes)
        if r.task_id:
            details["task_id"] = r.task_id
        entries.append(AuditEvent(event_type="data.read", actor=actor,
                                  office=r.office or own_office, details=details))
    for d in audit_reads:
        entries.append(AuditEvent(event_type="audit.read", actor=actor, office=own_office,
                                  details={**d, **ctx, **extra}))
    try:
        _write(entries)
    except Exception as exc:
        kind = classify_db_error(exc)
        if kind is None:
            raise  # a bug: the generic 500, the data are not delivered either
        # The database is locked or unreachable: this answer would carry case data whose
        # read is not logged, so it is replaced by the 503 every other database error gets.
        return make_response(handle_database_error(exc, kind))
    return response


def _write(entries: list[AuditEvent]) -> None:
    if not entries:
        return
    svc = services()
    now = svc.engine.now()
    with svc.db.unit_of_work() as s:
        for e in entries:
            e.at = now
            add_at_commit(s, e)


def init_app(app: Flask) -> None:
    """Register ``flush``; hooks registered before it run after it (Flask runs them in
    reverse), so the security headers also reach a 503 that replaced the answer."""
    app.after_request(flush)
