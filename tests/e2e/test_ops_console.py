"""Issue 15.2 (pages): the operations console for administrators over HTTP (Flask test
client with a browser session and CSRF tokens) on SQLite and PostgreSQL - the incident
list with retry, the instance search, suspend / resume / terminate with a reason, the user
and token administration - and every refusal: other roles 403, no CSRF token 400, a bad
reason 400, an unknown instance or user 404, a state that does not allow the action 409.
Every action leaves its audit entry; no page shows the exception's full text, a password
hash or a token secret."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.models import AuditEvent
from tests import bpmn_builder as B
from tests.timer_models import boundary_process
from tests.web_support import csrf, login
from web import accounts

OTHERS = ("cm.demo", "jc.demo", "lead.jc", "auditor.demo", "dpo.demo", "designer.demo")


@pytest.fixture
def adb(eng):
    return eng.db


@pytest.fixture
def admin(web_app):
    c = web_app.test_client()
    login(c, "admin.demo")
    c.tok = csrf(c, "/ops")
    return c


def _broken(eng) -> int:
    """An instance with an incident: its script fails on the start data."""
    eng.deploy_files(B.files(p__bpmn=B.process(
        "ops_fail", {"KIM_CM": ["S", "T", "E"]},
        '<bpmn:startEvent id="S"/>' + B.script_task("T", "x = 1 / divisor")
        + '<bpmn:endEvent id="E"/>' + B.flow("f1", "S", "T") + B.flow("f2", "T", "E"))))
    return eng.start("ops_fail", {"divisor": 0}, "OPS-F1")["instance_id"]


def _waiting(eng, pid: str = "ops_wait", case: str = "OPS-W1") -> int:
    """A running instance waiting at a user task (with a boundary timer)."""
    eng.deploy_files(B.files(p__bpmn=boundary_process(pid, interrupting=True,
                                                      timer='"P5D"')))
    return eng.start(pid, {}, case)["instance_id"]


def _audit(adb, event_type: str, instance_id: int | None = None) -> list[AuditEvent]:
    q = select(AuditEvent).where(AuditEvent.event_type == event_type)
    if instance_id is not None:
        q = q.where(AuditEvent.instance_id == instance_id)
    with adb.reader() as s:
        return list(s.scalars(q.order_by(AuditEvent.id)))


def _text(r) -> str:
    return r.get_data(as_text=True)


# ------------------------------------------------------------------ instances
def test_incident_list_shows_the_safe_message_and_retry_runs_the_step(admin, eng, adb):
    iid = _broken(eng)
    page = _text(admin.get("/ops"))
    row = re.search(rf'<tr class="kern-table__row" data-instance="{iid}">(.*?)</tr>', page,
                    re.S).group(1)
    assert "ops_fail" in row and "OPS-F1" in row and ">T<" in row
    assert "ZeroDivisionError" in row and "Erneut ausführen" in row
    detail = eng.incident(iid)["detail"]
    assert detail and "division by zero" in detail
    assert "division by zero" not in page  # the exception's own text stays with the CLI
    r = admin.post(f"/ops/instances/{iid}/retry", data={"csrf_token": admin.tok,
                                                         "back": "console"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/ops")
    # the same failing step again: still an incident, said so in German
    assert "wieder fehlgeschlagen" in _text(admin.get("/ops"))
    (entry,) = _audit(adb, "instance.retried", iid)
    assert entry.actor == "admin.demo"


def test_search_by_process_version_state_and_case(admin, eng):
    running = _waiting(eng)
    broken = _broken(eng)

    def found(query: str) -> set[int]:
        r = admin.get("/ops?" + query)
        assert r.status_code == 200
        table = _text(r).split('id="instance-table"')
        if len(table) == 1:
            return set()
        return {int(x) for x in re.findall(r'data-instance="(\d+)" data-status', table[1])}

    assert {running, broken} <= found("")
    assert found("process=ops_wait") == {running}
    assert found("process=ops_fail&version=1") == {broken}
    assert found("process=ops_fail&version=2") == set()
    assert found("status=error") == {broken}
    assert found("case=OPS-W1") == {running}
    assert found("status=running&case=OPS-F1") == set()
    en = _text(admin.get("/ops?lang=en"))
    assert "<h1 class=\"kern-heading-large\">Operations</h1>" in en and "Incidents" in en


def test_bad_search_input_is_400_with_an_error_summary(admin):
    for query in ("version=abc", "version=0", "status=weird", "case=" + "x" * 201):
        r = admin.get("/ops?" + query + "&lang=de")
        assert r.status_code == 400, query
        assert 'id="error-summary"' in _text(r), query


def test_suspend_resume_terminate_through_the_page(admin, eng, adb):
    iid = _waiting(eng)
    base = f"/ops/instances/{iid}"
    r = admin.post(base + "/suspend", data={"csrf_token": admin.tok,
                                            "reason": "  Akte wird geprüft  "})
    assert r.status_code == 302 and r.headers["Location"].endswith(base)
    page = _text(admin.get(base + "?lang=de"))
    assert f"Vorgang #{iid} ist angehalten." in page
    assert 'data-status="suspended"' in page and "Akte wird geprüft" in page
    assert eng.show(iid)["status"] == "suspended"
    (entry,) = _audit(adb, "instance.suspended", iid)
    assert entry.actor == "admin.demo" and entry.details["reason"] == "Akte wird geprüft"
    # the state does not allow it (a stale page, another administrator): 409 in German
    r = admin.post(base + "/suspend", data={"csrf_token": admin.tok, "reason": "nochmal"})
    assert r.status_code == 409
    assert "ist im Status „angehalten“ nicht möglich" in _text(r)
    assert len(_audit(adb, "instance.suspended", iid)) == 1

    r = admin.post(base + "/resume", data={"csrf_token": admin.tok, "reason": "geprüft"})
    assert r.status_code == 302 and eng.show(iid)["status"] == "running"
    assert "wird fortgesetzt" in _text(admin.get(base))
    assert _audit(adb, "instance.resumed", iid)[0].details["reason"] == "geprüft"
    r = admin.post(base + "/resume", data={"csrf_token": admin.tok, "reason": "x"})
    assert r.status_code == 409

    # terminate needs the confirmation box
    r = admin.post(base + "/terminate", data={"csrf_token": admin.tok, "reason": "doppelt"})
    assert r.status_code == 400 and "Bitte bestätigen Sie das Beenden." in _text(r)
    assert eng.show(iid)["status"] == "running"
    r = admin.post(base + "/terminate", data={"csrf_token": admin.tok, "reason": "doppelt",
                                              "confirm": "yes"})
    assert r.status_code == 302 and eng.show(iid)["status"] == "cancelled"
    assert eng.tasks(instance_id=iid) == []
    page = _text(admin.get(base))
    assert "endgültig beendet" in page and 'id="no-actions"' in page
    assert _audit(adb, "instance.terminated", iid)[0].actor == "admin.demo"
    r = admin.post(base + "/terminate", data={"csrf_token": admin.tok, "reason": "x",
                                              "confirm": "yes"})
    assert r.status_code == 409
    r = admin.post(base + "/retry", data={"csrf_token": admin.tok})
    assert r.status_code == 409  # no incident


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_bad_reason_is_400_and_changes_nothing(admin, eng, adb, reason):
    iid = _waiting(eng)
    for action in ("suspend", "terminate"):
        r = admin.post(f"/ops/instances/{iid}/{action}",
                       data={"csrf_token": admin.tok, "reason": reason, "confirm": "yes"})
        assert r.status_code == 400, action
        page = _text(r)
        assert 'id="error-summary"' in page and f'href="#{action}-reason"' in page
        assert 'aria-invalid="true"' in page
    assert eng.show(iid)["status"] == "running"
    assert _audit(adb, "instance.suspended", iid) == []


def test_missing_csrf_token_is_400_and_changes_nothing(admin, eng, adb):
    iid = _waiting(eng)
    assert admin.post(f"/ops/instances/{iid}/suspend",
                      data={"reason": "ohne Token"}).status_code == 400
    assert admin.post(f"/ops/instances/{iid}/suspend",
                      data={"reason": "falsches Token", "csrf_token": "x"}).status_code == 400
    assert eng.show(iid)["status"] == "running"
    assert admin.post("/ops/users", data={"name": "ohne.token", "roles": ["auditor"],
                                          "password": "geheim-geheim"}).status_code == 400
    with pytest.raises(accounts.UserNotFound):
        accounts.get_user(adb, "ohne.token")


def test_unknown_instance_and_user_are_404(admin):
    for path in ("/ops/instances/999999", "/ops/users/nobody.here", "/ops/users/NUL%00x"):
        assert admin.get(path).status_code == 404, path
    data = {"csrf_token": admin.tok, "reason": "x", "confirm": "yes"}
    for action in ("suspend", "resume", "terminate", "retry"):
        assert admin.post(f"/ops/instances/999999/{action}", data=data).status_code == 404
    assert admin.post("/ops/instances/99999999999999999999/suspend",
                      data=data).status_code == 404
    for path, body in (("/ops/users/nobody.here/disable", {}),
                       ("/ops/users/nobody.here/enable", {}),
                       ("/ops/users/nobody.here/password", {"password": "geheim-geheim"}),
                       ("/ops/users/nobody.here/access", {"roles": ["auditor"]}),
                       ("/ops/users/nobody.here/tokens/1/revoke", {})):
        assert admin.post(path, data={"csrf_token": admin.tok, **body}).status_code == 404


@pytest.mark.parametrize("name", OTHERS)
def test_every_other_role_gets_403_and_no_link(web_app, eng, adb, name):
    iid = _broken(eng)
    c = web_app.test_client()
    login(c, name)
    tok = csrf(c, "/")
    assert "/ops" not in re.findall(r'href="([^"]+)"', _text(c.get("/")))
    for path in ("/ops", f"/ops/instances/{iid}", "/ops/users", "/ops/users/admin.demo"):
        assert c.get(path).status_code == 403, (name, path)
    for path, body in ((f"/ops/instances/{iid}/retry", {}),
                       (f"/ops/instances/{iid}/suspend", {"reason": "x"}),
                       (f"/ops/instances/{iid}/terminate", {"reason": "x", "confirm": "yes"}),
                       ("/ops/users", {"name": "evil.user", "roles": ["admin"],
                                       "password": "geheim-geheim"}),
                       ("/ops/users/admin.demo/disable", {}),
                       ("/ops/users/admin.demo/password", {"password": "geheim-geheim"})):
        r = c.post(path, data={"csrf_token": tok, **body})
        assert r.status_code == 403, (name, path)
    assert eng.show(iid)["status"] == "error" and _audit(adb, "instance.retried") == []
    assert accounts.account(adb, "admin.demo")["active"]
    with pytest.raises(accounts.UserNotFound):
        accounts.get_user(adb, "evil.user")


def test_admin_sees_the_console_link(admin):
    assert 'href="/ops"' in _text(admin.get("/"))


def test_not_logged_in_goes_to_the_login_page(client):
    r = client.get("/ops")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


# ------------------------------------------------------------------ users and tokens
def test_create_a_user_and_log_in_with_it(admin, web_app, adb):
    r = admin.post("/ops/users", data={
        "csrf_token": admin.tok, "name": "Neu.Kollegin", "display_name": "Neue Kollegin",
        "roles": ["caseworker", "team_lead"], "offices": ["JC", "ABH"],
        "password": "anfangs-passwort"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/ops/users/neu.kollegin")
    page = _text(admin.get("/ops/users/neu.kollegin"))
    assert "Benutzer neu.kollegin ist angelegt." in page
    assert accounts.account(adb, "neu.kollegin")["roles"] == ["caseworker", "team_lead"]
    assert accounts.account(adb, "neu.kollegin")["offices"] == ["ABH", "JC"]
    (entry,) = _audit(adb, "auth.user_created")
    assert entry.actor == "admin.demo" and entry.details == {
        "user": "neu.kollegin", "roles": ["caseworker", "team_lead"], "offices": ["ABH", "JC"]}
    listing = _text(admin.get("/ops/users"))
    assert 'data-user="neu.kollegin" data-active="true"' in listing
    assert "$argon2" not in listing and "anfangs-passwort" not in listing
    c = web_app.test_client()
    r = login(c, "neu.kollegin", "anfangs-passwort")
    assert r.status_code == 302 and "/login" not in r.headers["Location"]
    # the same name again
    r = admin.post("/ops/users", data={"csrf_token": admin.tok, "name": "neu.kollegin",
                                       "roles": ["auditor"], "password": "anderes-passwort"})
    assert r.status_code == 409 and "gibt es schon" in _text(r)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "X!", "roles": ["auditor"], "password": "geheim-geheim"}, "name"),
    ({"name": "a", "roles": ["auditor"], "password": "geheim-geheim"}, "name"),
    ({"name": "ok.name", "roles": [], "password": "geheim-geheim"}, "roles"),
    ({"name": "ok.name", "roles": ["king"], "password": "geheim-geheim"}, "roles"),
    ({"name": "ok.name", "roles": ["caseworker"], "password": "geheim-geheim"}, "offices"),
    ({"name": "ok.name", "roles": ["caseworker"], "offices": ["XX"],
      "password": "geheim-geheim"}, "offices"),
    ({"name": "ok.name", "roles": ["auditor"], "password": "kurz"}, "password"),
    ({"name": "ok.name", "roles": ["auditor"], "password": "p" * 201}, "password"),
    ({"name": "ok.name", "roles": ["auditor"], "display_name": "d" * 201,
      "password": "geheim-geheim"}, "display_name"),
])
def test_bad_user_input_is_400_with_the_field_named(admin, adb, body, field):
    r = admin.post("/ops/users", data={"csrf_token": admin.tok, **body})
    assert r.status_code == 400
    page = _text(r)
    assert 'id="error-summary"' in page and f'href="#new-{field}"' in page
    assert "geheim-geheim" not in page  # the typed password is not sent back
    assert _audit(adb, "auth.user_created") == []


def test_change_access_disable_enable_and_reset_the_password(admin, web_app, adb):
    accounts.create_user(adb, "kolle.ga", roles=["caseworker"], offices=["JC"],
                         password="erstes-passwort")
    base = "/ops/users/kolle.ga"
    r = admin.post(base + "/access", data={"csrf_token": admin.tok,
                                           "roles": ["caseworker", "team_lead"],
                                           "offices": ["JC", "SOZ"]})
    assert r.status_code == 302
    acc = accounts.account(adb, "kolle.ga")
    assert acc["roles"] == ["caseworker", "team_lead"] and acc["offices"] == ["JC", "SOZ"]
    (entry,) = _audit(adb, "auth.user_changed")
    assert entry.details["before"] == {"roles": ["caseworker"], "offices": ["JC"]}
    r = admin.post(base + "/access", data={"csrf_token": admin.tok, "roles": ["caseworker"]})
    assert r.status_code == 400 and 'href="#access-offices"' in _text(r)

    token = accounts.issue_token(adb, "kolle.ga", label="Fachverfahren")
    assert admin.post(base + "/disable", data={"csrf_token": admin.tok}).status_code == 302
    assert not accounts.account(adb, "kolle.ga")["active"]
    assert accounts.resolve_token(adb, token) is None  # disabling revokes the tokens
    assert _audit(adb, "auth.user_disabled")[0].details == {"user": "kolle.ga",
                                                            "tokens_revoked": 1}
    c = web_app.test_client()
    assert login(c, "kolle.ga", "erstes-passwort").status_code == 401
    assert admin.post(base + "/enable", data={"csrf_token": admin.tok}).status_code == 302
    assert accounts.account(adb, "kolle.ga")["active"]

    r = admin.post(base + "/password", data={"csrf_token": admin.tok, "password": "kurz"})
    assert r.status_code == 400 and 'href="#pw-password"' in _text(r)
    r = admin.post(base + "/password", data={"csrf_token": admin.tok,
                                             "password": "zweites-passwort"})
    assert r.status_code == 302
    assert login(c, "kolle.ga", "erstes-passwort").status_code == 401
    assert login(c, "kolle.ga", "zweites-passwort").status_code == 302
    (entry,) = _audit(adb, "auth.password_reset")
    assert entry.details == {"user": "kolle.ga"} and entry.actor == "admin.demo"


def test_list_and_revoke_a_token_never_showing_its_secret(admin, adb):
    token = accounts.issue_token(adb, "jc.demo", label="Schnittstelle")
    other = accounts.issue_token(adb, "cm.demo")
    (tok,) = [t for t in accounts.list_tokens(adb, "jc.demo") if t["label"] == "Schnittstelle"]
    page = _text(admin.get("/ops/users/jc.demo"))
    assert f'data-token="{tok["id"]}" data-revoked="false"' in page
    assert token not in page and token[len(accounts.TOKEN_PREFIX):][:12] not in page
    (cm_tok,) = accounts.list_tokens(adb, "cm.demo")
    # another user's token through this user's page: not found
    r = admin.post(f"/ops/users/jc.demo/tokens/{cm_tok['id']}/revoke",
                   data={"csrf_token": admin.tok})
    assert r.status_code == 404 and accounts.resolve_token(adb, other) is not None
    r = admin.post(f"/ops/users/jc.demo/tokens/{tok['id']}/revoke",
                   data={"csrf_token": admin.tok})
    assert r.status_code == 302
    assert accounts.resolve_token(adb, token) is None
    page = _text(admin.get("/ops/users/jc.demo"))
    assert f'data-token="{tok["id"]}" data-revoked="true"' in page and "ist widerrufen" in page
    (entry,) = _audit(adb, "auth.token_revoked")
    assert entry.actor == "admin.demo" and entry.details == {"token_id": tok["id"]}


def test_an_admin_cannot_lock_themselves_out(admin, adb):
    r = admin.post("/ops/users/admin.demo/disable", data={"csrf_token": admin.tok})
    assert r.status_code == 409 and "eigenen Konto" in _text(r)
    r = admin.post("/ops/users/admin.demo/access", data={"csrf_token": admin.tok,
                                                         "roles": ["auditor"]})
    assert r.status_code == 409
    acc = accounts.account(adb, "admin.demo")
    assert acc["active"] and acc["roles"] == ["admin"]
    assert _audit(adb, "auth.user_disabled") == [] and _audit(adb, "auth.user_changed") == []


def test_user_pages_in_english(admin):
    page = _text(admin.get("/ops/users?lang=en"))
    assert "Create a user" in page and "Caseworker" in page
    page = _text(admin.get("/ops/users/jc.demo?lang=en"))
    assert "Roles and offices" in page and "Reset password" in page
