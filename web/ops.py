"""Operations endpoints: ``/readyz`` (readiness) and ``/metrics`` (Prometheus text format).

``/healthz`` (liveness, no database) stays in ``web.app``. Neither endpoint here needs a
login, session or CSRF token, and neither shows personal data: readiness names checks
and migration revisions, metrics are counts per office code.

/metrics access: with ``LOTSE_METRICS_TOKEN`` set, only ``Authorization: Bearer <token>``
(else 401). Unset, only requests from the loopback interface that did not pass a proxy
(no ``X-Forwarded-For``/``Forwarded`` header) are answered (else 403).
"""

from __future__ import annotations

import hmac
import ipaddress
import math

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from engine import health, metrics
from web.ctx import services

bp = Blueprint("ops", __name__)

READY_TIMEOUT_SECONDS = 2.0
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


def init_app(app: Flask) -> None:
    """Register the endpoints; read the migration scripts and build the probe engine once."""
    db = app.extensions["lotse"].db
    app.extensions["lotse_ops"] = {
        "revisions": health.code_revisions(db),
        "probe": health.probe_engine(db, READY_TIMEOUT_SECONDS),
        "completions": metrics.CompletionCounter(),  # per process; exact across processes
    }
    app.register_blueprint(bp)


@bp.get("/readyz")
def readyz():
    """200 ``{"status": "ready"}`` or 503 ``{"status": "not_ready", "failed": [...]}``."""
    ops = current_app.extensions["lotse_ops"]
    out = health.readiness(ops["probe"], ops["revisions"],
                           min_definitions=services().settings.ready_min_definitions,
                           timeout_seconds=READY_TIMEOUT_SECONDS)
    body = {"status": "ready" if out["ready"] else "not_ready", "checks": out["checks"]}
    if not out["ready"]:
        body["failed"] = out["failed"]
    resp = jsonify(body)
    resp.status_code = 200 if out["ready"] else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/metrics")
def metrics_view():
    """Prometheus text exposition of the database-derived metrics."""
    refused = _refuse()
    if refused is not None:
        return refused
    svc = services()
    clock = svc.engine.clock
    refresh = getattr(clock, "refresh", None)
    if refresh is not None:  # the movable clock of development/test: another process moved it
        refresh()
    snap = metrics.collect(svc.db, now=clock.now(), offices=svc.offices.codes(),
                           completions=current_app.extensions["lotse_ops"]["completions"])
    resp = Response(render(snap), mimetype=None, content_type=EXPOSITION)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _refuse() -> Response | None:
    token = services().settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):
            return None
        resp = jsonify(error="UNAUTHORIZED", message="metrics need the bearer token "
                                                      "configured in LOTSE_METRICS_TOKEN")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return resp
    if _is_loopback(request.remote_addr) and not (
            request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")):
        return None
    resp = jsonify(error="FORBIDDEN", message="metrics are served to localhost only; set "
                                               "LOTSE_METRICS_TOKEN to scrape them remotely")
    resp.status_code = 403
    return resp


def _is_loopback(addr: str | None) -> bool:
    try:
        return ipaddress.ip_address(addr or "").is_loopback
    except ValueError:
        return False


_HELP = {
    "lotse_tasks_waiting": ("gauge", "Open (READY) human tasks per office."),
    "lotse_task_completions_total": ("counter", "Human tasks completed by users, per office "
                                                "(task.completed audit entries)."),
    "lotse_timer_lag_seconds": ("gauge", "Seconds since the oldest due but unfired timer was "
                                         "due (0 when none is due)."),
    "lotse_timers_due": ("gauge", "Running instances with a due, unfired timer."),
    "lotse_incidents_open": ("gauge", "Process instances in state error (incidents)."),
    "lotse_messages_pending": ("gauge", "Thrown messages not yet delivered (outbox)."),
}


def render(snap: metrics.Snapshot) -> str:
    """The snapshot in the Prometheus text exposition format 0.0.4."""
    lines: list[str] = []

    def family(name: str, samples: list[tuple[dict, float]]) -> None:
        kind, text = _HELP[name]
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {_num(value)}" if lab else f"{name} {_num(value)}")

    family("lotse_tasks_waiting",
           [({"office": o}, n) for o, n in sorted(snap.tasks_waiting.items())])
    family("lotse_task_completions_total",
           [({"office": o}, n) for o, n in sorted(snap.tasks_completed.items())])
    family("lotse_timer_lag_seconds", [({}, snap.timer_lag_seconds)])
    family("lotse_timers_due", [({}, snap.timers_due)])
    family("lotse_incidents_open", [({}, snap.incidents_open)])
    family("lotse_messages_pending", [({}, snap.messages_pending)])
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    return repr(float(value))
