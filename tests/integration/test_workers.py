"""Workers as separate OS processes: racing over due timers, and killed mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.stored_clock import StoredOffsetClock
from processes.wiring import build_engine
from tests import bpmn_builder as B
from tests.timer_models import intermediate_process

ROOT = Path(__file__).resolve().parents[2]


def _env(db) -> dict:
    return dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
                LOTSE_ENV="test")


def _prepare(db, n: int):
    clock = StoredOffsetClock(db)
    eng, _ = build_engine(db, clock=clock)
    eng.deploy_files(B.files(p__bpmn=intermediate_process("race", '"PT1H"')))
    for i in range(n):
        eng.start("race", {}, case_ref=f"T-{i}")
    clock.advance(timedelta(hours=2))
    return eng


def _check_each_fired_once(db, n: int) -> None:
    with db.reader() as s:
        per_instance = dict(s.execute(
            select(AuditEvent.instance_id, func.count())
            .where(AuditEvent.event_type == "timer.fired").group_by(AuditEvent.instance_id)).all())
        ready = dict(s.execute(
            select(HumanTask.instance_id, func.count())
            .where(HumanTask.state == "READY").group_by(HumanTask.instance_id)).all())
        due = s.scalar(select(func.count()).select_from(ProcessInstance)
                       .where(ProcessInstance.next_timer_at.is_not(None)))
    assert len(per_instance) == n and set(per_instance.values()) == {1}
    assert len(ready) == n and set(ready.values()) == {1}
    assert due == 0


def _worker(db, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "web.cli", "worker", *extra], cwd=ROOT,
                            env=_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("n", [1000])
def test_two_workers_fire_each_of_many_timers_exactly_once(db, n):
    _prepare(db, n)
    workers = [_worker(db, "--once", "--batch", "50") for _ in range(2)]
    outs = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-2000:] for o in outs]
    import json

    counts = [json.loads(o[0].strip().splitlines()[-1])["timers_fired"] for o in outs]
    assert sum(counts) == n and min(counts) > 0, counts  # both took part
    _check_each_fired_once(db, n)


def test_worker_killed_mid_batch_loses_nothing_and_fires_nothing_twice(db):
    n = 300
    _prepare(db, n)
    w = _worker(db, "--interval", "0.05", "--batch", "20")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with db.reader() as s:
            done = s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.event_type == "timer.fired"))
        if done >= 30:
            break
        time.sleep(0.02)
    w.send_signal(signal.SIGKILL)
    w.wait(30)
    assert done < n, "the worker finished before it could be killed"
    again = _worker(db, "--once")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    _check_each_fired_once(db, n)


FAULT_APP = "lotse_worker_fault_test"
FAULT_MARKER = "Zeynep Workerfault-Musterfrau"


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_worker_survives_terminated_backends_and_a_database_outage(db):
    """Issue 16.2: backends killed mid-transaction and a database refusing connections for
    a few seconds; the worker logs class names only, backs off, reconnects and fires every
    timer exactly once without an incident; SIGTERM still stops it promptly."""
    from sqlalchemy import text

    n = 150
    clock = StoredOffsetClock(db)
    eng, _ = build_engine(db, clock=clock)
    eng.deploy_files(B.files(p__bpmn=intermediate_process("fault", '"PT1H"')))
    for i in range(n):
        eng.start("fault", {"name": FAULT_MARKER, "i": i}, case_ref=f"W-{i}")
    clock.advance(timedelta(hours=2))
    env = _env(db)
    env["LOTSE_DATABASE_URL"] = db.url.update_query_dict(
        {"application_name": FAULT_APP}).render_as_string(hide_password=False)
    w = subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--interval", "0.05",
                          "--batch", "5"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    dbname = db.url.database
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        if not c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                        {"d": f"{dbname}_admin"}):
            c.execute(text(f'CREATE DATABASE "{dbname}_admin"'))
    # ALTER DATABASE ... ALLOW_CONNECTIONS cannot be run from inside the database itself
    from sqlalchemy import create_engine

    admin_engine = create_engine(db.url.set(database=f"{dbname}_admin"),
                                 isolation_level="AUTOCOMMIT")
    admin = admin_engine.connect()
    watch = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    kill = text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :a AND datname = :d")

    def fired() -> int:
        return watch.scalar(text("SELECT count(*) FROM audit_event "
                                 "WHERE event_type = 'timer.fired'"))

    killed = 0
    try:
        deadline = time.monotonic() + 60
        while fired() == 0 and time.monotonic() < deadline:  # the worker is at work
            time.sleep(0.02)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # kill its connections, often mid-transaction
            killed += admin.scalar(kill, {"a": FAULT_APP, "d": dbname})
            time.sleep(0.1)
        assert w.poll() is None, w.communicate()[1][-3000:]
        admin.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false'))
        killed += admin.scalar(kill, {"a": FAULT_APP, "d": dbname})
        time.sleep(4)  # a fast stop: nothing can connect
        during = fired()
        assert w.poll() is None, w.communicate()[1][-3000:]
        admin.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true'))
        assert during < n, "the worker finished before the outage"
        deadline = time.monotonic() + 120
        while fired() < n and time.monotonic() < deadline:
            assert w.poll() is None, w.communicate()[1][-3000:]
            time.sleep(0.1)
        time.sleep(1.5)  # a timer fired twice would show now
        t0 = time.monotonic()
        w.send_signal(signal.SIGTERM)
        _out, err = w.communicate(timeout=15)
        stopped_in = time.monotonic() - t0
    finally:
        admin.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true'))
        admin.close()
        admin_engine.dispose()
        watch.close()
        if w.poll() is None:
            w.kill()
            w.wait(10)
    assert w.returncode == 0, err[-3000:]
    assert stopped_in < 5
    assert killed > 0
    assert "OperationalError" in err  # the outage was seen and logged ...
    assert "retrying in" in err and "reachable again" in err
    for leak in (FAULT_MARKER, "[parameters", "[SQL", "INSERT", "UPDATE", "Traceback"):
        assert leak not in err, err[-3000:]  # ... by class name only
    _check_each_fired_once(db, n)
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)
                        .where(ProcessInstance.status != "running")) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.event_type.in_(("instance.incident", "instance.error")))) == 0
