"""Workloads on the Engine facade in this process (no HTTP):

(1) completions end to end on the four-office referral case, vs. SpiffWorkflow in memory;
(2) SQL statements and commits per completion (SQLAlchemy event hooks);
(7) memory per loaded typical case (tracemalloc around store.load);
plus a cProfile of the completion path, split by layer.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import statistics
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from bench import models as M
from bench.common import (
    SqlCounter,
    describe_statement,
    fig_from,
    percentile,
)
from bench.limits import InMemory
from engine import store
from engine.models import ProcessDefinition, ProcessInstance
from engine.serialization import SPEC_CACHE

W1, W2, W7 = "1 completions", "2 SQL per completion", "7 memory per case"


def _latest_def(db, pid):
    from sqlalchemy import select

    with db.reader() as s:
        return s.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == pid)
                        .order_by(ProcessDefinition.version.desc()).limit(1))


def cold_engine(db):
    """An engine that rebuilds every workflow from its rows (its in-process workflow cache
    off), as when another process made the case's last step; None if it has no cache."""
    from processes.wiring import build_engine

    eng, _ = build_engine(db)
    cache = getattr(eng, "cache", None)
    if cache is None or not hasattr(cache, "size"):
        return None
    cache.size = 0
    cache.clear()
    return eng


def run_cases(eng, n_cases: int, *, on_complete=None, prefix="C") -> tuple[int, float, list]:
    """Start ``n_cases`` referral cases and complete every task; time only the completes."""
    done, spent, lat = 0, 0.0, []
    for i in range(n_cases):
        iid = eng.start(M.REFERRAL_PID, {}, f"{prefix}-{i}")["instance_id"]
        while True:
            open_tasks = eng.tasks(instance_id=iid)
            if not open_tasks:
                break
            for t in open_tasks:
                data = M.form_data(t["element_id"])
                if on_complete is not None:
                    on_complete("before", t)
                t0 = time.perf_counter()
                out = eng.complete(t["task_id"], data)
                dt = time.perf_counter() - t0
                if on_complete is not None:
                    on_complete("after", t)
                spent += dt
                lat.append(dt)
                done += 1
        if out["status"] != "completed":
            raise RuntimeError(f"bench case {iid} ended {out}")
    return done, spent, lat


def in_memory_pair(eng, db):
    from sqlalchemy import select

    from engine.models import SpecBlob

    """(plain SpiffWorkflow, SpiffWorkflow with Lotse's spec and sandbox) runners."""
    d = _latest_def(db, M.REFERRAL_PID)
    with db.reader() as s:
        spec, subs = SPEC_CACHE.get(d.spec_hash, lambda: s.scalar(
            select(SpecBlob.body).where(SpecBlob.hash == d.spec_hash)))
    return InMemory(), InMemory(spec, subs, eng.script_engine)


def completions(ctx) -> None:
    """(1): per repeat, the in-memory rate and the engine rate back to back; ratio each.

    Measured with the engine as shipped and, when it has an in-process workflow cache, with
    that cache off (every step rebuilds the workflow from its rows)."""
    eng, db, rec, label = ctx.engine, ctx.db, ctx.rec, ctx.backend.label
    cold = cold_engine(db)
    plain, lotse_mem = in_memory_pair(eng, db)
    plain.rate(min_seconds=0.3)  # warm up
    run_cases(eng, 2, prefix="warm")
    variants = [("as shipped", eng)] + ([("workflow cache off", cold)] if cold else [])
    rates = {v: [] for v, _ in variants}
    ratios = {v: [] for v, _ in variants}
    lat_all = {v: [] for v, _ in variants}
    mem_rates, lotse_rates = [], []
    for r in range(ctx.repeats):
        mem = plain.rate(min_seconds=ctx.mem_seconds)
        lm = lotse_mem.rate(min_seconds=ctx.mem_seconds / 2, min_cases=10)
        mem_rates.append(mem)
        lotse_rates.append(lm)
        for v, e in variants:
            done, spent, lat = run_cases(e, ctx.cases, prefix=f"R{r}{v[:4]}")
            rates[v].append(done / spent)
            ratios[v].append(done / spent / mem)
            lat_all[v].extend(lat)
    ctx.limits["in_memory"] = statistics.median(mem_rates)
    ctx.limits["in_memory_lotse"] = statistics.median(lotse_rates)
    ctx.limits["engine_completions"] = statistics.median(rates["as shipped"])
    rec.add(fig_from(label, "limits", "SpiffWorkflow in memory, same process (limit)",
                     "completions/s", mem_rates,
                     note="SpiffBpmnParser + default script engine; measured right before "
                     "each engine run"))
    rec.add(fig_from(label, "limits", "SpiffWorkflow in memory with Lotse's spec and sandbox",
                     "completions/s", lotse_rates,
                     note="informational: the engine's ceiling without any persistence"))
    for v, _e in variants:
        med_ratio = statistics.median(ratios[v])
        lat = lat_all[v]
        rec.add(fig_from(label, W1, f"Engine.complete end to end (no HTTP), {v}",
                         "completions/s", rates[v], limit_name="in memory",
                         limit=statistics.median(mem_rates), ratio=med_ratio,
                         ratio_text=f"{med_ratio:.3f} x (median of per-run ratios, "
                         f"{min(ratios[v]):.3f}-{max(ratios[v]):.3f})",
                         target=">= 0.10 x in memory", met=med_ratio >= 0.10,
                         note=f"{ctx.cases} cases x {M.COMPLETIONS_PER_CASE} completions per "
                         "run; only the complete() calls are timed; latency p50 "
                         f"{percentile(lat, 50) * 1000:.1f} ms, p95 "
                         f"{percentile(lat, 95) * 1000:.1f} ms"))
        ctx.series[(label, f"latency {v}")] = lat


