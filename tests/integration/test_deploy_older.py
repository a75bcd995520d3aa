"""Issue 13.1: a repeated ``lotse deploy bpmn/`` never puts an older file back over a
version a designer deployed from the modeler. The older file is skipped (the newer version
stays current, the CLI says so), ``--force`` deploys it again as a new version (rollback),
and a file with new content is a new version as always."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.deploy import SourceFile

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "bpmn" / "kim_first_referral"


def _files(edit: str) -> list[SourceFile]:
    """The folder's files as a designer changed them in the modeler (a note in the XML is
    enough: the content, and so the version, differs; the process id stays)."""
    out = []
    for path in sorted(FOLDER.iterdir()):
        data = path.read_bytes()
        if path.suffix == ".bpmn":
            data = data.replace(b"</bpmn:definitions>",
                                f"<!-- {edit} -->\n</bpmn:definitions>".encode())
        out.append(SourceFile(path.name, data))
    return out


def _cli(db, *args):
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")
    proc = subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _current(engine) -> int:
    from sqlalchemy import func, select

    from engine.models import ProcessDefinition

    with engine.db.reader() as s:
        return s.scalar(select(func.max(ProcessDefinition.version)).where(
            ProcessDefinition.process_id == "kim_first_referral"))


def test_an_older_file_does_not_replace_the_designers_version(engine, db):
    (v1,) = engine.deploy([FOLDER])
    assert v1.version == 1 and v1.changed
    (v2,) = engine.deploy_files(_files(edit="im Modeler geändert"), actor="designer.demo")
    assert v2.version == 2 and v2.changed

    # make run again: lotse deploy bpmn/ with the shipped (older) file
    out = json.loads(_cli(db, "deploy", str(FOLDER), "--json"))
    assert out == [{"process_id": "kim_first_referral", "version": 2, "changed": False,
                    "older_version": 1}]
    assert _current(engine) == 2
    human = _cli(db, "deploy", str(FOLDER))
    assert "v2 bleibt aktuell" in human and "v1" in human
    assert _current(engine) == 2
    # a new start runs the designer's version
    inst = engine.start("kim_first_referral", {}, case_ref="K-OLD")
    assert engine.show(inst["instance_id"])["version"] == 2

    # --force is the deliberate rollback: the old content becomes v3
    out = json.loads(_cli(db, "deploy", str(FOLDER), "--force", "--json"))
    assert out == [{"process_id": "kim_first_referral", "version": 3, "changed": True}]
    assert _current(engine) == 3

    # deploying what is current is unchanged, as before
    (same,) = engine.deploy([FOLDER])
    assert same.version == 3 and not same.changed and same.older_version is None
