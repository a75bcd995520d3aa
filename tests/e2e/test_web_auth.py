"""Accounts, login, sessions, CSRF, rate limiting and the CLI user commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from tests.web_support import csrf, csrf_from, login, make_app
from web import accounts


def test_login_page_and_redirect_when_anonymous(client):
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200
    assert 'lang="de"' in page.text and 'for="name"' in page.text


def test_login_logout_and_cookie_flags(client):
    r = login(client, "cm.demo")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # test env; production defaults to Secure
    assert client.get("/").status_code == 200
    token = csrf(client)
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert client.get("/").status_code == 302  # session is gone server-side


def test_old_session_cookie_is_dead_after_logout(client):
    login(client, "cm.demo")
    cookie = client.get_cookie("lotse_session").value
    client.post("/logout", data={"csrf_token": csrf(client)})
    client.set_cookie("lotse_session", cookie)  # replay the old cookie
    assert client.get("/").status_code == 302


def test_wrong_password_and_unknown_user(client):
    assert login(client, "cm.demo", "wrong-password").status_code == 401
    r = login(client, "nobody.here", "whatever-123")
    assert r.status_code == 401 and "falsch" in r.text


def test_login_rate_limit(client):
    for _ in range(5):
        assert login(client, "jc.demo", "wrong-password").status_code == 401
    r = login(client, "jc.demo")  # even the right password is refused now
    assert r.status_code == 429 and "Zu viele" in r.text


def test_csrf_required_on_every_form(client):
    login(client, "cm.demo")
    r = client.post("/logout")
    assert r.status_code == 400 and "abgelaufen" in r.text
    r = client.post("/logout", data={"csrf_token": "forged"})
    assert r.status_code == 400
    anon = client.application.test_client()
    assert anon.post("/login", data={"name": "cm.demo", "password": "x"}).status_code == 400


def test_idle_timeout(web_app):
    db = web_app.extensions["lotse"].db
    c = web_app.test_client()
    login(c, "cm.demo")
    # Age every session beyond the idle timeout.
    from sqlalchemy import update

    from web.models import UserSession

    with db.unit_of_work() as s:
        s.execute(update(UserSession).values(
            last_seen_at=accounts.utcnow() - timedelta(minutes=31)))
    r = c.get("/")
    assert r.status_code == 302
    assert "abgelaufen" in c.get(r.headers["Location"]).text


def test_open_redirect_is_refused(client):
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"name": "cm.demo", "password": "lotse-demo",
                                    "csrf_token": token, "next": "//evil.example/x"})
    assert r.headers["Location"] == "/"


def test_disabled_user_cannot_log_in(web_app):
    db = web_app.extensions["lotse"].db
    accounts.set_active(db, "abh.demo", False)
    assert login(web_app.test_client(), "abh.demo").status_code == 401


def test_secret_key_generated_in_development(first_process, tmp_path):
    app = make_app(first_process, tmp_path / "inst")
    assert app.config["SECRET_KEY"].startswith("test-secret")
    from web.app import _secret_key
    from web.settings import Settings, SettingsError

    dev = Settings(database_url="x", env="development", offices_file=None, secret_key=None,
                   instance_dir=tmp_path / "inst")
    key = _secret_key(dev)
    assert (tmp_path / "inst" / "secret_key").read_text().strip() == key
    assert _secret_key(dev) == key  # stable across restarts
    with pytest.raises(SettingsError):
        _secret_key(Settings(database_url="x", env="production", offices_file=None,
                             secret_key=None, instance_dir=tmp_path))


def test_settings_from_env():
    from web.settings import SettingsError, from_env

    s = from_env({"LOTSE_ENV": "production", "LOTSE_IDLE_TIMEOUT_MINUTES": "10"})
    assert s.cookies_secure and s.idle_timeout_minutes == 10
    assert not from_env({"LOTSE_ENV": "test"}).cookies_secure
    assert from_env({"LOTSE_ENV": "test", "LOTSE_SECURE_COOKIES": "1"}).cookies_secure
    with pytest.raises(SettingsError):
        from_env({"LOTSE_IDLE_TIMEOUT_MINUTES": "soon"})


def test_create_user_validation(web_app):
    db = web_app.extensions["lotse"].db
    known = web_app.extensions["lotse"].offices.codes()
    from engine.errors import InvalidInput

    with pytest.raises(InvalidInput):
        accounts.create_user(db, "x y", roles=["caseworker"], offices=["JC"], password="a" * 12)
    with pytest.raises(InvalidInput):
        accounts.create_user(db, "new.one", roles=["wizard"], offices=["JC"], password="a" * 12)
    with pytest.raises(InvalidInput):
        accounts.create_user(db, "new.one", roles=["caseworker"], offices=["NOPE"],
                             password="a" * 12, known_offices=known)
    with pytest.raises(InvalidInput):
        accounts.create_user(db, "new.one", roles=["caseworker"], offices=[], password="a" * 12)
    with pytest.raises(InvalidInput):
        accounts.create_user(db, "new.one", roles=["auditor"], password="short")
    with pytest.raises(accounts.UserExists):
        accounts.create_user(db, "cm.demo", roles=["auditor"], password="a" * 12)
    p = accounts.create_user(db, "Multi.Office", roles=["caseworker"], offices=["JC", "ABH"],
                             password="a" * 12, known_offices=known)
    assert p.name == "multi.office" and p.offices == ("ABH", "JC")


def test_cli_user_add_and_token(web_app, monkeypatch):
    from web.cli import main

    db = web_app.extensions["lotse"].db
    monkeypatch.setenv("LOTSE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("LOTSE_ENV", "test")
    runner = CliRunner()
    r = runner.invoke(main, ["user", "add", "anna.jc", "--role", "caseworker", "--office", "JC",
                             "--office", "ABH", "--password", "geheim-genug-1"])
    assert r.exit_code == 0, r.output
    assert login(web_app.test_client(), "anna.jc", "geheim-genug-1").status_code == 302
    r = runner.invoke(main, ["user", "add", "gen.pw", "--role", "auditor"])
    assert r.exit_code == 0 and "password:" in r.output
    r = runner.invoke(main, ["user", "add", "bad", "--role", "caseworker", "--office", "XX"])
    assert r.exit_code != 0 and "unknown office" in r.output
    r = runner.invoke(main, ["user", "token", "anna.jc"])
    assert r.exit_code == 0
    token = r.output.strip().splitlines()[-1]
    resp = web_app.test_client().get("/api/offices",
                                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    r = runner.invoke(main, ["user", "list"])
    assert "anna.jc" in r.output
    r = runner.invoke(main, ["user", "disable", "anna.jc"])
    assert r.exit_code == 0
    # The CLI is another process for the app: its per-process auth cache answers for at
    # most LOTSE_AUTH_CACHE_SECONDS; move its clock past that.
    cache = accounts.auth_cache(db)
    t_now = cache.clock()
    monkeypatch.setattr(cache, "clock", lambda: t_now + cache.ttl + 0.01)
    resp = web_app.test_client().get("/api/offices",
                                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


def test_demo_users_only_in_dev(web_app):
    from engine.errors import InvalidInput
    from web.demo_users import seed_users

    db = web_app.extensions["lotse"].db
    assert seed_users(db, env="test")["created"] == []  # idempotent
    with pytest.raises(InvalidInput):
        seed_users(db, env="production")


def test_htmx_request_after_logout_redirects_the_whole_page(client):
    login(client, "cm.demo")
    client.post("/logout", data={"csrf_token": csrf(client)})
    r = client.get("/offices/KIM_CM/tasks?assignee=@me",
                   headers={"HX-Request": "true", "HX-Target": "worklist-results",
                            "HX-Current-URL": "http://localhost/offices/KIM_CM/tasks"})
    assert r.status_code == 200 and r.data == b""
    assert r.headers["HX-Redirect"] == "/login?next=/offices/KIM_CM/tasks"


def test_logins_are_audited_without_personal_values(client, web_app):
    from sqlalchemy import select

    from engine.audit import verify
    from engine.models import AuditEvent

    assert login(client, "jc.demo", "wrong-password").status_code == 401
    login(client, "jc.demo")
    db = web_app.extensions["lotse"].db
    with db.reader() as s:
        kinds = [(e.event_type, e.actor) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.event_type.like("auth.%"))
            .order_by(AuditEvent.id))]
    assert kinds == [("auth.login_failed", "jc.demo"), ("auth.login", "jc.demo")]
    assert verify(db)["ok"]
