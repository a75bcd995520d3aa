"""The task page (form, instructions) and the task actions: claim, unclaim, reassign, complete."""

from __future__ import annotations

from datetime import datetime

from flask import flash, g, redirect, render_template, request, url_for
from jinja2 import TemplateError
from jinja2 import meta as jinja_meta
from jinja2.sandbox import SandboxedEnvironment

from engine import clock as engine_clock
from engine import forms as engine_forms
from engine.errors import (
    Conflict,
    FormInvalid,
    InvalidInput,
    TaskClaimedByOther,
    TaskNotFound,
    TaskNotOpen,
)
from engine.runtime import Actor
from processes.consent import ConsentMissing
from web import case_queries as cq
from web import queries, uploads, visibility
from web.accounts import UserNotFound, get_user
from web.auth import login_required, safe_next
from web.ctx import actor, lang, services, t
from web.errors import Forbidden
from web.forms_ui import build_fields, group_errors, parse_submission
from web.i18n import format_datetime
from web.ui import bp, is_htmx

# Plain text out (the page template escapes it once); sandboxed because process designers,
# not developers, write these templates.
_sandbox = SandboxedEnvironment(autoescape=False)


def render_instructions(text: str | None, data: dict) -> str | None:
    """BPMN ``instructionsForEndUser`` as plain text with ``{{ field }}`` placeholders
    filled (sandboxed); the raw text if the template is broken."""
    if not text:
        return None
    try:
        return _sandbox.from_string(text).render(**{k: v for k, v in data.items()
                                                    if isinstance(k, str)})
    except (TemplateError, TypeError, ValueError, ArithmeticError, AttributeError):
        return text


def referenced_fields(text: str | None) -> set[str]:
    """The case-data fields an instruction template names (``{{ first_name }}``)."""
    if not text:
        return set()
    try:
        return set(jinja_meta.find_undeclared_variables(_sandbox.parse(text)))
    except TemplateError:
        return set()


def _instance_data(task: dict) -> dict:
    """The current data of the task's instance (read once per page)."""
    if "_instance_data" not in task:
        task["_instance_data"] = services().engine.show(task["instance_id"]).get("data") or {}
    return task["_instance_data"]


def case_data_view(task: dict) -> dict | None:
    """The case data of the task's instance the viewer may see (``web.ui.cases.visible_data``:
    the fields of the consented categories, also those a referral carries in
    ``shared_data``, and the other categories by name); the read is logged with the task.
    None without a case or access to it."""
    from engine.models import ProcessInstance
    from web.ui.cases import visible_data

    ref = task.get("case_ref")
    if not ref or not visibility.access(g.user, ref).visible:
        return None
    with services().db.reader() as s:
        definition_id = s.get(ProcessInstance, task["instance_id"]).definition_id
    inst = {"case_ref": ref, "instance_id": task["instance_id"], "definition_id": definition_id}
    return visible_data(inst, _instance_data(task), task_id=task["task_id"])


def instruction_data(task: dict) -> dict:
    """The case data the task's instructions name, cut to the viewer's consent scope
    (a field outside it reads "nicht freigegeben"); the read is logged."""
    names = referenced_fields(task.get("instructions"))
    if task["state"] != "READY" or not names:
        return {}
    data = _instance_data(task)
    wanted = {k: data[k] for k in names if k in data}
    seen = visibility.case_data(g.user, task.get("case_ref"), wanted,
                                instance_id=task["instance_id"], task_id=task["task_id"])
    out = {k: t("dp.not_shared") for k in wanted}
    out.update(seen.data)
    return out


def _title(task: dict) -> str:
    schema = task.get("form_schema") or {}
    return (schema.get("x-title-en") if lang() == "en" else None) or task["name"]


def _task_view(task_id: str) -> dict:
    """The task, only if visible to the user's offices."""
    eng = services().engine
    task = eng.get_task(task_id, actor=actor())
    task["title"] = _title(task)
    task["overdue"] = queries.is_overdue(task, eng.now())
    return task


