"""Issue 16.7: ``POST /api/process-instances`` with an ``Idempotency-Key`` can be sent again
safely - the same key and body within 24 h return the first answer without a second start,
another body is 422 IDEMPOTENCY_KEY_REUSED, errors are not kept (SQLite and PostgreSQL);
concurrent duplicates on PostgreSQL wait for the first one on the unique constraint and
start nothing."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from engine.db import Database, Timeouts
from engine.migrate import upgrade
from engine.models import AuditEvent, ProcessInstance
from tests.conftest import make_database
from tests.e2e.test_db_outage import Http, _pg_dsn, _pg_url
from tests.web_support import BPMN_DIR, LiveServer, make_app, token_for
from web.models import IdempotencyKey

BODY = {"process_id": "kim_first_referral", "case_ref": "IDEM-1", "data": {}}


def counts(eng) -> tuple[int, int]:
    with eng.db.reader() as s:
        return (s.scalar(select(func.count()).select_from(ProcessInstance)),
                s.scalar(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.event_type == "instance.started")))


def post(c, who, body, key=None, raw=None):
    headers = dict(who)
    if key is not None:
        headers["Idempotency-Key"] = key
    if raw is not None:
        return c.post("/api/process-instances", headers=headers, data=raw,
                      content_type="application/json")
    return c.post("/api/process-instances", headers=headers, json=body)


def test_same_key_and_body_returns_the_first_answer_without_a_second_start(web_app):
    eng = web_app.extensions["lotse"].engine
    c, cm = web_app.test_client(), token_for(web_app, "cm.demo")
    before = counts(eng)
    first = post(c, cm, BODY, key="start-7f3a")
    assert first.status_code == 201, first.json
    assert "Idempotent-Replayed" not in first.headers
    assert counts(eng) == (before[0] + 1, before[1] + 1)
    # sent again, keys of the JSON object in another order and other spacing
    raw = '{"data": {},  "case_ref": "IDEM-1", "process_id": "kim_first_referral"}'
    for again in (post(c, cm, BODY, key="start-7f3a"), post(c, cm, None, "start-7f3a", raw)):
        assert again.status_code == 201
        assert again.get_data() == first.get_data()
        assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(eng) == (before[0] + 1, before[1] + 1)

    other = post(c, cm, {**BODY, "case_ref": "IDEM-2"}, key="start-7f3a")
    assert other.status_code == 422 and other.json["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert "Idempotency-Key" in other.json["message"]
    assert counts(eng) == (before[0] + 1, before[1] + 1)

    # keys are per user: another token of the same user replays, another user's same key
    # is their own request (jc.demo may not start this process: 403, not cm.demo's 201)
    assert post(c, token_for(web_app, "cm.demo"), BODY, key="start-7f3a").get_data() \
        == first.get_data()
    r = post(c, token_for(web_app, "jc.demo"), BODY, key="start-7f3a")
    assert r.status_code == 403 and r.json["error"] == "START_OFFICE_FORBIDDEN"
    # without a key every POST starts
    assert post(c, cm, BODY).status_code == 201
    assert post(c, cm, BODY).status_code == 201
    assert counts(eng)[0] == before[0] + 3
    # the table holds the answer and an HMAC of the body, not the body
    with eng.db.reader() as s:
        row = s.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "start-7f3a"))
    assert row.actor == "cm.demo" and row.status == 201
    assert row.response == first.json and "IDEM-1" not in row.request_hash


def test_after_24_hours_the_key_is_new_and_errors_are_not_kept(web_app, clock):
    eng = web_app.extensions["lotse"].engine
    c, cm = web_app.test_client(), token_for(web_app, "cm.demo")
    first = post(c, cm, BODY, key="k-1")
    clock.advance(timedelta(hours=23, minutes=59))
    assert post(c, cm, BODY, key="k-1").headers.get("Idempotent-Replayed") == "true"
    clock.advance(timedelta(minutes=2))
    later = post(c, cm, BODY, key="k-1")
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert later.json["instance_id"] != first.json["instance_id"]

    before = counts(eng)
    missing = {**BODY, "process_id": "no_such_process"}
    for _ in range(2):  # an error is answered again, never replayed from a record
        r = post(c, cm, missing, key="k-2")
        assert r.status_code == 404 and "Idempotent-Replayed" not in r.headers
    r = post(c, cm, {**BODY, "case_ref": "IDEM-3"}, key="k-2")  # nothing was stored
    assert r.status_code == 201 and counts(eng)[0] == before[0] + 1

    for bad in ("", " ", "ä", "x" * 201, "a b"):
        r = post(c, cm, BODY, key=bad)
        assert r.status_code == 400 and r.json["error"] == "INVALID_INPUT", bad
    assert counts(eng)[0] == before[0] + 1


def test_the_key_is_unique_per_user_and_route(db):
    from datetime import datetime, timezone

    row = {"actor": "cm.demo", "scope": "POST /api/process-instances", "key": "u-1",
           "request_hash": "0" * 64, "status": 201, "response": {},
           "created_at": datetime(2026, 3, 2, tzinfo=timezone.utc)}
    with db.unit_of_work() as s:
        s.add(IdempotencyKey(**row))
        s.add(IdempotencyKey(**{**row, "actor": "jc.demo"}))
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        s.add(IdempotencyKey(**row))


def test_sqlite_503_then_the_same_request_starts_once(tmp_path, clock):
    """A start that met another writer (503) stored nothing: the retry with the same key
    starts, the one after it replays."""
    from processes.wiring import build_engine

    path = tmp_path / "lotse.db"
    db = Database(f"sqlite:///{path}", timeouts=Timeouts(busy_ms=300))
    upgrade(db)
    eng, _ = build_engine(db, clock=clock)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    app = make_app(eng, tmp_path)
    c, cm = app.test_client(), token_for(app, "cm.demo")
    try:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            r = post(c, cm, BODY, key="retry-1")
            assert r.status_code == 503 and r.json["error"] == "INSTANCE_BUSY"
        finally:
            other.rollback()
            other.close()
        assert counts(eng)[0] == 0
        first = post(c, cm, BODY, key="retry-1")
        assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
        again = post(c, cm, BODY, key="retry-1")
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_data() == first.get_data() and counts(eng)[0] == 1
    finally:
        db.dispose()


@pytest.fixture
def pg_app(tmp_path, clock):
    from processes.wiring import build_engine

    make_database("postgresql", tmp_path).dispose()
    db = Database(_pg_url(), timeouts=Timeouts(lock_ms=20000))
    eng, _ = build_engine(db, clock=clock)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    yield eng, make_app(eng, tmp_path)
    db.dispose()


@pytest.mark.postgres
def test_postgres_concurrent_duplicates_start_once(pg_app):
    eng, app = pg_app
    headers = {**token_for(app, "cm.demo"), "Idempotency-Key": "burst-1"}
    answers: list = []
    with LiveServer(app) as server:
        barrier = threading.Barrier(6)

        def go():
            client = Http(server.url, headers)
            barrier.wait(10)
            answers.append(client.send("POST", "/api/process-instances", json_body=BODY))

        threads = [threading.Thread(target=go) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(answers) == 6
    assert {status for status, _, _ in answers} == {201}, answers
    assert len({body for _, _, body in answers}) == 1
    assert sum(1 for _, h, _ in answers if h.get("Idempotent-Replayed") == "true") == 5
    assert counts(eng) == (1, 1), _what_was_written(eng)


def _what_was_written(eng) -> list:
    """Every instance and audit entry, for the message of a failed count (ids, types and
    chain positions only)."""
    with eng.db.reader() as s:
        return ([("instance", i.id, i.status, i.audit_seq)
                 for i in s.scalars(select(ProcessInstance))]
                + [("audit", e.id, e.event_type, e.stream, e.seq, e.instance_id, e.actor)
                   for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))])


def _waiting_on_a_lock(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return bool(conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO idempotency_key%'").fetchone()[0])


@pytest.mark.postgres
def test_postgres_duplicate_waits_for_the_first_transaction_and_replays_it(pg_app):
    """Deterministic overlap: another transaction has claimed the key (uncommitted). The
    request's INSERT waits on the unique constraint; when that transaction commits its
    answer, the request returns that answer and starts nothing."""
    from web import idempotency

    eng, app = pg_app
    headers = {**token_for(app, "cm.demo"), "Idempotency-Key": "overlap-1"}
    with app.test_request_context("/api/process-instances", method="POST", json=BODY):
        want_hash = idempotency.body_hash("POST /api/process-instances")
    first_answer = {"instance_id": 424242, "status": "running", "error": None}
    holder = psycopg.connect(_pg_dsn())
    holder.execute(
        "INSERT INTO idempotency_key (actor, scope, key, request_hash, status, response, "
        "created_at) VALUES ('cm.demo', 'POST /api/process-instances', 'overlap-1', %s, "
        "201, %s, %s)", (want_hash, json.dumps(first_answer), eng.now()))
    out: list = []
    with LiveServer(app) as server:
        client = Http(server.url, headers)
        t = threading.Thread(target=lambda: out.append(
            client.send("POST", "/api/process-instances", json_body=BODY, timeout=60)))
        t.start()
        try:
            deadline = time.monotonic() + 30
            while not _waiting_on_a_lock(_pg_dsn()):
                assert t.is_alive() and time.monotonic() < deadline, out
                time.sleep(0.05)
            holder.commit()
        finally:
            holder.close()
        t.join(60)
    status, resp_headers, body = out[0]
    assert status == 201 and json.loads(body) == first_answer
    assert resp_headers["Idempotent-Replayed"] == "true"
    assert counts(eng) == (0, 0)
    with eng.db.reader() as s:
        assert s.execute(text("SELECT count(*) FROM idempotency_key")).scalar_one() == 1
