"""The task page (form, instructions) and the task actions: claim, unclaim, reassign, complete."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import g, redirect, render_template, request, url_for
from jinja2 import ChainableUndefined, TemplateError, Undefined
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
from processes.consent import ConsentMissing
from web import case_queries as cq
from web import feedback, queries, uploads, visibility, worklist_rows
from web.accounts import UserNotFound, get_user
from web.auth import login_required, safe_next
from web.ctx import actor, lang, office_name, services, t
from web.errors import Forbidden
from web.flashes import flash, message, names, render
from web.flashes import office as office_param
from web.forms_ui import (
    apply_action,
    build_fields,
    form_action,
    group_errors,
    iter_fields,
    parse_submission,
)
from web.i18n import format_date, format_datetime
from web.ui import bp, is_htmx

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                         r"(Z|[+-][0-9]{2}:[0-9]{2})?")


def german_value(value):
    """A value as German instruction text shows it: a day TT.MM.JJJJ, a moment
    "TT.MM.JJJJ, HH:MM Uhr" in Europe/Berlin (ISO strings too; without an offset a moment is
    Berlin wall time), a list comma-separated ("keine" when empty), a record by its office,
    what it is about and its state, yes/no as "ja"/"nein", nothing as "–"; anything else
    unchanged."""
    if value is None or isinstance(value, Undefined):
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, list | tuple):
        if not value:
            return "keine"
        sep = "; " if any(isinstance(v, dict) for v in value) else ", "
        return sep.join(str(german_value(v)) for v in value)
    if isinstance(value, dict):
        return _record_text(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DAY.fullmatch(text):
                value = date.fromisoformat(text)
            elif _ISO_MOMENT.fullmatch(text):
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=engine_clock.BERLIN)
        return format_datetime(value, "de")
    if isinstance(value, date):
        return format_date(value, "de")
    return value


# what a record (a suggestion, a referral, a consent request) is about, in this order
_RECORD_ABOUT = ("requested_service", "reason", "purpose")
_REFERRAL_STATES = {"sent": "gesendet", "acknowledged": "Eingang bestätigt",
                    "in_progress": "in Bearbeitung", "info_requested": "Unterlagen angefordert",
                    "completed": "abgeschlossen", "forwarded": "weitergeleitet",
                    "withdrawn": "zurückgenommen"}


def _record_text(record: dict) -> str:
    """A record in a sentence: "Jobcenter: Bürgergeld prüfen (Eingang bestätigt)"; a record
    without those keys lists its plain values."""
    office = record.get("office") or record.get("recipient_office")
    about = next((record[k] for k in _RECORD_ABOUT if isinstance(record.get(k), str)
                  and record[k].strip()), None)
    state = record.get("status") or record.get("state")
    if office or about:
        text = ": ".join(str(x) for x in (office, about) if x)
        if isinstance(state, str) and state in _REFERRAL_STATES:
            text += f" ({_REFERRAL_STATES[state]})"
        return text
    return ", ".join(str(german_value(v)) for v in record.values()
                     if not isinstance(v, dict | list) and v not in (None, ""))


# Plain text out (the page template escapes it once); sandboxed because process designers,
# not developers, write these templates. The text is German: every value is shown the
# German way (dates, Berlin times), also nested ones ({{ info_request.required_by }}).
# A name the task's data lack reads "–" (never the raw ``{{ placeholder }}``).
_sandbox = SandboxedEnvironment(autoescape=False, finalize=german_value,
                                undefined=ChainableUndefined)


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
        row = s.get(ProcessInstance, task["instance_id"])
        assert row is not None  # human_task.instance_id is a foreign key; never deleted
        definition_id = row.definition_id
    inst = {"case_ref": ref, "instance_id": task["instance_id"], "definition_id": definition_id}
    from web import task_context

    # what the open task sees: inside a called process (P2 under P1) the instance's own data
    # stop at the call, so the results review would show none of the offices' results
    return visible_data(inst, task_context.task_data(task), task_id=task["task_id"],
                        named_only=True)


def instruction_data(task: dict) -> dict:
    """The case data the task's instructions name, cut to the viewer's consent scope
    (a field outside it reads "nicht freigegeben"); the read is logged."""
    names = referenced_fields(task.get("instructions"))
    if task["state"] != "READY" or not names:
        return {}
    from web import task_context

    # the task's own data: a loop item (``consent_request``) exists only there
    data = task_context.task_data(task)
    wanted = {k: data[k] for k in names if k in data}
    seen = visibility.case_data(g.user, task.get("case_ref"), wanted,
                                instance_id=task["instance_id"], task_id=task["task_id"])
    out = {k: t("dp.not_shared") for k in wanted}
    out.update(task_context.with_office_names(seen.data))  # office names, not codes
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
    from web import task_context

    # whose case it is, where the office may see it (web/visibility.py decides)
    task["person_name"] = task_context.person_of(task) if task.get("case_ref") else None
    return task


def _today():
    """The engine clock's date in Berlin (date-field hints follow the same clock)."""
    from zoneinfo import ZoneInfo

    return services().engine.now().astimezone(ZoneInfo("Europe/Berlin")).date()