def _today():
    """The engine clock's date in Berlin (date-field hints follow the same clock)."""
    from zoneinfo import ZoneInfo

    return services().engine.now().astimezone(ZoneInfo("Europe/Berlin")).date()


def _may_complete(task: dict) -> bool:
    return task["state"] == "READY" and task["assignee"] in (None, g.user.name)


def _page(task: dict, *, values=None, errors=None, notice=None, status=200):
    task["instructions_html"] = render_instructions(task.get("instructions"),
                                                    instruction_data(task))
    fields = build_fields(task.get("form_schema"), task.get("ui_schema"), lang=lang(),
                          values=values, errors=errors, today=_today())
    per_field = group_errors(errors or {}, task.get("form_schema") or {})
    summary = []
    for f in fields:
        for m in f.errors:
            summary.append((f.id, f.label, m))
    for m in per_field.get(engine_forms.FORM_KEY, []):
        summary.append(("task-form", "", m))
    members = []
    if g.user.leads(task["office"]) and task["state"] == "READY":
        from web.accounts import list_users

        members = [u["name"] for u in list_users(services().db, office=task["office"])
                   if u["active"] and set(u["roles"]) & {"caseworker", "case_manager",
                                                         "team_lead"}]
    procs = {p["process_id"]: p["name"] for p in queries.processes(services().db)}
    case_visible = (visibility.access(g.user, task["case_ref"]).visible if task.get("case_ref")
                    else True)  # the case page is 404 without referral and consent
    return render_template("task.html", task=task, fields=fields, summary=summary,
                           case_visible=case_visible,
                           case_data=case_data_view(task) if case_visible else None,
                           may_complete=_may_complete(task), notice=notice, members=members,
                           process_name=procs.get(task["process_id"], task["process_id"]),
                           nav="board"), status


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str):
    """The task with its form, instructions and actions."""
    try:
        view = _task_view(task_id)
    except TaskNotFound:
        visibility.task_refused(task_id)  # another office's task: a refused read
        raise
    return _page(view)


def _not_open_notice(exc: TaskNotOpen, task: dict) -> str:
    if task["state"] == "COMPLETED" or exc.fields.get("state") == "COMPLETED":
        by = task.get("completed_by") or exc.fields.get("completed_by")
        at = task.get("completed_at")
        when = format_datetime(datetime.fromisoformat(at), lang()) if at else None
        return t("task.already_done", by=t("task.already_by", user=by) if by else "",
                 at=t("task.already_at", when=when) if when else "")
    return t("task.not_open", state=t(f"state.{task['state']}"))


@bp.post("/tasks/<task_id>")
@login_required
def complete(task_id: str):
    """Complete the task with the submitted form (PRG on success).

    Before the engine runs only the task row and its form schema are read (one statement,
    the definition from the per-process cache); the full task view (instructions, members,
    case access) is built only when the form is shown again (errors, conflicts)."""
    eng = services().engine
    task = cq.task_form(services().db, task_id, actor().offices)
    if task is None:
        raise TaskNotFound(f"task '{task_id}' not found", task_id=task_id)
    task["title"] = _title(task)
    schema = task.get("form_schema")
    data, raw = parse_submission(schema, request.form)
    accepted, file_errors = uploads.check_files(schema, request.files, lang=lang())
    if file_errors:  # refuse with every other field error too; nothing is stored
        probe = {**data, **{n: uploads.placeholder() for n in (*accepted, *file_errors)}}
        with engine_clock.using(eng.clock):
            _, errors = engine_forms.clean_and_validate(
                schema or {}, probe, format_checker=eng.format_checker, lang=lang())
        for name, msgs in file_errors.items():
            errors.setdefault(name, []).extend(msgs)
        return _page(_task_view(task_id), values=raw, errors=errors, status=422)
    stored: dict[str, dict] = {}
    try:
        if accepted:
            stored = uploads.store_for_task(task, list(accepted.values()), g.user.name)
            data.update(stored)
        eng.complete(task_id, data, actor=actor())
        stored = {}
    except FormInvalid as exc:
        errors = exc.errors
        if lang() != "de" and schema:
            with engine_clock.using(eng.clock):
                _, local = engine_forms.clean_and_validate(
                    schema, data, format_checker=eng.format_checker, lang=lang())
            # the engine also checked $$key date rules against the task's data
            errors = engine_forms.relocalized(exc.errors, local)
        return _page(_task_view(task_id), values=raw, errors=errors, status=422)
    except TaskNotOpen as exc:
        fresh = _task_view(task_id)
        return _page(fresh, notice=_not_open_notice(exc, fresh), status=409)
    except TaskClaimedByOther as exc:
        return _page(_task_view(task_id), values=raw, status=409,
                     notice=t("error.claimed", assignee=exc.fields.get("assignee") or "?"))
    except ConsentMissing as exc:  # nothing was changed: the form keeps its values
        return _page(_task_view(task_id), values=raw, status=409,
                     notice=t("consent.missing", office=exc.fields.get("office") or "?",
                              purpose=exc.fields.get("purpose") or "?"))
    finally:
        uploads.discard(stored)  # a completion that did not happen keeps no file
    flash({"key": "task.completed_ok", "params": {"name": task["title"]}}, "success")
    if task["office"] in g.user.work_offices:
        return redirect(url_for("ui.worklist", code=task["office"]))
    return redirect(url_for("ui.board"))


