"""(3) History length: time and bytes written per completion on a fresh case vs. after
5, 20, 50 and 250 completed tasks (loop_process: each completion is one round).

A long case is driven round by round; when it has completed 5, 20, 50 and 250 tasks, a
brand-new case is started and the two are completed alternately for a few rounds, so every
"after N" sample has a "fresh" sample taken next to it (this machine's load drifts; ratios
of samples taken minutes apart would mostly measure that drift).
"""

from __future__ import annotations

import statistics
import time

from bench import models as M
from bench.common import Figure

W3 = "3 history length"
CHECKPOINTS = (5, 20, 50, 250)
WINDOW = 5  # alternating completions per checkpoint


def _complete_round(eng, iid: int) -> tuple[float, int]:
    task = eng.tasks(instance_id=iid)
    if len(task) != 1:
        raise RuntimeError(f"loop case {iid}: {len(task)} open tasks")
    t0 = time.perf_counter()
    eng.complete(task[0]["task_id"], {"done": False})
    return time.perf_counter() - t0, eng.last_save.bytes_written


def _run(eng, repeats: int, tag: str):
    """{h: [(long_s, long_bytes, fresh_s, fresh_bytes), ...]}, per-round curves."""
    pairs: dict[int, list[tuple[float, int, float, int]]] = {h: [] for h in CHECKPOINTS}
    ratios: dict[int, list[float]] = {h: [] for h in CHECKPOINTS}
    curve_t: list[list[float]] = []
    curve_b: list[list[int]] = []
    for r in range(repeats):
        long_iid = eng.start(M.LOOP_PID, {}, f"H-{tag}-{r}")["instance_id"]
        done, ts, bs = 0, [], []
        for h in CHECKPOINTS:
            while done < h:
                dt, nb = _complete_round(eng, long_iid)
                ts.append(dt)
                bs.append(nb)
                done += 1
            fresh_iid = eng.start(M.LOOP_PID, {}, f"F-{tag}-{r}-{h}")["instance_id"]
            lt, ft = [], []
            for _ in range(WINDOW):
                f_dt, f_nb = _complete_round(eng, fresh_iid)
                l_dt, l_nb = _complete_round(eng, long_iid)
                ts.append(l_dt)
                bs.append(l_nb)
                done += 1
                pairs[h].append((l_dt, l_nb, f_dt, f_nb))
                lt.append(l_dt)
                ft.append(f_dt)
            ratios[h].append(statistics.median(lt) / statistics.median(ft))
        curve_t.append(ts)
        curve_b.append(bs)
    return pairs, ratios, curve_t, curve_b


def history(ctx) -> None:
    from bench.wl_engine import cold_engine

    rec, label = ctx.rec, ctx.backend.label
    cold = None if ctx.quick else cold_engine(ctx.db)  # --quick: the engine as shipped only
    variants = [("as shipped", ctx.engine)] + ([("workflow cache off", cold)] if cold else [])
    byte_pairs = None
    for v, eng in variants:
        pairs, ratios, curve_t, curve_b = _run(eng, ctx.history_repeats, v[:4])
        if byte_pairs is None:
            byte_pairs = pairs
            ctx.series[(label, "history_bytes")] = curve_b
        ctx.series[(label, f"history_time {v}")] = curve_t
        fresh_all = [p[2] for h in CHECKPOINTS for p in pairs[h]]
        rec.add(Figure(label, W3, f"time per completion on a fresh case, {v}", "ms",
                       median=statistics.median(fresh_all) * 1000, min=min(fresh_all) * 1000,
                       max=max(fresh_all) * 1000, runs=len(fresh_all),
                       note=f"rounds 0-{WINDOW - 1} of new cases, each taken next to a "
                       "long-case sample"))
        for h in CHECKPOINTS:
            long_s = [p[0] for p in pairs[h]]
            fresh_s = [p[2] for p in pairs[h]]
            ratio = statistics.median(ratios[h])
            is_last = h == max(CHECKPOINTS)
            rec.add(Figure(label, W3, f"time per completion after {h} completed tasks, {v}",
                           "ms", median=statistics.median(long_s) * 1000,
                           min=min(long_s) * 1000, max=max(long_s) * 1000, runs=len(long_s),
                           limit_name="fresh case, alternating",
                           limit=statistics.median(fresh_s) * 1000, ratio=ratio,
                           ratio_text=f"{ratio:.2f} x fresh (per-run "
                           f"{min(ratios[h]):.2f}-{max(ratios[h]):.2f})",
                           target="<= 2 x fresh" if is_last else None,
                           met=(ratio <= 2.0) if is_last else None))
    fresh_b = [p[3] for h in CHECKPOINTS for p in byte_pairs[h]]
    meds_b = {h: statistics.median(p[1] for p in byte_pairs[h]) for h in CHECKPOINTS}
    base_b = meds_b[CHECKPOINTS[0]]
    spread = max(meds_b.values()) / min(meds_b.values())
    rec.add(Figure(label, W3, "bytes written per completion on a fresh case", "bytes",
                   median=statistics.median(fresh_b), min=min(fresh_b), max=max(fresh_b),
                   runs=len(fresh_b)))
    for h in CHECKPOINTS:
        vals = [p[1] for p in byte_pairs[h]]
        is_last = h == max(CHECKPOINTS)
        ratio = meds_b[h] / base_b
        rec.add(Figure(label, W3, f"bytes written per completion after {h} completed tasks",
                       "bytes", median=meds_b[h], min=min(vals), max=max(vals), runs=len(vals),
                       limit_name="after 5" if h > CHECKPOINTS[0] else None,
                       limit=base_b if h > CHECKPOINTS[0] else None,
                       ratio=ratio if h > CHECKPOINTS[0] else None,
                       ratio_text=f"{ratio:.3f} x after 5" if h > CHECKPOINTS[0] else None,
                       target="flat within 10 % (5..250) and <= 4 KB" if is_last else None,
                       met=(spread <= 1.10 and max(meds_b.values()) <= 4096) if is_last
                       else None,
                       note=(f"max/min over 5..250: {spread:.3f}; engine.last_save."
                             "bytes_written (task props + data + workflow bodies)")
                       if is_last else None))
