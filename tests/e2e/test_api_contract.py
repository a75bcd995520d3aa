"""REST API contract: every endpoint and every error answer (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from tests.web_support import LiveServer, refer, token_for
from web import accounts

TASK_KEYS = {"task_id", "instance_id", "case_ref", "name", "office", "state", "assignee",
             "created_at", "due_at"}
CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}


@pytest.fixture
def api(web_app):
    c = web_app.test_client()
    c.h = {name: token_for(web_app, name) for name in
           ("cm.demo", "abh.demo", "jc.demo", "lead.jc", "auditor.demo", "admin.demo")}
    return c


def start(api, ref="C-1"):
    r = api.post("/api/process-instances", headers=api.h["cm.demo"],
                 json={"process_id": "kim_first_referral", "case_ref": ref, "data": {}})
    assert r.status_code == 201, r.json
    return r.json["instance_id"]


def first_task(api, office="KIM_CM", who="cm.demo"):
    r = api.get(f"/api/offices/{office}/tasks", headers=api.h[who])
    assert r.status_code == 200
    return r.json["items"][0]


def assert_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.is_json and r.json["error"] == code and isinstance(r.json["message"], str)


def test_offices(api):
    r = api.get("/api/offices", headers=api.h["jc.demo"])
    assert r.status_code == 200
    codes = {o["code"] for o in r.json}
    assert {"KIM_CM", "ABH", "JC"} <= codes
    assert set(r.json[0]) == {"code", "name_de", "name_en", "external", "active"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic eDp5"},
                                     {"Authorization": "Bearer lotse_unknown"}])
def test_unauthorized(api, headers):
    r = api.get("/api/offices", headers=headers)
    assert_error(r, 401, "UNAUTHORIZED")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(api.post("/api/tasks/x/claim", headers=headers), 401, "UNAUTHORIZED")


def test_session_cookie_is_not_enough_for_the_api(web_app):
    from tests.web_support import login

    c = web_app.test_client()
    login(c, "cm.demo")
    assert_error(c.get("/api/offices"), 401, "UNAUTHORIZED")


def test_start_and_get_instance(api):
    iid = start(api)
    r = api.get(f"/api/process-instances/{iid}", headers=api.h["cm.demo"])
    assert r.status_code == 200
    body = r.json
    assert body["instance_id"] == iid and body["status"] == "running"
    assert body["case_ref"] == "C-1" and body["process_id"] == "kim_first_referral"
    assert [t["name"] for t in body["tasks"]] == ["Fall erfassen"]
    assert set(body["tasks"][0]) == TASK_KEYS


def test_start_errors(api):
    h = api.h["cm.demo"]
    assert_error(api.post("/api/process-instances", headers=h,
                          json={"process_id": "nope", "data": {}}), 404, "PROCESS_NOT_FOUND")
    r = api.post("/api/process-instances", headers=h, json={"data": {}})
    assert_error(r, 400, "INVALID_INPUT")
    assert "process_id" in r.json["errors"]
    assert_error(api.post("/api/process-instances", headers=h,
                          json={"process_id": "kim_first_referral", "case_ref": "<script>"}),
                 400, "INVALID_INPUT")
    assert_error(api.post("/api/process-instances", headers=h,
                          json={"process_id": "kim_first_referral", "data": [1]}),
                 400, "INVALID_INPUT")
    assert_error(api.post("/api/process-instances", headers=h, data="{not json",
                          content_type="application/json"), 400, "INVALID_INPUT")
    assert_error(api.post("/api/process-instances", headers=api.h["auditor.demo"],
                          json={"process_id": "kim_first_referral"}), 403, "FORBIDDEN")


def test_worklist_shape_and_keyset_paging(api, web_app, clock):
    for i in range(3):
        start(api, f"P-{i}")
        clock.advance(timedelta(minutes=1))
    h = api.h["cm.demo"]
    r = api.get("/api/offices/KIM_CM/tasks?limit=2", headers=h)
    assert r.status_code == 200
    assert set(r.json) == {"items", "next"}
    assert len(r.json["items"]) == 2 and r.json["next"]
    assert all(set(i) == TASK_KEYS for i in r.json["items"])
    assert [i["case_ref"] for i in r.json["items"]] == ["P-0", "P-1"]  # oldest first
    r2 = api.get(f"/api/offices/KIM_CM/tasks?limit=2&after={r.json['next']}", headers=h)
    assert [i["case_ref"] for i in r2.json["items"]] == ["P-2"] and r2.json["next"] is None


def test_keyset_paging_with_equal_timestamps(api):
    for i in range(3):
        start(api, f"Q-{i}")  # same clock reading: ties are broken by task id
    seen, after = [], ""
    for _ in range(5):
        r = api.get(f"/api/offices/KIM_CM/tasks?limit=1{after}", headers=api.h["cm.demo"])
        seen += [i["task_id"] for i in r.json["items"]]
        if not r.json["next"]:
            break
        after = f"&after={r.json['next']}"
    assert len(seen) == 3 and len(set(seen)) == 3 and seen == sorted(seen)


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "after=%%%",
                                   "after=bm90LWEtY3Vyc29y", "unknown=1"])
def test_worklist_bad_query(api, query):
    r = api.get(f"/api/offices/KIM_CM/tasks?{query}", headers=api.h["cm.demo"])
    if query == "unknown=1":  # unknown query parameters are ignored
        assert r.status_code == 200
    else:
        assert_error(r, 400, "INVALID_INPUT")


def test_worklist_of_another_or_unknown_office_is_404(api):
    assert_error(api.get("/api/offices/JC/tasks", headers=api.h["abh.demo"]), 404,
                 "OFFICE_NOT_FOUND")
    assert_error(api.get("/api/offices/NOPE/tasks", headers=api.h["abh.demo"]), 404,
                 "OFFICE_NOT_FOUND")
    assert_error(api.get("/api/offices/KIM_CM/tasks", headers=api.h["auditor.demo"]), 404,
                 "OFFICE_NOT_FOUND")


def test_get_task_with_form_and_scoping(api):
    start(api)
    task = first_task(api)
    r = api.get(f"/api/tasks/{task['task_id']}", headers=api.h["cm.demo"])
    assert r.status_code == 200
    assert r.json["form_schema"]["properties"]["first_name"]["title"] == "Vorname(n)"
    assert r.json["ui_schema"]["ui:order"][0] == "first_name"
    assert r.json["documentation"] and r.json["legal_basis"] == "§ 9 TIntG NRW"
    # Another office's task is "not found", never "forbidden".
    assert_error(api.get(f"/api/tasks/{task['task_id']}", headers=api.h["jc.demo"]), 404,
                 "TASK_NOT_FOUND")
    assert_error(api.get("/api/tasks/not-a-uuid", headers=api.h["cm.demo"]), 404,
                 "TASK_NOT_FOUND")
    assert_error(api.post(f"/api/tasks/{task['task_id']}/claim", headers=api.h["jc.demo"]),
                 404, "TASK_NOT_FOUND")


def test_claim_unclaim_and_team_lead_force(api, web_app):
    iid = start(api)
    tid = first_task(api)["task_id"]
    api.post(f"/api/tasks/{tid}/complete", headers=api.h["cm.demo"], json={"data": CASE})
    jc_task = first_task(api, "JC", "jc.demo")["task_id"]
    r = api.post(f"/api/tasks/{jc_task}/claim", headers=api.h["jc.demo"])
    assert r.status_code == 200 and r.json["assignee"] == "jc.demo"
    assert set(r.json) == TASK_KEYS
    # Claiming again is idempotent for the same user ...
    assert api.post(f"/api/tasks/{jc_task}/claim", headers=api.h["jc.demo"]).status_code == 200
    # ... a colleague gets 409, and cannot release it either.
    accounts.create_user(web_app.extensions["lotse"].db, "jc.two", roles=["caseworker"],
                         offices=["JC"], password="zweites-pw-1")
    h2 = token_for(web_app, "jc.two")
    r = api.post(f"/api/tasks/{jc_task}/claim", headers=h2)
    assert_error(r, 409, "TASK_CLAIMED")
    assert r.json["assignee"] == "jc.demo"
    assert_error(api.post(f"/api/tasks/{jc_task}/unclaim", headers=h2), 409, "TASK_CLAIMED")
    assert_error(api.post(f"/api/tasks/{jc_task}/complete", headers=h2,
                          json={"data": {"jc_result": "granted"}}), 409, "TASK_CLAIMED")
    # The team lead may release it.
    r = api.post(f"/api/tasks/{jc_task}/unclaim", headers=api.h["lead.jc"])
    assert r.status_code == 200 and r.json["assignee"] is None
    # A task alone does not open the case: JC needs a referral and a consent (DP-03/04).
    assert api.get(f"/api/process-instances/{iid}", headers=h2).status_code == 404
    refer(web_app.extensions["lotse"].engine, "C-1", "JC", "JC:SGB2", ["IDENT"])
    assert api.get(f"/api/process-instances/{iid}", headers=h2).status_code == 200


def test_complete_validation_then_success_then_conflict(api):
    iid = start(api)
    tid = first_task(api)["task_id"]
    h = api.h["cm.demo"]
    r = api.post(f"/api/tasks/{tid}/complete", headers=h,
                 json={"data": {"first_name": "  ", "birth_date": "2999-01-01",
                                "nationality": "ZZZ", "surprise": 1}})
    assert_error(r, 422, "VALIDATION_FAILED")
    errs = r.json["errors"]
    for field in ("first_name", "last_name", "birth_date", "nationality", "language",
                  "residence_status", "surprise"):
        assert field in errs and all(isinstance(m, str) for m in errs[field]), field
    assert "Pflichtfeld" in errs["last_name"]
    r = api.post(f"/api/tasks/{tid}/complete", headers={**h, "Accept-Language": "en-GB,en"},
                 json={"data": {}})
    assert_error(r, 422, "VALIDATION_FAILED")
    assert r.json["errors"]["last_name"] == ["This field is required"]
    # the task is still open
    assert api.get(f"/api/tasks/{tid}", headers=h).json["state"] == "READY"
    r = api.post(f"/api/tasks/{tid}/complete", headers=h, json={"data": CASE})
    assert r.status_code == 200
    assert r.json["instance_id"] == iid and r.json["status"] == "running"
    r = api.post(f"/api/tasks/{tid}/complete", headers=h, json={"data": CASE})
    assert_error(r, 409, "TASK_NOT_OPEN")
    assert_error(api.post(f"/api/tasks/{tid}/claim", headers=h), 409, "TASK_NOT_OPEN")
    body = api.get(f"/api/process-instances/{iid}", headers=h).json
    assert {t["office"] for t in body["tasks"] if t["state"] == "READY"} == {"ABH", "JC"}
    assert body["data"]["first_name"] == "Amal"


def test_complete_body_errors(api):
    start(api)
    tid = first_task(api)["task_id"]
    h = api.h["cm.demo"]
    for body in ({"data": "x"}, {"data": None}, {"data": {}, "extra": 1}, [1]):
        assert_error(api.post(f"/api/tasks/{tid}/complete", headers=h, json=body), 400,
                     "INVALID_INPUT")
    assert_error(api.post(f"/api/tasks/{tid}/complete", headers=h, data="nope",
                          content_type="application/json"), 400, "INVALID_INPUT")


def test_instance_scoping_and_auditor_masking(api):
    iid = start(api)
    assert_error(api.get(f"/api/process-instances/{iid}", headers=api.h["jc.demo"]), 404,
                 "INSTANCE_NOT_FOUND")
    assert_error(api.get(f"/api/process-instances/{iid}", headers=api.h["admin.demo"]), 404,
                 "INSTANCE_NOT_FOUND")
    tid = first_task(api)["task_id"]
    api.post(f"/api/tasks/{tid}/complete", headers=api.h["cm.demo"], json={"data": CASE})
    # JC has a task in the instance now, but no referral and consent: still 404 (DP-04).
    assert_error(api.get(f"/api/process-instances/{iid}", headers=api.h["jc.demo"]), 404,
                 "INSTANCE_NOT_FOUND")
    # With a referral and a consent for identity data JC sees exactly those fields.
    refer(api.application.extensions["lotse"].engine, "C-1", "JC", "JC:SGB2", ["IDENT"])
    r = api.get(f"/api/process-instances/{iid}", headers=api.h["jc.demo"])
    assert r.status_code == 200 and r.json["data_masked"] is False
    assert r.json["data"]["first_name"] == "Amal" and "residence_status" not in r.json["data"]
    cm = api.get(f"/api/process-instances/{iid}", headers=api.h["cm.demo"]).json["data"]
    assert cm["first_name"] == "Amal" and "residence_status" not in cm  # no base consent
    r = api.get(f"/api/process-instances/{iid}", headers=api.h["auditor.demo"])
    assert r.status_code == 200 and r.json["data_masked"] is True
    assert set(r.json["data"].values()) == {"•••"}
    for bad in ("999999", str(2**70), "-1", "abc"):
        r = api.get(f"/api/process-instances/{bad}", headers=api.h["cm.demo"])
        assert r.status_code == 404 and r.is_json


def test_unknown_path_and_method(api):
    assert_error(api.get("/api/nothing-here", headers=api.h["cm.demo"]), 404, "NOT_FOUND")
    r = api.delete("/api/offices", headers=api.h["cm.demo"])
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in r.headers["Allow"]


def test_nul_bytes_are_bad_input_not_500(api):
    r = api.get("/api/offices/KIM_CM/tasks?after=%00", headers=api.h["cm.demo"])
    assert_error(r, 400, "INVALID_INPUT")
    r = api.post("/api/process-instances", headers=api.h["cm.demo"],
                 json={"process_id": "kim_first_referral", "case_ref": "A\u0000B"})
    assert_error(r, 400, "INVALID_INPUT")


def test_unexpected_error_is_generic_500_without_personal_data(api, web_app, monkeypatch,
                                                                caplog):
    eng = web_app.extensions["lotse"].engine

    def boom(*a, **k):
        raise RuntimeError("Amal Haddad, born 1990-04-01")

    monkeypatch.setattr(eng, "get_task", boom)
    with caplog.at_level(logging.ERROR, logger="lotse.web"):
        r = api.get("/api/tasks/00000000-0000-0000-0000-000000000000",
                    headers=api.h["cm.demo"])
    assert r.status_code == 500
    assert r.json["error"] == "INTERNAL_ERROR" and "Amal" not in r.get_data(as_text=True)
    assert "Traceback" not in r.get_data(as_text=True)
    assert "RuntimeError" in caplog.text and "Amal" not in caplog.text


def test_openapi_document(api):
    r = api.get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.json
    paths = spec["paths"]
    for path, method in [("/api/offices", "get"), ("/api/offices/{code}/tasks", "get"),
                         ("/api/tasks/{task_id}", "get"), ("/api/tasks/{task_id}/claim", "post"),
                         ("/api/tasks/{task_id}/unclaim", "post"),
                         ("/api/tasks/{task_id}/complete", "post"),
                         ("/api/process-instances", "post"),
                         ("/api/process-instances/{instance_id}", "get")]:
        assert method in paths[path], (path, method)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    complete = paths["/api/tasks/{task_id}/complete"]["post"]["responses"]
    assert {"200", "400", "401", "404", "409", "422"} <= set(complete)
    docs = api.get("/api/docs")
    assert docs.status_code == 200 and "/api/tasks/{task_id}/complete" in docs.text


def test_every_operation_documents_503_with_retry_after(api):
    """Issue 16: every operation reads the database (at least the bearer token), so each
    documents the 503 answers INSTANCE_BUSY and DATABASE_UNAVAILABLE with Retry-After."""
    from web.errors import RETRY_AFTER_BUSY_SECONDS, RETRY_AFTER_UNAVAILABLE_SECONDS

    spec = api.get("/api/openapi.json").json
    components = spec["components"]
    ops = [(path, method, op) for path, item in spec["paths"].items()
           for method, op in item.items() if method in ("get", "post", "put", "patch", "delete")]
    assert len(ops) > 20
    for path, method, op in ops:
        answer = op["responses"].get("503")
        assert answer, (method, path)
        if "$ref" in answer:
            answer = components["responses"][answer["$ref"].rsplit("/", 1)[1]]
        assert "INSTANCE_BUSY" in answer["description"], (method, path)
        assert "DATABASE_UNAVAILABLE" in answer["description"], (method, path)
        header = answer["headers"]["Retry-After"]
        if "$ref" in header:
            header = components["headers"][header["$ref"].rsplit("/", 1)[1]]
        assert header["required"] is True and header["schema"]["type"] == "integer"
        content = answer["content"]["application/json"]
        schema = content["schema"]
        if "$ref" in schema:
            schema = components["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        assert {"error", "message", "retry_after"} <= set(schema["properties"])
        examples = {e["value"]["error"]: e["value"]["retry_after"]
                    for e in content["examples"].values()}
        assert examples == {"INSTANCE_BUSY": RETRY_AFTER_BUSY_SECONDS,
                            "DATABASE_UNAVAILABLE": RETRY_AFTER_UNAVAILABLE_SECONDS}
    docs = api.get("/api/docs")
    assert "503" in docs.text


def test_through_a_real_http_server(web_app):
    """The same contract over a socket: werkzeug server on 127.0.0.1:0 in a thread."""
    headers = token_for(web_app, "cm.demo")
    with LiveServer(web_app) as server:
        def call(method, path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(server.url + path, data=data, method=method,
                                         headers={**headers, "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        status, body = call("POST", "/api/process-instances",
                            {"process_id": "kim_first_referral", "case_ref": "LIVE-1"})
        assert status == 201 and isinstance(body["instance_id"], int)
        status, page = call("GET", "/api/offices/KIM_CM/tasks?limit=5")
        assert status == 200 and page["items"][0]["case_ref"] == "LIVE-1"
        tid = page["items"][0]["task_id"]
        status, body = call("POST", f"/api/tasks/{tid}/complete", {"data": {}})
        assert status == 422 and body["error"] == "VALIDATION_FAILED"
        status, body = call("POST", f"/api/tasks/{tid}/complete", {"data": CASE})
        assert status == 200
        status, body = call("POST", f"/api/tasks/{tid}/complete", {"data": CASE})
        assert status == 409 and body["error"] == "TASK_NOT_OPEN"
