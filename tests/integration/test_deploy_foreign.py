"""Deploy and lint refuse, with one rule set and clear messages, what would break later:
remote form ``$ref`` (SSRF, file leaks), deep or malformed forms, message events without a
message, lint errors such as service tasks and unquoted timers; foreign BPMN details
(``.bpmn20.xml``, ``camunda:decisionRef``) work, and SpiffWorkflow's terse errors are
rewritten so they name the element and its value."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from sqlalchemy import func, select

from engine.deploy import collect_files
from engine.errors import DeployError
from engine.lint import ERROR, lint_files
from engine.models import ProcessDefinition
from tests import bpmn_builder as B

SECRET = "TOP-SECRET-91c2"
CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '


def chain(pid: str, middle: str, mid_id: str = "A", lanes: bool = True) -> str:
    body = ('<bpmn:startEvent id="S"/>' + middle + '<bpmn:endEvent id="E"/>'
            + B.flow("f1", "S", mid_id) + B.flow("f2", mid_id, "E"))
    return B.process(pid, {"JC": ["S", mid_id, "E"]} if lanes else {}, body).replace(
        "<bpmn:definitions ", "<bpmn:definitions " + CAMUNDA)


def refused(engine, files) -> list[dict]:
    with pytest.raises(DeployError) as exc:
        engine.deploy_files(files)
    with engine.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0
    return exc.value.problems


def lint_errors(engine, files):
    return [f for f in lint_files(files, resolve_lane=engine.resolve_lane) if f.severity == ERROR]


@pytest.fixture
def server():
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps({"type": "string", "title": SECRET}).encode())

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


# ------------------------------------------------------------------------------ 1. $ref
def test_remote_and_file_refs_are_refused_and_never_fetched(engine, server, tmp_path):
    base, hits = server
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"type": "string", "title": SECRET}))
    doc = chain("refs", B.user_task("A", "Erfassen", "f.json"))
    for ref in (f"{base}/schema.json", secret.as_uri()):
        form = json.dumps({"type": "object", "properties": {"a": {"$ref": ref}}})
        files = B.files(x__bpmn=doc, f__json=form)
        problems = refused(engine, files)
        (p,) = [p for p in problems if p["element"] == "A"]
        assert p["file"] == "f.json" and "'f.json'" in p["problem"] and ref in p["problem"]
        assert "points outside the form" in p["problem"]
        (f,) = lint_errors(engine, files)
        assert f.message == p["problem"]
        assert SECRET not in json.dumps(problems) and SECRET not in f.message
    assert hits == []


# ------------------------------------------------------------------------------ 2. forms
def test_deep_form_is_refused_not_a_recursion_error(engine):
    doc = chain("deep", B.user_task("A", "Erfassen", "f.json"))
    deep = '{"type": "object", "properties": {"a": ' * 1000 + "{}" + "}}" * 1000
    problems = refused(engine, B.files(x__bpmn=doc, f__json=deep))
    assert any(p["file"] == "f.json" and "nests deeper than 64 levels" in p["problem"]
               for p in problems)
    (f,) = lint_errors(engine, B.files(x__bpmn=doc, f__json=deep))
    assert f.file == "f.json" and "nests deeper than 64 levels" in f.message


@pytest.mark.parametrize("labels", [["a"], {"de": ["Erste"]}, {"de": {"a": 1}}])
def test_malformed_enum_labels_are_refused(engine, labels):
    doc = chain("labels", B.user_task("A", "Erfassen", "f.json"))
    form = json.dumps({"type": "object", "properties": {
        "art": {"type": "string", "enum": ["a"], "x-enum-labels": labels}}})
    problems = refused(engine, B.files(x__bpmn=doc, f__json=form))
    assert any("x-enum-labels must map a language" in p["problem"] for p in problems)


# ------------------------------------------------------------------------------ 3. messages
@pytest.mark.parametrize("event,message,expect", [
    ('<bpmn:messageEventDefinition id="MD"/>', "", "names no message (messageRef)"),
    ('<bpmn:messageEventDefinition id="MD" messageRef="M1"/>', '<bpmn:message id="M1"/>',
     "has no name"),
    ('<bpmn:messageEventDefinition id="MD" messageRef="M9"/>', "", "which is not defined"),
])
def test_message_event_without_a_message_name_is_refused(engine, event, message, expect):
    catch = f'<bpmn:intermediateCatchEvent id="A">{event}</bpmn:intermediateCatchEvent>'
    doc = chain("msg", catch).replace("</bpmn:process>", "</bpmn:process>" + message)
    problems = refused(engine, B.files(x__bpmn=doc))
    (p,) = [p for p in problems if p["element"] == "A"]
    assert expect in p["problem"] and "'A'" in p["problem"]
    assert any(f.rule == "message-without-name" and f.message == p["problem"]
               for f in lint_errors(engine, B.files(x__bpmn=doc)))


# ------------------------------------------------------------------------------ 4. one rule set
@pytest.mark.parametrize("middle,mid_id,rule", [
    ('<bpmn:serviceTask id="A" name="Abruf"/>', "A", "unsupported-element"),
    ('<bpmn:intermediateCatchEvent id="A"><bpmn:timerEventDefinition><bpmn:timeCycle>R6/P1D'
     "</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>", "A",
     "timer-not-iso8601"),
    ('<bpmn:exclusiveGateway id="A" default="nowhere"/>', "A",
     "exclusive-gateway-without-default"),
])
def test_deploy_refuses_what_lint_calls_an_error_with_the_same_message(engine, middle, mid_id,
                                                                       rule):
    files = B.files(x__bpmn=chain("lintgate", middle, mid_id))
    (f,) = [f for f in lint_errors(engine, files) if f.rule == rule]
    problems = refused(engine, files)
    assert {"file": f.file, "element": f.element, "problem": f.message} in problems


def test_a_user_task_without_form_still_deploys(engine):
    """The one lint error deploy does not enforce: the engine runs such a task (the modeler
    still refuses it)."""
    doc = chain("noform", B.user_task("A", "Ohne Formular"))
    assert [f.rule for f in lint_errors(engine, B.files(x__bpmn=doc))] == [
        "user-task-without-form"]
    engine.deploy_files(B.files(x__bpmn=doc))


# ------------------------------------------------------------------------------ 5. foreign BPMN
def test_bpmn20_xml_is_collected_and_found_as_call_target(engine, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "callee.bpmn20.xml").write_text(B.loop_process("callee20"), encoding="utf-8")
    assert [f.name for f in collect_files([folder])] == ["models/callee.bpmn20.xml"]
    engine.deploy([folder])
    call = '<bpmn:callActivity id="A" calledElement="callee20"/>'
    engine.deploy_files(B.files(caller__bpmn=chain("caller20", call)))
    iid = engine.start("caller20", {})["instance_id"]
    assert engine.tasks(instance_id=iid)[0]["element_id"] == "Task_Work"


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="D" name="D"
  namespace="http://lotse.example/dmn">
  <decision id="grade" name="Stufe">
    <decisionTable id="T" hitPolicy="UNIQUE">
      <input id="I"><inputExpression id="IE" typeRef="integer"><text>points</text>
      </inputExpression></input>
      <output id="O" name="level" typeRef="string"/>
      <rule id="R1"><inputEntry id="E1"><text>&lt; 50</text></inputEntry>
        <outputEntry id="O1"><text>"low"</text></outputEntry></rule>
      <rule id="R2"><inputEntry id="E2"><text>&gt;= 50</text></inputEntry>
        <outputEntry id="O2"><text>"high"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_camunda_decision_ref_is_the_decision(engine):
    task = '<bpmn:businessRuleTask id="A" camunda:decisionRef="grade"/>'
    engine.deploy_files(B.files(x__bpmn=chain("cam_dmn", task), d__dmn=DMN))
    iid = engine.start("cam_dmn", {"points": 70})["instance_id"]
    shown = engine.show(iid)
    assert shown["status"] == "completed" and shown["data"]["level"] == "high"


def test_business_rule_task_without_decision_is_refused_clearly(engine):
    files = B.files(x__bpmn=chain("no_dmn", '<bpmn:businessRuleTask id="A" name="Stufe"/>'))
    problems = refused(engine, files)
    (p,) = [p for p in problems if p["element"] == "A"]
    assert "names no decision" in p["problem"] and "None" not in p["problem"]


def test_plain_task_without_lane_is_not_called_a_user_task(engine):
    doc = chain("plain", '<bpmn:task id="A" name="Kasten"/>').replace(
        "<bpmn:flowNodeRef>A</bpmn:flowNodeRef>", "")
    problems = refused(engine, B.files(x__bpmn=doc))
    texts = [p["problem"] for p in problems if p["element"] == "A"]
    assert texts and all("user task" not in t for t in texts)
    assert any(t.startswith("task 'Kasten' (A) lies in no lane") for t in texts)


@pytest.mark.parametrize("middle,expect", [
    ('<bpmn:manualTask id="A"><bpmn:dataInputAssociation id="DA"><bpmn:sourceRef>nothere'
     "</bpmn:sourceRef></bpmn:dataInputAssociation></bpmn:manualTask>",
     "dataInputAssociation of 'A' refers to 'nothere'"),
    ('<bpmn:intermediateCatchEvent id="A"><bpmn:timerEventDefinition/>'
     "</bpmn:intermediateCatchEvent>", "timer of 'A' has no usable value"),
])
def test_spiffworkflow_errors_name_element_and_value(engine, middle, expect):
    files = B.files(x__bpmn=chain("spiffmsg", middle))
    problems = refused(engine, files)
    texts = [p["problem"] for p in problems] + [f.message for f in lint_errors(engine, files)]
    assert any(expect in t for t in texts), texts
    assert not any("<Element" in t or "0x" in t for t in texts), texts


def test_multiple_flows_out_of_a_task_name_the_task_type(engine):
    body = ('<bpmn:startEvent id="S"/><bpmn:manualTask id="A"/><bpmn:endEvent id="E"/>'
            '<bpmn:endEvent id="E2"/>' + B.flow("f1", "S", "A") + B.flow("f2", "A", "E", "x == 1")
            + B.flow("f3", "A", "E2", "x == 2"))
    files = B.files(x__bpmn=B.process("multi", {"JC": ["S", "A", "E", "E2"]}, body))
    problems = refused(engine, files)
    (p,) = [p for p in problems if p["element"] == "A"]
    assert "tasks of type bpmn:manualTask" in p["problem"] and "type." not in p["problem"]


def test_timer_expression_error_shows_the_value(engine):
    timer = ('<bpmn:intermediateCatchEvent id="A"><bpmn:timerEventDefinition><bpmn:timeDuration>'
             '"P5D")(</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    problems = refused(engine, B.files(x__bpmn=chain("timerval", timer)))
    assert any(p["element"] == "A" and '"P5D")(' in p["problem"] for p in problems), problems


def test_import_check_resolves_a_call_to_a_deployed_process(db, tmp_path):
    """``lotse import-check`` (a real subprocess) looks up call targets in the database."""
    import os
    import subprocess
    import sys

    from tests.integration.test_cli import ROOT

    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")
    caller = tmp_path / "caller.bpmn"
    caller.write_text(chain("caller_ic", '<bpmn:callActivity id="A" calledElement="callee_ic"/>'),
                      encoding="utf-8")
    callee = tmp_path / "callee.bpmn20.xml"
    callee.write_text(B.loop_process("callee_ic"), encoding="utf-8")

    def check():
        proc = subprocess.run([sys.executable, "-m", "web.cli", "import-check", str(caller),
                               "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        return proc.returncode, json.loads(proc.stdout)

    code, out = check()
    assert code == 1 and any("callee_ic" in r for r in out["reasons"])
    deployed = subprocess.run([sys.executable, "-m", "web.cli", "deploy", str(tmp_path)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert deployed.returncode == 0, deployed.stderr
    code, out = check()
    assert (code, out["status"]) == (0, "executable"), out["reasons"]
