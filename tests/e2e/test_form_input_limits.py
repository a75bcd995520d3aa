"""Issue 16.5: HTML form posts whose fields would become data nested too deep for the
engine (a JSON field 350 levels deep: RecursionError further down), carry a lone surrogate
(UnicodeEncodeError when stored or rendered) or control characters are refused with a 400
and a German-first page before the engine runs; nothing changes (SQLite and PostgreSQL).

The JSON API has the same guard (JSON_TOO_DEEP, JSON_BAD_TEXT: tests/e2e/test_security_http.py);
these are the task page, the start page, the consent form and the designer's form preview."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.web_support import csrf, login

DEEP = "[" * 350 + "]" * 350
DEEP_OBJ = '{"a":' * 350 + "1" + "}" * 350
SURROGATE = '["\\ud800"]'  # valid JSON text, a lone surrogate once parsed

FORM = json.dumps({"type": "object", "properties": {
    "name": {"type": "string", "title": "Name"},
    "entries": {"type": "array", "title": "Einträge", "items": {}},
    "meta": {"type": "object", "title": "Weiteres"}}})


def nested_process() -> str:
    """A start form and one KIM_CM task whose forms have JSON (array/object) fields."""
    start = ('<bpmn:startEvent id="Ev_Start"><bpmn:extensionElements>'
             '<spiffworkflow:properties><spiffworkflow:property '
             'name="formJsonSchemaFilename" value="nest-start.json"/>'
             '</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>')
    body = (start + B.user_task("Task_Nest", "Verschachtelt", form="nest-task.json")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Nest") + B.flow("F2", "Task_Nest", "Ev_End"))
    return B.process("test_nested_form", {"KIM_CM": ["Ev_Start", "Task_Nest", "Ev_End"]},
                     body)


@pytest.fixture
def setup(web_app):
    eng = web_app.extensions["lotse"].engine
    eng.deploy_files(B.files(nest__bpmn=nested_process(),
                             **{"nest-start__json": FORM, "nest-task__json": FORM}))
    out = eng.start("test_nested_form", {}, "NEST-1", actor=Actor(user="cm.demo"))
    tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
    c = web_app.test_client()
    login(c, "cm.demo")
    return eng, c, tid


def snapshot(eng) -> tuple:
    with eng.db.reader() as s:
        return (s.scalar(select(func.count()).select_from(ProcessInstance)),
                s.scalar(select(func.count()).select_from(AuditEvent)),
                tuple(s.execute(select(HumanTask.id, HumanTask.state)
                                .order_by(HumanTask.id)).all()))


def assert_refused(r, *words: str) -> None:
    html = r.get_data(as_text=True)
    assert r.status_code == 400, (r.status_code, html[:400])
    assert r.mimetype == "text/html"
    for w in words:
        assert w in html, (w, html[:1500])
    assert html.index("Die Eingabe") < html.index("The input")  # German first


BAD_FIELDS = [
    pytest.param({"entries": DEEP}, ("zu tief verschachtelt",), id="deep-array"),
    pytest.param({"meta": DEEP_OBJ}, ("zu tief verschachtelt",), id="deep-object"),
    pytest.param({"entries": SURROGATE}, ("ungültiges Zeichen",), id="surrogate-json"),
    pytest.param({"name": "An\x01na"}, ("Steuerzeichen",), id="control-char"),
    pytest.param({"name": "x", "meta": '{"k\\u0007": 1}'}, ("Steuerzeichen",),
                 id="control-char-in-json-key"),
]


@pytest.mark.parametrize(("fields", "words"), BAD_FIELDS)
def test_task_form_refuses_nested_or_bad_text_before_the_engine(setup, fields, words):
    eng, c, tid = setup
    before = snapshot(eng)
    r = c.post(f"/tasks/{tid}", data={"csrf_token": csrf(c, f"/tasks/{tid}"), **fields})
    assert_refused(r, *words)
    assert snapshot(eng) == before
    # the same post as multipart (the form of a task with a file field)
    r = c.post(f"/tasks/{tid}", data={"csrf_token": csrf(c, f"/tasks/{tid}"), **fields},
               content_type="multipart/form-data")
    assert_refused(r, *words)
    assert snapshot(eng) == before
    # a good post still completes
    r = c.post(f"/tasks/{tid}", data={"csrf_token": csrf(c, f"/tasks/{tid}"), "name": "A",
                                      "entries": '[{"b": [1, 2]}]', "meta": '{"x": "ü"}'})
    assert r.status_code == 302, r.get_data(as_text=True)[:400]


@pytest.mark.parametrize(("fields", "words"), BAD_FIELDS)
def test_start_form_refuses_nested_or_bad_text(setup, fields, words):
    eng, c, _ = setup
    before = snapshot(eng)
    r = c.post("/start", data={"csrf_token": csrf(c, "/start"),
                               "process_id": "test_nested_form", "case_ref": "NEST-2",
                               **fields})
    assert_refused(r, *words)
    assert snapshot(eng) == before


def test_undecodable_form_body_is_refused(setup):
    """Bytes that are not UTF-8 would silently become an empty form (werkzeug)."""
    eng, c, tid = setup
    before = snapshot(eng)
    token = csrf(c, f"/tasks/{tid}").encode()
    r = c.post(f"/tasks/{tid}", data=b"csrf_token=" + token + b"&name=\xed\xa0\x80",
               content_type="application/x-www-form-urlencoded")
    assert_refused(r, "ungültiges Zeichen")
    assert snapshot(eng) == before


def test_consent_form_refuses_control_characters(setup):
    eng, c, _ = setup
    before = snapshot(eng)
    r = c.post("/cases/NEST-1/consents", data={
        "csrf_token": csrf(c, "/cases/NEST-1"), "office": "JC\x1b", "purpose": "x"})
    assert_refused(r, "Steuerzeichen")
    assert snapshot(eng) == before


def test_designer_form_preview_refuses_a_lone_surrogate(web_app):
    c = web_app.test_client()
    login(c, "designer.demo")
    token = csrf(c, "/designer/")
    good = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
    r = c.post("/designer/form-preview", data={
        "csrf_token": token, "schema": good, "ui": '{"a": {"ui:help": "\\udc00"}}'})
    assert_refused(r, "ungültiges Zeichen")
    r = c.post("/designer/form-preview", data={"csrf_token": token, "schema": good,
                                               "ui": DEEP})
    assert_refused(r, "zu tief verschachtelt")
    r = c.post("/designer/form-preview", data={"csrf_token": token, "schema": good})
    assert r.status_code == 200
