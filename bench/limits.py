"""The limits every figure is divided by, measured in the same run:

- single-row INSERT + COMMIT per second through the same SQLAlchemy engine and driver
  (on SQLite with the engine's own ``BEGIN IMMEDIATE`` write transactions);
- the same process completed purely in memory by SpiffWorkflow, no persistence.
"""

from __future__ import annotations

import time

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import text

from bench import models as M
from engine.db import Database


# ---------------------------------------------------------------- insert + commit
def _ensure_probe_table(db: Database) -> None:
    ddl = ("CREATE TABLE IF NOT EXISTS bench_probe (id INTEGER PRIMARY KEY AUTOINCREMENT, "
           "body TEXT NOT NULL)" if db.is_sqlite else
           "CREATE TABLE IF NOT EXISTS bench_probe (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)")
    with db.engine.begin() as conn:
        conn.execute(text(ddl))


def insert_commit_rate(db: Database, n: int) -> float:
    """``n`` transactions of one INSERT each, committed one by one; returns per second."""
    _ensure_probe_table(db)
    eng = db.engine.execution_options(lotse_write=True)  # SQLite: BEGIN IMMEDIATE like a write
    stmt = text("INSERT INTO bench_probe (body) VALUES (:body)")
    body = "x" * 200
    with eng.connect() as conn:
        t0 = time.perf_counter()
        for _ in range(n):
            with conn.begin():
                conn.execute(stmt, {"body": body})
        dt = time.perf_counter() - t0
    return n / dt


# ---------------------------------------------------------------- in memory
class InMemory:
    """The benchmark's referral process run by SpiffWorkflow alone.

    ``plain``: parsed by SpiffWorkflow's own SpiffBpmnParser, default script engine (the
    limit). ``lotse``: the spec objects Lotse deployed, with Lotse's sandboxed script engine
    (an informational second figure: what the engine would reach without persistence).
    """

    def __init__(self, spec=None, subprocess_specs=None, script_engine=None) -> None:
        if spec is None:
            parser = SpiffBpmnParser()
            from lxml import etree

            parser.add_bpmn_xml(etree.fromstring(M.referral_process().encode("utf-8")),
                                filename="bench_referral.bpmn")
            spec = parser.get_spec(M.REFERRAL_PID)
            subprocess_specs = parser.get_subprocess_specs(M.REFERRAL_PID)
        self.spec = spec
        self.subs = subprocess_specs or {}
        self.script_engine = script_engine

    def run_case(self) -> tuple[int, float]:
        """One case from start to end; returns (completions, seconds spent completing)."""
        kw = {"script_engine": self.script_engine} if self.script_engine is not None else {}
        wf = BpmnWorkflow(self.spec, self.subs, **kw)
        wf.do_engine_steps()
        done, spent = 0, 0.0
        while True:
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            for task in ready:
                data = M.form_data(task.task_spec.bpmn_id)
                t0 = time.perf_counter()
                task.data.update(data)
                task.run()
                wf.refresh_timers()
                wf.do_engine_steps()
                spent += time.perf_counter() - t0
                done += 1
        assert wf.is_completed(), "in-memory case did not complete"
        return done, spent

    def rate(self, min_seconds: float = 1.0, min_cases: int = 20) -> float:
        """Completions per second over at least ``min_cases`` cases and ``min_seconds``."""
        done = spent = 0.0
        cases = 0
        while cases < min_cases or spent < min_seconds:
            n, s = self.run_case()
            done += n
            spent += s
            cases += 1
        return done / spent
