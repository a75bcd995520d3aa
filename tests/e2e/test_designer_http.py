"""The process designer over HTTP (Flask test client, SQLite and PostgreSQL): roles, drafts
(create, save, load, conflicts, download, delete), validation, form preview, deploy, the
catalogue, diff and migration, and the import of every interop corpus file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.migrate import downgrade, upgrade
from engine.models import AuditEvent, ProcessDefinition
from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.conftest import ROOT
from tests.web_support import csrf, login
from web.designer.models import Draft

CORPUS = ROOT.parent / "shared" / "bpmn-interop"
FORM = json.dumps({"type": "object", "required": ["ok"],
                   "properties": {"ok": {"type": "string", "title": "OK"}}})


def two_step(pid: str = "des_two", name_a: str = "Schritt A") -> str:
    """start -> A (JC) -> B (JC) -> end, both with the form a.json."""
    body = (
        '<bpmn:startEvent id="S"/>'
        + B.user_task("A", name_a, "a.json")
        + B.user_task("Bt", "Schritt B", "a.json")
        + '<bpmn:endEvent id="E"/>'
        + B.flow("f1", "S", "A") + B.flow("f2", "A", "Bt") + B.flow("f3", "Bt", "E")
    )
    return B.process(pid, {"JC": ["S", "A", "Bt", "E"]}, body)


def designer(client) -> str:
    login(client, "designer.demo")
    return csrf(client, "/designer/")


def headers(token: str) -> dict:
    return {"X-CSRF-Token": token, "Accept": "application/json"}


def new_draft(client, token, name="Antrag", pid="des_antrag") -> int:
    r = client.post("/designer/drafts", data={"name": name, "process_id": pid,
                                              "csrf_token": token})
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    return int(r.headers["Location"].rsplit("/", 1)[1])


def save(client, token, draft_id, xml, files=None, revision=None):
    if revision is None:
        revision = client.get(f"/designer/drafts/{draft_id}/data").json["revision"]
    return client.put(f"/designer/drafts/{draft_id}", json={
        "xml": xml, "files": files or {}, "revision": revision}, headers=headers(token))


# ---------------------------------------------------------------------------- roles
@pytest.mark.parametrize("path", ["/designer/", "/designer/processes/kim_first_referral",
                                  "/designer/processes/kim_first_referral/diff?from=1&to=1",
                                  "/designer/import"])
def test_pages_need_a_designer_or_admin(client, path):
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    login(client, "jc.demo")
    assert client.get(path).status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    login(client, "auditor.demo")
    assert client.get(path).status_code == 403


def test_admin_views_but_does_not_change(client):
    login(client, "designer.demo")
    token = csrf(client, "/designer/")
    draft_id = new_draft(client, token)
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin.demo")
    token = csrf(client, "/designer/")
    page = client.get("/designer/").get_data(as_text=True)
    assert "kim_first_referral" in page and "Neuen Prozess modellieren" not in page
    assert client.get("/designer/processes/kim_first_referral").status_code == 200
    r = client.get(f"/designer/drafts/{draft_id}")  # the modeler: admins get the viewer
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/drafts/{draft_id}/view")
    assert client.get(f"/designer/drafts/{draft_id}/view").status_code == 200
    assert client.get(f"/designer/drafts/{draft_id}/download").status_code == 200
    assert client.get("/designer/import").status_code == 403
    r = save(client, token, draft_id, two_step())
    assert r.status_code == 403 and r.json["error"] == "FORBIDDEN"
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={}, headers=headers(token))
    assert r.status_code == 403
    r = client.post("/designer/processes/kim_first_referral/migrate",
                    data={"from_version": 1, "to_version": 1, "csrf_token": token})
    assert r.status_code == 403
    r = client.post(f"/designer/drafts/{draft_id}/delete", data={"csrf_token": token})
    assert r.status_code == 403


def test_json_calls_without_session_or_csrf(client):
    r = client.get("/designer/drafts/1/data", headers={"Accept": "application/json"})
    assert r.status_code == 401 and r.json["error"] == "UNAUTHORIZED"
    r = client.put("/designer/drafts/1", json={"xml": "x"}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.json["error"] == "CSRF_FAILED"  # checked before the user
    token = designer(client)
    draft_id = new_draft(client, token)
    r = client.put(f"/designer/drafts/{draft_id}", json={"xml": two_step(), "revision": 1},
                   headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.json["error"] == "CSRF_FAILED"
    r = client.post("/designer/drafts", data={"name": "x", "process_id": "x"})
    assert r.status_code == 400  # the HTML error page (stale form)


def test_unknown_draft_is_404(client):
    token = designer(client)
    assert client.get("/designer/drafts/999").status_code == 404
    r = save(client, token, 999, two_step(), revision=1)
    assert r.status_code == 404 and r.json["error"] == "DRAFT_NOT_FOUND"
    assert client.get("/designer/processes/nope").status_code == 404
    assert client.get("/designer/processes/kim_first_referral/versions/9/bpmn").status_code == 404


# ---------------------------------------------------------------------------- drafts
def test_new_draft_validation_and_template(client):
    token = designer(client)
    r = client.post("/designer/drafts", data={"name": "", "process_id": "9 bad",
                                              "csrf_token": token})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'aria-invalid="true"' in page and "Prozess-ID darf nur" in page
    draft_id = new_draft(client, token, "Wohnungssuche", "kim_wohnung")
    d = client.get(f"/designer/drafts/{draft_id}/data").json
    assert d["process_id"] == "kim_wohnung" and d["bpmn_name"] == "kim_wohnung.bpmn"
    assert 'isExecutable="true"' in d["xml"] and "bpmn:lane" in d["xml"]
    page = client.get(f"/designer/drafts/{draft_id}").get_data(as_text=True)
    assert 'id="designer-data"' in page and "bpmn-modeler.production.min.js" in page
    # lint of the fresh template: the lane has no office yet
    r = client.post(f"/designer/drafts/{draft_id}/lint", json={}, headers=headers(token))
    assert r.status_code == 200
    rules = {(f["rule"], f["element"]) for f in r.json["findings"]}
    assert ("lane-without-office", "Lane_1") in rules


def test_save_load_conflict_and_download(client):
    token = designer(client)
    draft_id = new_draft(client, token)
    r = save(client, token, draft_id, two_step(), {"a.json": FORM}, revision=1)
    assert r.status_code == 200 and r.json["revision"] == 2
    assert r.json["process_id"] == "des_two"
    d = client.get(f"/designer/drafts/{draft_id}/data").json
    assert d["xml"] == two_step() and d["files"] == {"a.json": FORM} and d["revision"] == 2
    # a second tab still on revision 1
    r = save(client, token, draft_id, two_step(name_a="Anders"), revision=1)
    assert r.status_code == 409 and r.json["error"] == "DRAFT_CHANGED"
    r = client.get(f"/designer/drafts/{draft_id}/download")
    assert r.status_code == 200 and r.data == two_step().encode("utf-8")
    assert r.headers["Content-Disposition"] == 'attachment; filename="des_two.bpmn"'
    # delete
    r = client.post(f"/designer/drafts/{draft_id}/delete", data={"csrf_token": token})
    assert r.status_code == 303
    assert client.get(f"/designer/drafts/{draft_id}/data").status_code == 404


@pytest.mark.parametrize("xml, expected", [
    ("<bpmn:definitions", "not well-formed XML"),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>', "DOCTYPE"),
    ("<html><body/></html>", "not a BPMN 2.0 document"),
    ("", "empty"),
])
def test_save_refuses_bad_xml(client, xml, expected):
    token = designer(client)
    draft_id = new_draft(client, token)
    r = save(client, token, draft_id, xml, revision=1)
    assert r.status_code == 400 and r.json["error"] == "INVALID_INPUT"
    assert expected in r.json["message"]
    assert client.get(f"/designer/drafts/{draft_id}/data").json["revision"] == 1


def test_save_refuses_bad_bodies(client):
    token = designer(client)
    draft_id = new_draft(client, token)
    r = client.put(f"/designer/drafts/{draft_id}", data="not json",
                   headers={**headers(token), "Content-Type": "application/json"})
    assert r.status_code == 400
    for files in ({"../x.json": "{}"}, {"a.txt": "x"}, ["a.json"], {"a.json": 5}):
        r = save(client, token, draft_id, two_step(), files, revision=1)
        assert r.status_code == 400 and r.json["field"] == "files", files
    r = client.put(f"/designer/drafts/{draft_id}", json={"xml": two_step(), "revision": "1"},
                   headers=headers(token))
    assert r.status_code == 400 and r.json["field"] == "revision"


def test_every_lint_rule_has_a_german_and_english_label():
    """Each rule id of engine/lint.py has its own designer label in both languages (a rule
    without one showed the English description in the German designer)."""
    from engine.lint import RULES
    from web.i18n import MESSAGES

    missing = [r for r in RULES if f"designer.rule.{r}" not in MESSAGES]
    assert not missing, missing
    for rule in RULES:
        de, en = MESSAGES[f"designer.rule.{rule}"]
        assert de and en and de != en, rule


def test_lint_labels_message_and_decision_findings_in_german(client):
    token = designer(client)
    draft_id = new_draft(client, token)
    body = ('<bpmn:startEvent id="S"/><bpmn:intermediateThrowEvent id="T">'
            '<bpmn:messageEventDefinition/></bpmn:intermediateThrowEvent>'
            '<bpmn:businessRuleTask id="R"/><bpmn:endEvent id="E"/>'
            + B.flow("f1", "S", "T") + B.flow("f2", "T", "R") + B.flow("f3", "R", "E"))
    xml = B.process("des_labels", {"JC": ["S", "T", "R", "E"]}, body)
    r = client.post(f"/designer/drafts/{draft_id}/lint", json={"xml": xml, "files": {}},
                    headers=headers(token))
    labels = {f["rule"]: f["rule_label"] for f in r.json["findings"]}
    assert labels["message-without-name"] == "Nachricht ohne Namen"
    assert labels["decision-missing"] == "Entscheidung fehlt"


def test_lint_of_unsaved_content(client):
    token = designer(client)
    draft_id = new_draft(client, token)
    body = ('<bpmn:startEvent id="S"/>' + B.user_task("A", "Prüfen")
            + '<bpmn:exclusiveGateway id="G"/><bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/>'
            + B.flow("f1", "S", "A") + B.flow("f2", "A", "G")
            + B.flow("f3", "G", "E1", 'x == "a"') + B.flow("f4", "G", "E2", 'x != "a"'))
    xml = B.process("des_gw", {"JC": ["S", "A", "G", "E1", "E2"]}, body)
    r = client.post(f"/designer/drafts/{draft_id}/lint", json={"xml": xml, "files": {}},
                    headers=headers(token))
    found = {(f["rule"], f["element"], f["severity"]) for f in r.json["findings"]}
    assert ("user-task-without-form", "A", "error") in found
    assert ("exclusive-gateway-without-default", "G", "warning") in found
    assert r.json["errors"] >= 1
    first = r.json["findings"][0]
    assert first["severity"] == "error" and first["rule_label"] == "Benutzeraufgabe ohne Formular"
    # malformed XML is a finding, not an error response
    r = client.post(f"/designer/drafts/{draft_id}/lint", json={"xml": "<x", "files": {}},
                    headers=headers(token))
    assert r.status_code == 200 and r.json["findings"][0]["rule"] == "file-unreadable"


def test_form_preview(client):
    token = designer(client)
    schema = json.dumps({"type": "object", "required": ["art"], "properties": {
        "art": {"type": "string", "title": "Art", "x-title-en": "Kind", "enum": ["a", "b"],
                "x-enum-labels": {"de": {"a": "Erste"}, "en": {"a": "First"}}},
        "seit": {"type": "string", "format": "date", "title": "Seit"}}})
    r = client.post("/designer/form-preview", data={"schema": schema},
                    headers={"X-CSRF-Token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    # issue 15: a date is a text field for TT.MM.JJJJ whatever the browser's locale
    assert 'for="f-art"' in html and "Erste" in html and 'placeholder="TT.MM.JJJJ"' in html
    assert "<fieldset" in html and "disabled" in html
    r = client.post("/designer/form-preview", data={"schema": schema,
                                                    "ui": '{"ui:order": ["seit", "art"]}'},
                    headers={"X-CSRF-Token": token})
    html = r.get_data(as_text=True)
    assert html.index('for="f-seit"') < html.index('for="f-art"')
    r = client.post("/designer/form-preview?lang=en", data={"schema": schema},
                    headers={"X-CSRF-Token": token})
    assert "Kind" in r.get_data(as_text=True) and "First" in r.get_data(as_text=True)
    r = client.post("/designer/form-preview?lang=de", data={"schema": "{nope"},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and "Kein gültiges JSON" in r.get_data(as_text=True)
    r = client.post("/designer/form-preview", data={"schema": '{"type": 5}'},
                    headers={"X-CSRF-Token": token})
    assert "Kein gültiges JSON Schema" in r.get_data(as_text=True)
    r = client.post("/designer/form-preview", data={"schema": "<script>alert(1)</script>"},
                    headers={"X-CSRF-Token": token})
    assert "<script>alert" not in r.get_data(as_text=True)


# ---------------------------------------------------------------------------- deploy
def test_deploy_refused_while_the_report_has_errors(client, web_app):
    token = designer(client)
    draft_id = new_draft(client, token)
    assert save(client, token, draft_id, two_step(), {}, revision=1).status_code == 200
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={"revision": 2},
                    headers=headers(token))
    assert r.status_code == 422 and r.json["error"] == "LINT_ERRORS"
    assert {f["element"] for f in r.json["findings"] if f["severity"] == "error"} >= {"A", "Bt"}
    # a stale revision is refused before anything else
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={"revision": 1},
                    headers=headers(token))
    assert r.status_code == 409
    eng = web_app.extensions["lotse"].engine
    with eng.db.reader() as s:
        assert s.scalar(select(ProcessDefinition).where(
            ProcessDefinition.process_id == "des_two")) is None


def test_deploy_refused_by_deploy_itself(client, web_app):
    """Lint passes, deploy refuses: a called process that does not exist is only a warning
    for lint (it may be deployed first) but deploy refuses it."""
    token = designer(client)
    draft_id = new_draft(client, token)
    body = ('<bpmn:startEvent id="S"/><bpmn:callActivity id="C" calledElement="nirgends"/>'
            '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "C") + B.flow("f2", "C", "E"))
    xml = B.process("des_call", {"JC": ["S", "C", "E"]}, body)
    assert save(client, token, draft_id, xml, revision=1).status_code == 200
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={}, headers=headers(token))
    assert r.status_code == 422 and r.json["error"] == "DEPLOY_REFUSED"
    assert any("nirgends" in p["problem"] for p in r.json["problems"])


def test_deploy_start_and_worklist(client, web_app):
    token = designer(client)
    draft_id = new_draft(client, token)
    assert save(client, token, draft_id, two_step(), {"a.json": FORM},
                revision=1).status_code == 200
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={"revision": 2},
                    headers=headers(token))
    assert r.status_code == 200, r.json
    assert r.json["outcomes"] == [{"process_id": "des_two", "version": 1, "changed": True,
                                   "url": "/designer/processes/des_two"}]
    eng = web_app.extensions["lotse"].engine
    with eng.db.reader() as s:
        d = s.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == "des_two"))
        assert d.deployed_by == "designer.demo" and set(d.source_files) == {
            "des_two.bpmn", "a.json"}
        assert s.scalar(select(AuditEvent).where(AuditEvent.event_type == "process.deployed",
                                                 AuditEvent.definition_id == d.id))
        assert s.get(Draft, draft_id).deployed_version == 1
    # deploying the same content again is no new version
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={}, headers=headers(token))
    assert r.json["outcomes"][0]["changed"] is False
    out = eng.start("des_two", {}, "DES-1", actor=Actor(user="cm.demo"))
    [task] = eng.tasks(instance_id=out["instance_id"])
    assert task["office"] == "JC" and task["name"] == "Schritt A"
    page = client.get("/designer/").get_data(as_text=True)
    assert "des_two" in page and "designer.demo" in page


def test_catalogue_diff_and_migration(client, web_app):
    token = designer(client)
    eng = web_app.extensions["lotse"].engine
    draft_id = new_draft(client, token)
    save(client, token, draft_id, two_step(), {"a.json": FORM}, revision=1)
    assert client.post(f"/designer/drafts/{draft_id}/deploy", json={},
                       headers=headers(token)).status_code == 200
    at_a = eng.start("des_two", {}, "MIG-1", actor=Actor(user="cm.demo"))["instance_id"]
    at_b = eng.start("des_two", {}, "MIG-2", actor=Actor(user="cm.demo"))["instance_id"]
    [t] = eng.tasks(instance_id=at_b)
    eng.complete(t["task_id"], {"ok": "ja"}, actor=Actor(user="jc.demo", offices=frozenset({"JC"})))
    save(client, token, draft_id, two_step(name_a="Schritt A (neu)"), {"a.json": FORM})
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={}, headers=headers(token))
    assert r.json["outcomes"][0]["version"] == 2
    # catalogue: both versions, who deployed, running instances per version
    page = client.get("/designer/processes/des_two").get_data(as_text=True)
    rows = dict(re.findall(r'data-version="(\d)".*?data-running>(\d+)<', page, re.S))
    assert rows == {"2": "0", "1": "2"}
    assert page.count("designer.demo") >= 2
    catalogue = client.get("/designer/").get_data(as_text=True)
    assert "/designer/processes/des_two?migrate_from=1#migrate-h" in catalogue
    page = client.get("/designer/processes/des_two?migrate_from=1").get_data(as_text=True)
    assert re.search(r'id="mig-from".*?<option value="1" selected>', page, re.S)
    # diff
    r = client.get("/designer/processes/des_two/diff?from=1&to=2")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    changed = html.split('id="diff-changed"', 1)[1].split("</ul>", 1)[0]
    assert "<code>A</code>" in changed and "bpmn_name" in changed
    assert client.get("/designer/processes/des_two/diff?from=x&to=2").status_code == 400
    assert client.get("/designer/processes/des_two/diff?from=1&to=7").status_code == 404
    # a version's BPMN
    r = client.get("/designer/processes/des_two/versions/1/bpmn?download=1")
    assert r.status_code == 200 and b"Schritt A" in r.data
    assert 'filename="des_two-v1.bpmn"' in r.headers["Content-Disposition"]
    # migrate: the instance at A moves, the one past A (completed, changed) is refused
    r = client.post("/designer/processes/des_two/migrate",
                    data={"from_version": 1, "to_version": 2, "csrf_token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert re.search(rf"data-migrated>[^<]*#{at_a}\b", html)
    refused = html.split("data-refused>", 1)[1].split("</ul>", 1)[0]
    assert f"#{at_b}" in refused and "not safe" in refused and "Schritt A" in refused
    r = client.post("/designer/processes/des_two/migrate",
                    data={"from_version": 2, "to_version": 2, "csrf_token": token})
    assert r.status_code == 422
    # edit a deployed version as a new draft
    r = client.post("/designer/processes/des_two/versions/1/edit", data={"csrf_token": token})
    assert r.status_code == 303
    new_id = int(r.headers["Location"].rsplit("/", 1)[1])
    d = client.get(f"/designer/drafts/{new_id}/data").json
    assert d["origin"] == "version" and d["source"] == "des_two v1"
    assert d["files"] == {"a.json": FORM} and "Schritt A" in d["xml"]


# ---------------------------------------------------------------------------- import
def _corpus() -> list[Path]:
    files = sorted(CORPUS.glob("*/*.bpmn"))
    if not files:
        pytest.skip(f"interop corpus not found at {CORPUS}")
    return files


def _upload(client, token, name: str, content: bytes):
    import io

    return client.post("/designer/import", data={
        "csrf_token": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data")


def test_import_every_corpus_file(client, web_app):
    token = designer(client)
    outcomes = {}
    for path in _corpus():
        content = path.read_bytes()
        r = _upload(client, token, path.name, content)
        assert r.status_code == 303, (path, r.status_code)
        target = r.headers["Location"]
        page = client.get(target)
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        assert "Traceback" not in html
        draft_id = int(re.search(r"/drafts/(\d+)", target).group(1))
        if target.endswith("/view"):
            status = re.search(r'id="import-outcome" data-status="(\w+)"', html).group(1)
            assert status == "view_only"
            assert 'id="import-reasons"' in html, path
        else:
            status = "executable"
        outcomes[f"{path.parent.name}/{path.name}"] = status
        # the stored draft is the file as uploaded (vendor extensions included)
        assert client.get(f"/designer/drafts/{draft_id}/download").data == content, path
    assert len(outcomes) >= 80
    assert set(outcomes.values()) <= {"view_only", "executable"}


def test_import_view_only_lists_lanes_tasks_and_extensions(client):
    path = CORPUS / "signavio" / "C.1.0-export.bpmn"
    if not path.exists():
        pytest.skip("interop corpus missing")
    token = designer(client)
    r = _upload(client, token, path.name, path.read_bytes())
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "http://www.signavio.com" in html  # vendor namespace listed
    assert "Bahnen und Aufgaben" in html and re.search(r"<code>(userTask|task)</code>", html)
    assert "Im Modeler öffnen" in html
    reasons = html.split('id="import-reasons"', 1)[1].split("</ul>", 1)[0]
    assert "executable" in reasons


@pytest.mark.parametrize("name, content, status, expected", [
    ("leer.bpmn", b"", 422, "the file is empty"),
    ("kaputt.bpmn", b"<definitions", 422, "not well-formed XML"),
    ("xxe.bpmn", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b"<d>&x;</d>", 422, "DOCTYPE"),
    ("decision.dmn", b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>',
     422, "DMN decision model"),
    ("bild.png", b"\x89PNG\r\n\x1a\n\x00\x00", 422, "not well-formed"),
    ("html.bpmn", b"<html/>", 422, "not a BPMN 2.0 document"),
])
def test_import_refused_with_the_specific_message(client, name, content, status, expected):
    token = designer(client)
    r = _upload(client, token, name, content)
    assert r.status_code == status
    html = r.get_data(as_text=True)
    assert 'id="import-refused"' in html and expected in html
    assert "root:" not in html  # nothing of an external entity is ever read


def test_import_without_file_and_too_large(client):
    token = designer(client)
    r = client.post("/designer/import", data={"csrf_token": token},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "Bitte wählen Sie eine Datei" in r.get_data(as_text=True)
    r = _upload(client, token, "gross.bpmn", b"<a>" + b" " * (3 * 1024 * 1024) + b"</a>")
    assert r.status_code == 413 and "größer als 2 MB" in r.get_data(as_text=True)


def test_import_executable_opens_in_the_modeler(client):
    token = designer(client)
    # a form file cannot come along with one .bpmn: a model without user tasks is executable
    body = '<bpmn:startEvent id="S"/><bpmn:manualTask id="M" name="Anrufen"/>' \
           '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "M") + B.flow("f2", "M", "E")
    xml = B.process("des_exec", {"JC": ["S", "M", "E"]}, body)
    r = _upload(client, token, "fremd.bpmn", xml.encode("utf-8"))
    assert r.status_code == 303 and re.search(r"/designer/drafts/\d+$", r.headers["Location"])
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "ist ausführbar und im Modeler geöffnet" in page


def test_import_keeps_a_latin1_file_byte_for_byte(client):
    token = designer(client)
    body = '<bpmn:startEvent id="S" name="Prüfung"/>'
    xml = B.process("des_latin", {}, body, executable=False).replace(
        'encoding="UTF-8"', 'encoding="ISO-8859-1"')
    content = xml.encode("latin-1")
    r = _upload(client, token, "latin.bpmn", content)
    assert r.status_code == 303
    draft_id = int(re.search(r"/drafts/(\d+)", r.headers["Location"]).group(1))
    assert client.get(f"/designer/drafts/{draft_id}/download").data == content
    assert client.get(f"/designer/drafts/{draft_id}/data").json["encoding"] == "ISO-8859-1"


# ---------------------------------------------------------------------------- migration 0007
def test_migration_0007_up_and_down(sqlite_db):
    downgrade(sqlite_db, "0006")
    with sqlite_db.engine.connect() as conn:
        names = set(sqlite_db.engine.dialect.get_table_names(conn))
    assert "designer_draft" not in names
    upgrade(sqlite_db)
    with sqlite_db.engine.connect() as conn:
        assert "designer_draft" in set(sqlite_db.engine.dialect.get_table_names(conn))


def test_designer_link_in_navigation_for_designers_only(client):
    login(client, "designer.demo")
    assert 'href="/designer/"' in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf(client)})
    login(client, "jc.demo")
    page = client.get("/")
    assert page.status_code == 200 and "jc.demo" in page.get_data(as_text=True)
    assert 'href="/designer/"' not in page.get_data(as_text=True)