def _after_action(task_id: str, row: dict | None, message_key: str, params=None,
                  error: str | None = None):
    """htmx: the refreshed worklist row; otherwise redirect back (PRG)."""
    if is_htmx() and request.headers.get("HX-Target", "").startswith("task-"):
        eng = services().engine
        if row is None:
            row = eng.get_task(task_id, actor=actor())
        row["overdue"] = queries.is_overdue(row, eng.now())
        procs = {p["process_id"]: p["name"] for p in queries.processes(services().db)}
        office = request.form.get("office_view") or None
        return render_template("_task_row.html", r=row, process_names=procs,
                               office=office, row_message=error or t(message_key, **(params or {})))
    if error:
        flash(error, "error")
    else:
        flash({"key": message_key, "params": params or {}}, "success")
    return redirect(safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("ui.task", task_id=task_id))


def _conflict_text(exc: Conflict) -> str:
    if isinstance(exc, TaskClaimedByOther):
        return t("error.claimed", assignee=exc.fields.get("assignee") or "?")
    return t("error.409")


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    """Claim the task for the current user."""
    try:
        row = services().engine.claim(task_id, actor=actor())
    except Conflict as exc:
        return _after_action(task_id, None, "", error=_conflict_text(exc))
    return _after_action(task_id, row, "task.claimed_ok")


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):
    """Release the task (own claim; team leads may release anyone's)."""
    eng = services().engine
    current = eng.get_task(task_id, actor=actor())
    force = g.user.leads(current["office"])
    try:
        row = eng.unclaim(task_id, actor=actor(), force=force)
    except Conflict as exc:
        return _after_action(task_id, None, "", error=_conflict_text(exc))
    return _after_action(task_id, row, "task.unclaimed_ok")


@bp.post("/tasks/<task_id>/reassign")
@login_required
def reassign(task_id: str):
    """Team leads: give the task to another member of the office."""
    eng = services().engine
    current = eng.get_task(task_id, actor=actor())
    if not g.user.leads(current["office"]):
        raise Forbidden("only the office's team lead may reassign")
    target_name = (request.form.get("user") or "").strip()
    try:
        target = get_user(services().db, target_name)
    except UserNotFound:
        raise InvalidInput("unknown user", user=target_name) from None
    if current["office"] not in target.work_offices:
        raise InvalidInput("the user does not work in this office", user=target_name)
    try:
        if current["assignee"] and current["assignee"] != target.name:
            eng.unclaim(task_id, actor=actor(), force=True)
        # TODO(engine): one atomic Engine.assign(task, assignee, actor) with the lead as actor.
        row = eng.claim(task_id, actor=Actor(user=target.name,
                                             offices=frozenset({current["office"]})))
    except Conflict as exc:
        return _after_action(task_id, None, "", error=_conflict_text(exc))
    return _after_action(task_id, row, "task.reassigned_ok", {"user": target.name})
