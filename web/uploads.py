"""File fields (V-14) on the web side: read uploads within the size limit, check them by
content, store them for a task, and hand a stored file out only to users who may see it.

The size limit is ``Settings.max_upload_bytes`` (``LOTSE_MAX_UPLOAD_BYTES``, read once at
start-up). File names may be personal data: they are stored with the file, never logged.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, Response, g, request
from werkzeug.datastructures import FileStorage

from engine import files
from engine import forms as engine_forms
from engine.errors import NotFound, TaskNotOpen
from web import readlog, visibility
from web.ctx import services

# Endpoints that receive files: their request may be larger than the app's default limit.
UPLOAD_ENDPOINTS = frozenset({"ui.complete", "api.upload_file"})


class FileNotFound(NotFound):
    """No stored file with this id that the caller may see."""

    code = "FILE_NOT_FOUND"


def max_bytes() -> int:
    """The configured upload limit in bytes."""
    return services().settings.max_upload_bytes


def _raise_request_limit() -> None:
    """Before anything reads the body: let upload endpoints receive a file a little over
    the limit, so it is refused with a field error instead of a bare 413."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = 2 * max_bytes() + 1024 * 1024


def init_app(app: Flask) -> None:
    """Register the per-request body limit of the upload endpoints."""
    # url_value_preprocessors run before every before_request (the CSRF check reads the form)
    app.url_value_preprocessors.setdefault(None, []).insert(
        0, lambda endpoint, values: _raise_request_limit())


def read(storage: FileStorage, limit: int) -> bytes:
    """The uploaded bytes, at most ``limit + 1`` of them (more means: too large)."""
    return storage.stream.read(limit + 1)


def check_files(schema: dict | None, sent: dict[str, FileStorage], *,
                lang: str) -> tuple[dict[str, Upload], dict[str, list[str]]]:
    """The acceptable uploads of a form's file fields and an error per refused one."""
    accepted: dict[str, Upload] = {}
    errors: dict[str, list[str]] = {}
    limit = max_bytes()
    for name, spec in engine_forms.file_fields(schema).items():
        storage = sent.get(name)
        if storage is None or not storage.filename:
            continue
        field_limit = min(limit, int(spec.get("max_bytes") or limit))
        content = read(storage, field_limit)
        media_type, error = files.check_content(
            content, max_bytes=field_limit,
            accept=spec.get("accept") or engine_forms.FILE_MEDIA_TYPES, lang=lang)
        if error:
            errors[name] = [error]
        else:
            accepted[name] = Upload(name, storage.filename, content, media_type or "")
    return accepted, errors


def placeholder() -> dict:
    """A syntactically valid file reference, to validate the rest of a form before the
    file itself is stored (the engine checks the real reference)."""
    return {"id": "00000000-0000-4000-8000-000000000000"}


Upload = files.Upload  # checked bytes of one file field


def store_for_task(task: dict, uploads: list[Upload], user: str | None) -> dict[str, dict]:
    """Store checked uploads for an open task (one transaction); field -> reference."""
    eng = services().engine
    if task.get("state") != "READY":
        raise TaskNotOpen("task is not open", task_id=task.get("task_id"))
    out: dict[str, dict] = {}
    with eng.db.unit_of_work() as s:
        for up in uploads:
            out[up.field] = files.store(
                s, instance_id=task["instance_id"], case_ref=task.get("case_ref"),
                task_id=task["task_id"], field=up.field, filename=up.filename,
                content=up.content, media_type=up.media_type, uploaded_by=user,
                now=eng.now())
    return out


def download(file_id: str) -> Response:
    """The file, if the user may see its case and the category of its field; else 404."""
    with services().db.reader() as s:
        row = files.get(s, file_id)
        meta = None if row is None else (row.case_ref, row.instance_id, row.field or "",
                                         row.filename, row.media_type)
        content = None if row is None else bytes(row.content)
    if meta is None or content is None:
        raise FileNotFound("file not found")
    case_ref, instance_id, field, filename, media_type = meta
    if not case_ref or not g.user.is_worker:
        raise FileNotFound("file not found")
    view = visibility.require_case(g.user, case_ref, instance_id=instance_id)
    category = visibility.policy().category_of(field)
    if not view.visible or view.masked:
        raise FileNotFound("file not found")
    if category not in view.categories:
        readlog.denied(case_ref, reason="consent_scope", instance_id=instance_id,
                       categories=[category], office=view.office)
        raise FileNotFound("file not found")
    readlog.note_read(case_ref, fields=[field], categories=[category],
                      instance_id=instance_id, purposes=view.purposes, office=view.office)
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(content, mimetype=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })
