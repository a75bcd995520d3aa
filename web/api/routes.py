"""REST endpoints: offices, worklists, tasks, process instances."""

from __future__ import annotations

from datetime import timedelta

from flask import g, request
from sqlalchemy import select

from engine import forms as engine_forms
from engine import forms as engine_forms_mod
from engine.errors import (
    FormInvalid,
    InstanceNotFound,
    InvalidInput,
    TaskClaimedByOther,
    TaskNotFound,
)
from web import accounts, idempotency, queries, starting, uploads, visibility
from web.api import Blueprint
from web.api.schemas import (
    CompleteBody,
    ErrorSchema,
    FileRefSchema,
    InstanceResultSchema,
    InstanceSchema,
    OfficeSchema,
    StartBody,
    TaskDetailSchema,
    TaskListArgs,
    TaskPageSchema,
    TaskSchema,
    TokenListArgs,
    TokenSchema,
)
from web.ctx import actor, services
from web.errors import OfficeNotFound, Unauthorized

blp = Blueprint("api", __name__, url_prefix="/api", description="Lotse REST API")


@blp.before_request
def _require_token():
    if g.get("user") is None:
        raise Unauthorized("ein gültiges Bearer-Token ist nötig / a valid bearer token is "
                           "required")


def errors(*codes: int):
    """Document error responses (all share ErrorSchema)."""

    def deco(fn):
        for code in (401, *codes):
            fn = blp.alt_response(code, schema=ErrorSchema, description=_DESC.get(code, ""))(fn)
        return fn

    return deco


_DESC = {400: "INVALID_INPUT", 401: "UNAUTHORIZED", 403: "FORBIDDEN",
         404: "NOT_FOUND (also for another office's objects)",
         409: "TASK_NOT_OPEN / TASK_CLAIMED / INSTANCE_NOT_RUNNING",
         422: "VALIDATION_FAILED: errors maps field -> messages"}


@blp.route("/offices", methods=["GET"])
@blp.response(200, OfficeSchema(many=True))
@errors()
def offices():
    """All configured offices."""
    return [{"code": o.code, "name_de": o.name_de, "name_en": o.name_en,
             "external": o.external, "active": o.active} for o in services().offices]


@blp.route("/offices/<code>/tasks", methods=["GET"])
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, TaskPageSchema)
@errors(400, 404)
def office_tasks(args, code):
    """Open tasks of an office, oldest first; page with ``next`` as ``after``."""
    if code not in g.user.work_offices:
        raise OfficeNotFound(f"Stelle '{code}' nicht gefunden / office '{code}' not found",
                             office=code)
    svc = services()
    rows, nxt = queries.worklist(svc.db, queries.TaskFilter(offices=(code,)),
                                 now=svc.engine.now(), limit=args["limit"],
                                 after=args["after"])
    return {"items": rows, "next": nxt}


@blp.route("/tasks/<task_id>", methods=["GET"])
@blp.response(200, TaskDetailSchema)
@errors(404)
def get_task(task_id):
    """A task with its form schema, UI schema, instructions and the case data of its
    instance within the caller's consent scope (the read is logged)."""
    svc = services()
    try:
        task = svc.engine.get_task(task_id, actor=actor())
    except TaskNotFound:
        visibility.task_refused(task_id)  # another office's task: a refused read
        raise
    task["data"], task["data_masked"], task["not_shared"] = {}, False, []
    ref = task.get("case_ref")
    if ref and visibility.access(g.user, ref).visible:
        seen = visibility.case_data(g.user, ref, svc.engine.show(task["instance_id"])["data"],
                                    instance_id=task["instance_id"], task_id=task["task_id"])
        pol = visibility.policy()
        task["data"], task["data_masked"] = seen.data, seen.masked
        task["not_shared"] = [{"category": c, "label": pol.label(c)} for c in seen.not_shared]
    return task


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
@errors(404, 409)
def claim(task_id):
    """Claim an open task for the caller."""
    return services().engine.claim(task_id, actor=actor())


@blp.route("/tasks/<task_id>/unclaim", methods=["POST"])
@blp.response(200, TaskSchema)
@errors(404, 409)
def unclaim(task_id):
    """Release a claimed task (own claim; a team lead of the office may release any)."""
    eng = services().engine
    task = eng.get_task(task_id, actor=actor())
    return eng.unclaim(task_id, actor=actor(), force=g.user.leads(task["office"]))


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@blp.arguments(CompleteBody)
@blp.response(200, InstanceResultSchema)
@errors(400, 404, 409, 422)
def complete(body, task_id):
    """Complete a task with form data; 422 lists every invalid field (messages in German,
    or English with ``Accept-Language: en``)."""
    eng = services().engine
    try:
        return eng.complete(task_id, body["data"], actor=actor())
    except FormInvalid as exc:
        if request.accept_languages.best_match(["de", "en"], default="de") == "en":
            schema = eng.get_task(task_id, actor=actor()).get("form_schema")
            if schema:
                _, errs = engine_forms.clean_and_validate(
                    schema, body["data"], format_checker=eng.format_checker, lang="en")
                # relocalized: a $$key date rule (checked with the task's data) stays reported
                raise FormInvalid(engine_forms.relocalized(exc.errors, errs),
                                  message="invalid input") from None
        raise


