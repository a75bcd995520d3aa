"""Process designer commands: ``lotse lint``, ``versions``, ``diff``, ``migrate``, ``import-check``.

Each is a plain click command (no group) so ``web.cli`` registers it with
``main.add_command(...)``. With ``--json`` each prints one JSON document on stdout.
Exit codes: 0 clean, 1 when there is something to look at (lint errors - and with
``lint --strict`` warnings too, as eslint and bpmnlint do -, refused migrations, a file that
is not executable as it is), 2 on errors and usage errors (as every other command).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import click

from web import cli_progress


def _settings_offices_file(obj) -> Path | None:
    settings = getattr(obj, "settings", None)
    if settings is None:
        from web import settings as settings_mod

        settings = settings_mod.from_env()
    return settings.offices_file


def _emit(as_json: bool, payload: Any, human: str | None) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        click.echo(
            human
            if human is not None
            else json.dumps(payload, ensure_ascii=False, indent=2, default=str)
        )


def _command(name: str):
    """A standalone command with --json; fn returns (payload, human text, exit code)."""

    def deco(fn):
        @click.command(name)
        @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
        @click.pass_context
        @functools.wraps(fn)
        def wrapper(ctx: click.Context, as_json: bool, **kwargs):
            from engine.errors import LotseError
            from web.cli import _fail

            try:
                payload, human, code = fn(ctx.obj, **kwargs)
            except LotseError as exc:
                _fail(as_json, exc.to_dict())
            except (ValueError, LookupError, OSError) as exc:
                _fail(as_json, {"error": "INVALID_INPUT", "message": str(exc)})
            _emit(as_json, payload, human)
            if code:
                sys.exit(code)

        return wrapper

    return deco


def _registry(obj):
    engine = getattr(obj, "_engine", None)
    offices = getattr(obj, "offices", None)
    if engine is not None and offices is not None:
        return offices
    from processes.offices import OfficeRegistry

    return OfficeRegistry.load(_settings_offices_file(obj))


# ------------------------------------------------------------------------------ lint
@_command("lint")
@click.argument("paths", nargs=-1, required=True)
@click.option("--strict", is_flag=True,
              help="Exit 1 on warnings too (without it only errors fail).")
def lint_command(obj, paths, strict=False):
    """Check BPMN models before deploying: exit 1 when there are errors (with --strict also
    on warnings), 0 otherwise, 2 on usage errors."""
    from engine.deploy import collect_files
    from engine.lint import ERROR, lint_files
    from processes.wiring import lint_rules, script_helpers

    registry = _registry(obj)
    files = collect_files(paths)
    # the engine's rules and the KIM rule set: the same findings the modeler shows and the
    # same errors that refuse `lotse deploy`
    findings = lint_files(
        files, resolve_lane=registry.resolve_lane, helpers=script_helpers(registry),
        rules=lint_rules(registry),
    )
    payload = [f.to_dict() for f in findings]
    errors = sum(1 for f in findings if f.severity == ERROR)
    lines = [
        f"{f.file or '-'}: {f.element or '-'}: {f.severity} [{f.rule}] "
        + (f"{f.message_de} / {f.message}" if f.message_de else f.message)
        for f in findings
    ]
    lines.append(
        f"{len(findings)} Befunde / findings ({errors} errors, {len(findings) - errors} warnings)"
        if findings
        else "keine Befunde / no findings"
    )
    failed = errors > 0 or (strict and bool(findings))
    return payload, "\n".join(lines), 1 if failed else 0


# ------------------------------------------------------------------------------ versions
@_command("versions")
@click.argument("process_id")
def versions_command(obj, process_id):
    """List the deployed versions of a process with their running instances."""
    from engine.versions import list_versions

    rows = list_versions(obj.db, process_id)
    human = "\n".join(
        f"v{r['version']:<3} {r['deployed_at'][:19]} {r['deployed_by'] or '-':12} "
        f"running {r['running']:<5}{' (latest)' if r['latest'] else ''}"
        for r in rows
    )
    return rows, human, 0


@_command("diff")
@click.argument("process_id")
@click.argument("from_version", type=int)
@click.argument("to_version", type=int)
def diff_command(obj, process_id, from_version, to_version):
    """Elements added, removed and changed between two versions."""
    from engine.versions import diff_definitions

    out = diff_definitions(obj.db, process_id, from_version, to_version)
    lines = [f"+ {e}" for e in out["added"]] + [f"- {e}" for e in out["removed"]]
    lines += [f"~ {e}: {', '.join(a)}" for e, a in out["changed"].items()]
    return out, "\n".join(lines) or "keine Unterschiede / no differences", 0


@_command("migrate")
@click.argument("process_id")
@click.option("--from", "from_version", type=int, required=True)
@click.option("--to", "to_version", type=int, required=True)
@click.option("--user", default=None)
@cli_progress.OPTION
def migrate_command(obj, process_id, from_version, to_version, user, progress):
    """Move running instances to another version where safe (exit 1 if any was refused);
    progress per instance on stderr."""
    from engine.actor import Actor
    from engine.versions import migrate_instances

    out = migrate_instances(
        obj.engine, process_id, from_version, to_version, actor=Actor(user=user),
        progress=cli_progress.reporter(progress),
    )
    lines = [f"migriert / migrated: {', '.join(map(str, out['migrated'])) or '-'}"]
    lines += [f"#{iid} abgelehnt / refused: {why}" for iid, why in out["refused"].items()]
    payload = dict(out, refused={str(k): v for k, v in out["refused"].items()})
    return payload, "\n".join(lines), 1 if out["refused"] else 0


def _deployed_sources(obj):
    """The engine's lookup of deployed processes (call targets), or None without a database."""
    if obj is None or not hasattr(type(obj), "engine"):
        return None
    from sqlalchemy.exc import SQLAlchemyError

    def lookup(process_id: str):
        try:
            return obj.engine._catalogue_sources(process_id)
        except SQLAlchemyError:  # no database here: the check runs on the file alone
            return None

    return lookup


@_command("import-check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_check_command(obj, file: Path):
    """Whether a .bpmn file from another tool opens, and whether it would run (a call
    activity may call a process that is already deployed)."""
    from engine.interop import inspect_import

    sources = _deployed_sources(obj)
    registry = _registry(obj)
    from processes.wiring import lint_rules

    out = inspect_import(file.name, file.read_bytes(), resolve_lane=registry.resolve_lane,
                         catalogue_sources=sources, rules=lint_rules(registry))
    payload = {k: v for k, v in out.items() if k != "xml"}
    lines = [f"{file.name}: {out['status']}"] + [f"  - {r}" for r in out["reasons"]]
    for p in out["processes"]:
        lines.append(
            f"  process {p['id']} ({p['name'] or '-'}): "
            f"{'executable' if p['executable'] else 'not executable'}, "
            f"{len(p['lanes'])} lanes, {len(p['tasks'])} tasks"
        )
    return payload, "\n".join(lines), 0 if out["status"] == "executable" else 1


COMMANDS = (lint_command, versions_command, diff_command, migrate_command, import_check_command)

__all__ = [
    "COMMANDS",
    "diff_command",
    "import_check_command",
    "lint_command",
    "migrate_command",
    "versions_command",
]
