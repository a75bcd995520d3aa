"""Issue 15.2 (REST part): the operations endpoints for administrators - instance and
incident list, retry, suspend, resume, terminate - over real HTTP (Flask test client with
bearer tokens) on SQLite and PostgreSQL; every other role gets 403, bad input 400, an
unknown instance 404, a wrong state 409, and each endpoint is in the OpenAPI document."""

from __future__ import annotations

import pytest

from tests import bpmn_builder as B
from tests.timer_models import boundary_process
from tests.web_support import token_for

OTHERS = ("cm.demo", "jc.demo", "lead.jc", "auditor.demo", "dpo.demo", "designer.demo")


@pytest.fixture
def api(web_app):
    c = web_app.test_client()
    c.h = {n: token_for(web_app, n) for n in ("admin.demo", *OTHERS)}
    return c


def _broken(eng) -> int:
    """An instance with an incident: its script fails on the start data."""
    eng.deploy_files(B.files(p__bpmn=B.process(
        "ops_fail", {"KIM_CM": ["S", "T", "E"]},
        '<bpmn:startEvent id="S"/>' + B.script_task("T", "x = 1 / divisor")
        + '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "T") + B.flow("f2", "T", "E"))))
    return eng.start("ops_fail", {"divisor": 0})["instance_id"]


def test_incident_list_retry_and_the_message_without_values(api, eng):
    iid = _broken(eng)
    r = api.get("/api/ops/instances?status=error", headers=api.h["admin.demo"])
    assert r.status_code == 200, r.get_data(as_text=True)
    (row,) = [x for x in r.json if x["instance_id"] == iid]
    assert row["status"] == "error" and row["error_element"] == "T"
    assert row["error_type"] == "ZeroDivisionError" and "divisor" not in (row["error"] or "")
    # retry runs the same failing step again: still an incident, answered 200
    r = api.post(f"/api/ops/instances/{iid}/retry", headers=api.h["admin.demo"])
    assert r.status_code == 200 and r.json["status"] == "error"


def test_suspend_resume_terminate_over_http(api, eng):
    eng.deploy_files(B.files(p__bpmn=boundary_process("ops_h", interrupting=True,
                                                      timer='"P5D"')))
    iid = eng.start("ops_h", {})["instance_id"]
    h = api.h["admin.demo"]
    r = api.post(f"/api/ops/instances/{iid}/suspend", json={"reason": "Akte prüfen"}, headers=h)
    assert r.status_code == 200 and r.json["status"] == "suspended"
    r = api.get("/api/ops/instances?status=suspended", headers=h)
    assert [x["instance_id"] for x in r.json] == [iid]
    r = api.post(f"/api/ops/instances/{iid}/suspend", json={"reason": "nochmal"}, headers=h)
    assert r.status_code == 409 and r.json["error"] == "INSTANCE_NOT_RUNNING"
    r = api.post(f"/api/ops/instances/{iid}/resume", json={"reason": "geprüft"}, headers=h)
    assert r.status_code == 200 and r.json["status"] == "running"
    r = api.post(f"/api/ops/instances/{iid}/terminate", json={"reason": "doppelt"}, headers=h)
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert eng.tasks(instance_id=iid) == []


def test_a_suspended_instance_answers_409_to_the_caseworker(api, eng):
    eng.deploy_files(B.files(p__bpmn=boundary_process("ops_c", interrupting=True,
                                                      timer='"P5D"')))
    iid = eng.start("ops_c", {})["instance_id"]
    (task,) = eng.tasks(instance_id=iid)
    api.post(f"/api/ops/instances/{iid}/suspend", json={"reason": "Akte prüfen"},
             headers=api.h["admin.demo"])
    worker = "cm.demo" if task["office"] == "KIM_CM" else "jc.demo"
    r = api.post(f"/api/tasks/{task['task_id']}/claim", headers=api.h[worker])
    assert r.status_code == 409 and r.json["error"] == "INSTANCE_SUSPENDED", r.json


@pytest.mark.parametrize("name", OTHERS)
def test_every_other_role_is_refused(api, eng, name):
    iid = _broken(eng)
    for method, path, body in (("get", "/api/ops/instances", None),
                               ("post", f"/api/ops/instances/{iid}/retry", None),
                               ("post", f"/api/ops/instances/{iid}/suspend", {"reason": "x"}),
                               ("post", f"/api/ops/instances/{iid}/terminate", {"reason": "x"})):
        r = getattr(api, method)(path, json=body, headers=api.h[name])
        assert r.status_code == 403 and r.json["error"] == "FORBIDDEN", (name, path)
    assert eng.show(iid)["status"] == "error"  # nothing happened


def test_bad_input_unknown_instance_and_no_token(api):
    h = api.h["admin.demo"]
    assert api.get("/api/ops/instances?status=weird", headers=h).status_code == 400
    assert api.get("/api/ops/instances?limit=0", headers=h).status_code == 400
    r = api.post("/api/ops/instances/999999/suspend", json={"reason": "x"}, headers=h)
    assert r.status_code == 404 and r.json["error"] == "INSTANCE_NOT_FOUND"
    r = api.post("/api/ops/instances/1/suspend", json={}, headers=h)
    assert r.status_code == 400
    r = api.post("/api/ops/instances/1/suspend", json={"reason": "x" * 501}, headers=h)
    assert r.status_code == 400
    assert api.get("/api/ops/instances").status_code == 401


def test_the_endpoints_are_in_the_openapi_document(api):
    doc = api.get("/api/openapi.json").json
    for path in ("/api/ops/instances", "/api/ops/instances/{instance_id}/retry",
                 "/api/ops/instances/{instance_id}/suspend",
                 "/api/ops/instances/{instance_id}/resume",
                 "/api/ops/instances/{instance_id}/terminate"):
        assert path in doc["paths"], path
        ops = [op for method, op in doc["paths"][path].items() if method in ("get", "post")]
        assert ops, path
        for op in ops:
            assert {"401", "403", "503"} <= set(op["responses"]), (path, op["responses"])
