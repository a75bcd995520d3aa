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


def _events(db, event_type):
    from sqlalchemy import select

    from engine.models import AuditEvent

    with db.reader() as s:
        return s.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)
                         .order_by(AuditEvent.seq)).all()


def test_gateway_decisions_tasks_and_messages_are_audited(first_process, db):
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="G-1")["instance_id"]
    eng.complete(eng.tasks(instance_id=iid)[0]["task_id"], PERSON)
    for t in eng.tasks(instance_id=iid):
        data = ({"abh_result": "rejected", "abh_rejection_reason": "Unterlagen fehlen"}
                if t["office"] == "ABH" else {"jc_result": "granted"})
        eng.complete(t["task_id"], data)
    (gw,) = _events(db, "gateway.evaluated")
    assert gw.element_id == "Gw_Ergebnis"
    assert gw.details == {"taken": ["Task_Klaeren"], "default_taken": False}
    created = sorted(e.element_id for e in _events(db, "task.created"))
    assert created == sorted(["Task_Erfassen", "Task_Aufenthalt_Pruefen",
                              "Task_Leistung_Pruefen", "Task_Klaeren"])
    assert verify(db)["ok"]


def test_default_flow_decision_is_audited(first_process, db):
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="G-2")["instance_id"]
    eng.complete(eng.tasks(instance_id=iid)[0]["task_id"], PERSON)
    for t in eng.tasks(instance_id=iid):
        data = ({"abh_result": "granted", "abh_valid_until": "2027-01-31"}
                if t["office"] == "ABH" else {"jc_result": "granted"})
        eng.complete(t["task_id"], data)
    (gw,) = _events(db, "gateway.evaluated")
    assert gw.details == {"taken": ["Task_Abschliessen"], "default_taken": True}
