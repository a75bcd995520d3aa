"""``lotse deploy`` and ``lotse migrate`` print per-item progress with real counts to stderr
(issue 15.5), stdout keeping only the result; with --json only when --progress asks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import bpmn_builder as B

ROOT = Path(__file__).resolve().parents[2]
LOTSE = [sys.executable, "-m", "web.cli"]
FORM = json.dumps({"type": "object", "properties": {"ok": {"type": "string", "title": "OK"}}})


@pytest.fixture
def cli(db):
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")

    def run(*args, code=0):
        proc = subprocess.run([*LOTSE, *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == code, proc.stderr
        return proc

    return run


def _files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix in (".bpmn", ".dmn", ".json"))


def test_deploy_reports_each_process_on_stderr(cli):
    folders = ["bpmn/kim_first_referral", "bpmn/kim_consent_followup"]
    n = sum(_files(ROOT / f) for f in folders)
    proc = cli("deploy", *folders)
    lines = proc.stderr.splitlines()
    assert lines[:2] == [f"Prüfe {n} Datei(en) … / checking {n} file(s) …",
                         f"{n} Datei(en) geprüft / {n} file(s) checked"]
    assert [line[:5] for line in lines[2:4]] == ["[1/2]", "[2/2]"]
    assert sorted(line[6:] for line in lines[2:4]) == [
        "kim_consent_followup v1 gespeichert / stored",
        "kim_first_referral v1 gespeichert / stored"]
    assert lines[4:] == [
        "Bereitstellung abgeschlossen: 2 Prozess(e) / deployment committed: 2 process(es)"]
    assert "gespeichert" not in proc.stdout and "kim_first_referral v1 neu / new" in proc.stdout
    # the second time nothing changes, and it says so per process
    again = cli("deploy", *folders)
    assert len(re.findall(r"^\[\d/2\] \S+ v1 unverändert / unchanged$", again.stderr, re.M)) == 2
    # --json: stdout one JSON document, stderr clean unless --progress
    quiet = cli("deploy", *folders, "--json")
    assert quiet.stderr == "" and len(json.loads(quiet.stdout)) == 2
    loud = cli("deploy", *folders, "--json", "--progress")
    assert "[2/2]" in loud.stderr and len(json.loads(loud.stdout)) == 2


def test_a_refused_deploy_keeps_stderr_one_json_document(cli, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<definitions")
    proc = cli("deploy", str(broken), "--json", code=2)
    assert json.loads(proc.stderr)["error"] == "DEPLOY_REFUSED"
    human = cli("deploy", str(broken), code=2)
    assert human.stderr.startswith("Prüfe 1 Datei(en) … / checking 1 file(s) …\n")
    assert "geprüft" not in human.stderr and "[1/" not in human.stderr


def _two_step(folder: Path, name_b: str) -> Path:
    body = ('<bpmn:startEvent id="S"/>' + B.user_task("A", "Schritt A", "a.json")
            + B.user_task("Bt", name_b, "a.json") + '<bpmn:endEvent id="E"/>'
            + B.flow("f1", "S", "A") + B.flow("f2", "A", "Bt") + B.flow("f3", "Bt", "E"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "p.bpmn").write_text(B.process("cli_two", {"JC": ["S", "A", "Bt", "E"]}, body))
    (folder / "a.json").write_text(FORM)
    return folder


def test_migrate_reports_each_instance_on_stderr(cli, tmp_path):
    cli("deploy", str(_two_step(tmp_path / "v1", "Schritt B")))
    ids = [json.loads(cli("start", "cli_two", "--case", f"MIG-{i}", "--json").stdout)
           ["instance_id"] for i in range(3)]
    cli("deploy", str(_two_step(tmp_path / "v2", "Schritt B (neu)")))
    proc = cli("migrate", "cli_two", "--from", "1", "--to", "2")
    assert proc.stderr.splitlines() == [f"[{i}/3] #{iid} migriert / migrated"
                                        for i, iid in enumerate(ids, 1)]
    assert proc.stdout.startswith("migriert / migrated: " + ", ".join(map(str, ids)))
    # nothing left to move: no item, no line
    assert cli("migrate", "cli_two", "--from", "1", "--to", "2").stderr == ""
