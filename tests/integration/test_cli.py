"""The ``lotse`` CLI contract, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOTSE = [sys.executable, "-m", "web.cli"]


@pytest.fixture
def cli(db, tmp_path):
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")

    def run(*args, ok=True):
        proc = subprocess.run([*LOTSE, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        if ok:
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout) if "--json" in args else proc.stdout
        assert proc.returncode != 0 and proc.stdout == ""
        return proc

    return run


def test_cli_contract(cli):
    deployed = cli("deploy", "bpmn/kim_first_referral", "--json")
    assert deployed == [{"process_id": "kim_first_referral", "version": 1, "changed": True}]
    assert cli("deploy", "bpmn/kim_first_referral", "--json")[0]["changed"] is False
    started = cli("start", "kim_first_referral", "--case", "CLI-1", "--data", "{}", "--json")
    assert set(started) == {"instance_id", "status"} and started["status"] == "running"
    tasks = cli("tasks", "--office", "KIM_CM", "--json")
    assert set(tasks[0]) == {"task_id", "instance_id", "element_id", "name", "office", "state",
                             "assignee"}
    tid = tasks[0]["task_id"]
    assert cli("claim", tid, "--user", "anna", "--json")["assignee"] == "anna"
    bad = cli("complete", tid, "--data", '{"first_name": ""}', "--user", "anna", "--json", ok=False)
    err = json.loads(bad.stderr)
    assert err["error"] == "VALIDATION_FAILED" and "last_name" in err["errors"]
    data = {"first_name": "Олена", "last_name": "Коваленко", "birth_date": "1985-02-11",
            "nationality": "UKR", "language": "uk", "residence_status": "temporary"}
    done = cli("complete", tid, "--data", json.dumps(data), "--user", "anna", "--json")
    assert done["status"] == "running"
    again = cli("complete", tid, "--data", json.dumps(data), "--json", ok=False)
    assert json.loads(again.stderr)["error"] == "TASK_NOT_OPEN"
    shown = cli("show", str(started["instance_id"]), "--json")
    assert {"instance_id", "process_id", "version", "status", "data", "tasks"} <= set(shown)
    assert shown["data"]["first_name"] == "Олена"
    assert {t["office"] for t in cli("tasks", "--instance", str(started["instance_id"]),
                                     "--json")} == {"ABH", "JC"}


def test_cli_errors_go_to_stderr(cli, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<definitions")
    proc = cli("deploy", str(broken), "--json", ok=False)
    assert json.loads(proc.stderr)["error"] == "DEPLOY_REFUSED"
    assert "Traceback" not in proc.stderr
    proc = cli("show", "999", "--json", ok=False)
    assert json.loads(proc.stderr)["error"] == "INSTANCE_NOT_FOUND"
    proc = cli("start", "x", "--data", "not json", "--json", ok=False)
    assert json.loads(proc.stderr)["error"] == "INVALID_INPUT"
    proc = cli("tasks", "--office", "NOPE", "--json", ok=False)
    assert "NOPE" in json.loads(proc.stderr)["message"]
    proc = cli("deploy", str(tmp_path / "missing"), ok=False)
    assert "no such file" in proc.stderr


def test_clock_commands_fire_due_timers(cli, tmp_path):
    from tests import bpmn_builder as B
    from tests.timer_models import boundary_process

    folder = tmp_path / "proc"
    folder.mkdir()
    (folder / "b.bpmn").write_text(boundary_process("clk", interrupting=True, timer='"P5D"'))
    cli("deploy", str(folder), "--json")
    iid = cli("start", "clk", "--json")["instance_id"]
    cli("clock", "set", "2027-06-01T09:00:00+02:00", "--json")
    assert cli("clock", "show", "--json")["now"].startswith("2027-06-01T07:00")
    # the instance started before the move, so its timer is already overdue and fired
    assert [t["name"] for t in cli("tasks", "--instance", str(iid), "--json")] == [
        "Frist überschritten"]
    iid2 = cli("start", "clk", "--json")["instance_id"]
    out = cli("clock", "advance", "P4D", "--json")
    assert out["timers_fired"] == 0
    out = cli("clock", "advance", "P1DT1M", "--json")
    assert out["timers_fired"] == 1
    assert [t["name"] for t in cli("tasks", "--instance", str(iid2), "--json")] == [
        "Frist überschritten"]
    bad = cli("clock", "advance", "five days", "--json", ok=False)
    assert "ISO 8601" in json.loads(bad.stderr)["message"]
    del B


def test_clock_is_fixed_in_production(db):
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="production")
    proc = subprocess.run([*LOTSE, "clock", "advance", "P1D", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "development or test" in json.loads(proc.stderr)["message"]


def test_messages_and_referrals_commands(cli, tmp_path):
    from tests.referral_models import cm_process, office_process

    folder = tmp_path / "ref"
    folder.mkdir()
    (folder / "cm.bpmn").write_text(cm_process())
    (folder / "office.bpmn").write_text(office_process())
    cli("deploy", str(folder), "--json")
    data = json.dumps({"case_id": "K-7", "first_name": "A", "notes": "n", "health_needs": "h",
                       "income": 1})
    bad = cli("start", "test_cm_referral", "--case", "K-7", "--data", data, "--json", ok=False)
    err = json.loads(bad.stderr)
    assert err["error"] == "CONSENT_MISSING" and err["office"] == "JC"
    added = cli("consent", "add", "--case", "K-7", "--office", "JC", "--purpose", "JC:SGB2",
                "--categories", "IDENT,FINANCE", "--valid-until", "2099-12-31", "--json")
    assert added["status"] == "active"
    assert cli("consent", "list", "--case", "K-7", "--json")[0]["consent_id"] == added[
        "consent_id"]
    cli("start", "test_cm_referral", "--case", "K-7", "--data", data, "--json")
    (ref,) = cli("referrals", "--case", "K-7", "--json")
    assert ref["state"] == "sent" and ref["office"] == "JC" and ref["overdue_ack"] is False
    assert cli("referrals", "--office", "ABH", "--json") == []
    assert cli("messages", "--unmatched", "--json") == []
    cli("clock", "advance", "P6D", "--json")
    (ref,) = cli("referrals", "--case", "K-7", "--json")
    assert ref["overdue_ack"] is True and ref["first_overdue_at"] == ref["due_ack"]
    revoked = cli("consent", "revoke", added["consent_id"], "--channel", "oral", "--json")
    assert revoked["status"] == "revoked"
    (ref,) = cli("referrals", "--case", "K-7", "--json")
    assert ref["state"] == "suspended_consent_revoked"


def test_audit_verify_command(cli, db):
    from sqlalchemy import text

    cli("deploy", "bpmn/kim_first_referral", "--json")
    cli("start", "kim_first_referral", "--case", "AV-1", "--json")
    out = cli("audit", "verify", "--json")
    assert out["ok"] is True and out["entries"] >= 2 and out["mode"] == "full"
    cli("start", "kim_first_referral", "--case", "AV-2", "--json")
    out = cli("audit", "verify", "--json")  # from the last checkpoint: the new start only
    assert out["ok"] is True and out["mode"] == "incremental" and out["entries"] >= 1
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_event SET event_type = 'nothing' WHERE seq = 1"))
    proc = cli("audit", "verify", "--full", "--json", ok=False)
    assert proc.returncode == 1
    assert json.loads(proc.stderr.splitlines()[0])["first_bad"]["seq"] == 1


def _lint_cli(tmp_path, *args):
    env = dict(os.environ, LOTSE_ENV="test",
               LOTSE_DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}")
    return subprocess.run([*LOTSE, "lint", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_lint_exit_status_errors_warnings_and_strict(tmp_path):
    """Issue 13.1: as eslint and bpmnlint - exit 1 on errors; warnings only exit 0, and 1
    with --strict; 2 stays for usage errors."""
    from tests import bpmn_builder as B

    def model(folder: str, lane: str = "KIM_CM", extra: str = "") -> str:
        body = ('<bpmn:startEvent id="S"/>' + B.user_task("A", "Erfassen", "f.json")
                + '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "A") + B.flow("f2", "A", "E")
                + extra)
        ids = ["S", "A", "E"] + (["Lonely"] if extra else [])
        d = tmp_path / folder
        d.mkdir()
        (d / "p.bpmn").write_text(B.process("p_" + folder, {lane: ids}, body), "utf-8")
        (d / "f.json").write_text(B.simple_form("note"), "utf-8")
        return str(d)

    # `lotse lint` runs the KIM rule set too (issue 13): a clean model keeps its conventions
    from tests import kim_model

    clean = str(tmp_path / "clean")
    (tmp_path / "clean").mkdir()
    for f in kim_model.files():
        (tmp_path / "clean" / f.name).write_bytes(f.content)
    # a manual task nothing leads to: unreachable and a dead end, both warnings
    warned = model("warned", extra='<bpmn:manualTask id="Lonely" name="Vergessen"/>')
    broken = model("broken", lane="Hausmeister")  # no office: an error

    proc = _lint_cli(tmp_path, clean)
    assert proc.returncode == 0 and "keine Befunde" in proc.stdout, proc.stdout + proc.stderr
    proc = _lint_cli(tmp_path, warned, "--json")
    found = json.loads(proc.stdout)
    assert {f["severity"] for f in found} == {"warning"}
    assert {f["rule"] for f in found} >= {"unreachable-element"}
    assert proc.returncode == 0, proc.stdout  # warnings alone do not fail
    proc = _lint_cli(tmp_path, warned, "--strict", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout) == found
    proc = _lint_cli(tmp_path, warned)
    assert proc.returncode == 0 and "warning [unreachable-element]" in proc.stdout
    for args in ((broken,), (broken, "--strict"), (broken, warned, "--json")):
        proc = _lint_cli(tmp_path, *args)
        assert proc.returncode == 1, (args, proc.stdout)
        assert "lane-without-office" in proc.stdout
    # usage errors: 2
    assert _lint_cli(tmp_path, str(tmp_path / "missing"), "--json").returncode == 2
    assert _lint_cli(tmp_path, clean, "--no-such-option").returncode == 2
    assert _lint_cli(tmp_path).returncode == 2  # no path
