"""Issue 15.2 (REST part, users): /api/ops/users for administrators over real HTTP (Flask
test client with bearer tokens) on SQLite and PostgreSQL - list, create, one account, roles
and offices, disable / enable, password reset - with every refusal: other roles 403
FORBIDDEN, bad input 400, an unknown user 404, a name taken or an administrator's own
lockout 409. No answer carries a password, its hash or a token secret; every change is
audited with the administrator."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.models import AuditEvent
from tests.web_support import token_for
from web import accounts

OTHERS = ("cm.demo", "jc.demo", "lead.jc", "auditor.demo", "dpo.demo", "designer.demo")
NEW = {"name": "api.user", "roles": ["caseworker"], "offices": ["JC"],
       "password": "anfangs-passwort", "display_name": "API Nutzer"}


@pytest.fixture
def adb(web_app):
    return web_app.extensions["lotse"].engine.db


@pytest.fixture
def api(web_app):
    c = web_app.test_client()
    c.h = {n: token_for(web_app, n) for n in ("admin.demo", *OTHERS)}
    return c


def _events(adb, event_type: str) -> list[AuditEvent]:
    with adb.reader() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


def _no_secrets(body) -> None:
    text = json.dumps(body)
    assert "argon2" not in text and "password_hash" not in text and "passwort" not in text
    assert accounts.TOKEN_PREFIX not in text and "token_hash" not in text


def test_list_create_get_and_log_in(api, adb, web_app):
    h = api.h["admin.demo"]
    r = api.get("/api/ops/users", headers=h)
    assert r.status_code == 200
    assert {"admin.demo", "cm.demo", "jc.demo"} <= {u["name"] for u in r.json}
    _no_secrets(r.json)
    r = api.post("/api/ops/users", json=NEW, headers=h)
    assert r.status_code == 201, r.json
    assert r.json["name"] == "api.user" and r.json["roles"] == ["caseworker"]
    assert r.json["offices"] == ["JC"] and r.json["active"] is True
    _no_secrets(r.json)
    (entry,) = _events(adb, "auth.user_created")
    assert entry.actor == "admin.demo" and "password" not in json.dumps(entry.details)
    assert api.get("/api/ops/users/api.user", headers=h).json["display_name"] == "API Nutzer"
    assert accounts.authenticate(adb, "api.user", "anfangs-passwort",
                                 remote_addr=None).name == "api.user"
    r = api.get("/api/ops/users?office=JC&role=caseworker&active=true", headers=h)
    assert {u["name"] for u in r.json} == {"api.user", "jc.demo"}
    r = api.post("/api/ops/users", json=NEW, headers=h)
    assert r.status_code == 409 and r.json["error"] == "USER_EXISTS"


@pytest.mark.parametrize("change", [
    {"name": "A!"}, {"name": "x"}, {"roles": []}, {"roles": ["king"]},
    {"offices": ["NOPE"]}, {"offices": []}, {"password": "kurz"}, {"password": "p" * 201},
    {"display_name": "d" * 201}, {"name": None}, {"roles": "caseworker"}])
def test_bad_create_input_is_400(api, adb, change):
    r = api.post("/api/ops/users", json={**NEW, **change}, headers=api.h["admin.demo"])
    assert r.status_code == 400, (change, r.json)
    assert r.json["error"] in ("INVALID_INPUT",), r.json
    with pytest.raises(accounts.UserNotFound):
        accounts.get_user(adb, NEW["name"])


def test_access_disable_enable_password(api, adb):
    h = api.h["admin.demo"]
    api.post("/api/ops/users", json=NEW, headers=h)
    r = api.put("/api/ops/users/api.user/access",
                json={"roles": ["team_lead", "caseworker"], "offices": ["JC", "SOZ"]},
                headers=h)
    assert r.status_code == 200 and r.json["roles"] == ["caseworker", "team_lead"]
    assert r.json["offices"] == ["JC", "SOZ"]
    (entry,) = _events(adb, "auth.user_changed")
    assert entry.details["before"] == {"roles": ["caseworker"], "offices": ["JC"]}
    r = api.put("/api/ops/users/api.user/access", json={"roles": ["caseworker"]}, headers=h)
    assert r.status_code == 400  # a caseworker needs an office
    token = accounts.issue_token(adb, "api.user")
    r = api.post("/api/ops/users/api.user/disable", headers=h)
    assert r.status_code == 200 and r.json["active"] is False
    assert accounts.resolve_token(adb, token) is None
    assert api.get("/api/offices", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 401
    r = api.post("/api/ops/users/api.user/enable", headers=h)
    assert r.status_code == 200 and r.json["active"] is True
    r = api.post("/api/ops/users/api.user/password", json={"password": "kurz"}, headers=h)
    assert r.status_code == 400
    r = api.post("/api/ops/users/api.user/password", json={"password": "zweites-passwort"},
                 headers=h)
    assert r.status_code == 200 and r.json["password_changed_at"]
    _no_secrets(r.json)
    assert accounts.authenticate(adb, "api.user", "zweites-passwort", remote_addr=None)
    assert [e.details for e in _events(adb, "auth.password_reset")] == [{"user": "api.user"}]
    assert _events(adb, "auth.user_disabled")[0].actor == "admin.demo"


def test_tokens_of_a_user_through_the_existing_token_endpoints(api, adb):
    h = api.h["admin.demo"]
    token = accounts.issue_token(adb, "jc.demo", label="Fachverfahren")
    r = api.get("/api/tokens?user=jc.demo", headers=h)
    (tok,) = [t for t in r.json if t["label"] == "Fachverfahren"]
    _no_secrets(r.json)
    assert api.delete(f"/api/tokens/{tok['id']}", headers=h).status_code == 200
    assert accounts.resolve_token(adb, token) is None


def test_unknown_user_is_404(api):
    h = api.h["admin.demo"]
    for method, path, body in (
            ("get", "/api/ops/users/nobody.here", None),
            ("put", "/api/ops/users/nobody.here/access", {"roles": ["auditor"]}),
            ("post", "/api/ops/users/nobody.here/disable", None),
            ("post", "/api/ops/users/nobody.here/enable", None),
            ("post", "/api/ops/users/nobody.here/password", {"password": "geheim-geheim"})):
        r = getattr(api, method)(path, json=body, headers=h)
        assert r.status_code == 404 and r.json["error"] == "USER_NOT_FOUND", (path, r.json)
    # a NUL byte never reaches the database (PostgreSQL would refuse it: a 500)
    assert api.get("/api/ops/users/NUL%00x", headers=h).status_code == 404


def test_an_admin_cannot_lock_themselves_out(api, adb):
    h = api.h["admin.demo"]
    r = api.post("/api/ops/users/admin.demo/disable", headers=h)
    assert r.status_code == 409 and r.json["error"] == "SELF_LOCKOUT"
    r = api.put("/api/ops/users/admin.demo/access", json={"roles": ["auditor"]}, headers=h)
    assert r.status_code == 409 and r.json["error"] == "SELF_LOCKOUT"
    assert accounts.account(adb, "admin.demo")["roles"] == ["admin"]


@pytest.mark.parametrize("name", OTHERS)
def test_every_other_role_is_refused(api, adb, name):
    for method, path, body in (
            ("get", "/api/ops/users", None),
            ("post", "/api/ops/users", {**NEW, "roles": ["admin"], "offices": []}),
            ("get", "/api/ops/users/admin.demo", None),
            ("put", "/api/ops/users/cm.demo/access", {"roles": ["admin"]}),
            ("post", "/api/ops/users/admin.demo/disable", None),
            ("post", "/api/ops/users/admin.demo/enable", None),
            ("post", "/api/ops/users/admin.demo/password", {"password": "geheim-geheim"})):
        r = getattr(api, method)(path, json=body, headers=api.h[name])
        assert r.status_code == 403 and r.json["error"] == "FORBIDDEN", (name, path)
    assert accounts.account(adb, "admin.demo")["active"]
    assert accounts.account(adb, "cm.demo")["roles"] == ["case_manager"]
    with pytest.raises(accounts.UserNotFound):
        accounts.get_user(adb, NEW["name"])
    assert api.get("/api/ops/users").status_code == 401


def test_the_endpoints_are_in_the_openapi_document(api):
    doc = api.get("/api/openapi.json").json
    expected = {"/api/ops/users": {"get", "post"}, "/api/ops/users/{name}": {"get"},
                "/api/ops/users/{name}/access": {"put"},
                "/api/ops/users/{name}/disable": {"post"},
                "/api/ops/users/{name}/enable": {"post"},
                "/api/ops/users/{name}/password": {"post"}}
    for path, methods in expected.items():
        assert methods <= set(doc["paths"][path]), path
        for method in methods:
            assert {"401", "403", "503"} <= set(doc["paths"][path][method]["responses"])
    answer = set(doc["components"]["schemas"]["User"]["properties"])
    assert answer == {"name", "display_name", "roles", "offices", "active", "created_at",
                      "password_changed_at"}  # no password, no hash


def test_an_instance_id_beyond_bigint_is_404_not_500(api):
    """Found by the fuzz run: the id reached the database driver (OverflowError, 500)."""
    h = api.h["admin.demo"]
    big = 2**64 - 3
    for action, body in (("suspend", {"reason": "x"}), ("resume", {"reason": "x"}),
                         ("terminate", {"reason": "x"}), ("retry", None)):
        r = api.post(f"/api/ops/instances/{big}/{action}", json=body, headers=h)
        assert r.status_code == 404 and r.json["error"] == "INSTANCE_NOT_FOUND", action
