"""The KIM rule set in the designer over HTTP (issue 13.1): the lint endpoint the modeler calls
live returns the KIM findings (German first, English with ?lang=en), and the draft deploy
refuses a KIM error but deploys a model with KIM warnings only."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import ProcessDefinition
from tests import kim_model as K
from tests.e2e.test_designer_http import designer, headers, new_draft, save

FILES = {"check-schema.json": K.SCHEMA, "check-uischema.json": K.UI_SCHEMA}
NO_LEGAL_BASIS = K.model().replace('value="§ 9 TIntG NRW"', 'value=""', 1)
DUPLICATE_ID = K.model().replace('<bpmn:endEvent id="End_Round"/>',
                                 '<bpmn:endEvent id="End_Round"/><bpmn:endEvent id="End_Round"/>')


def _lint(client, token, draft_id, xml, lang=""):
    r = client.post(f"/designer/drafts/{draft_id}/lint{lang}", json={"xml": xml, "files": FILES},
                    headers=headers(token))
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.json


def test_the_lint_endpoint_returns_the_kim_findings_in_german_and_english(client):
    token = designer(client)
    draft_id = new_draft(client, token)
    assert _lint(client, token, draft_id, K.model())["findings"] == []
    out = _lint(client, token, draft_id, NO_LEGAL_BASIS)
    assert out["errors"] == 0 and out["warnings"] == 1
    (f,) = out["findings"]
    assert (f["rule"], f["element"], f["severity"]) == ("kim/legal-basis", "Task_Check",
                                                        "warning")
    assert f["rule_label"] == "Handlungsgrundlage fehlt"
    assert f["text_lang"] == "de" and "Handlungsgrundlage" in f["text"]
    assert "legal basis" in f["message"] and f["text"] == f["message_de"]
    out = _lint(client, token, draft_id, DUPLICATE_ID, "?lang=en")
    (f,) = [f for f in out["findings"] if f["rule"] == "kim/id-unique"]
    assert f["severity"] == "error" and f["element"] == "End_Round"
    assert f["rule_label"] == "Id used twice"
    assert f["text_lang"] == "en" and f["text"] == f["message"]
    assert out["errors"] >= 1


def test_a_kim_error_refuses_the_deploy_and_kim_warnings_do_not(client, web_app):
    token = designer(client)
    draft_id = new_draft(client, token, pid="kim_t")
    assert save(client, token, draft_id, DUPLICATE_ID, FILES, revision=1).status_code == 200
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={"revision": 2},
                    headers=headers(token))
    assert r.status_code == 422 and r.json["error"] == "LINT_ERRORS", r.json
    assert "kim/id-unique" in {f["rule"] for f in r.json["findings"] if f["severity"] == "error"}
    eng = web_app.extensions["lotse"].engine
    with eng.db.reader() as s:
        assert s.scalar(select(ProcessDefinition).where(
            ProcessDefinition.process_id == K.PID)) is None
    assert save(client, token, draft_id, NO_LEGAL_BASIS, FILES, revision=2).status_code == 200
    r = client.post(f"/designer/drafts/{draft_id}/deploy", json={"revision": 3},
                    headers=headers(token))
    assert r.status_code == 200, r.json
    with eng.db.reader() as s:
        assert s.scalar(select(ProcessDefinition).where(
            ProcessDefinition.process_id == K.PID)) is not None
