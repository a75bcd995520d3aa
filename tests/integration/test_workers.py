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
