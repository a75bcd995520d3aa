"""Issue 12 (3): starting a process is authorised - the start lane's office, access to a
named existing case, and start data the process accepts - on the REST API, the start page
and ``lotse start --user``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import ProcessInstance
from tests import bpmn_builder as B
from tests.web_support import csrf, login, refer, token_for
from web import accounts

ROOT = Path(__file__).resolve().parents[2]

START_FORM = json.dumps({"type": "object", "properties": {
    "first_name": {"type": "string", "title": "Vorname"}}, "required": ["first_name"]})


def jc_process() -> str:
    """Starts in JC's lane; declares ``first_name`` as its one data input."""
    body = ('<bpmn:ioSpecification id="Io"><bpmn:dataInput id="In_1" name="first_name"/>'
            '<bpmn:inputSet id="IS"><bpmn:dataInputRefs>In_1</bpmn:dataInputRefs>'
            '</bpmn:inputSet><bpmn:outputSet id="OS"/></bpmn:ioSpecification>'
            '<bpmn:startEvent id="Ev_Start"/>'
            + B.user_task("Task_Check", "Prüfen", form="check-schema.json")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Check") + B.flow("F2", "Task_Check", "Ev_End"))
    return B.process("test_jc_start", {"JC": ["Ev_Start", "Task_Check", "Ev_End"]}, body)


def form_process() -> str:
    """A start event without a lane and with a start form; the first user task is KIM_CM's."""
    start = ('<bpmn:startEvent id="Ev_Start"><bpmn:extensionElements>'
             '<spiffworkflow:properties><spiffworkflow:property '
             'name="formJsonSchemaFilename" value="start-schema.json"/>'
             '</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>')
    # the start form is used by the start event alone: deploy must keep it for the start
    body = (start + B.user_task("Task_A", "Erfassen", form="a-schema.json")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_A") + B.flow("F2", "Task_A", "Ev_End"))
    return B.process("test_form_start", {"KIM_CM": ["Task_A", "Ev_End"]}, body)


@pytest.fixture
def eng(web_app):
    engine = web_app.extensions["lotse"].engine
    engine.deploy_files(B.files(jc__bpmn=jc_process(),
                                **{"check-schema__json": B.simple_form("ok")}))
    engine.deploy_files(B.files(form__bpmn=form_process(),
                                **{"start-schema__json": START_FORM,
                                   "a-schema__json": B.simple_form()}))
    return engine


def instances(eng) -> int:
    with eng.db.reader() as s:
        return s.scalar(select(func.count()).select_from(ProcessInstance))


def post(client, who, body):
    return client.post("/api/process-instances", headers=who, json=body)


# ---------------------------------------------------------------- REST API
def test_api_start_needs_the_start_lane_office(web_app, eng):
    c = web_app.test_client()
    jc, cm = token_for(web_app, "jc.demo"), token_for(web_app, "cm.demo")
    before = instances(eng)
    r = post(c, jc, {"process_id": "kim_first_referral", "case_ref": "S-1", "data": {}})
    assert r.status_code == 403 and r.json["error"] == "START_OFFICE_FORBIDDEN"
    assert r.json["offices"] == ["KIM_CM"] and "Startbahn" in r.json["message"]
    r = post(c, cm, {"process_id": "test_jc_start", "case_ref": "S-2", "data": {}})
    assert r.status_code == 403 and r.json["error"] == "START_OFFICE_FORBIDDEN"
    assert instances(eng) == before  # nothing started
    assert post(c, jc, {"process_id": "test_jc_start", "case_ref": "S-3"}).status_code == 201
    assert post(c, cm, {"process_id": "kim_first_referral", "case_ref": "S-4"}
                ).status_code == 201
    # a start event without a lane: the first user task's lane (KIM_CM) decides
    r = post(c, jc, {"process_id": "test_form_start", "case_ref": "S-5",
                     "data": {"first_name": "A"}})
    assert r.status_code == 403 and r.json["error"] == "START_OFFICE_FORBIDDEN"
    assert instances(eng) == before + 2


def test_api_start_needs_access_to_an_existing_case(web_app, eng):
    c = web_app.test_client()
    jc, cm = token_for(web_app, "jc.demo"), token_for(web_app, "cm.demo")
    assert post(c, cm, {"process_id": "kim_first_referral", "case_ref": "K-1"}
                ).status_code == 201
    before = instances(eng)
    r = post(c, jc, {"process_id": "test_jc_start", "case_ref": "K-1"})
    assert r.status_code == 403 and r.json["error"] == "CASE_FORBIDDEN"
    assert instances(eng) == before
    refer(eng, "K-1", "JC", "JC:SGB2", ["IDENT"])  # now JC has a referral with consent
    assert post(c, jc, {"process_id": "test_jc_start", "case_ref": "K-1"}).status_code == 201


def test_api_start_data_is_what_the_process_accepts(web_app, eng):
    c = web_app.test_client()
    jc, cm = token_for(web_app, "jc.demo"), token_for(web_app, "cm.demo")
    before = instances(eng)
    # no start form, no data inputs: every key is unknown
    r = post(c, cm, {"process_id": "kim_first_referral", "case_ref": "D-1",
                     "data": {"status": "done", "anything": 1}})
    assert r.status_code == 422 and r.json["error"] == "VALIDATION_FAILED"
    assert set(r.json["errors"]) == {"anything", "status"}
    assert "Unbekanntes Feld" in r.json["errors"]["status"][0]
    # no start form: the declared data inputs are accepted, nothing else
    r = post(c, jc, {"process_id": "test_jc_start", "data": {"first_name": "A", "x": 2}})
    assert r.status_code == 422 and list(r.json["errors"]) == ["x"]
    # a start form: unknown keys are refused
    r = post(c, cm, {"process_id": "test_form_start", "data": {"other": "x"}})
    assert r.status_code == 422 and "other" in r.json["errors"]
    assert instances(eng) == before
    r = post(c, jc, {"process_id": "test_jc_start", "data": {"first_name": "A"}})
    assert r.status_code == 201
    assert eng.show(r.json["instance_id"])["data"]["first_name"] == "A"
    r = post(c, cm, {"process_id": "test_form_start", "data": {"first_name": " Bea "}})
    assert r.status_code == 201
    assert eng.show(r.json["instance_id"])["data"]["first_name"] == "Bea"


# ---------------------------------------------------------------- the start page
def test_start_page_offers_and_starts_only_the_users_processes(web_app, eng):
    jc = web_app.test_client()
    login(jc, "jc.demo")
    token = csrf(jc, "/start")
    page = jc.get("/start").text
    assert "test_jc_start" in page and "kim_first_referral" not in page
    assert jc.get("/start?process=kim_first_referral").status_code == 403
    before = instances(eng)
    r = jc.post("/start", data={"csrf_token": token, "process_id": "kim_first_referral",
                                "case_ref": "P-1"})
    assert r.status_code == 403
    assert instances(eng) == before
    r = jc.post("/start", data={"csrf_token": token, "process_id": "test_jc_start",
                                "case_ref": "P-2"})
    assert r.status_code == 302
    assert instances(eng) == before + 1


def test_start_page_refuses_a_case_the_user_cannot_see(web_app, eng):
    cm = web_app.test_client()
    login(cm, "cm.demo")
    r = cm.post("/start", data={"csrf_token": csrf(cm, "/start"),
                                "process_id": "kim_first_referral", "case_ref": "P-9"})
    assert r.status_code == 302
    jc = web_app.test_client()
    login(jc, "jc.demo")
    before = instances(eng)
    r = jc.post("/start", data={"csrf_token": csrf(jc, "/start"),
                                "process_id": "test_jc_start", "case_ref": "P-9"})
    assert r.status_code == 403 and "keinen Zugriff" in r.text
    assert instances(eng) == before


# ---------------------------------------------------------------- lotse start --user
def test_cli_start_as_a_user_is_checked(web_app, eng):
    db = eng.db
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "web.cli", *args, "--json"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)

    before = instances(eng)
    proc = cli("start", "kim_first_referral", "--case", "CL-1", "--user", "jc.demo")
    assert proc.returncode != 0 and json.loads(proc.stderr)["error"] == \
        "START_OFFICE_FORBIDDEN"
    proc = cli("start", "kim_first_referral", "--case", "CL-1", "--user", "cm.demo",
               "--data", '{"status": "x"}')
    assert proc.returncode != 0 and json.loads(proc.stderr)["error"] == "VALIDATION_FAILED"
    proc = cli("start", "kim_first_referral", "--case", "CL-1", "--user", "nobody.here")
    assert proc.returncode != 0 and json.loads(proc.stderr)["error"] == "USER_NOT_FOUND"
    accounts.set_active(db, "lead.jc", False)
    proc = cli("start", "test_jc_start", "--user", "lead.jc")
    assert proc.returncode != 0 and "disabled" in json.loads(proc.stderr)["message"]
    assert instances(eng) == before
    proc = cli("start", "kim_first_referral", "--case", "CL-1", "--user", "cm.demo")
    assert proc.returncode == 0, proc.stderr
    proc = cli("start", "test_jc_start", "--case", "CL-1", "--user", "jc.demo")
    assert proc.returncode != 0 and json.loads(proc.stderr)["error"] == "CASE_FORBIDDEN"
    proc = cli("start", "test_jc_start", "--case", "CL-2", "--user", "jc.demo")
    assert proc.returncode == 0, proc.stderr
    assert instances(eng) == before + 2
