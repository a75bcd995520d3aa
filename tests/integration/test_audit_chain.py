"""The audit log is hash-chained: changed, removed and inserted rows are found."""

from __future__ import annotations

from sqlalchemy import text

from engine.actor import Actor
from engine.audit import verify
from tests.integration.test_engine import PERSON


def _activity(eng):
    iid = eng.start("kim_first_referral", {}, case_ref="A-1")["instance_id"]
    task = eng.tasks(instance_id=iid)[0]
    eng.claim(task["task_id"], actor=Actor("anna"))
    eng.complete(task["task_id"], PERSON, actor=Actor("anna"))
    return iid


def test_chain_verifies_after_normal_work(first_process, db):
    _activity(first_process)
    out = verify(db)
    assert out["ok"] and out["entries"] >= 4


def test_changed_row_is_found(first_process, db):
    _activity(first_process)
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 3"))
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["seq"] == 3
    assert out["first_bad"]["problem"].startswith("changed")


def test_deleted_row_is_found(first_process, db):
    _activity(first_process)
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["problem"].startswith("removed")
    assert out["first_bad"]["seq"] == 3


def test_deleted_newest_row_is_found(first_process, db):
    _activity(first_process)
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)"))
    assert verify(db)["first_bad"]["problem"].startswith("removed")


def test_inserted_row_is_found(first_process, db):
    _activity(first_process)
    with db.engine.begin() as c:
        c.execute(text(
            "INSERT INTO audit_event (at, event_type, actor, details) "
            "VALUES ('2026-03-02 08:00:00', 'task.completed', 'mallory', '{}')"))
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["problem"].startswith("inserted")


def test_inserted_row_with_forged_seq_is_found(first_process, db):
    _activity(first_process)
    with db.engine.begin() as c:
        c.execute(text("UPDATE audit_event SET seq = seq + 1000 WHERE seq >= 4"))
        c.execute(text(
            "INSERT INTO audit_event (at, event_type, actor, details, seq, prev_hash, hash) "
            "SELECT '2026-03-02 08:00:00', 'task.completed', 'mallory', '{}', 4, hash, hash "
            "FROM audit_event WHERE seq = 3"))
        c.execute(text("UPDATE audit_event SET seq = seq - 999 WHERE seq >= 1004"))
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["seq"] == 4


def test_audit_entries_hold_no_personal_values(first_process, db):
    _activity(first_process)
    with db.engine.connect() as c:
        dump = " ".join(str(r) for r in c.execute(text("SELECT * FROM audit_event")))
    for key in ("first_name", "last_name", "birth_date"):
        assert PERSON[key] not in dump
    assert "first_name" in dump  # field names are recorded, values are not