@blp.route("/tasks/<task_id>/files", methods=["POST"])
@blp.response(201, FileRefSchema)
@errors(400, 404, 409, 422)
def upload_file(task_id):
    """Upload a file for a file field of an open task (multipart: ``field`` = the form
    field, ``file`` = the file; PDF/JPEG/PNG by content, at most LOTSE_MAX_UPLOAD_BYTES).
    Send the returned reference (at least its ``id``) as the field's value to
    ``/tasks/<task_id>/complete``; a file can be used once, only in its own case."""
    lang = request.accept_languages.best_match(["de", "en"], default="de")
    task = services().engine.get_task(task_id, actor=actor())
    name = request.form.get("field") or ""
    if name not in engine_forms_mod.file_fields(task.get("form_schema")):
        raise InvalidInput("kein Dateifeld des Formulars dieser Aufgabe / field is not a "
                           "file field of this task's form", field=name)
    if task["assignee"] not in (None, g.user.name):
        raise TaskClaimedByOther(f"Aufgabe ist übernommen von / task is claimed by "
                                 f"{task['assignee']}",
                                 assignee=task["assignee"])
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise FormInvalid({name: [engine_forms_mod.required_text(lang)]})
    accepted, errs = uploads.check_files(task.get("form_schema"), {name: sent}, lang=lang)
    if errs:
        raise FormInvalid(errs)
    return uploads.store_for_task(task, [accepted[name]], g.user.name)[name], 201


@blp.route("/files/<file_id>", methods=["GET"])
@errors(404)
def download_file(file_id):
    """An uploaded file, for users who may see its case and its field's data category
    (logged as a data read); 404 for everyone else."""
    return uploads.download(file_id)


_IDEMPOTENCY_HEADER = {
    "in": "header", "name": idempotency.HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
    "description": "Send the same request again with the same key (within 24 h) and get the "
                   "first answer (same status and body, header Idempotent-Replayed: true) "
                   "instead of a second instance; the same key with another body is 422 "
                   "IDEMPOTENCY_KEY_REUSED. Only successful answers are kept: after an error "
                   "(e.g. 503) the same request runs again."}


@blp.route("/process-instances", methods=["POST"])
@blp.arguments(StartBody)
@blp.response(201, InstanceResultSchema)
@blp.doc(parameters=[_IDEMPOTENCY_HEADER])
@errors(400, 403, 404, 422)
def start(body):
    """Start a process instance (latest version) for a case: only staff of the office of
    the process's start lane (403 START_OFFICE_FORBIDDEN), for a case they can see when it
    exists (403 CASE_FORBIDDEN), with data the start form accepts (422; without a start
    form only the process's declared data inputs). With an ``Idempotency-Key`` header a
    repeated request returns the first answer (422 IDEMPOTENCY_KEY_REUSED for another
    body)."""
    svc = services()
    lang = request.accept_languages.best_match(["de", "en"], default="de")

    def create(tx=None):
        data = starting.check_start(
            svc.db, g.user, body["process_id"], body.get("case_ref"), body["data"],
            sees_case=lambda ref: visibility.require_case(g.user, ref).visible,
            format_checker=svc.engine.format_checker, lang=lang)
        return (tx or svc.engine).start(body["process_id"], data, body["case_ref"],
                                        actor=actor())

    key = idempotency.request_key()
    if key is None:
        return create()
    scope = "POST /api/process-instances"
    status, out, replayed = idempotency.run(
        svc.engine, key=key, actor=g.user.name, scope=scope,
        request_hash=idempotency.body_hash(scope),
        create=lambda tx: (201, InstanceResultSchema().dump(create(tx))))
    return out, status, {idempotency.REPLAYED_HEADER: "true"} if replayed else {}


@blp.route("/process-instances/<int:instance_id>", methods=["GET"])
@blp.response(200, InstanceSchema)
@errors(404)
def get_instance(instance_id):
    """Status, visible case data and human tasks of an instance."""
    svc = services()
    found = visibility.instances_for(g.user, instance_id=instance_id)
    if not found:
        raise InstanceNotFound(f"Vorgang {instance_id} nicht gefunden / instance {instance_id} "
                               "not found", instance_id=instance_id)
    out = svc.engine.show(instance_id)
    seen = visibility.case_data(g.user, out.get("case_ref"), out.get("data") or {},
                                instance_id=instance_id)
    out["data"], out["data_masked"] = seen.data, seen.masked
    return out


@blp.route("/tokens", methods=["GET"])
@blp.arguments(TokenListArgs, location="query")
@blp.response(200, TokenSchema(many=True))
@errors(400, 404)
def list_tokens(args):
    """The caller's API tokens (an admin may name another ``user``); never the secret."""
    name = args["user"] or g.user.name
    if name != g.user.name and not g.user.has("admin"):
        raise accounts.UserNotFound(f"Benutzer:in '{name}' nicht gefunden / user '{name}' not "
                                    "found", user=name)
    return accounts.list_tokens(services().db, name,
                                max_age=timedelta(days=services().settings.token_days))


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(200, TokenSchema)
@errors(404)
def revoke_token(token_id):
    """Revoke one API token: your own, or any as an admin (404 TOKEN_NOT_FOUND otherwise).
    Revoking the token of this very request is allowed; it stops working at once."""
    db = services().db
    out = accounts.revoke_token(db, token_id, by=g.user)
    return next(t for t in accounts.list_tokens(
        db, _token_owner(db, token_id), max_age=timedelta(days=services().settings.token_days))
        if t["id"] == out["id"])


def _token_owner(db, token_id: int) -> str:
    from web.models import ApiToken, User

    with db.reader() as s:
        return s.scalar(select(User.name).join(ApiToken, ApiToken.user_id == User.id)
                        .where(ApiToken.id == token_id))
