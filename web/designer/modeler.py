"""Drafts in the modeler: create, import, edit (bpmn-js), save, lint, form preview, download,
deploy, delete."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from flask import (
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from engine import forms as engine_forms
from engine.deploy import SourceFile
from engine.errors import DeployError, InvalidInput
from engine.interop import inspect_import
from engine.lint import ERROR, lint_files, rule_descriptions
from web.ctx import lang, services, t
from web.designer import bp, can_edit, designer_required, drafts, viewer_required, wants_json
from web.errors import check_form_tree, load_form_json
from web.flashes import flash
from web.forms_ui import build_fields

UPLOAD_NAME_RE = re.compile(r"[^A-Za-z0-9._ -]+")


# ------------------------------------------------------------------------------ helpers
def _now():
    return services().engine.now()


def _lint(files) -> list[dict]:
    svc = services()
    # the engine's rule sets (KIM's) too: the same findings as deploy and `lotse lint`
    findings = lint_files(files, resolve_lane=svc.offices.resolve_lane,
                          helpers=list(svc.engine.helpers), rules=svc.engine.lint_rules)
    order = {ERROR: 0}
    out = [f.to_dict() for f in findings]
    out.sort(key=lambda f: (order.get(f["severity"], 1), f["file"] or "", f["element"] or ""))
    german = lang() != "en"
    for f in out:
        f["rule_label"] = _rule_label(f["rule"])
        # the message in the viewer's language where the rule gives one (KIM rules do);
        # the engine's own rules speak English only
        use_de = german and bool(f.get("message_de"))
        f["text"] = f["message_de"] if use_de else f["message"]
        f["text_lang"] = "de" if use_de else "en"
    return out


def _max_elements() -> int:
    return services().settings.max_model_elements


def _check_size(files) -> None:
    """413 (``drafts.ModelTooLarge``) before lint or import check work on a model that is
    too large for one request (issue 16.6)."""
    drafts.check_model_size(files, _max_elements())


def _rule_label(rule: str) -> str:
    key = f"designer.rule.{rule}"
    text = t(key)
    if text != key:
        return text
    return rule_descriptions(services().engine.lint_rules).get(rule, rule)


def _offices() -> list[dict]:
    reg = services().offices
    en = lang() == "en"
    return [{"code": o.code, "name": o.name_en if en else o.name_de, "name_de": o.name_de,
             "name_en": o.name_en, "active": o.active} for o in reg]


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return body


# ------------------------------------------------------------------------------ create
@bp.post("/drafts")
@designer_required
def new_draft():
    """A new draft from the empty template (name and process id from the form)."""
    name = " ".join((request.form.get("name") or "").split())[:200]
    raw_pid = (request.form.get("process_id") or "").strip()
    errors = {}
    if not name:
        errors["name"] = t("designer.new_name_missing")
    try:
        pid = drafts.check_process_id(raw_pid)
    except InvalidInput:
        errors["process_id"] = t("designer.new_pid_bad")
    if errors:
        return _catalogue_with(new_errors=errors, new_values={"name": name,
                                                              "process_id": raw_pid}), 422
    draft_id = drafts.create(services().db, name=name, bpmn=drafts.new_bpmn(name, pid),
                             bpmn_name=f"{pid}.bpmn", origin="new", actor=g.user.name,
                             now=_now())
    return redirect(url_for("designer.draft", draft_id=draft_id), code=303)


def _catalogue_with(**extra):
    from web.designer.views import _versions_of_all

    db = services().db
    return render_template("designer/catalogue.html", processes=_versions_of_all(db),
                           drafts=drafts.list_drafts(db), can_edit=can_edit(), nav="designer",
                           **extra)


# ------------------------------------------------------------------------------ import
@bp.get("/import")
@designer_required
def import_form():
    """Upload a .bpmn file written by another tool."""
    return render_template("designer/import.html", refusal=None, nav="designer")


def _import_refused(message: str, status: int, name: str | None = None, *,
                    engine_text: bool = False):
    return render_template("designer/import.html", refusal=message, file_name=name,
                           refusal_lang="en" if engine_text else None, nav="designer"), status


@bp.post("/import")
@designer_required
def import_upload():
    """Check the file (``engine.interop.inspect_import``): executable -> modeler; valid but not
    executable -> the viewer with the reasons, lanes and tasks; refused -> the reason."""
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _import_refused(t("designer.import_too_large"), 413)
    if upload is None or not upload.filename:
        return _import_refused(t("designer.import_no_file"), 422)
    name = UPLOAD_NAME_RE.sub("_", PurePosixPath(upload.filename.replace("\\", "/")).name)
    name = name.strip()[:200] or "import.bpmn"
    content = upload.read()
    _check_size([SourceFile(name, content)])
    svc = services()
    out = inspect_import(name, content, resolve_lane=svc.offices.resolve_lane,
                         catalogue_sources=svc.engine._catalogue_sources,
                         rules=svc.engine.lint_rules)
    if out["status"] == "refused":
        return _import_refused("; ".join(out["reasons"]), 422, name, engine_text=True)
    report = {k: out[k] for k in ("status", "reasons", "processes", "has_diagram",
                                  "extensions", "encoding")}
    report["findings"] = len(out["findings"])
    bpmn_name = name if name.lower().endswith(".bpmn") else f"{name}.bpmn"
    try:
        draft_id = drafts.create(svc.db, name=name, bpmn=out["xml"], bpmn_name=bpmn_name,
                                 origin="import", actor=g.user.name, now=_now(), source=name,
                                 import_report=report)
    except InvalidInput as exc:  # e.g. the declared encoding cannot hold the text
        return _import_refused(exc.message, 422, name, engine_text=True)
    if out["status"] == "executable":
        flash({"key": "designer.import_executable", "params": {"name": name}}, "success")
        return redirect(url_for("designer.draft", draft_id=draft_id), code=303)
    return redirect(url_for("designer.view", draft_id=draft_id), code=303)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    if request.endpoint == "designer.import_upload" and not wants_json():
        return _import_refused(t("designer.import_too_large"), 413)
    if wants_json():
        return jsonify({"error": "TOO_LARGE", "message": "the request is too large"}), 413
    from web.errors import handle_http_exception

    return handle_http_exception(exc)


@bp.errorhandler(drafts.ModelTooLarge)
def _model_too_large(exc: drafts.ModelTooLarge):
    message = t("designer.model_too_large", elements=exc.elements, limit=exc.limit)
    if request.endpoint == "designer.import_upload" and not wants_json():
        return _import_refused(message, 413, exc.file)
    if wants_json():
        return jsonify({"error": exc.code, "message": message, "elements": exc.elements,
                        "limit": exc.limit}), 413
    return render_template("error.html", status=413, message=message, message_en=None,
                           detail=None), 413


# ------------------------------------------------------------------------------ pages
@bp.get("/drafts/<int:draft_id>")
@viewer_required
def draft(draft_id: int):
    """The modeler (process designers); everyone else who may look gets the viewer."""
    d = drafts.get(services().db, draft_id)
    if not can_edit():
        return redirect(url_for("designer.view", draft_id=draft_id))
    data = {
        "draft": {"id": d["id"], "revision": d["revision"], "name": d["name"],
                  "bpmn_name": d["bpmn_name"], "xml": d["xml"], "files": d["files"],
                  "process_id": d["process_id"]},
        "urls": {
            "save": url_for("designer.save", draft_id=draft_id),
            "lint": url_for("designer.lint", draft_id=draft_id),
            "deploy": url_for("designer.deploy", draft_id=draft_id),
            "preview": url_for("designer.form_preview"),
            "catalogue": url_for("designer.catalogue"),
        },
        "offices": _offices(),
        "starter_form": drafts.empty_form("Formular"),
        "texts": _js_texts(),
    }
    return render_template("designer/modeler.html", d=d, data=data, nav="designer")


JS_TEXTS = (
    "saved", "saving", "save_failed", "changed_elsewhere", "session_ended", "lint_clean",
    "lint_counts", "lint_failed", "deploying", "deployed", "deployed_same", "deploy_refused",
    "deploy_lint_errors", "select_element", "severity", "severity.error", "severity.warning",
    "rule", "element", "message", "nothing_selected", "selected", "lane_office",
    "lane_unbound", "lane_by_name", "form_title", "form_file", "form_none", "form_file_bad",
    "condition", "condition_hint", "default_flow", "default_none", "script", "unsaved",
    "open_report", "process_versions", "preview_failed", "el.lane", "el.userTask", "el.flow",
    "el.gateway", "el.scriptTask", "severity.info", "bpmnlint.title", "bpmnlint.toggle",
    "bpmnlint.counts", "bpmnlint.clean", "bpmnlint.child_issues", "bpmnlint.report_counts",
    "bpmnlint.report_clean", "bpmnlint.missing", "timer_kind", "timer_value", "timer_hint",
    "timer.timeDuration", "timer.timeDate", "timer.timeCycle", "message_name", "message_hint",
    "message_empty",
)


def _js_texts() -> dict[str, str]:
    return {k: t(f"designer.js.{k}") for k in JS_TEXTS}


@bp.get("/drafts/<int:draft_id>/view")
@viewer_required
def view(draft_id: int):
    """Read-only: the diagram, whether Lotse could run it (with the reasons), lanes and
    tasks, vendor extensions; for imports also what the upload check said."""
    db = services().db
    d = drafts.get(db, draft_id)
    files = drafts.source_files(d)
    _check_size(files)
    svc = services()
    structure = inspect_import(d["bpmn_name"], files[0].content,
                               resolve_lane=svc.offices.resolve_lane,
                               catalogue_sources=svc.engine._catalogue_sources,
                               rules=svc.engine.lint_rules)
    findings = _lint(files) if structure["status"] != "refused" else []
    return render_template("designer/view.html", d=d, structure=structure, findings=findings,
                           report=d["import_report"], can_edit=can_edit(), nav="designer")


# ------------------------------------------------------------------------------ JSON
@bp.get("/drafts/<int:draft_id>/data")
@viewer_required
def load(draft_id: int):
    """The draft as JSON: xml, files, revision."""
    d = drafts.get(services().db, draft_id)
    return jsonify({k: (v.isoformat() if hasattr(v, "isoformat") else v)
                    for k, v in d.items()})


@bp.put("/drafts/<int:draft_id>")
@designer_required
def save(draft_id: int):
    """Save ``{"xml", "files", "revision"}``; 409 when the draft changed meanwhile."""
    body = _json_body()
    out = drafts.save(services().db, draft_id, bpmn=body.get("xml"), files=body.get("files"),
                      revision=body.get("revision"), actor=g.user.name, now=_now(),
                      max_elements=_max_elements())
    return jsonify(out)


@bp.post("/drafts/<int:draft_id>/lint")
@designer_required
def lint(draft_id: int):
    """Lint the editor's content (``{"xml", "files"}``), else the saved draft."""
    d = drafts.get(services().db, draft_id)
    body = request.get_json(silent=True) or {}
    if isinstance(body, dict) and body.get("xml") is not None:
        xml = body.get("xml")
        if not isinstance(xml, str):
            raise InvalidInput("xml must be text", field="xml")
        files = drafts.check_files(body.get("files"))
        sources = drafts.files_for(d["bpmn_name"], xml, files)
    else:
        sources = drafts.source_files(d)
    _check_size(sources)
    findings = _lint(sources)
    errors = sum(1 for f in findings if f["severity"] == ERROR)
    return jsonify({"findings": findings, "errors": errors,
                    "warnings": len(findings) - errors})