def sql_counts(ctx) -> None:
    """(2): statements and commits of each completion, and what they are."""
    eng, db, rec, label = ctx.engine, ctx.db, ctx.rec, ctx.backend.label
    counter = SqlCounter(keep_log=True)
    per_stmt, per_commit, per_checkout, by_element = [], [], [], {}
    samples: dict[str, list[str]] = {}

    def hook(when, task):
        if when == "before":
            counter.reset()
        else:
            per_stmt.append(counter.statements)
            per_commit.append(counter.commits)
            per_checkout.append(counter.checkouts)
            by_element.setdefault(task["element_id"], []).append(counter.statements)
            key = "office" if task["office"] in M.OFFICES else task["element_id"]
            samples.setdefault(key, [describe_statement(s) for s, _ in counter.log])

    with counter.attached(db):
        run_cases(eng, max(2, ctx.cases // 4), on_complete=hook, prefix="SQL")
    rec.add(fig_from(label, W2, "SQL statements per completion", "statements", per_stmt,
                     limit_name="target", limit=8, ratio=statistics.median(per_stmt) / 8,
                     ratio_text=f"{statistics.median(per_stmt) / 8:.1f} x the target",
                     target="<= 8", met=max(per_stmt) <= 8,
                     note="counted with before_cursor_execute (an executemany counts once; "
                     "BEGIN is transaction control like COMMIT and not counted: SQLite's "
                     "explicit BEGIN IMMEDIATE would add 1, psycopg's implicit BEGIN is "
                     "invisible); min/max over task kinds"))
    rec.add(fig_from(label, W2, "commits per completion", "commits", per_commit,
                     target="<= 1", met=max(per_commit) <= 1,
                     note="SQLAlchemy commit event"))
    pre_ping = bool(getattr(db.engine.pool, "_pre_ping", False))
    rec.add(fig_from(label, W2, "connection checkouts per completion", "checkouts",
                     per_checkout, note="pool checkout event" + (
                         "; pool_pre_ping is on: each checkout is one more round trip "
                         "(SELECT 1) that before_cursor_execute does not see" if pre_ping
                         else "")))
    for el, vals in sorted(by_element.items()):
        rec.note(label, W2, f"`{el}`: {statistics.median(vals):.0f} statements")
    for key, stmts in samples.items():
        counts = Counter(stmts)
        rec.note(label, W2, f"one `{key}` completion: "
                 + ", ".join(f"{n}x {s}" if n > 1 else s for s, n in counts.items()))


def memory(ctx) -> None:
    """(7): bytes allocated and still held by one loaded typical case (4 office tasks open)."""
    eng, db, rec, label = ctx.engine, ctx.db, ctx.rec, ctx.backend.label
    iid = eng.start(M.REFERRAL_PID, {}, "MEM")["instance_id"]
    intake = eng.tasks(instance_id=iid)[0]
    eng.complete(intake["task_id"], M.form_data("Task_Intake"))
    values, peaks, tasks = [], [], 0
    with db.reader() as s:
        inst = s.get(ProcessInstance, iid)
        d = s.get(ProcessDefinition, inst.definition_id)
        wf, _ = store.load(s, inst, d.spec_hash)  # warm the spec cache
        tasks = len(wf.tasks)
        del wf
        for _ in range(max(5, ctx.repeats)):
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            wf, snap = store.load(s, inst, d.spec_hash)
            gc.collect()
            cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            values.append((cur - base) / 1024)
            peaks.append((peak - base) / 1024)
            del wf, snap
    med = statistics.median(values)
    rec.add(fig_from(label, W7, "memory held by one loaded case (workflow + snapshot)", "KB",
                     values, limit_name="target", limit=250, ratio=med / 250,
                     ratio_text=f"{med / 250:.2f} x the target", target="<= 250 KB",
                     met=med <= 250,
                     note=f"referral case after intake, {tasks} Spiff tasks; peak during load "
                     f"{statistics.median(peaks):.0f} KB; spec objects cached, not counted"))


# ---------------------------------------------------------------- profile
# Where the time of a completion goes. py-spy (sampling, wall clock including waits on the
# database) when it is installed; cProfile otherwise (deterministic, but it inflates code
# that makes many small Python calls, such as SQLAlchemy's).


def _profile_pyspy(ctx, spy: str, out: Path, cold: bool) -> dict | None:
    import os
    import re
    import subprocess
    import sys

    from bench.spy import KEY_FRAMES, parse, write

    raw = Path(ctx.workdir) / f"spy-{ctx.backend.name}-{int(cold)}.txt"
    cases = max(20, 2 * ctx.cases)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run([spy, "record", "--idle", "--rate", "250", "--format", "raw",
                           "-o", str(raw), "--", sys.executable, "-m", "bench.profile_target",
                           ctx.backend.url, str(cases), "cold" if cold else "shipped"],
                          capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0 or not raw.exists():
        ctx.rec.note(ctx.backend.label, "profile", f"py-spy failed ({proc.returncode}): "
                     f"{proc.stderr.strip()[-300:]}; used cProfile")
        return None
    done = next((ln.split()[0] for ln in reversed(proc.stdout.splitlines())
                 if re.fullmatch(r"\d+ [\d.e-]+", ln.strip())), "?")
    res = parse(raw, lambda st: "run_cases (bench/wl_engine.py" in st, KEY_FRAMES)
    if res is None:
        return None
    write(out, res, f"py-spy (--idle, 250 Hz, wall clock) over {done} referral completions "
          f"({cases} cases) on {ctx.backend.label}, "
          f"{'workflow cache off' if cold else 'engine as shipped'}")
    res.update(tool="py-spy", completions=done)
    return res


def _profile_cprofile(ctx, out: Path) -> dict:
    from bench.spy import layer

    prof = cProfile.Profile()
    prof.enable()
    done, _spent, _ = run_cases(ctx.engine, max(3, ctx.cases // 2), prefix="PROF")
    prof.disable()
    st = pstats.Stats(prof)
    layers: Counter = Counter()
    total = 0.0
    for (path, _line, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():
        layers[layer(path, func)] += tt
        total += tt
    share = {k: v / total for k, v in layers.most_common()}
    with out.open("w") as fh:
        fh.write(f"cProfile of {done} referral completions on {ctx.backend.label}; own time "
                 "by layer:\n")
        for k, v in share.items():
            fh.write(f"  {v * 100:5.1f} %  {k}\n")
        fh.write("\nTop 40 by cumulative time:\n")
        ps = pstats.Stats(prof, stream=fh)
        ps.strip_dirs().sort_stats("cumulative").print_stats(40)
        fh.write("\nTop 30 by own time:\n")
        ps.sort_stats("tottime").print_stats(30)
    return {"tool": "cProfile", "completions": done, "layers": share, "inclusive": {}}


def profile(ctx) -> None:
    from bench.spy import pyspy

    spy = pyspy()
    for cold in (False,) if ctx.quick else (False, True):
        name = f"profile-{ctx.backend.name}{'-cache-off' if cold else ''}.txt"
        out = Path(ctx.results_dir) / name
        result = _profile_pyspy(ctx, spy, out, cold) if spy else None
        if result is None:
            if cold:
                continue
            result = _profile_cprofile(ctx, out)
        key = ctx.backend.label + (", cache off" if cold else "")
        ctx.rec.extra.setdefault("profiles", {})[key] = result
