"""Date rules, file references and cleared fields through Engine.complete (both databases)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import files
from engine.errors import FormInvalid, LotseError
from engine.files import StoredFile
from engine.runtime import Actor
from tests import bpmn_builder as B

CM = Actor(user="anna", offices=frozenset({"KIM_CM"}))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

FORM = {
    "type": "object", "additionalProperties": False,
    "required": ["due"],
    "properties": {
        "due": {"type": "string", "format": "date", "title": "Frist",
                "x-lotse-date": {"exclusiveMin": "today", "max": "today+P6M"}},
        "note": {"type": "string", "title": "Notiz"},
        "doc": {"type": "object", "title": "Dokument", "required": ["id"],
                "additionalProperties": False,
                "properties": {k: {"type": t} for k, t in (
                    ("id", "string"), ("sha256", "string"), ("size", "integer"),
                    ("media_type", "string"), ("filename", "string"))},
                "x-lotse-file": {"accept": ["application/pdf", "image/png"],
                                 "max_bytes": 1024}},
    },
}


def _process() -> str:
    body = ('<bpmn:startEvent id="S"/>' + B.user_task("T1", "Eins", "f.json")
            + B.user_task("T2", "Zwei", "f.json") + '<bpmn:endEvent id="E"/>'
            + B.flow("F1", "S", "T1") + B.flow("F2", "T1", "T2") + B.flow("F3", "T2", "E"))
    return B.process("form_rules", {"KIM_CM": ["T1", "T2"]}, body)


@pytest.fixture
def proc(engine):
    engine.deploy_files(B.files(p__bpmn=_process(), f__json=json.dumps(FORM)))
    return engine


def _start(engine, case="K-F-1"):
    inst = engine.start("form_rules", {}, case, actor=CM)
    task = engine.tasks(instance_id=inst["instance_id"])[0]
    return inst["instance_id"], task["task_id"]


def _upload(engine, instance_id, case, content=PNG, media_type="image/png"):
    with engine.db.unit_of_work() as s:
        return files.store(s, instance_id=instance_id, case_ref=case, task_id=None,
                           field="doc", filename="Einwilligung Amal.png", content=content,
                           media_type=media_type, uploaded_by="anna", now=engine.now())


def test_a_date_rule_error_comes_with_the_other_errors_and_changes_nothing(proc):
    iid, tid = _start(proc)
    today = proc.now().date().isoformat()  # the fixture clock: 08:00 UTC, same day in Berlin
    with pytest.raises(FormInvalid) as exc:
        proc.complete(tid, {"due": today, "doc": {"id": "not-a-file"}, "extra": 1}, actor=CM)
    assert exc.value.errors["due"] == [f"Muss nach heute ({_de(today)}) liegen"]
    assert set(exc.value.errors) == {"due", "doc", "extra"}
    task = proc.get_task(tid, actor=CM)
    assert task["state"] == "READY"
    assert "due" not in proc.show(iid)["data"]


def test_the_rule_follows_the_moved_engine_clock(proc, clock):
    from datetime import timedelta

    _, tid = _start(proc)
    tomorrow = (proc.now() + timedelta(days=1)).date().isoformat()
    clock.advance(timedelta(days=1))
    with pytest.raises(FormInvalid) as exc:
        proc.complete(tid, {"due": tomorrow}, actor=CM)
    assert list(exc.value.errors) == ["due"]


def test_a_file_reference_is_checked_and_stored_as_a_reference_only(proc):
    iid, tid = _start(proc)
    ref = _upload(proc, iid, "K-F-1")
    due = _day(proc, 7)
    proc.complete(tid, {"due": due, "doc": {"id": ref["id"]}, "note": "x"}, actor=CM)
    data = proc.show(iid)["data"]
    assert data["doc"] == ref
    assert ref["size"] == len(PNG) and ref["media_type"] == "image/png"
    assert len(ref["sha256"]) == 64 and "content" not in data["doc"]
    with proc.db.reader() as s:
        row = s.scalar(select(StoredFile).where(StoredFile.id == ref["id"]))
        assert row.used_by_task == tid and bytes(row.content) == PNG
    # the same file again (second task): already used
    t2 = proc.tasks(instance_id=iid)[0]["task_id"]
    with pytest.raises(FormInvalid) as exc:
        proc.complete(t2, {"due": due, "doc": {"id": ref["id"]}}, actor=CM)
    assert exc.value.errors["doc"] == [files.message("used", "de")]


def test_a_file_of_another_case_or_an_unknown_id_is_refused(proc):
    other_iid, _ = _start(proc, "K-F-OTHER")
    iid, tid = _start(proc, "K-F-2")
    foreign = _upload(proc, other_iid, "K-F-OTHER")
    for ref in ({"id": foreign["id"]}, {"id": "00000000-0000-4000-8000-000000000000"}):
        with pytest.raises(FormInvalid) as exc:
            proc.complete(tid, {"due": _day(proc, 3), "doc": ref}, actor=CM)
        assert exc.value.errors == {"doc": [files.message("unknown", "de")]}
    with proc.db.reader() as s:
        assert s.get(StoredFile, foreign["id"]).used_by_task is None


def test_a_stored_file_over_the_field_limit_or_of_a_refused_type_is_refused(proc):
    iid, tid = _start(proc, "K-F-3")
    big = _upload(proc, iid, "K-F-3", content=PNG + b"\x00" * 2000)
    jpeg = _upload(proc, iid, "K-F-3", content=b"\xff\xd8\xff" + b"\x00" * 10,
                   media_type="image/jpeg")
    with pytest.raises(FormInvalid) as exc:
        proc.complete(tid, {"due": _day(proc, 3), "doc": {"id": big["id"]}}, actor=CM)
    assert "MB" in exc.value.errors["doc"][0]
    with pytest.raises(FormInvalid) as exc:
        proc.complete(tid, {"due": _day(proc, 3), "doc": {"id": jpeg["id"]}}, actor=CM)
    assert exc.value.errors["doc"] == [files.message("type", "de")]


def test_a_cleared_optional_field_does_not_keep_its_old_value(proc):
    iid, tid = _start(proc, "K-F-4")
    proc.complete(tid, {"due": _day(proc, 3), "note": "alte Notiz"}, actor=CM)
    assert proc.show(iid)["data"]["note"] == "alte Notiz"
    t2 = proc.tasks(instance_id=iid)[0]["task_id"]
    proc.complete(t2, {"due": _day(proc, 3), "note": "   "}, actor=CM)  # emptied
    data = proc.show(iid)["data"]
    assert data["note"] is None  # cleared: None, not the old value
    assert "doc" not in data  # never filled: not added (it would show up in read logs)


def test_deploy_refuses_a_malformed_date_rule(engine):
    bad = dict(FORM, properties={"due": {"type": "string",
                                         "x-lotse-date": {"min": "today+P1Q"}}})
    with pytest.raises(LotseError) as exc:
        engine.deploy_files(B.files(p__bpmn=_process(), f__json=json.dumps(bad)))
    assert "x-lotse-date" in str(exc.value) or "x-lotse-date" in json.dumps(
        exc.value.fields, default=str)


def _day(engine, n: int) -> str:
    from datetime import timedelta

    return (engine.now() + timedelta(days=n)).date().isoformat()


def _de(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}.{m}.{y}"