@bp.post("/form-preview")
@designer_required
def form_preview():
    """The form a JSON Schema renders to (the task page's fields), or why it cannot."""
    text = request.form.get("schema")
    if text is None and request.is_json:
        body = request.get_json(silent=True) or {}
        text = body.get("schema") if isinstance(body, dict) else None
    error = None
    fields = []
    if not (text or "").strip():
        error = t("designer.preview_empty")
    else:
        try:
            schema = engine_forms.load_form(text)  # also refuses forms nested too deeply
        except ValueError as exc:
            error = t("designer.preview_bad_json", detail=str(exc))
        else:
            check_form_tree(schema)  # a lone surrogate cannot be rendered: 400
            problem = engine_forms.check_schema(
                schema, format_checker=services().engine.format_checker)
            if problem:
                error = t("designer.preview_bad_schema", detail=problem)
            else:
                ui = None
                ui_text = request.form.get("ui")
                if ui_text and ui_text.strip():
                    try:  # too deep, a lone surrogate, control characters: 400
                        ui = load_form_json(ui_text)
                    except ValueError:
                        ui = None
                fields = build_fields(schema, ui if isinstance(ui, dict) else None,
                                      lang=lang())
                if not fields:
                    error = t("designer.preview_no_fields")
    return render_template("designer/_preview.html", fields=fields, error=error)


