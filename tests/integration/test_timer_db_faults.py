"""A transient database error while a timer fires is no incident (issue 16.1).

Real PostgreSQL: the test holds a table lock the firing step needs, waits until the step's
backend blocks on it, and terminates that backend with ``pg_terminate_backend``; the step
fails with an OperationalError halfway through writing the workflow state.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from engine import incidents
from engine.db import Database
from engine.models import AuditEvent, ProcessInstance
from processes.wiring import build_engine
from tests import bpmn_builder as B
from tests.timer_models import intermediate_process

MARKER = "Zeynep Faultcase-Musterfrau"
APP = "lotse_timer_fault_test"


def _blocked_backend(db: Database, app: str, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    with db.engine.connect() as c:
        while time.monotonic() < deadline:
            pid = c.scalar(text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = :a "
                "AND datname = current_database() AND wait_event_type = 'Lock'"), {"a": app})
            c.rollback()
            if pid:
                return pid
            time.sleep(0.02)
    raise AssertionError("the firing step never blocked on the held lock")


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_terminated_backend_while_firing_leaves_the_timer_due_without_incident(db, clock):
    setup, _ = build_engine(db, clock=clock)
    setup.deploy_files(B.files(p__bpmn=intermediate_process("fault", '"PT1H"')))
    iid = setup.start("fault", {"name": MARKER}, case_ref="F-1")["instance_id"]
    clock.advance(timedelta(hours=2))

    url = db.url.update_query_dict({"application_name": APP})
    wdb = Database(url.render_as_string(hide_password=False))
    eng, _ = build_engine(wdb, clock=clock)
    outcome: dict = {}

    def fire():
        try:
            outcome["fired"] = eng.fire_due_timers()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    try:
        with db.engine.connect() as holder:
            holder.execute(text("LOCK TABLE task IN EXCLUSIVE MODE"))  # reads pass, writes wait
            t = threading.Thread(target=fire, daemon=True)
            t.start()
            pid = _blocked_backend(db, APP)
            with db.engine.connect() as killer:
                assert killer.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            holder.rollback()
        t.join(60)
        assert not t.is_alive()
        assert "error" not in outcome, repr(outcome.get("error"))
        assert outcome["fired"] == 0

        with db.reader() as s:
            inst = s.get(ProcessInstance, iid)
            assert inst.status == "running"
            assert inst.error is None and inst.error_detail is None and inst.error_type is None
            assert inst.next_timer_at is not None  # still due
            incidents_n = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.event_type.in_(("instance.incident", "instance.error"))))
            assert incidents_n == 0
        # the same worker backs off from this instance for a while ...
        assert eng.fire_due_timers() == 0
        # ... and any worker (here a fresh one) fires it afterwards, exactly once
        other, _ = build_engine(db, clock=clock)
        assert other.fire_due_timers() == 1
        assert other.fire_due_timers() == 0
        with db.reader() as s:
            fired = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.event_type == "timer.fired", AuditEvent.instance_id == iid))
            inst = s.get(ProcessInstance, iid)
        assert fired == 1 and inst.next_timer_at is None and inst.status == "running"
    finally:
        wdb.dispose()


def test_database_errors_are_transient_and_incident_texts_hold_no_sql(db):
    """The classification and the incident text of a real database error (both backends)."""
    with pytest.raises(Exception) as caught:
        with db.unit_of_work() as s:
            s.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"),
                      {"h": MARKER})  # id 1 exists: IntegrityError quoting the parameter
    assert MARKER in str(caught.value)  # the raw text does quote it
    assert not incidents.is_transient_db_error(caught.value)
    info = incidents.describe(caught.value, element="Timer_1")
    for part in info.values():
        assert MARKER not in part and "[SQL" not in part and "parameters" not in part
    assert info["element"] == "Timer_1" and "IntegrityError" in info["detail"]

    if db.is_sqlite:
        return
    with pytest.raises(Exception) as caught:
        with db.engine.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(pg_backend_pid()), :v"), {"v": MARKER})
    assert incidents.is_transient_db_error(caught.value)
    assert MARKER not in incidents.describe(caught.value, element="Timer_1")["detail"]
