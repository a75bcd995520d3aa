"""Who is asking, cheaply: one statement resolves a bearer token or session with its user,
roles and offices; a per-process cache (LOTSE_AUTH_CACHE_SECONDS) answers repeats, and a
revocation or disabled account made elsewhere takes effect within its ttl."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from engine.db import Database
from tests.web_support import login, token_for
from web import accounts
from web.auth import auth_cache_seconds
from web.models import ApiToken, UserSession
from web.settings import SettingsError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cache(web_app):
    c = accounts.auth_cache(web_app.extensions["lotse"].db)
    c.clock = FakeClock()
    c.ttl = 5
    return c


@pytest.fixture
def other_process(web_app):
    """A second Database on the same database: changes made through it do not reach this
    process's cache (as with the CLI or another gunicorn worker)."""
    url = web_app.extensions["lotse"].db.url.render_as_string(hide_password=False)
    db = Database(url)
    yield db
    db.dispose()


def _statements(db, fn):
    seen: list[str] = []

    def on(conn, cursor, statement, *a):
        if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE"):
            seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", on)
    try:
        result = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", on)
    return result, seen


def test_token_resolved_in_one_statement_then_from_cache(web_app, cache):
    db = web_app.extensions["lotse"].db
    hdr = token_for(web_app, "jc.demo")
    c = web_app.test_client()
    r, stmts = _statements(db, lambda: c.get("/api/offices", headers=hdr))
    assert r.status_code == 200
    # one SELECT (token, user, roles, offices joined) + the first "last used" write
    selects = [s for s in stmts if s.upper().startswith("SELECT")]
    assert len(selects) == 1 and "api_token" in selects[0] and "user_role" in selects[0] \
        and "user_office" in selects[0]
    r, stmts = _statements(db, lambda: c.get("/api/offices", headers=hdr))
    assert r.status_code == 200 and stmts == []  # a hit: no statement at all
    cache.ttl = 0
    r, stmts = _statements(db, lambda: c.get("/api/offices", headers=hdr))
    assert r.status_code == 200 and len(stmts) == 1  # last used is fresh: no write


def test_revoked_token_refused_after_ttl(web_app, cache, other_process):
    c = web_app.test_client()
    hdr = token_for(web_app, "jc.demo")
    assert c.get("/api/offices", headers=hdr).status_code == 200
    assert accounts.revoke_tokens(other_process, "jc.demo") == 1
    cache.clock.now += 4.9  # within the documented staleness
    assert c.get("/api/offices", headers=hdr).status_code == 200
    cache.clock.now += 0.2  # past the ttl: read again, refused
    r = c.get("/api/offices", headers=hdr)
    assert r.status_code == 401 and r.json["error"] == "UNAUTHORIZED"


def test_disabled_user_refused_at_once_with_ttl_zero(web_app, cache, other_process):
    cache.ttl = 0
    c = web_app.test_client()
    hdr = token_for(web_app, "jc.demo")
    assert c.get("/api/offices/JC/tasks", headers=hdr).status_code == 200
    accounts.set_active(other_process, "jc.demo", False)
    assert c.get("/api/offices/JC/tasks", headers=hdr).status_code == 401


def test_changes_in_this_process_take_effect_at_once(web_app, cache):
    db = web_app.extensions["lotse"].db
    c = web_app.test_client()
    hdr = token_for(web_app, "jc.demo")
    assert c.get("/api/offices", headers=hdr).status_code == 200
    accounts.revoke_tokens(db, "jc.demo")  # same process: the entry is dropped
    assert c.get("/api/offices", headers=hdr).status_code == 401
    hdr = token_for(web_app, "abh.demo")
    assert c.get("/api/offices", headers=hdr).status_code == 200
    accounts.set_active(db, "abh.demo", False)
    assert c.get("/api/offices", headers=hdr).status_code == 401
    ui = web_app.test_client()
    login(ui, "cm.demo")
    assert ui.get("/").status_code == 200
    accounts.set_password(db, "cm.demo", "another-password-1")
    assert ui.get("/").status_code == 302


def test_disabled_user_session_ends_after_ttl(web_app, cache, other_process):
    c = web_app.test_client()
    login(c, "cm.demo")
    assert c.get("/").status_code == 200
    accounts.set_active(other_process, "cm.demo", False)
    cache.clock.now += 5.1
    r = c.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_logout_elsewhere_ends_session_after_ttl(web_app, cache, other_process):
    c = web_app.test_client()
    login(c, "cm.demo")
    assert c.get("/").status_code == 200
    with other_process.unit_of_work() as s:  # another worker ended every session
        s.execute(UserSession.__table__.delete())
    cache.clock.now += 5.1
    assert c.get("/").status_code == 302


def test_last_seen_written_at_most_once_a_minute(web_app, cache):
    cache.ttl = 0  # every request reads the session: only the minute rule limits writes
    db = web_app.extensions["lotse"].db
    c = web_app.test_client()
    login(c, "cm.demo")
    commits: list[int] = []

    def on_commit(conn):
        commits.append(1)

    event.listen(db.engine, "commit", on_commit)
    try:
        for _ in range(3):
            assert c.get("/offices/KIM_CM/tasks").status_code == 200
        assert commits == []  # a fresh session: reads only, no commit
        old = accounts.utcnow() - timedelta(minutes=2)
        with db.unit_of_work() as s:
            s.execute(update(UserSession).values(last_seen_at=old))
        commits.clear()
        assert c.get("/offices/KIM_CM/tasks").status_code == 200
        assert commits == [1]
    finally:
        event.remove(db.engine, "commit", on_commit)
    with db.reader() as s:
        assert s.scalar(select(UserSession.last_seen_at)) > old + timedelta(minutes=1)


def test_token_last_used_written_at_most_once_a_minute(web_app, cache):
    db = web_app.extensions["lotse"].db
    c = web_app.test_client()
    hdr = token_for(web_app, "jc.demo")
    assert c.get("/api/offices", headers=hdr).status_code == 200
    with db.reader() as s:
        first = s.scalar(select(ApiToken.last_used_at))
    assert first is not None
    cache.ttl = 0
    assert c.get("/api/offices", headers=hdr).status_code == 200
    with db.reader() as s:
        assert s.scalar(select(ApiToken.last_used_at)) == first


def test_idle_session_refused_even_when_cached(web_app, cache):
    db = web_app.extensions["lotse"].db
    c = web_app.test_client()
    login(c, "cm.demo")
    assert c.get("/").status_code == 200
    with db.unit_of_work() as s:
        s.execute(update(UserSession).values(
            last_seen_at=accounts.utcnow() - timedelta(minutes=31)))
    cache.clock.now += 5.1
    r = c.get("/")
    assert r.status_code == 302


def test_unknown_secrets_are_not_cached(web_app, cache):
    c = web_app.test_client()
    for i in range(20):
        r = c.get("/api/offices", headers={"Authorization": f"Bearer lotse_nope{i}"})
        assert r.status_code == 401
    assert len(cache) == 0


def test_auth_cache_setting():
    class S:
        pass

    assert auth_cache_seconds(S(), {}) == 5
    assert auth_cache_seconds(S(), {"LOTSE_AUTH_CACHE_SECONDS": "0"}) == 0
    for bad in ("soon", "-1", "61"):
        with pytest.raises(SettingsError):
            auth_cache_seconds(S(), {"LOTSE_AUTH_CACHE_SECONDS": bad})
