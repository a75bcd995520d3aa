"""SQLite: a write waiting longer than LOTSE_DB_BUSY_TIMEOUT_MS for another writer answers
503 INSTANCE_BUSY with Retry-After over real HTTP, and applies nothing (issue 16 point 3)."""

from __future__ import annotations

import json
import sqlite3
import time

from engine.db import Database, Timeouts
from engine.migrate import upgrade
from engine.runtime import Actor
from tests.e2e.test_db_outage import CASE, Http
from tests.web_support import BPMN_DIR, LiveServer, make_app, token_for


def test_other_writer_beyond_busy_timeout_answers_503_instance_busy(tmp_path, clock):
    from processes.wiring import build_engine

    path = tmp_path / "lotse.db"
    db = Database(f"sqlite:///{path}", timeouts=Timeouts(busy_ms=300))
    upgrade(db)
    eng, _ = build_engine(db, clock=clock)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    app = make_app(eng, tmp_path)
    out = eng.start("kim_first_referral", {}, "BUSY-S", actor=Actor(user="cm.demo"))
    tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
    try:
        with LiveServer(app) as server:
            api = Http(server.url, token_for(app, "cm.demo"))
            assert api.send("GET", f"/api/tasks/{tid}")[0] == 200
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another writer holds the database
            try:
                t0 = time.monotonic()
                status, headers, body = api.send("POST", f"/api/tasks/{tid}/complete",
                                                 json_body={"data": CASE})
                assert status == 503, (status, body)
                assert time.monotonic() - t0 < 5
                assert json.loads(body)["error"] == "INSTANCE_BUSY"
                assert int(headers["Retry-After"]) > 0
            finally:
                other.rollback()
                other.close()
            assert eng.tasks(instance_id=out["instance_id"])[0]["task_id"] == tid  # still open
            status, _, body = api.send("POST", f"/api/tasks/{tid}/complete",
                                       json_body={"data": CASE})
            assert status == 200, body
    finally:
        db.dispose()
