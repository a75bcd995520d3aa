"""Issue 16.6: a designer request does not check a model of any size. Beyond
``LOTSE_MAX_MODEL_ELEMENTS`` BPMN elements (``Settings.max_model_elements``) the import, the
lint, the save, the deploy and the viewer answer 413 with a German message before any check
runs; smaller models work as before."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from engine.bpmn_xml import count_model_elements
from tests import bpmn_builder as B
from tests.e2e.test_designer_http import designer, headers, new_draft, save
from tests.web_support import make_app
from web.designer import drafts
from web.designer.models import Draft
from web.settings import SettingsError, from_env

LIMIT = 300
GERMAN = "Das Modell ist zu groß für eine Prüfung im Browser"


@pytest.fixture
def client(first_process, tmp_path):
    return make_app(first_process, tmp_path, max_model_elements=LIMIT).test_client()


def big() -> str:
    return B.large_process(200, branch_length=20, diagram=False)


def small() -> str:
    body = ('<bpmn:startEvent id="S"/><bpmn:manualTask id="M" name="Anrufen"/>'
            '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "M") + B.flow("f2", "M", "E"))
    return B.process("des_small", {"JC": ["S", "M", "E"]}, body)


def _drafts(client) -> int:
    db = client.application.extensions["lotse"].db
    with db.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Draft))


def test_the_limit_counts_bpmn_elements_with_an_id():
    elements = count_model_elements(big().encode())
    assert LIMIT < elements < 2 * LIMIT + 200  # about 470: tasks, flows, gateways, lanes ...
    assert count_model_elements(small().encode()) == 9  # definitions, process, laneSet ...
    with_diagram = B.large_process(200, branch_length=20).encode()
    assert count_model_elements(with_diagram) == elements  # shapes and edges do not count
    assert count_model_elements(b"<kaputt") is None


def test_setting_is_read_from_the_environment():
    assert from_env({}).max_model_elements == 5000
    assert from_env({"LOTSE_MAX_MODEL_ELEMENTS": "800"}).max_model_elements == 800
    with pytest.raises(SettingsError):
        from_env({"LOTSE_MAX_MODEL_ELEMENTS": "viele"})


def test_import_over_the_limit_is_refused_with_413(client):
    token = designer(client)
    before = _drafts(client)
    r = client.post("/designer/import", data={
        "csrf_token": token, "file": (io.BytesIO(big().encode()), "gross.bpmn")},
        content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 413, html[:300]
    assert 'id="import-refused"' in html and GERMAN in html
    assert f"höchstens {LIMIT}" in html and "LOTSE_MAX_MODEL_ELEMENTS" in html
    assert _drafts(client) == before  # nothing was stored
    r = client.post("/designer/import", data={
        "csrf_token": token, "file": (io.BytesIO(small().encode()), "klein.bpmn")},
        content_type="multipart/form-data")
    assert r.status_code == 303


def test_lint_save_deploy_and_view_over_the_limit_answer_413(client):
    token = designer(client)
    draft_id = new_draft(client, token, name="Groß", pid="des_big")
    r = client.post(f"/designer/drafts/{draft_id}/lint", json={"xml": big(), "files": {}},
                    headers=headers(token))
    assert r.status_code == 413, r.get_data(as_text=True)[:300]
    assert r.json["error"] == "MODEL_TOO_LARGE" and GERMAN in r.json["message"]
    assert r.json["limit"] == LIMIT and r.json["elements"] > LIMIT
    r = save(client, token, draft_id, big())
    assert r.status_code == 413 and r.json["error"] == "MODEL_TOO_LARGE"
    assert client.get(f"/designer/drafts/{draft_id}/data").json["revision"] == 1  # unsaved
    # small content is linted and saved as before
    r = client.post(f"/designer/drafts/{draft_id}/lint", json={"xml": small(), "files": {}},
                    headers=headers(token))
    assert r.status_code == 200 and "findings" in r.json
    assert save(client, token, draft_id, small()).status_code == 200
    # a draft stored before the limit was lowered (or from a deployed version): deploy and
    # the viewer refuse it too
    app = client.application
    old = drafts.create(app.extensions["lotse"].db, name="Alt", bpmn=big(),
                        bpmn_name="alt.bpmn", origin="new", actor="designer.demo",
                        now=app.extensions["lotse"].engine.now(), files={"f.json": "{}"})
    r = client.post(f"/designer/drafts/{old}/deploy", json={}, headers=headers(token))
    assert r.status_code == 413 and r.json["error"] == "MODEL_TOO_LARGE"
    page = client.get(f"/designer/drafts/{old}/view")
    assert page.status_code == 413 and GERMAN in page.get_data(as_text=True)
