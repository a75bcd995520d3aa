"""Issue 12 (6, 7): login throttling per (address, name) with exponential back-off, a
coarse per-address cap, and no typed-in name stored for names that are no account. The
app's clock (the engine's settable clock in tests) is moved instead of sleeping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.models import AuditEvent
from tests.web_support import csrf_from, make_app
from web.models import LoginAttempt

NAT = {"REMOTE_ADDR": "10.20.30.40"}


def try_login(client, name, password="lotse-demo", addr=NAT):
    token = csrf_from(client.get("/login", environ_base=addr).text)
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token}, environ_base=addr)


def clock_of(app):
    return app.extensions["lotse"].engine.clock


def test_one_users_failures_do_not_lock_out_the_office(web_app):
    c = web_app.test_client()
    for _ in range(25):  # more than the old per-address limit of 20
        r = try_login(c, "jc.demo", "wrong-password")
        assert r.status_code in (401, 429)
    # everybody else behind the same address logs in
    for name in ("cm.demo", "abh.demo", "lead.jc"):
        assert try_login(web_app.test_client(), name).status_code == 302, name
    # jc.demo from another address is not affected either
    assert try_login(web_app.test_client(), "jc.demo",
                     addr={"REMOTE_ADDR": "10.9.9.9"}).status_code == 302


def test_back_off_doubles_and_refused_attempts_do_not_extend_it(web_app):
    clock = clock_of(web_app)
    c = web_app.test_client()
    for _ in range(5):
        assert try_login(c, "jc.demo", "wrong-password").status_code == 401
    assert try_login(c, "jc.demo").status_code == 429  # right password, within 1 s
    for _ in range(10):  # hammering while waiting does not extend the wait
        assert try_login(c, "jc.demo").status_code == 429
    clock.advance(timedelta(seconds=1.1))
    assert try_login(c, "jc.demo", "wrong-password").status_code == 401  # 6th failure
    clock.advance(timedelta(seconds=1.5))
    assert try_login(c, "jc.demo").status_code == 429  # now 2 s
    clock.advance(timedelta(seconds=0.6))
    assert try_login(c, "jc.demo").status_code == 302  # after the back-off: logs in
    # the success resets the count
    assert try_login(web_app.test_client(), "jc.demo", "wrong-password").status_code == 401
    assert try_login(web_app.test_client(), "jc.demo").status_code == 302


def test_back_off_is_capped_at_the_window(web_app):
    clock = clock_of(web_app)
    c = web_app.test_client()
    for _ in range(30):
        try_login(c, "abh.demo", "wrong-password")
        clock.advance(timedelta(minutes=16))  # always past the wait: every one counts
    assert try_login(c, "abh.demo", "wrong-password").status_code == 401
    clock.advance(timedelta(minutes=14))
    assert try_login(c, "abh.demo").status_code == 429
    clock.advance(timedelta(minutes=1, seconds=1))  # 15 minutes at most
    assert try_login(c, "abh.demo").status_code == 302


def test_the_address_as_a_whole_has_a_coarse_cap(first_process, tmp_path):
    app = make_app(first_process, tmp_path, login_address_max_failures=12)
    c = app.test_client()
    for i in range(12):  # spraying: few tries per name, many names
        assert try_login(c, f"guess{i}.x", "Sommer2025!").status_code == 401
    assert try_login(app.test_client(), "cm.demo").status_code == 429
    assert try_login(app.test_client(), "cm.demo",
                     addr={"REMOTE_ADDR": "10.1.1.1"}).status_code == 302
    clock_of(app).advance(timedelta(minutes=15, seconds=1))
    assert try_login(app.test_client(), "cm.demo").status_code == 302


def test_a_name_that_is_no_account_is_never_stored(web_app):
    db = web_app.extensions["lotse"].db
    typed = "Geheim-Passwort-2025!"  # typed into the user field by mistake
    c = web_app.test_client()
    for _ in range(7):
        try_login(c, typed, "whatever")
    assert try_login(c, "cm.demo", "wrong-password").status_code == 401
    with db.reader() as s:
        actors = set(s.scalars(select(AuditEvent.actor).where(
            AuditEvent.event_type.like("auth.%"))))
        names = set(s.scalars(select(LoginAttempt.name)))
        events = {e for e in s.scalars(select(AuditEvent.event_type))}
    assert typed.lower() not in actors and typed not in actors
    assert "unbekannt/unknown" in actors and "cm.demo" in actors
    assert not any(typed.lower() in n for n in names) and "cm.demo" in names
    assert "auth.login_throttled" in events
