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
    iid = _activity(first_process)
    out = verify(db)
    assert out["ok"] and out["entries"] >= 4 and out["streams"] == 1
    with db.engine.connect() as c:
        streams = dict(c.execute(text(
            "SELECT stream, count(*) FROM audit_event GROUP BY stream")).all())
        head = c.execute(text("SELECT audit_seq FROM process_instance WHERE id = :i"),
                         {"i": iid}).scalar_one()
    # the steps' entries are in the instance's stream, starting the case in the global one
    assert set(streams) == {0, iid} and streams[iid] == head >= 3


def _tamper(db, *sql, **params):
    with db.engine.begin() as c:
        for q in sql:
            c.execute(text(q), params)


def test_changed_row_in_an_instance_stream_is_found(first_process, db):
    iid = _activity(first_process)
    _tamper(db, "UPDATE audit_event SET actor = 'mallory' WHERE stream = :i AND seq = 2", i=iid)
    out = verify(db)
    assert not out["ok"]
    assert (out["first_bad"]["stream"], out["first_bad"]["seq"]) == (iid, 2)
    assert out["first_bad"]["problem"].startswith("changed")


def test_changed_row_in_the_global_chain_is_found(first_process, db):
    _activity(first_process)
    _tamper(db, "UPDATE audit_event SET actor = 'mallory' WHERE stream = 0 AND seq = 1")
    out = verify(db)
    assert not out["ok"] and (out["first_bad"]["stream"], out["first_bad"]["seq"]) == (0, 1)
    assert out["first_bad"]["problem"].startswith("changed")


def test_deleted_row_is_found(first_process, db):
    iid = _activity(first_process)
    _tamper(db, "DELETE FROM audit_event WHERE stream = :i AND seq = 2", i=iid)
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["problem"].startswith("removed")
    assert (out["first_bad"]["stream"], out["first_bad"]["seq"]) == (iid, 3)


def test_deleted_newest_row_is_found(first_process, db):
    iid = _activity(first_process)
    _tamper(db, "DELETE FROM audit_event WHERE stream = :i AND seq = "
            "(SELECT max(seq) FROM audit_event WHERE stream = :i)", i=iid)
    assert verify(db)["first_bad"]["problem"].startswith("removed")


def test_deleted_newest_global_row_is_found(first_process, db):
    _activity(first_process)
    _tamper(db, "DELETE FROM audit_event WHERE stream = 0 AND seq = "
            "(SELECT max(seq) FROM audit_event WHERE stream = 0)")
    assert verify(db)["first_bad"]["problem"].startswith("removed")


def test_deleted_stream_with_its_head_reset_is_found_by_the_anchor(first_process, db):
    """Dropping a case's whole stream and resetting its head leaves the global anchor."""
    iid = _activity(first_process)
    _tamper(db, "DELETE FROM audit_event WHERE stream = :i",
            "UPDATE process_instance SET audit_seq = 0, audit_hash = NULL WHERE id = :i", i=iid)
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["stream"] == 0
    assert out["first_bad"]["problem"].startswith("removed")


def test_rewritten_stream_is_found_by_the_anchor(first_process, db):
    """A stream recomputed from scratch (valid hashes, head moved too) no longer matches."""
    from engine import audit
    from engine.models import AuditEvent, ProcessInstance

    iid = _activity(first_process)
    with db.engine.connect() as c:
        anchored = c.execute(text(
            "SELECT count(*) FROM audit_event WHERE stream = 0 AND instance_id = :i"),
            {"i": iid}).scalar_one()
    assert anchored >= 1
    with db.unit_of_work() as s:
        prev = audit.GENESIS
        rows = s.query(AuditEvent).filter_by(stream=iid).order_by(AuditEvent.seq).all()
        for e in rows:
            if e.seq == 1:
                e.actor = "mallory"
            e.prev_hash = prev
            e.hash = prev = audit.entry_hash(prev, e)
        inst = s.get(ProcessInstance, iid)
        inst.audit_hash = prev
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["stream"] == 0
    assert out["first_bad"]["problem"].startswith("changed")


def test_inserted_row_is_found(first_process, db):
    _activity(first_process)
    _tamper(db, "INSERT INTO audit_event (at, event_type, actor, details, stream) "
            "VALUES ('2026-03-02 08:00:00', 'task.completed', 'mallory', '{}', 0)")
    out = verify(db)
    assert not out["ok"] and out["first_bad"]["problem"].startswith("inserted")


def test_inserted_row_with_forged_seq_is_found(first_process, db):
    iid = _activity(first_process)
    _tamper(db,
            "UPDATE audit_event SET seq = seq + 1000 WHERE stream = :i AND seq >= 3",
            "INSERT INTO audit_event (at, event_type, actor, details, stream, seq, prev_hash, "
            "hash) SELECT '2026-03-02 08:00:00', 'task.completed', 'mallory', '{}', stream, 3, "
            "hash, hash FROM audit_event WHERE stream = :i AND seq = 2",
            "UPDATE audit_event SET seq = seq - 999 WHERE stream = :i AND seq >= 1003", i=iid)
    out = verify(db)
    assert not out["ok"] and (out["first_bad"]["stream"], out["first_bad"]["seq"]) == (iid, 3)


def test_entries_of_the_same_instance_in_other_transactions_join_its_stream(first_process, db):
    """Claim (no step) and complete both extend the stream; the seq has no gaps."""
    iid = _activity(first_process)
    with db.engine.connect() as c:
        seqs = [r[0] for r in c.execute(text(
            "SELECT seq FROM audit_event WHERE stream = :i ORDER BY seq"), {"i": iid})]
        types = {r[0] for r in c.execute(text(
            "SELECT event_type FROM audit_event WHERE stream = :i"), {"i": iid})}
    assert seqs == list(range(1, len(seqs) + 1))
    assert {"task.claimed", "task.completed", "task.created"} <= types


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
                         .order_by(AuditEvent.id)).all()


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


def test_a_step_does_not_wait_for_the_global_chain(first_process, db):
    """While another transaction holds the global chain head (a login, a deploy ...), a
    mid-case completion on PostgreSQL still commits: it chains into its own stream."""
    import threading

    import pytest

    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time anyway")
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="L-1")["instance_id"]
    task = eng.tasks(instance_id=iid)[0]
    done = threading.Event()
    errors: list[BaseException] = []

    def work():
        try:
            eng.claim(task["task_id"], actor=Actor("anna"))
            eng.complete(task["task_id"], PERSON, actor=Actor("anna"))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    with db.engine.connect() as c:
        c.execute(text("SELECT * FROM audit_head WHERE id = 1 FOR UPDATE"))
        t = threading.Thread(target=work)
        t.start()
        finished_while_held = done.wait(timeout=30)
        c.rollback()
    t.join(timeout=30)
    assert not errors
    assert finished_while_held, "the completion waited for the global audit head"
    assert verify(db)["ok"]
