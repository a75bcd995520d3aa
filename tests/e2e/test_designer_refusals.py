"""The designer's lint, deploy and form preview answer a deep or malformed form with a
finding or a refusal (4xx), never a 500."""

from __future__ import annotations

import json

from tests import bpmn_builder as B
from tests.e2e.test_designer_http import designer, headers, new_draft, save

DEEP = '{"type": "object", "properties": {"a": ' * 1000 + "{}" + "}}" * 1000
BAD_LABELS = json.dumps({"type": "object", "required": ["art"], "properties": {
    "art": {"type": "string", "title": "Art", "enum": ["a"], "x-enum-labels": ["a"]}}})


def one_task(pid: str) -> str:
    body = ('<bpmn:startEvent id="S"/>' + B.user_task("A", "Erfassen", "a.json")
            + '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "A") + B.flow("f2", "A", "E"))
    return B.process(pid, {"JC": ["S", "A", "E"]}, body)


def test_deep_or_malformed_forms_are_findings_and_refusals(client):
    token = designer(client)
    for i, (form, expect) in enumerate([(DEEP, "nests deeper than 64 levels"),
                                        (BAD_LABELS, "x-enum-labels must map")]):
        draft_id = new_draft(client, token, name=f"Tief {i}", pid=f"des_deep{i}")
        xml = one_task(f"des_deep{i}")
        r = client.post(f"/designer/drafts/{draft_id}/lint",
                        json={"xml": xml, "files": {"a.json": form}}, headers=headers(token))
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        (f,) = [f for f in r.json["findings"] if f["severity"] == "error"]
        assert f["file"] == "a.json" and expect in f["message"]
        assert save(client, token, draft_id, xml, {"a.json": form}).status_code == 200
        r = client.post(f"/designer/drafts/{draft_id}/deploy", json={}, headers=headers(token))
        assert r.status_code == 422 and r.json["error"] == "LINT_ERRORS"
        assert any(expect in f["message"] for f in r.json["findings"])
        r = client.post("/designer/form-preview", data={"schema": form},
                        headers={"X-CSRF-Token": token})
        assert r.status_code == 200 and expect in r.get_data(as_text=True)
