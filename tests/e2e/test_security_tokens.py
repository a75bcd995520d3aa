"""Issue 12 (7): bearer tokens expire and can be revoked one by one (API and CLI), sessions
have an absolute lifetime, API answers are never cached."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from tests.web_support import csrf_from, login, make_app
from web import accounts
from web.models import ApiToken, UserSession

ROOT = Path(__file__).resolve().parents[2]


def bearer(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def age_tokens(db, days: float) -> None:
    with db.unit_of_work() as s:
        s.execute(update(ApiToken).values(created_at=accounts.utcnow() - timedelta(days=days)))


def test_tokens_expire_after_the_configured_days(first_process, tmp_path):
    app = make_app(first_process, tmp_path, token_days=30, auth_cache_seconds=0)
    db = app.extensions["lotse"].db
    c = app.test_client()
    tok = accounts.issue_token(db, "cm.demo")
    assert c.get("/api/offices", headers=bearer(tok)).status_code == 200
    age_tokens(db, 29.9)
    assert c.get("/api/offices", headers=bearer(tok)).status_code == 200
    age_tokens(db, 30.1)
    r = c.get("/api/offices", headers=bearer(tok))
    assert r.status_code == 401 and r.json["error"] == "UNAUTHORIZED"


def test_expiry_applies_to_a_cached_token_too(first_process, tmp_path):
    app = make_app(first_process, tmp_path, token_days=30, auth_cache_seconds=60)
    db = app.extensions["lotse"].db
    tok = accounts.issue_token(db, "cm.demo")
    now = accounts.utcnow()
    cache = accounts.auth_cache(db)
    assert accounts.resolve_token(db, tok, now=now, cache=cache,
                                  max_age=timedelta(days=30)) is not None
    later = now + timedelta(days=31)  # the cache still holds it
    assert accounts.resolve_token(db, tok, now=later, cache=cache,
                                  max_age=timedelta(days=30)) is None


def test_the_owner_and_an_admin_revoke_one_token(web_app):
    db = web_app.extensions["lotse"].db
    c = web_app.test_client()
    one = accounts.issue_token(db, "jc.demo", label="script a")
    two = accounts.issue_token(db, "jc.demo", label="script b")
    other = accounts.issue_token(db, "abh.demo")
    admin = accounts.issue_token(db, "admin.demo")
    listed = c.get("/api/tokens", headers=bearer(one))
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    by_label = {t["label"]: t for t in listed.json}
    assert set(by_label) == {"script a", "script b"} and all(
        "token" not in t and t["expires_at"] for t in listed.json)
    # someone else's token: 404, as for a token that does not exist
    abh_id = c.get("/api/tokens", headers=bearer(other)).json[0]["id"]
    r = c.delete(f"/api/tokens/{abh_id}", headers=bearer(one))
    assert r.status_code == 404 and r.json["error"] == "TOKEN_NOT_FOUND"
    assert c.delete("/api/tokens/999999", headers=bearer(one)).status_code == 404
    assert c.get("/api/tokens?user=abh.demo", headers=bearer(one)).status_code == 404
    # the owner revokes "script b"; "script a" keeps working
    r = c.delete(f"/api/tokens/{by_label['script b']['id']}", headers=bearer(one))
    assert r.status_code == 200 and r.json["revoked_at"]
    assert c.get("/api/offices", headers=bearer(two)).status_code == 401
    assert c.get("/api/offices", headers=bearer(one)).status_code == 200
    # an admin revokes another user's token
    assert c.get("/api/tokens?user=abh.demo", headers=bearer(admin)).status_code == 200
    assert c.delete(f"/api/tokens/{abh_id}", headers=bearer(admin)).status_code == 200
    assert c.get("/api/offices", headers=bearer(other)).status_code == 401


def test_cli_lists_and_revokes_one_token(web_app):
    db = web_app.extensions["lotse"].db
    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test")
    keep = accounts.issue_token(db, "cm.demo", label="keep")
    drop = accounts.issue_token(db, "cm.demo", label="drop")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "web.cli", "user", *args], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)

    out = cli("tokens", "cm.demo")
    assert out.returncode == 0 and keep not in out.stdout and drop not in out.stdout
    drop_id = next(int(line.split()[0]) for line in out.stdout.splitlines() if " drop " in line)
    assert cli("token-revoke", str(drop_id)).returncode == 0
    assert accounts.resolve_token(db, drop) is None
    assert accounts.resolve_token(db, keep) is not None
    bad = cli("token-revoke", "424242")
    assert bad.returncode != 0 and "not found" in bad.stderr


def test_sessions_end_after_their_absolute_lifetime(first_process, tmp_path):
    app = make_app(first_process, tmp_path, session_max_hours=12, auth_cache_seconds=0)
    db = app.extensions["lotse"].db
    c = app.test_client()
    login(c, "cm.demo")
    assert c.get("/").status_code == 200
    with db.unit_of_work() as s:  # active all the time (seen just now), but 13 hours old
        s.execute(update(UserSession).values(created_at=accounts.utcnow()
                                             - timedelta(hours=13)))
    r = c.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_api_and_case_pages_are_never_cached(web_app):
    c = web_app.test_client()
    tok = accounts.issue_token(web_app.extensions["lotse"].db, "cm.demo")
    for path in ("/api/offices", "/api/offices/KIM_CM/tasks", "/api/process-instances/1",
                 "/api/nope"):
        r = c.get(path, headers=bearer(tok))
        assert r.headers.get("Cache-Control") == "no-store", path
    assert c.get("/api/offices").headers.get("Cache-Control") == "no-store"  # 401 too
    b = web_app.test_client()
    csrf_from(b.get("/login").text)
    login(b, "cm.demo")
    for path in ("/", "/cases", "/offices/KIM_CM/tasks"):
        assert b.get(path).headers.get("Cache-Control") == "no-store", path
