"""Per-item progress of the long ``lotse`` commands (deploy, migrate) on stderr, so stdout
keeps only the result: one line per item with real counts, German / English like the rest
of the CLI. On by default; with ``--json`` only when ``--progress`` asks for it (stderr then
carries only the error document, as scripts expect)."""

from __future__ import annotations

import click

from engine.progress import Progress

OPTION = click.option("--progress/--no-progress", "progress", default=None,
                      help="Per-item progress on stderr (default: on, off with --json).")

_LINES = {
    "check": "Prüfe {total} Datei(en) … / checking {total} file(s) …",
    "checked": "{total} Datei(en) geprüft / {total} file(s) checked",
    "stored": "[{done}/{total}] {name} gespeichert / stored",
    "unchanged": "[{done}/{total}] {name} unverändert / unchanged",
    "committed": ("Bereitstellung abgeschlossen: {total} Prozess(e) / deployment committed: "
                  "{total} process(es)"),
    "migrated": "[{done}/{total}] {name} migriert / migrated",
    "refused": "[{done}/{total}] {name} abgelehnt / refused",
}


def reporter(wanted: bool | None) -> Progress | None:
    """The stderr progress printer, or None when it is not wanted (see the module text)."""
    ctx = click.get_current_context(silent=True)
    as_json = bool(ctx and ctx.params.get("as_json"))
    if wanted is False or (wanted is None and as_json):
        return None

    def tell(step: str, done: int, total: int, name: str) -> None:
        text = _LINES.get(step, "{step} {done}/{total} {name}")
        click.echo(text.format(step=step, done=done, total=total, name=name), err=True)

    return tell
