"""The operations console for administrators (issue 15.2, as Camunda Cockpit's and
SpiffArena's process-instance pages): the incident list with a retry per row, an instance
search, one instance with suspend / resume / terminate (each with a reason), and the user
and token administration. The engine audits every instance action with the administrator
and the reason, ``web.accounts`` every account change. Incidents show Lotse's message
without values, never the exception's full text; no page shows a password hash or a token
secret. Every other role gets 403."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, g, redirect, render_template, request, url_for

from engine import read_model
from engine.errors import InstanceNotFound, InstanceNotRunning
from web import accounts, queries
from web.auth import roles_required
from web.ctx import actor, office_name, services, t
from web.flashes import flash
from web.models import ROLES, WORKER_ROLES
from web.ui import bp

ADMIN = ("admin",)
STATUSES = ("running", "error", "suspended", "completed", "cancelled")
ACTIONS = ("suspend", "resume", "terminate")
# which actions each status allows (the engine decides; the page offers only these)
ALLOWED = {"running": ("suspend", "terminate"), "error": ("retry", "suspend", "terminate"),
           "suspended": ("resume", "terminate")}
REASON_MAX = 500
CASE_MAX = 200
SEARCH_LIMIT = 100
PASSWORD_MAX = 200
DISPLAY_MAX = 200


# ------------------------------------------------------------------ instances
def _search_args() -> tuple[dict, dict, list]:
    """The search filters from the query string: (values as typed, valid filters, errors)."""
    a = request.args
    values = {k: (a.get(k) or "").strip() for k in ("process", "version", "status", "case")}
    filters: dict = {}
    errors: list[tuple[str, str, str]] = []
    if values["process"]:
        filters["process_id"] = values["process"][:200]
    if values["version"]:
        v = values["version"]
        if v.isascii() and v.isdigit() and 0 < int(v) < 2**31:
            filters["version"] = int(v)
        else:
            errors.append(("s-version", t("ops.version"), t("ops.bad_version")))
    if values["status"]:
        if values["status"] in STATUSES:
            filters["status"] = values["status"]
        else:
            errors.append(("s-status", t("ops.status"), t("ops.bad_status")))
    if values["case"]:
        if len(values["case"]) <= CASE_MAX:
            filters["case_ref"] = values["case"]
        else:
            errors.append(("s-case", t("ops.case"), t("ops.bad_case")))
    return values, filters, errors


@bp.get("/ops")
@roles_required(*ADMIN)
def ops_console():
    """Incidents (with a retry each) and the instance search."""
    db = services().db
    values, filters, errors = _search_args()
    incidents = read_model.instances(db, status="error", limit=SEARCH_LIMIT)
    results = [] if errors else read_model.instances(db, **filters, limit=SEARCH_LIMIT)
    return render_template("ops.html", nav="ops", incidents=incidents, results=results,
                           values=values, summary=errors, statuses=STATUSES,
                           processes=queries.processes(db), limit=SEARCH_LIMIT,
                           searched=bool(filters) or bool(errors)), 400 if errors else 200


def _instance_or_404(instance_id: int) -> dict:
    inst = read_model.instance(services().db, instance_id)
    if inst is None:
        abort(404)
    return inst


def _render_instance(inst: dict, *, status: int = 200, summary=(), failure: str | None = None,
                     form: dict | None = None, field_errors: dict | None = None):
    return render_template(
        "ops_instance.html", nav="ops", inst=inst,
        allowed=ALLOWED.get(inst["status"], ()),
        history=read_model.ops_history(services().db, inst["instance_id"]),
        summary=list(summary), failure=failure, form=form or {},
        field_errors=field_errors or {}), status


@bp.get("/ops/instances/<int:instance_id>")
@roles_required(*ADMIN)
def ops_instance(instance_id: int):
    """One instance: its incident, the actions its status allows, who did what and why."""
    return _render_instance(_instance_or_404(instance_id))


def _conflict(instance_id: int, action: str):
    """The state did not allow the action (another administrator, a stale page): 409 with
    the current state."""
    inst = _instance_or_404(instance_id)
    return _render_instance(inst, status=409, failure=t(
        "ops.not_allowed", action=t(f"ops.{action}"), status=t(f"status.{inst['status']}")))


@bp.post("/ops/instances/<int:instance_id>/<any(suspend, resume, terminate):action>")
@roles_required(*ADMIN)
def ops_action(instance_id: int, action: str):
    """Suspend, resume or terminate with a reason (1-500 characters); terminate also needs
    the confirmation box."""
    inst = _instance_or_404(instance_id)
    reason = (request.form.get("reason") or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = t("ops.reason_missing")
    elif len(reason) > REASON_MAX:
        errors["reason"] = t("ops.reason_long", n=len(reason))
    if action == "terminate" and request.form.get("confirm") != "yes":
        errors["confirm"] = t("ops.confirm_missing")
    if errors:
        labels = {"reason": t("ops.reason"), "confirm": t("ops.terminate_title")}
        summary = [(f"{action}-{k}", labels[k], msg) for k, msg in errors.items()]
        return _render_instance(inst, status=400, summary=summary,
                                form={"action": action, "reason": reason},
                                field_errors=errors)
    fn = getattr(services().engine, action)
    try:
        out = fn(instance_id, reason=reason, actor=actor())
    except InstanceNotFound:
        abort(404)
    except InstanceNotRunning:
        return _conflict(instance_id, action)
    key = {"suspend": "ops.suspended_ok", "resume": "ops.resumed_ok",
           "terminate": "ops.terminated_ok"}[action]
    flash({"key": key, "params": {"id": instance_id,
                                  "status": t(f"status.{out['status']}")}}, "success")
    return redirect(url_for("ui.ops_instance", instance_id=instance_id))


@bp.post("/ops/instances/<int:instance_id>/retry")
@roles_required(*ADMIN)
def ops_retry(instance_id: int):
    """Run the failed step again (from the incident list or the instance page)."""
    _instance_or_404(instance_id)
    try:
        out = services().engine.retry(instance_id, actor=actor())
    except InstanceNotFound:
        abort(404)
    except InstanceNotRunning:
        return _conflict(instance_id, "retry")
    if out["status"] == "error":
        flash({"key": "ops.retried_still",
               "params": {"id": instance_id, "message": out.get("error") or ""}}, "error")
    else:
        flash({"key": "ops.retried_ok",
               "params": {"id": instance_id, "status": t(f"status.{out['status']}")}},
              "success")
    if request.form.get("back") == "instance":
        return redirect(url_for("ui.ops_instance", instance_id=instance_id))
    return redirect(url_for("ui.ops_console"))


# ------------------------------------------------------------------ users and tokens
def _offices() -> list[str]:
    return services().offices.codes()


def _options() -> dict:
    """The role and office check boxes: (value, label) in the page language."""
    return {"role_options": [(r, t(f"role.{r}")) for r in ROLES],
            "office_options": [(o.code, f"{o.code} – {office_name(o.code)}")
                               for o in services().offices]}


def check_account_form(form, *, new: bool) -> tuple[dict, dict[str, str]]:
    """The account fields of a posted form: (values, field errors in the page language)."""
    values = {"name": (form.get("name") or "").strip().lower(),
              "display_name": (form.get("display_name") or "").strip(),
              "roles": form.getlist("roles"), "offices": form.getlist("offices"),
              "password": form.get("password") or ""}
    errors: dict[str, str] = {}
    if new:
        if not accounts.NAME_RE.fullmatch(values["name"]):
            errors["name"] = t("ops.name_invalid")
        if len(values["display_name"]) > DISPLAY_MAX:
            errors["display_name"] = t("ops.display_long")
    if not values["roles"]:
        errors["roles"] = t("ops.roles_missing")
    elif any(r not in ROLES for r in values["roles"]):
        errors["roles"] = t("ops.roles_unknown")
    known = set(_offices())
    if any(o not in known for o in values["offices"]):
        errors["offices"] = t("ops.offices_unknown")
    elif set(values["roles"]) & WORKER_ROLES and not values["offices"]:
        errors["offices"] = t("ops.offices_missing")
    if new:
        errors.update(_password_error(values["password"]))
    return values, errors


def _password_error(password: str) -> dict[str, str]:
    if len(password) < accounts.MIN_PASSWORD:
        return {"password": t("ops.password_short")}
    if len(password) > PASSWORD_MAX:
        return {"password": t("ops.password_long")}
    return {}


_LABELS = {"name": "ops.user_name", "display_name": "ops.display_name", "roles": "ops.roles",
           "offices": "ops.offices", "password": "ops.password"}


def _summary(errors: dict[str, str], prefix: str) -> list[tuple[str, str, str]]:
    return [(f"{prefix}-{k}", t(_LABELS.get(k, "ops.new_password")), msg)
            for k, msg in errors.items()]


def _users_page(*, status: int = 200, values: dict | None = None,
                errors: dict | None = None):
    errors = errors or {}
    return render_template("ops_users.html", nav="ops", users=accounts.list_users(
        services().db), values=values or {}, errors=errors,
        summary=_summary(errors, "new"), **_options()), status


@bp.get("/ops/users")
@roles_required(*ADMIN)
def ops_users():
    """Every account with its roles, offices and state; the form to create one."""
    return _users_page()


@bp.post("/ops/users")
@roles_required(*ADMIN)
def ops_user_create():
    values, errors = check_account_form(request.form, new=True)
    if errors:
        values.pop("password", None)  # never sent back into the page
        return _users_page(status=400, values=values, errors=errors)
    try:
        p = accounts.create_user(services().db, values["name"], roles=values["roles"],
                                 offices=values["offices"], password=values["password"],
                                 display_name=values["display_name"] or None,
                                 known_offices=_offices(), by=g.user)
    except accounts.UserExists:
        values.pop("password", None)
        return _users_page(status=409, values=values,
                           errors={"name": t("ops.name_taken", name=values["name"])})
    flash({"key": "ops.user_created", "params": {"name": p.name}}, "success")
    return redirect(url_for("ui.ops_user", name=p.name))


def _token_age() -> timedelta:
    return timedelta(days=services().settings.token_days)


def _user_page(name: str, *, status: int = 200, errors: dict | None = None,
               prefix: str = "", values: dict | None = None, failure: str | None = None):
    db = services().db
    acc = accounts.account(db, name)  # UserNotFound: 404
    errors = errors or {}
    return render_template(
        "ops_user.html", nav="ops", acc=acc, **_options(),
        tokens=accounts.list_tokens(db, acc["name"], max_age=_token_age()),
        now=accounts.utcnow(), errors=errors, prefix=prefix, values=values or {},
        summary=_summary(errors, prefix), failure=failure,
        is_self=acc["name"] == g.user.name), status


@bp.get("/ops/users/<name>")
@roles_required(*ADMIN)
def ops_user(name: str):
    """One account: roles and offices, disable/enable, password reset, its API tokens."""
    return _user_page(name)


@bp.post("/ops/users/<name>/access")
@roles_required(*ADMIN)
def ops_user_access(name: str):
    accounts.account(services().db, name)  # 404 first
    values, errors = check_account_form(request.form, new=False)
    if errors:
        return _user_page(name, status=400, errors=errors, prefix="access", values=values)
    try:
        acc = accounts.set_access(services().db, name, roles=values["roles"],
                                  offices=values["offices"], known_offices=_offices(),
                                  by=g.user)
    except accounts.SelfLockout:
        return _user_page(name, status=409, failure=t("ops.self_lockout"))
    flash({"key": "ops.access_ok", "params": {"name": acc["name"]}}, "success")
    return redirect(url_for("ui.ops_user", name=acc["name"]))


@bp.post("/ops/users/<name>/<any(disable, enable):change>")
@roles_required(*ADMIN)
def ops_user_active(name: str, change: str):
    db = services().db
    acc = accounts.account(db, name)
    try:
        accounts.set_active(db, name, change == "enable", by=g.user)
    except accounts.SelfLockout:
        return _user_page(name, status=409, failure=t("ops.self_lockout"))
    flash({"key": "ops.enabled_ok" if change == "enable" else "ops.disabled_ok",
           "params": {"name": acc["name"]}}, "success")
    return redirect(url_for("ui.ops_user", name=acc["name"]))


@bp.post("/ops/users/<name>/password")
@roles_required(*ADMIN)
def ops_user_password(name: str):
    db = services().db
    acc = accounts.account(db, name)
    password = request.form.get("password") or ""
    errors = _password_error(password)
    if errors:
        return _user_page(name, status=400, errors=errors, prefix="pw")
    accounts.set_password(db, name, password, by=g.user)
    flash({"key": "ops.password_ok", "params": {"name": acc["name"]}}, "success")
    return redirect(url_for("ui.ops_user", name=acc["name"]))


@bp.post("/ops/users/<name>/tokens/<int:token_id>/revoke")
@roles_required(*ADMIN)
def ops_token_revoke(name: str, token_id: int):
    db = services().db
    acc = accounts.account(db, name)
    accounts.revoke_token(db, token_id, by=g.user, owner=acc["name"])  # 404 if not theirs
    flash({"key": "ops.revoked_ok", "params": {"id": token_id, "name": acc["name"]}},
          "success")
    return redirect(url_for("ui.ops_user", name=acc["name"]) + "#tokens")
