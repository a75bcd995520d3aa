"""(4) N timers falling due at once, drained by one and by two ``lotse worker --once``
processes; timers/s and no timer fired twice.

One instance of a start -> timer (PT1H) -> script -> user task process is started through
the engine; the other N-1 are bulk copies of its rows with fresh task ids (starting 10,000
instances one by one would take longer than the drain itself). Every copy is checked to be a
real, runnable instance: after the drain each must wait on its user task.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from datetime import timedelta

from sqlalchemy import func, insert, select, text

from bench import models as M
from bench.common import Figure, fig_from, lotse_command, subprocess_env
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskRow, WorkflowState
from engine.stored_clock import StoredOffsetClock

W4 = "4 timers"
BATCH = 2000


def _clone(db, template_id: int, n: int, tag: str) -> list[int]:
    """``n`` copies of instance ``template_id`` (rows copied, task guids renewed)."""
    with db.reader() as s:
        inst = s.get(ProcessInstance, template_id)
        cols = {c.key: getattr(inst, c.key) for c in ProcessInstance.__table__.columns}
        states = s.execute(select(WorkflowState.key, WorkflowState.body)
                           .where(WorkflowState.instance_id == template_id)).all()
        tasks = s.execute(select(TaskRow.guid, TaskRow.workflow_key, TaskRow.seq, TaskRow.state,
                                 TaskRow.spec_name, TaskRow.props, TaskRow.data_hash)
                          .where(TaskRow.instance_id == template_id)).all()
        first = (s.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
    guids = [t.guid for t in tasks]
    pattern = re.compile("|".join(re.escape(g) for g in guids))
    ids = list(range(first, first + n))
    for start in range(0, n, BATCH):
        chunk = ids[start:start + BATCH]
        inst_rows, state_rows, task_rows = [], [], []
        for iid in chunk:
            mapping = {g: str(uuid.uuid4()) for g in guids}
            def sub(m, mp=mapping):
                return (mp[m.group(0)])
            row = dict(cols, id=iid, case_ref=f"{tag}-{iid}", audit_seq=0, audit_hash=None,
                       wf_body=pattern.sub(sub, cols["wf_body"]) if cols["wf_body"] else None)
            inst_rows.append(row)
            for key, body in states:
                state_rows.append({"instance_id": iid, "key": mapping.get(key, key),
                                   "body": pattern.sub(sub, body)})
            for t in tasks:
                task_rows.append({"guid": mapping[t.guid], "instance_id": iid,
                                  "workflow_key": mapping.get(t.workflow_key, t.workflow_key),
                                  "seq": t.seq, "state": t.state, "spec_name": t.spec_name,
                                  "props": pattern.sub(sub, t.props), "data_hash": t.data_hash})
        with db.unit_of_work() as s:
            s.execute(insert(ProcessInstance), inst_rows)
            if state_rows:
                s.execute(insert(WorkflowState), state_rows)
            s.execute(insert(TaskRow), task_rows)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                              "(SELECT max(id) FROM process_instance))"))
    return ids


def _drain(ctx, workers: int) -> dict:
    eng, db = ctx.timer_engine, ctx.db
    n = ctx.timers
    tmpl = eng.start(M.TIMER_PID, {}, f"TT-{workers}")["instance_id"]
    t0 = time.perf_counter()
    ids = [tmpl, *_clone(db, tmpl, n - 1, f"T{workers}")]
    clone_s = time.perf_counter() - t0
    lo, hi = min(ids), max(ids)
    StoredOffsetClock(db).advance(timedelta(hours=2))
    env = subprocess_env(ctx.backend.url, ctx.workdir)
    cmd = [*lotse_command(), "worker", "--once", "--batch", "100"]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(workers)]
    outs = [p.communicate(timeout=3600) for p in procs]
    wall = time.perf_counter() - t0
    errors = [f"worker exit {p.returncode}: {err.strip()[-500:]}" for p, (_o, err)
              in zip(procs, outs, strict=True) if p.returncode != 0]
    in_range = AuditEvent.instance_id.between(lo, hi)
    with db.reader() as s:
        fired_at = [a for (a,) in s.execute(
            select(AuditEvent.at).where(AuditEvent.event_type == "timer.fired", in_range)
            .order_by(AuditEvent.at))]
        twice = s.scalar(select(func.count()).select_from(
            select(AuditEvent.instance_id).where(AuditEvent.event_type == "timer.fired",
                                                 in_range)
            .group_by(AuditEvent.instance_id).having(func.count() > 1).subquery()))
        waiting = s.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.instance_id.between(lo, hi), HumanTask.element_id == "Task_Next",
            HumanTask.state == "READY"))
        still_due = s.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.id.between(lo, hi), ProcessInstance.next_timer_at.is_not(None)))
        incidents = s.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.id.between(lo, hi), ProcessInstance.status == "error"))
    per_worker = [o.strip().splitlines()[-1] if o.strip() else "" for o, _e in outs]
    span = (fired_at[-1] - fired_at[0]).total_seconds() if len(fired_at) > 1 else float("nan")
    chunk = max(1, len(fired_at) // 10)
    chunk_rates = []
    for i in range(0, len(fired_at) - chunk, chunk):
        dt = (fired_at[i + chunk] - fired_at[i]).total_seconds()
        if dt > 0:
            chunk_rates.append(chunk / dt)
    return {"n": n, "workers": workers, "wall": wall, "span": span, "fired": len(fired_at),
            "twice": twice, "waiting": waiting, "still_due": still_due, "incidents": incidents,
            "chunk_rates": chunk_rates, "errors": errors, "per_worker": per_worker,
            "clone_s": clone_s}


def timers(ctx) -> None:
    rec, label = ctx.rec, ctx.backend.label
    limit = ctx.limits.get("engine_completions")
    for workers in (1, 2):
        r = _drain(ctx, workers)
        ctx.rec.extra.setdefault("timers", {})[f"{label}/{workers}"] = {
            k: v for k, v in r.items() if k != "chunk_rates"}
        ok = (r["fired"] == r["n"] and r["twice"] == 0 and r["waiting"] == r["n"]
              and not r["errors"] and r["still_due"] == 0)
        rate = r["fired"] / r["span"] if r["span"] == r["span"] and r["span"] > 0 else 0.0
        vals = r["chunk_rates"] or [rate]
        fig = fig_from(label, W4, f"{r['n']} due timers drained by {workers} worker"
                       f"{'s' if workers > 1 else ''}", "timers/s", vals,
                       limit_name="engine completions/s (1)" if limit else None, limit=limit,
                       target=">= 0.5 x completion rate", note=(
                           f"first to last firing {r['span']:.1f} s ({rate:.0f}/s overall); "
                           f"wall incl. process start {r['wall']:.1f} s "
                           f"({r['fired'] / r['wall']:.0f}/s); median/min/max over tenths "
                           f"of the drain; workers said {r['per_worker']}"))
        fig.median = rate
        fig.note = "median = overall rate; min/max over tenths of the drain. " + fig.note
        if limit:
            fig.ratio = rate / limit
            fig.ratio_text = f"{rate / limit:.2f} x completion rate"
            fig.met = fig.ratio >= 0.5 and ok
        rec.add(fig)
        rec.add(Figure(label, W4, f"timers fired twice ({workers} worker"
                       f"{'s' if workers > 1 else ''})", "instances", median=r["twice"],
                       runs=1, target="0, and every timer fired once", met=ok, note=(
                           f"fired {r['fired']}/{r['n']}, waiting on the next task "
                           f"{r['waiting']}, still due {r['still_due']}, incidents "
                           f"{r['incidents']}" + (f"; errors: {r['errors']}" if r["errors"]
                                                  else ""))))
        if not ok:
            rec.fail(f"{label}: timer drain with {workers} worker(s) lost or doubled timers: "
                     f"{ {k: r[k] for k in ('fired', 'n', 'twice', 'waiting', 'still_due')} }")
        ctx.series[(label, f"timers_{workers}")] = r["chunk_rates"]