def _may_complete(task: dict) -> bool:
    return task["state"] == "READY" and task["assignee"] in (None, g.user.name)


def _page(task: dict, *, values=None, errors=None, notice=None, status=200, focus=None):
    task["instructions_html"] = render_instructions(task.get("instructions"),
                                                    instruction_data(task))
    fields = build_fields(task.get("form_schema"), task.get("ui_schema"), lang=lang(),
                          values=values, errors=errors, today=_today(), focus=focus)
    per_field = group_errors(errors or {}, task.get("form_schema") or {})
    summary = []
    for f in iter_fields(fields):  # nested fields of groups too (issue 15)
        for m in f.errors:
            summary.append((f.id, f.full_label, m))
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
    worklist_rows.remember_return(view["task_id"], request.args.get("next"))
    from web import task_context

    # data the case already holds is not asked again (fields of the same name)
    return _page(view, values=task_context.prefill_for(view))


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
    action = form_action(request.form)
    if action is not None:  # "add entry"/"remove": the form again, nothing is stored
        _, raw = parse_submission(schema, request.form, keep_empty=True)
        raw, focus = apply_action(schema, raw, action)
        return _page(_task_view(task_id), values=raw, focus=focus)
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
    scope = {"case_ref": task.get("case_ref"), "instance_id": task["instance_id"]}
    before = feedback.open_tasks(services().db, **scope)
    try:
        # the files are stored in the completion's own transaction (none kept if refused)
        out = eng.complete(task_id, data, actor=actor(), uploads=accepted.values())
    except FormInvalid as exc:
        errors = exc.errors
        if lang() != "de" and schema:
            with engine_clock.using(eng.clock):
                _, local = engine_forms.clean_and_validate(
                    schema, {**data, **{n: uploads.placeholder() for n in accepted}},
                    format_checker=eng.format_checker, lang=lang())
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
    flash(_completed_notice(task, out, feedback.opened_since(services().db, before, **scope)),
          "success")
    if accepted:
        flash(message("task.files_uploaded", n=len(accepted)), "success")
    back = worklist_rows.return_to(task["task_id"], request.args.get("next"))
    if back is not None:  # the worklist page (filter, page) the task was opened from
        return redirect(back)
    if task["office"] in g.user.work_offices:
        return redirect(url_for("ui.worklist", code=task["office"]))
    return redirect(url_for("ui.board"))


def _completed_notice(task: dict, out: dict, opened: list[dict]) -> dict:
    """What the completion did: the next tasks it opened (with their offices), or that the
    instance ended, failed on its next step or waits."""
    name = names(task["name"], (task.get("form_schema") or {}).get("x-title-en"))
    if opened:
        return message("task.completed_next", name=name,
                       next=feedback.next_tasks_param(opened))
    if out.get("status") == "completed":
        return message("task.completed_end", name=name)
    if out.get("status") == "error":
        return message("task.completed_error", name=name)
    return message("task.completed_none", name=name)


def _after_action(task_id: str, row: dict | None, message_key: str, params=None,
                  error: str | None = None):
    """htmx: the refreshed worklist row; otherwise redirect back (PRG)."""
    if is_htmx() and request.headers.get("HX-Target", "").startswith("task-"):
        eng = services().engine
        if row is None:
            row = eng.get_task(task_id, actor=actor())
        worklist_rows.enrich([row], now=eng.now())
        procs = {p["process_id"]: p["name"] for p in queries.processes(services().db)}
        office = request.form.get("office_view") or None
        text = error or render(message(message_key, **(params or {})), t=t,
                               office_name=office_name, lang=lang())
        return render_template("_task_row.html", r=row, process_names=procs,
                               office=office, back=worklist_rows.back_path(), row_message=text)
    if error:
        flash(error, "error")
    else:
        flash(message(message_key, **(params or {})), "success")
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
    return _after_action(task_id, row, "task.claimed_named", {"name": row["name"]})


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
    return _after_action(task_id, row, "task.unclaimed_named",
                         {"name": row["name"], "office": office_param(row["office"])})


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
        # one step, audited as task.assigned with the lead as actor and the previous assignee
        row = eng.assign(task_id, target.name, actor=actor())
    except Conflict as exc:
        return _after_action(task_id, None, "", error=_conflict_text(exc))
    return _after_action(task_id, row, "task.reassigned_named",
                         {"name": row["name"], "user": target.name})
