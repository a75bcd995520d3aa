"""Issue 16: the read log (DP-11) is written after the response is built (``after_request``,
web/readlog.py). When that write meets a database fault the answer is 503 with Retry-After
like every other database error - never a 500 - and it does not deliver the case data whose
read could not be logged. Real faults over real HTTP: another writer holding SQLite, the
global audit chain's head row locked on PostgreSQL (lock timeout), and a PostgreSQL
statement that outlives the statement timeout."""

from __future__ import annotations

import json
import sqlite3

import psycopg
import pytest
from sqlalchemy import func, select, text

from engine.db import Database, Timeouts
from engine.migrate import upgrade
from engine.models import AuditEvent
from engine.runtime import Actor
from tests.conftest import make_database
from tests.e2e.test_db_outage import CASE, Http, _pg_dsn, _pg_url
from tests.web_support import BPMN_DIR, LiveServer, make_app, token_for

CM = Actor(user="cm.demo")


def _case(eng, ref: str) -> int:
    out = eng.start("kim_first_referral", {}, ref, actor=CM)
    tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
    eng.complete(tid, dict(CASE), actor=CM)
    return out["instance_id"]


def _reads(eng) -> int:
    with eng.db.reader() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.event_type == "data.read"))


def _check_refused(eng, api, page, iid, ref, reads_before, want_codes):
    status, headers, body = api.send("GET", f"/api/process-instances/{iid}")
    assert status == 503, (status, body[:300])
    assert int(headers["Retry-After"]) > 0
    assert json.loads(body)["error"] in want_codes
    assert "Amal" not in body and "Haddad" not in body  # no data without its log entry
    status, headers, html = page.send("GET", f"/cases/{ref}")
    assert status == 503, (status, html[:300])
    assert int(headers["Retry-After"]) > 0
    assert headers["Content-Type"].startswith("text/html")
    assert "Amal" not in html and "Haddad" not in html
    assert headers.get("Content-Security-Policy")  # the page still gets its headers
    assert _reads(eng) == reads_before


def _check_served_and_logged(eng, api, page, iid, ref, reads_before):
    status, _, body = api.send("GET", f"/api/process-instances/{iid}")
    assert status == 200 and json.loads(body)["data"]["first_name"] == "Amal"
    status, _, html = page.send("GET", f"/cases/{ref}")
    assert status == 200 and "Amal" in html
    assert _reads(eng) == reads_before + 2


def test_sqlite_read_log_behind_another_writer_answers_503(tmp_path, clock):
    from processes.wiring import build_engine

    path = tmp_path / "lotse.db"
    db = Database(f"sqlite:///{path}", timeouts=Timeouts(busy_ms=300))
    upgrade(db)
    eng, _ = build_engine(db, clock=clock)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    app = make_app(eng, tmp_path)
    iid = _case(eng, "RL-S")
    try:
        with LiveServer(app) as server:
            api = Http(server.url, token_for(app, "cm.demo"))
            page = Http(server.url)
            page.login("cm.demo")
            _check_served_and_logged(eng, api, page, iid, "RL-S", _reads(eng))
            before = _reads(eng)
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another writer holds the database
            try:
                _check_refused(eng, api, page, iid, "RL-S", before, {"INSTANCE_BUSY"})
            finally:
                other.rollback()
                other.close()
            _check_served_and_logged(eng, api, page, iid, "RL-S", before)
    finally:
        db.dispose()


@pytest.fixture
def pg_app(tmp_path, clock):
    from processes.wiring import build_engine

    make_database("postgresql", tmp_path).dispose()
    db = Database(_pg_url(), timeouts=Timeouts(lock_ms=500, statement_ms=1500))
    eng, _ = build_engine(db, clock=clock)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    app = make_app(eng, tmp_path)
    yield eng, app
    db.dispose()


@pytest.mark.postgres
def test_postgres_read_log_with_the_audit_head_locked_answers_503(pg_app):
    eng, app = pg_app
    iid = _case(eng, "RL-P")
    with LiveServer(app) as server:
        api = Http(server.url, token_for(app, "cm.demo"))
        page = Http(server.url)
        page.login("cm.demo")
        _check_served_and_logged(eng, api, page, iid, "RL-P", _reads(eng))
        before = _reads(eng)
        holder = psycopg.connect(_pg_dsn())  # an administrator's session, say
        holder.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
        try:
            _check_refused(eng, api, page, iid, "RL-P", before, {"INSTANCE_BUSY"})
        finally:
            holder.rollback()
            holder.close()
        _check_served_and_logged(eng, api, page, iid, "RL-P", before)


@pytest.mark.postgres
def test_postgres_read_log_past_the_statement_timeout_answers_503_unavailable(pg_app):
    eng, app = pg_app
    iid = _case(eng, "RL-T")
    with LiveServer(app) as server:
        api = Http(server.url, token_for(app, "cm.demo"))
        page = Http(server.url)
        page.login("cm.demo")
        _check_served_and_logged(eng, api, page, iid, "RL-T", _reads(eng))
        before = _reads(eng)
        with eng.db.engine.begin() as conn:  # a database that stalls on this write
            conn.execute(text(
                "CREATE FUNCTION test_slow_read_log() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN IF NEW.event_type = 'data.read' THEN PERFORM pg_sleep(30); END IF; "
                "RETURN NEW; END $$"))
            conn.execute(text(
                "CREATE TRIGGER test_slow_read_log BEFORE INSERT ON audit_event "
                "FOR EACH ROW EXECUTE FUNCTION test_slow_read_log()"))
        try:
            _check_refused(eng, api, page, iid, "RL-T", before, {"DATABASE_UNAVAILABLE"})
        finally:
            with eng.db.engine.begin() as conn:
                conn.execute(text("DROP TRIGGER test_slow_read_log ON audit_event"))
                conn.execute(text("DROP FUNCTION test_slow_read_log()"))
        _check_served_and_logged(eng, api, page, iid, "RL-T", before)
