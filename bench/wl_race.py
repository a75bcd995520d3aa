"""(6) Four offices complete their tasks of one case at the same moment (four OS processes
released by a barrier): latency p95 vs. a single completion, and zero lost updates."""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time

from bench import models as M
from bench.common import Figure, percentile

W6 = "6 same-case race"


def _worker(url: str, barrier, conn) -> None:
    from engine.db import Database
    from processes.wiring import build_engine

    eng, _ = build_engine(Database(url))
    conn.send(("ready", 0.0, None))
    while True:
        msg = conn.recv()
        if msg is None:
            return
        mode, task_id, data = msg
        if mode == "race":
            barrier.wait()
        t0 = time.perf_counter()
        try:
            eng.complete(task_id, data)
            conn.send(("ok", time.perf_counter() - t0, None))
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            conn.send(("error", time.perf_counter() - t0, repr(exc)[:300]))


def race(ctx) -> None:
    eng, rec, label = ctx.engine, ctx.rec, ctx.backend.label
    spawn = mp.get_context("spawn")
    barrier = spawn.Barrier(len(M.OFFICES))
    pipes, procs = {}, []
    for o in M.OFFICES:
        parent, child = spawn.Pipe()
        p = spawn.Process(target=_worker, args=(ctx.backend.url, barrier, child), daemon=True)
        p.start()
        pipes[o] = parent
        procs.append(p)
    for o in M.OFFICES:
        if not pipes[o].poll(120):
            raise RuntimeError("race worker did not start")
        pipes[o].recv()
    race_lat, single_lat, lost, errors, rounds = [], [], 0, [], 0

    def new_case(tag):
        iid = eng.start(M.REFERRAL_PID, {}, tag)["instance_id"]
        intake = eng.tasks(instance_id=iid)[0]
        eng.complete(intake["task_id"], M.form_data("Task_Intake"))
        return iid, {t["office"]: t["task_id"] for t in eng.tasks(instance_id=iid)}

    def check(iid):
        nonlocal lost
        after = eng.tasks(instance_id=iid)
        data = eng.show(iid)["data"]
        missing = [o for o in M.OFFICES if f"{o.lower()}_result" not in data]
        if [t["element_id"] for t in after] != ["Task_Review"] or missing:
            lost += 1
            errors.append(f"case {iid}: open {[t['element_id'] for t in after]}, "
                          f"missing {missing}")
            return
        eng.complete(after[0]["task_id"], M.form_data("Task_Review"))

    try:
        for r in range(ctx.race_rounds + 1):  # round 0 warms every worker up
            iid, tasks = new_case(f"RACE-{r}")
            for o in M.OFFICES:
                pipes[o].send(("race", tasks[o], M.form_data(f"Task_{o}")))
            got = [pipes[o].recv() for o in M.OFFICES]
            check(iid)
            if r:
                rounds += 1
                race_lat.extend(g[1] for g in got)
            errors.extend(g[2] for g in got if g[0] != "ok")
            iid, tasks = new_case(f"SINGLE-{r}")
            for o in M.OFFICES:
                pipes[o].send(("single", tasks[o], M.form_data(f"Task_{o}")))
                g = pipes[o].recv()
                if g[0] != "ok":
                    errors.append(g[2])
                elif r:
                    single_lat.append(g[1])
            check(iid)
    finally:
        for o in M.OFFICES:
            try:
                pipes[o].send(None)
            except OSError:
                pass
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.terminate()
    single_med = statistics.median(single_lat)
    p95 = percentile(race_lat, 95)
    ratio = p95 / single_med
    rec.add(Figure(label, W6, "completion latency, 4 offices at once, p95", "ms",
                   median=p95 * 1000, min=min(race_lat) * 1000, max=max(race_lat) * 1000,
                   runs=len(race_lat), limit_name="single completion (median)",
                   limit=single_med * 1000, ratio=ratio, ratio_text=f"{ratio:.2f} x single",
                   target="<= 4 x a single completion", met=ratio <= 4.0,
                   note=f"median column is p95 of {rounds} rounds x 4; race median "
                   f"{statistics.median(race_lat) * 1000:.1f} ms; single p95 "
                   f"{percentile(single_lat, 95) * 1000:.1f} ms"))
    rec.add(Figure(label, W6, "lost updates (and failed completions)", "cases",
                   median=len(errors), runs=rounds * 2,
                   target="0", met=(lost == 0 and not errors),
                   note="; ".join(errors[:3]) or f"all {rounds} raced cases joined once with "
                   "all four results; parallel completions on one case serialise on the "
                   "instance lock"))
    if lost or errors:
        rec.fail(f"{label}: same-case race lost updates or failed: {errors[:3]}")
    ctx.series[(label, "race")] = {"race": race_lat, "single": single_lat}
