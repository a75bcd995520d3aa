"""(3) History length: time and bytes written per completion on a fresh case vs. after
5, 20, 50 and 250 completed tasks (loop_process: each completion is one round)."""

from __future__ import annotations

import statistics
import time

from bench import models as M
from bench.common import Figure

W3 = "3 history length"
CHECKPOINTS = (0, 5, 20, 50, 250)
WINDOW = 3  # completions measured at each checkpoint: rounds H .. H+WINDOW-1


def _run(eng, repeats: int, tag: str):
    last = max(CHECKPOINTS) + WINDOW
    times = {h: [] for h in CHECKPOINTS}
    sizes = {h: [] for h in CHECKPOINTS}
    curve_t: list[list[float]] = []
    curve_b: list[list[int]] = []
    for r in range(repeats):
        iid = eng.start(M.LOOP_PID, {}, f"H-{tag}-{r}")["instance_id"]
        ts, bs = [], []
        for i in range(last):
            task = eng.tasks(instance_id=iid)
            if len(task) != 1:
                raise RuntimeError(f"loop case {iid}: {len(task)} open tasks at round {i}")
            t0 = time.perf_counter()
            eng.complete(task[0]["task_id"], {"done": False})
            dt = time.perf_counter() - t0
            ts.append(dt)
            bs.append(eng.last_save.bytes_written)
            for h in CHECKPOINTS:
                if h <= i < h + WINDOW:
                    times[h].append(dt)
                    sizes[h].append(eng.last_save.bytes_written)
        curve_t.append(ts)
        curve_b.append(bs)
    return times, sizes, curve_t, curve_b


def history(ctx) -> None:
    from bench.wl_engine import cold_engine

    rec, label = ctx.rec, ctx.backend.label
    cold = cold_engine(ctx.db)
    variants = [("as shipped", ctx.engine)] + ([("workflow cache off", cold)] if cold else [])
    sizes = None
    for v, eng in variants:
        times, vsizes, curve_t, curve_b = _run(eng, ctx.history_repeats, v[:4])
        if sizes is None:
            sizes = vsizes
            ctx.series[(label, "history_bytes")] = curve_b
        ctx.series[(label, f"history_time {v}")] = curve_t
        fresh = statistics.median(times[0])
        for h in CHECKPOINTS:
            med = statistics.median(times[h])
            ratio = med / fresh
            is_last = h == max(CHECKPOINTS)
            rec.add(Figure(label, W3, f"time per completion after {h} completed tasks, {v}",
                           "ms", median=med * 1000, min=min(times[h]) * 1000,
                           max=max(times[h]) * 1000, runs=len(times[h]),
                           limit_name="fresh case" if h else None,
                           limit=fresh * 1000 if h else None, ratio=ratio if h else None,
                           ratio_text=f"{ratio:.2f} x fresh" if h else None,
                           target="<= 2 x fresh" if is_last else None,
                           met=(ratio <= 2.0) if is_last else None))
    base_b = statistics.median(sizes[CHECKPOINTS[1]])
    meds_b = {h: statistics.median(sizes[h]) for h in CHECKPOINTS}
    flat = [meds_b[h] for h in CHECKPOINTS if h >= CHECKPOINTS[1]]
    spread = max(flat) / min(flat)
    for h in CHECKPOINTS:
        is_last = h == max(CHECKPOINTS)
        ratio = meds_b[h] / base_b
        rec.add(Figure(label, W3, f"bytes written per completion after {h} completed tasks",
                       "bytes", median=meds_b[h], min=min(sizes[h]), max=max(sizes[h]),
                       runs=len(sizes[h]),
                       limit_name="after 5" if h > CHECKPOINTS[1] else None,
                       limit=base_b if h > CHECKPOINTS[1] else None,
                       ratio=ratio if h > CHECKPOINTS[1] else None,
                       ratio_text=f"{ratio:.3f} x after 5" if h > CHECKPOINTS[1] else None,
                       target="flat within 10 % (5..250) and <= 4 KB" if is_last else None,
                       met=(spread <= 1.10 and max(flat) <= 4096) if is_last else None,
                       note=(f"max/min over 5..250: {spread:.3f}; engine.last_save."
                             "bytes_written (task props + data + workflow bodies)")
                       if is_last else None))
