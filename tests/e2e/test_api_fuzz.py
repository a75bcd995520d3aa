"""schemathesis over /api/openapi.json: no generated request may produce a 5xx, every
error answer is JSON {"error": CODE, "message": ...}, and status codes and bodies match
the OpenAPI document. Bounded: a few dozen examples per
operation, against the WSGI app (SQLite and PostgreSQL).

(schemathesis' pytest integration does not work with pytest 9 yet, so the cases are
drawn from each operation's hypothesis strategy directly.)"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from engine.runtime import Actor
from tests.web_support import token_for

MAX_EXAMPLES = 30


def errors_are_json(ctx, response, case):
    """Every 4xx/5xx answer is the JSON error envelope."""
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
        assert isinstance(body.get("message"), str), body


@pytest.fixture
def fuzz_app(web_app):
    eng = web_app.extensions["lotse"].engine
    out = eng.start("kim_first_referral", {}, "FUZZ-1", actor=Actor(user="cm.demo"))
    web_app.fuzz_instance = out["instance_id"]
    return web_app


def operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_covered(fuzz_app):
    ops = {(op.method.upper(), op.path) for op in operations(fuzz_app)}
    assert ("POST", "/api/tasks/{task_id}/complete") in ops and len(ops) == 41
    # every /api/ route the app serves is in the document (so schemathesis calls it)
    served = {(m, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
              for rule in fuzz_app.url_map.iter_rules() if rule.rule.startswith("/api/")
              and rule.rule not in ("/api/openapi.json", "/api/docs")
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == ops, served ^ ops
    assert {("GET", "/api/cases"), ("GET", "/api/cases/{case_ref}/referrals"),
            ("GET", "/api/cases/{case_ref}/data/{category}"),
            ("GET", "/api/process-instances/{instance_id}/history"),
            ("POST", "/api/process-definitions"),
            ("GET", "/api/cases/{case_ref}/access-report")} <= ops  # issue 14.4
    assert {("POST", "/api/tasks/{task_id}/files"), ("GET", "/api/files/{file_id}")} <= ops
    assert ("POST", "/api/test/clock") in ops  # LOTSE_ENV=test
    assert ("POST", "/api/ops/instances/{instance_id}/suspend") in ops  # issue 15.2
    assert {("GET", "/api/ops/users"), ("POST", "/api/ops/users"),
            ("GET", "/api/ops/users/{name}"), ("PUT", "/api/ops/users/{name}/access"),
            ("POST", "/api/ops/users/{name}/disable"), ("POST", "/api/ops/users/{name}/enable"),
            ("POST", "/api/ops/users/{name}/password")} <= ops  # issue 15.2, users
    assert {("GET", "/api/saved-filters"), ("POST", "/api/saved-filters"),
            ("DELETE", "/api/saved-filters/{filter_id}")} <= ops  # issue 15.4


@pytest.mark.parametrize("who", ["cm.demo", "auditor.demo", "designer.demo", "admin.demo", None])
def test_api_never_answers_5xx(fuzz_app, who):
    headers = token_for(fuzz_app, who) if who else {}
    failures = []
    for op in operations(fuzz_app):

        @given(case=op.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=headers, checks=[
                not_a_server_error, errors_are_json, status_code_conformance,
                response_schema_conformance])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)