@bp.get("/drafts/<int:draft_id>/download")
@viewer_required
def download(draft_id: int):
    """The saved BPMN as a file (as uploaded, or as the modeler last saved it)."""
    d = drafts.get(services().db, draft_id)
    content = drafts.source_files(d)[0].content
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", d["bpmn_name"].rsplit(".", 1)[0]) or "process"
    return content, 200, {
        "Content-Type": "application/xml",
        "Content-Disposition": f'attachment; filename="{stem}.bpmn"',
        "Cache-Control": "no-store",
    }


@bp.post("/drafts/<int:draft_id>/deploy")
@designer_required
def deploy(draft_id: int):
    """Deploy the saved draft with its forms: refused (422) while the validation report has
    errors or when deploy refuses; otherwise the new version(s)."""
    svc = services()
    d = drafts.get(svc.db, draft_id)
    body = request.get_json(silent=True)
    if isinstance(body, dict) and body.get("revision") is not None \
            and body.get("revision") != d["revision"]:
        raise drafts.DraftChanged("save the draft before deploying it; it changed meanwhile",
                                  revision=d["revision"])
    files = drafts.source_files(d)
    _check_size(files)
    findings = _lint(files)
    if any(f["severity"] == ERROR for f in findings):
        return jsonify({"error": "LINT_ERRORS", "findings": findings,
                        "message": "the validation report has errors; fix them first"}), 422
    try:
        # deploying a draft is a designer's explicit choice: also when it equals an earlier
        # version (a rollback); only a repeated file deploy skips older content
        outcomes = svc.engine.deploy_files(files, actor=g.user.name, force=True)
    except DeployError as exc:
        return jsonify({"error": "DEPLOY_REFUSED", "message": exc.message,
                        "problems": exc.problems, "findings": findings}), 422
    mine = next((o for o in outcomes if o.process_id == d["process_id"]),
                outcomes[0] if outcomes else None)
    if mine is not None:
        drafts.mark_deployed(svc.db, draft_id, mine.version, _now())
    return jsonify({
        "outcomes": [{"process_id": o.process_id, "version": o.version, "changed": o.changed,
                      "url": url_for("designer.process", process_id=o.process_id)}
                     for o in outcomes],
        "findings": findings,
    })


@bp.post("/drafts/<int:draft_id>/delete")
@designer_required
def delete(draft_id: int):
    drafts.delete(services().db, draft_id)
    flash({"key": "designer.deleted"}, "success")
    return redirect(url_for("designer.catalogue"), code=303)
