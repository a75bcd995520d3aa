"""Issue 12.4 through the engine, the database and real OS processes.

On the old main a script ``while True: pass`` hung the completing request or the worker forever,
held the SQLite write lock (so logins failed after 30 s) and hung again after a restart; SIGTERM
did not stop ``lotse worker``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engine.models import ProcessInstance
from engine.sandbox import Budget
from engine.stored_clock import StoredOffsetClock
from processes.wiring import build_engine
from tests import bpmn_builder as B
from tests.timer_models import intermediate_process

ROOT = Path(__file__).resolve().parents[2]
ENDLESS = "while True:\n    pass"


def _endless_after_a_task() -> list:
    body = ('<bpmn:startEvent id="Ev_Start"/>'
            + B.user_task("Task_First", "Erfassen", form="free.json")
            + B.script_task("Task_Loop", ENDLESS)
            + B.user_task("Task_Next", "Weiter", form="free.json") + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_First") + B.flow("F2", "Task_First", "Task_Loop")
            + B.flow("F3", "Task_Loop", "Task_Next") + B.flow("F4", "Task_Next", "Ev_End"))
    text = B.process("endless", {"KIM_CM": ["Ev_Start", "Task_First", "Task_Loop", "Task_Next",
                                            "Ev_End"]}, body)
    return B.files(p__bpmn=text, free__json='{"type": "object", "properties": {}}')


def test_an_endless_script_becomes_an_incident_and_frees_the_database(db, clock):
    eng, _ = build_engine(db, clock=clock, script_budget=Budget(seconds=1, memory_mb=256))
    eng.deploy_files(_endless_after_a_task())
    iid = eng.start("endless", {"case_id": "C-1"})["instance_id"]
    task = eng.tasks(instance_id=iid)[0]
    began = time.monotonic()
    out = eng.complete(task["task_id"], {})
    assert time.monotonic() - began < 10
    assert out["status"] == "error"
    shown = eng.show(iid)
    assert shown["status"] == "error" and shown["error_element"] == "Task_Loop"
    assert "budget of 1 s" in shown["error"]
    # the write lock is free: another case starts at once
    began = time.monotonic()
    other = eng.start("endless", {"case_id": "C-2"})
    assert other["status"] == "running" and time.monotonic() - began < 5
    # a retry runs into the same budget again instead of hanging
    began = time.monotonic()
    assert eng.retry(iid)["status"] == "error"
    assert time.monotonic() - began < 10


def _env(db, **extra) -> dict:
    return dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
                LOTSE_ENV="test", **extra)


def test_worker_stops_on_sigterm_inside_an_endless_script_and_the_timer_stays_due(db):
    clock = StoredOffsetClock(db)
    eng, _ = build_engine(db, clock=clock)
    eng.deploy_files(B.files(p__bpmn=intermediate_process("loop_timer", '"PT1H"', ENDLESS)))
    iid = eng.start("loop_timer", {}, case_ref="T-1")["instance_id"]
    clock.advance(timedelta(hours=2))
    # a long budget: the worker must stop because of SIGTERM, not because the budget ran out
    worker = subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--interval", "0.1"],
                              cwd=ROOT, env=_env(db, LOTSE_SCRIPT_TIMEOUT_SECONDS="120"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)  # start-up, then it is inside the script
        assert worker.poll() is None
        began = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
        assert time.monotonic() - began < 10
        assert worker.returncode == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    with db.reader() as s:
        inst = s.scalar(select(ProcessInstance).where(ProcessInstance.id == iid))
    assert inst.status == "running" and inst.next_timer_at is not None  # rolled back, still due
