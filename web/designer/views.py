"""Catalogue pages: processes and their versions, diff between two versions, migration of
running instances, a version's BPMN, and a new draft from a deployed version."""

from __future__ import annotations

from pathlib import PurePosixPath

from flask import abort, g, redirect, render_template, request, url_for
from sqlalchemy import select

from engine.actor import Actor
from engine.bpmn_xml import UnsafeXml, parse_xml
from engine.deploy import BPMN_NS
from engine.errors import InvalidInput
from engine.models import ProcessDefinition
from engine.versions import diff_definitions, list_versions, migrate_instances
from web.ctx import services, t
from web.designer import bp, can_edit, designer_required, drafts, viewer_required


def _versions_of_all(db) -> list[dict]:
    with db.reader() as s:
        pids = list(s.scalars(select(ProcessDefinition.process_id).distinct()
                              .order_by(ProcessDefinition.process_id)))
    out = []
    for pid in pids:
        versions = list_versions(db, pid)
        latest = versions[-1]
        out.append({"process_id": pid, "name": latest["name"] or pid, "latest": latest,
                    "versions": list(reversed(versions)),
                    "running": sum(v["running"] for v in versions)})
    return out


@bp.get("/")
@viewer_required
def catalogue():
    """Every deployed process with its versions (newest first) and the drafts."""
    db = services().db
    return render_template("designer/catalogue.html", processes=_versions_of_all(db),
                           drafts=drafts.list_drafts(db), can_edit=can_edit(),
                           nav="designer")


def _int_arg(name: str, value) -> int:
    try:
        out = int(str(value))
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a version number", field=name) from None
    if out < 1:
        raise InvalidInput(f"{name} must be a version number", field=name)
    return out


def _process_page(pid: str, *, error: str | None = None, status: int = 200,
                  result: dict | None = None):
    versions = list_versions(services().db, pid)  # ProcessNotFound -> 404
    running_versions = [v for v in versions if v["running"] and not v["latest"]]
    try:
        migrate_from = int(request.args.get("migrate_from", ""))
    except ValueError:
        migrate_from = None
    return render_template("designer/process.html", process_id=pid, versions=versions,
                           migrate_from=migrate_from,
                           name=versions[-1]["name"] or pid, latest=versions[-1],
                           running_versions=running_versions, can_edit=can_edit(),
                           error=error, result=result, nav="designer"), status


@bp.get("/processes/<process_id>")
@viewer_required
def process(process_id: str):
    """Versions of one process: who deployed each when, instances per version, diff and
    migrate forms."""
    return _process_page(process_id)


@bp.get("/processes/<process_id>/diff")
@viewer_required
def diff(process_id: str):
    """Added, removed and changed elements between two versions, on both diagrams."""
    versions = list_versions(services().db, process_id)
    numbers = [v["version"] for v in versions]
    default_to = numbers[-1]
    default_from = numbers[-2] if len(numbers) > 1 else numbers[-1]
    try:
        v1 = _int_arg("from", request.args.get("from", default_from))
        v2 = _int_arg("to", request.args.get("to", default_to))
    except InvalidInput as exc:
        return _process_page(process_id, error=exc.message, status=400)
    if v1 not in numbers or v2 not in numbers:
        abort(404)
    out = diff_definitions(services().db, process_id, v1, v2)
    return render_template("designer/diff.html", process_id=process_id, diff=out,
                           versions=versions, name=versions[-1]["name"] or process_id,
                           v1=v1, v2=v2, nav="designer")


@bp.post("/processes/<process_id>/migrate")
@designer_required
def migrate(process_id: str):
    """Move the running instances of one version to another where it is safe; the page
    lists the migrated instances and each refusal with its reason."""
    versions = list_versions(services().db, process_id)
    numbers = {v["version"] for v in versions}
    try:
        v1 = _int_arg("from_version", request.form.get("from_version"))
        v2 = _int_arg("to_version", request.form.get("to_version"))
        if v1 not in numbers or v2 not in numbers:
            raise InvalidInput("there is no such version")
        if v1 == v2:
            raise InvalidInput("from and to version are the same")
    except InvalidInput:
        return _process_page(process_id, error=t("designer.migrate_bad"), status=422)
    out = migrate_instances(services().engine, process_id, v1, v2,
                            actor=Actor(user=g.user.name))
    return _process_page(process_id, result=out)


def version_sources(process_id: str, version: int) -> tuple[str, str]:
    """(file name, text) of the BPMN file that holds ``process_id`` in ``version``."""
    from engine.versions import _definition

    with services().db.reader() as s:
        d = _definition(s, process_id, version)
        sources = dict(d.source_files)
    for fname, text in sorted(sources.items()):
        if not fname.lower().endswith(".bpmn"):
            continue
        try:
            tree = parse_xml(text.encode("utf-8"))
        except (UnsafeXml, ValueError):
            continue
        if any(p.get("id") == process_id
               for p in tree.getroot().iterfind(f"{{{BPMN_NS}}}process")):
            return PurePosixPath(fname).name, text
    abort(404)


@bp.get("/processes/<process_id>/versions/<int:version>/bpmn")
@viewer_required
def version_bpmn(process_id: str, version: int):
    """The BPMN of a deployed version (``?download=1`` as a file)."""
    name, text = version_sources(process_id, version)
    headers = {"Content-Type": "application/xml; charset=utf-8",
               "Cache-Control": "no-store"}
    if request.args.get("download"):
        stem = name.rsplit(".", 1)[0]
        headers["Content-Disposition"] = f'attachment; filename="{stem}-v{version}.bpmn"'
    return text, 200, headers


@bp.post("/processes/<process_id>/versions/<int:version>/edit")
@designer_required
def edit_version(process_id: str, version: int):
    """A new draft with the BPMN and forms of a deployed version, opened in the modeler."""
    draft_id = drafts.from_version(services().db, process_id, version,
                                   actor=g.user.name, now=services().engine.now())
    return redirect(url_for("designer.draft", draft_id=draft_id), code=303)
