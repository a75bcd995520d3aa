"""Bad input to the pages never answers 500 (SQLite and PostgreSQL)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from engine.runtime import Actor
from tests.web_support import csrf, login

NASTY = ["", " ", "%", "%00", "\u0000", "'; DROP TABLE user_account;--", "<script>x</script>",
         "ü" * 300, "x" * 5000, "-1", "0", "99999999999999999999999", "1e309", "NaN",
         "../../etc/passwd", "😀", "@me", "@none", "null", "[]", "{}"]


@pytest.fixture
def setup(web_app):
    eng = web_app.extensions["lotse"].engine
    out = eng.start("kim_first_referral", {}, "ROB-1", actor=Actor(user="cm.demo"))
    tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
    c = web_app.test_client()
    login(c, "cm.demo")
    return c, tid


def test_get_pages_with_nasty_values(setup):
    c, tid = setup
    for v in NASTY:
        q = quote(v, safe="")
        for url in (f"/offices/KIM_CM/tasks?process={q}&assignee={q}&sort={q}&after={q}"
                    f"&overdue={q}", f"/my-tasks?after={q}", f"/cases/{q}", f"/cases?ref={q}",
                    f"/tasks/{q}", f"/offices/{q}/tasks", f"/start?process={q}",
                    f"/instances/{q}", f"/?lang={q}", f"/login?next={q}"):
            r = c.get(url)
            assert r.status_code < 500, (url, r.status_code)


def test_post_forms_with_nasty_values(setup, web_app):
    c, tid = setup
    token = csrf(c)
    for v in NASTY:
        form = {"csrf_token": token, "first_name": v, "last_name": v, "birth_date": v,
                "nationality": v, "language": v, "residence_status": v, "phone": v,
                "notes": v, "unknown_field": v}
        assert c.post(f"/tasks/{tid}", data=form).status_code in (400, 422)
        r = c.post("/start", data={"csrf_token": token, "process_id": v, "case_ref": v})
        assert r.status_code in (400, 422), r.status_code
        r = c.post(f"/tasks/{tid}/reassign", data={"csrf_token": token, "user": v})
        assert r.status_code in (400, 403, 404)
        r = c.post(f"/tasks/{tid}/claim", data={"csrf_token": token, "next": v})
        assert r.status_code in (302, 400, 409)
        anon = web_app.test_client()
        t = csrf(anon, "/login")
        r = anon.post("/login", data={"csrf_token": t, "name": v, "password": v, "next": v})
        assert r.status_code in (400, 401, 429), r.status_code
