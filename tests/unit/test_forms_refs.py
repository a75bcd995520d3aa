"""Form schemas never make the server fetch anything: a ``$ref`` outside the form is refused
at deploy and lint (tests/integration/test_deploy_foreign.py) and cannot be resolved by the
validator either (a real HTTP server on 127.0.0.1 counts the requests)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from engine import forms
from engine.lint import ERROR, lint_files
from processes.offices import OfficeRegistry
from tests import bpmn_builder as B

SECRET = "TOP-SECRET-7f3a"


@pytest.fixture
def server():
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = json.dumps({"type": "string", "description": SECRET}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text(json.dumps({"type": "string", "description": SECRET}))
    return path.as_uri()


def remote_forms(base: str, file_uri: str) -> dict[str, dict]:
    return {
        "http": {"type": "object", "properties": {"a": {"$ref": f"{base}/s.json"}}},
        "file": {"type": "object", "properties": {"a": {"$ref": file_uri}}},
        "relative-to-id": {"$id": f"{base}/root.json", "type": "object",
                           "properties": {"a": {"$ref": "other.json"}}},
        "dynamic": {"type": "object", "properties": {"a": {"$dynamicRef": f"{base}/d.json"}}},
    }


def test_check_schema_refuses_every_ref_outside_the_form(server, secret_file):
    base, hits = server
    for name, schema in remote_forms(base, secret_file).items():
        problem = forms.check_schema(schema)
        assert problem and "points outside the form" in problem, name
        ref = schema["properties"]["a"].get("$ref") or schema["properties"]["a"]["$dynamicRef"]
        assert ref in problem and SECRET not in problem, name
    assert hits == []
    local = {"type": "object", "$defs": {"n": {"type": "string"}},
             "properties": {"a": {"$ref": "#/$defs/n"}}}
    assert forms.check_schema(local) is None
    assert forms.validate_form(local, {"a": 5}) == {"a": ["Ungültiger Typ (erwartet: Text)"]}


def test_the_validator_never_fetches_even_a_form_that_got_past_deploy(server, secret_file):
    base, hits = server
    for name, schema in remote_forms(base, secret_file).items():
        for lang in ("de", "en"):
            errors = forms.validate_form(schema, {"a": "x"}, lang=lang)
            assert list(errors) == [forms.FORM_KEY], name
            assert SECRET not in json.dumps(errors) and "127.0.0.1" not in json.dumps(errors)
        assert forms.clean_and_validate(schema, {"a": "x"})[1] == {
            forms.FORM_KEY: [forms._text("broken_form", "de")]}
    assert hits == []


def test_lint_reports_the_ref_and_fetches_nothing(server, secret_file):
    base, hits = server
    doc = B.process("refs", {"JC": ["S", "A", "E"]},
                    '<bpmn:startEvent id="S"/>' + B.user_task("A", "Erfassen", "f.json")
                    + '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "A") + B.flow("f2", "A", "E"))
    registry = OfficeRegistry.load(None)
    for name, schema in remote_forms(base, secret_file).items():
        found = [f for f in lint_files(B.files(x__bpmn=doc, f__json=json.dumps(schema)),
                                       resolve_lane=registry.resolve_lane)
                 if f.rule == "user-task-without-form"]
        assert len(found) == 1 and found[0].severity == ERROR, name
        assert found[0].file == "f.json" and "'f.json'" in found[0].message
        assert "points outside the form" in found[0].message and SECRET not in found[0].message
    assert hits == []


@pytest.mark.parametrize("labels", [["a"], "Erste", {"de": ["Erste"]}, {"de": {"a": 1}},
                                    {"de": {"a": {"text": "Erste"}}}, {"de": {"a": None}}])
def test_malformed_enum_labels_are_refused(labels):
    schema = {"type": "object", "properties": {
        "art": {"type": "string", "enum": ["a"], "x-enum-labels": labels}}}
    problem = forms.check_schema(schema)
    assert problem and problem.startswith("/properties/art: x-enum-labels must map")


def test_deep_nesting_is_refused_before_it_exhausts_the_recursion_limit():
    text = '{"a": ' * 2000 + "1" + "}" * 2000
    with pytest.raises(ValueError, match="nests deeper than 64 levels"):
        forms.load_form(text)
    with pytest.raises(ValueError, match="nests deeper than 64 levels"):
        forms.load_form("[" * 100000)
    deep: dict = {"type": "object"}
    node = deep
    for _ in range(2000):
        node["properties"] = {"x": {"type": "object"}}
        node = node["properties"]["x"]
    assert "nests deeper than 64 levels" in forms.check_schema(deep)
    # brackets inside texts do not count, real forms still load
    assert forms.load_form('{"title": "' + "[" * 500 + '"}') == {"title": "[" * 500}
    with pytest.raises(ValueError, match="invalid JSON"):
        forms.load_form("{nope")
