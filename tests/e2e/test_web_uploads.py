"""V-14 file fields over HTTP (task form and REST API) on both databases, and one upload
in real Chromium: content checked by magic bytes, size limit, all errors at once, nothing
stored on failure, download only for users who may see the case (logged as a read)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.files import StoredFile
from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.integration.test_form_rules_engine import FORM, _process
from tests.web_support import base_consent, csrf, login, make_app, token_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
FAKE_PDF = b"MZ\x90\x00 not a pdf at all"
CM = Actor(user="cm.demo", offices=frozenset({"KIM_CM"}))


def _setup(app, case="K-UP-1"):
    eng = app.extensions["lotse"].engine
    eng.deploy_files(B.files(p__bpmn=_process(), f__json=json.dumps(FORM)))
    base_consent(eng, case, ["IDENT", "CONTACT", "CM_NOTES"])
    iid = eng.start("form_rules", {}, case, actor=CM)["instance_id"]
    return eng, iid, eng.tasks(instance_id=iid)[0]["task_id"]


def _day(eng, n):
    return (eng.now() + timedelta(days=n)).date().isoformat()


def _stored(eng) -> int:
    with eng.db.reader() as s:
        return s.scalar(select(func.count()).select_from(StoredFile))


def test_task_form_refuses_a_fake_pdf_with_every_other_error(web_app, client):
    eng, iid, tid = _setup(web_app)
    login(client, "cm.demo")
    page = client.get(f"/tasks/{tid}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'type="file" accept="application/pdf,image/png"', page)
    assert f'min="{_day(eng, 1)}"' in page  # the date input carries the rule's bounds
    token = csrf(client, f"/tasks/{tid}")
    r = client.post(f"/tasks/{tid}", data={"csrf_token": token, "due": _day(eng, 0),
                                           "doc": (__import__("io").BytesIO(FAKE_PDF),
                                                   "Einwilligung.pdf", "application/pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Nur PDF, JPEG oder PNG erlaubt" in html and "Muss nach heute" in html
    assert _stored(eng) == 0
    assert eng.get_task(tid, actor=CM)["state"] == "READY"


def test_task_form_stores_a_png_and_only_the_case_viewer_downloads_it(web_app, client):
    import io

    eng, iid, tid = _setup(web_app)
    login(client, "cm.demo")
    token = csrf(client, f"/tasks/{tid}")
    r = client.post(f"/tasks/{tid}", data={"csrf_token": token, "due": _day(eng, 3),
                                           "doc": (io.BytesIO(PNG), "scan.pdf",
                                                   "application/pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    ref = eng.show(iid)["data"]["doc"]
    assert ref["media_type"] == "image/png" and ref["size"] == len(PNG)  # by content
    assert ref["filename"] == "scan.pdf"
    got = client.get(f"/files/{ref['id']}")
    assert got.status_code == 200 and got.data == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    with eng.db.reader() as s:
        reads = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "data.read")).all()
    assert any("doc" in json.dumps(e.details) for e in reads)
    assert not any("scan.pdf" in json.dumps(e.details) for e in reads)  # no file names
    other = web_app.test_client()
    login(other, "jc.demo")
    assert other.get(f"/files/{ref['id']}").status_code == 404


def test_the_size_limit_is_a_setting(first_process, tmp_path):
    app = make_app(first_process, tmp_path, max_upload_bytes=1024)
    eng, iid, tid = _setup(app, "K-UP-2")
    client = app.test_client()
    login(client, "cm.demo")
    token = csrf(client, f"/tasks/{tid}")
    import io

    big = PNG + b"\x00" * 2000
    r = client.post(f"/tasks/{tid}", data={"csrf_token": token, "due": _day(eng, 3),
                                           "doc": (io.BytesIO(big), "a.png", "image/png")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "Datei zu groß" in r.get_data(as_text=True)
    assert _stored(eng) == 0


def test_rest_api_uploads_then_completes_with_the_reference(web_app):
    import io

    eng, iid, tid = _setup(web_app, "K-UP-3")
    api = web_app.test_client()
    auth = token_for(web_app, "cm.demo")
    bad = api.post(f"/api/tasks/{tid}/files", headers=auth, content_type="multipart/form-data",
                   data={"field": "doc", "file": (io.BytesIO(FAKE_PDF), "x.pdf")})
    assert bad.status_code == 422 and "doc" in bad.get_json()["errors"]
    assert _stored(eng) == 0
    not_a_file_field = api.post(f"/api/tasks/{tid}/files", headers=auth,
                                content_type="multipart/form-data",
                                data={"field": "due", "file": (io.BytesIO(PNG), "x.png")})
    assert not_a_file_field.status_code == 400
    up = api.post(f"/api/tasks/{tid}/files", headers=auth, content_type="multipart/form-data",
                  data={"field": "doc", "file": (io.BytesIO(PNG), "x.png")})
    assert up.status_code == 201, up.get_json()
    ref = up.get_json()
    done = api.post(f"/api/tasks/{tid}/complete", headers=auth,
                    json={"data": {"due": _day(eng, 3), "doc": {"id": ref["id"]}}})
    assert done.status_code == 200, done.get_json()
    assert eng.show(iid)["data"]["doc"] == ref
    t2 = eng.tasks(instance_id=iid)[0]["task_id"]
    again = api.post(f"/api/tasks/{t2}/complete", headers=auth,
                     json={"data": {"due": _day(eng, 3), "doc": {"id": ref["id"]}}})
    assert again.status_code == 422 and "doc" in again.get_json()["errors"]
    assert api.get(f"/api/files/{ref['id']}", headers=auth).data == PNG
    assert api.get(f"/api/files/{ref['id']}",
                   headers=token_for(web_app, "jc.demo")).status_code == 404


@pytest.mark.browser
def test_upload_a_png_in_chromium(sqlite_app, page, tmp_path):
    from playwright.sync_api import expect

    from tests.web_support import LiveServer

    eng, iid, tid = _setup(sqlite_app, "K-UP-4")
    png = tmp_path / "einwilligung.png"
    png.write_bytes(PNG)
    with LiveServer(sqlite_app) as server:
        page.goto(server.url + "/login")
        page.get_by_label("Benutzername").fill("cm.demo")
        page.get_by_label("Passwort").fill("lotse-demo")
        with page.expect_navigation():
            page.get_by_role("button", name="Anmelden").click()
        page.goto(f"{server.url}/tasks/{tid}")
        page.get_by_label("Frist").fill(_day(eng, 3))
        page.get_by_label("Dokument").set_input_files(str(png))
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile("Abschließen|Absenden|Erledigen")).click()
        expect(page.locator("body")).not_to_contain_text("Pflichtfeld")
    ref = eng.show(iid)["data"]["doc"]
    assert ref["media_type"] == "image/png" and ref["filename"] == "einwilligung.png"


def test_a_valid_file_with_a_refused_form_is_one_transaction_and_keeps_nothing(web_app,
                                                                               client):
    """Issue 13.3: the page stores the file inside the completion's unit of work (it used
    to store it, complete, and delete it again in three transactions: a crash between them
    left an orphan file). A refused date keeps neither the file nor anything else."""
    import io

    from sqlalchemy import event

    eng, iid, tid = _setup(web_app)
    login(client, "cm.demo")
    token = csrf(client, f"/tasks/{tid}")
    writes: list[int] = []

    def on_begin(conn):
        if conn.get_execution_options().get("lotse_write"):
            writes.append(1)

    event.listen(eng.db.engine, "begin", on_begin)
    try:
        r = client.post(f"/tasks/{tid}", data={"csrf_token": token, "due": _day(eng, 0),
                                               "doc": (io.BytesIO(PNG), "scan.png",
                                                       "image/png")},
                        content_type="multipart/form-data")
    finally:
        event.remove(eng.db.engine, "begin", on_begin)
    assert r.status_code == 422 and "Muss nach heute" in r.get_data(as_text=True)
    assert _stored(eng) == 0
    completion_writes = len(writes)
    with eng.db.reader() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.event_type == "task.validation_failed"
    # the request's one write transaction: the completion with its refusal entry (before:
    # store, completion, delete)
    assert completion_writes == 1, completion_writes
