"""Issue 13.3: a refused form is one unit of work. The refusal's ``task.validation_failed``
entry is written in the completion's own transaction (it used to be a second transaction
after the first had rolled back, so a crash in between lost it); nothing else of the attempt
survives: task data, rows and file bindings roll back to a savepoint."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from engine.errors import FormInvalid
from engine.models import AuditEvent, TaskRow


def _write_transactions(eng):
    """Counts the write transactions begun on the engine's database (real events)."""
    begun: list[int] = []

    def on_begin(conn):
        if conn.get_execution_options().get("lotse_write"):
            begun.append(1)

    event.listen(eng.db.engine, "begin", on_begin)
    return begun, lambda: event.remove(eng.db.engine, "begin", on_begin)


def test_a_refused_form_is_one_transaction_with_its_audit_entry(first_process):
    eng = first_process
    iid = eng.start("kim_first_referral", {}, case_ref="C-TX")["instance_id"]
    (task,) = eng.tasks(office="KIM_CM")
    with eng.db.reader() as s:
        rows = s.scalar(select(func.count()).select_from(TaskRow))
    begun, stop = _write_transactions(eng)
    try:
        with pytest.raises(FormInvalid):
            eng.complete(task["task_id"], {"first_name": "   ", "birth_date": "2999-01-01"})
    finally:
        stop()
    assert len(begun) == 1  # the refusal and its audit entry: one unit of work
    with eng.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(TaskRow)) == rows
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.event_type == "task.validation_failed" and "2999" not in str(last.details)
    assert eng.show(iid)["data"] == {"case_id": "C-TX"}
    # the task is still open and completes with good data afterwards
    assert [t["task_id"] for t in eng.tasks(office="KIM_CM")] == [task["task_id"]]
