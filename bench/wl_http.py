"""(8) Task completions over HTTP: POST /api/tasks/{id}/complete through gunicorn
(``lotse serve``, 2 workers) with a bearer token, one client and four clients."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from pathlib import Path

from bench import models as M
from bench.common import Figure, fig_from, percentile
from bench.http_server import Client, Gunicorn

W8 = "8 HTTP completions"
USER = "bench-http"


def _case(eng, tag: str) -> int:
    return eng.start(M.REFERRAL_PID, {}, tag)["instance_id"]


def _drive(eng, client: Client, iid: int, lat: list, errors: list) -> int:
    done = 0
    while True:
        open_tasks = eng.tasks(instance_id=iid)
        if not open_tasks:
            return done
        for t in open_tasks:
            t0 = time.perf_counter()
            st, body = client.request("POST", f"/api/tasks/{t['task_id']}/complete",
                                      {"data": M.form_data(t["element_id"])})
            lat.append(time.perf_counter() - t0)
            if st != 200:
                errors.append(f"{st} {str(body)[:200]}")
                return done
            done += 1




def _worker_pids(master: int) -> list[int]:
    try:
        text_ = Path(f"/proc/{master}/task/{master}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text_.split()]


def _profile_server(ctx, server, token: str, seconds: float = 6.0) -> None:
    """py-spy on both gunicorn workers while one client completes tasks."""
    from bench.spy import KEY_FRAMES, parse, pyspy, write

    spy = pyspy()
    pids = _worker_pids(server.proc.pid)
    if not spy or not pids:
        return
    raws = [Path(ctx.workdir) / f"spy-http-{ctx.backend.name}-{p}.txt" for p in pids]
    procs = [subprocess.Popen([spy, "record", "--pid", str(p), "--idle", "--rate", "250",
                               "--duration", str(int(seconds)), "--format", "raw", "-o",
                               str(r)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for p, r in zip(pids, raws, strict=True)]
    time.sleep(1.0)
    client, errors, lat = Client(server.port, token), [], []
    t_end = time.monotonic() + seconds - 2
    i = 0
    while time.monotonic() < t_end:
        _drive(ctx.engine, client, _case(ctx.engine, f"HSPY-{i}"), lat, errors)
        i += 1
    client.close()
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
    res = parse(raws, lambda st: "full_dispatch_request (flask/app.py" in st, KEY_FRAMES)
    if res is None:
        ctx.rec.note(ctx.backend.label, W8, "py-spy on the gunicorn workers gave no samples")
        return
    res.update(tool="py-spy", completions=len(lat))
    out = Path(ctx.results_dir) / f"profile-http-{ctx.backend.name}.txt"
    write(out, res, f"py-spy on {len(pids)} gunicorn workers, inside Flask's request "
          f"dispatch, while one client completed {len(lat)} tasks on {ctx.backend.label}")
    ctx.rec.extra.setdefault("profiles", {})[f"{ctx.backend.label}, HTTP server"] = res


def _sql_per_request(ctx) -> None:
    """Statements, commits and pool checkouts of the worklist, a task, a claim and a
    completion over the API (bearer token) and the pages (session cookie), counted in
    process on the app gunicorn serves (bench/reqsql.py)."""
    from bench import reqsql

    rows = reqsql.measure(ctx.db, ctx.engine, Path(ctx.workdir))
    for what, r in rows.items():
        ctx.rec.add(Figure(ctx.backend.label, W8, f"SQL statements per {what}", "statements",
                           median=r["statements"], runs=1,
                           note=f"HTTP {r['status']}; {r['commits']} commit(s), "
                           f"{r['checkouts']} pool checkout(s); " + ", ".join(r["log"])))


def http(ctx) -> None:
    db, eng, rec, label = ctx.db, ctx.engine, ctx.rec, ctx.backend.label
    from web import accounts

    accounts.create_user(db, USER, roles=["caseworker"],
                         offices=["KIM_CM", *M.OFFICES])
    token = accounts.issue_token(db, USER)
    limit = ctx.limits.get("in_memory")
    try:
        server = Gunicorn(ctx.backend.url, ctx.workdir).__enter__()
    except Exception as exc:  # noqa: BLE001
        ctx.http_ok = False
        rec.note(label, W8, f"not measured: gunicorn did not start ({exc})")
        return
    try:
        probe = Client(server.port, token)
        iid = _case(eng, "HTTP-probe")
        t = eng.tasks(instance_id=iid)[0]
        st, body = probe.request("POST", f"/api/tasks/{t['task_id']}/complete",
                                 {"data": M.form_data(t["element_id"])})
        if st != 200:
            ctx.http_ok = False
            rec.note(label, W8, f"not measured: POST /api/tasks/{{id}}/complete answered {st}: "
                     f"{str(body)[:300]}")
            return
        ctx.http_ok = True
        _sql_per_request(ctx)
        errors: list[str] = []
        lat_w: list[float] = []
        _drive(eng, probe, iid, lat_w, errors)
        for i in range(2):  # warm both gunicorn workers
            _drive(eng, probe, _case(eng, f"HTTP-warm-{i}"), lat_w, errors)
        one_rates, ratios, lat1 = [], [], []
        for r in range(ctx.repeats):
            lat: list[float] = []
            done = 0
            for i in range(ctx.http_cases):
                done += _drive(eng, probe, _case(eng, f"H1-{r}-{i}"), lat, errors)
            rate = done / sum(lat)
            one_rates.append(rate)
            lat1.extend(lat)
            if limit:
                ratios.append(rate / limit)
        four_rates, lat4 = [], []
        for r in range(ctx.repeats):
            cases = [[_case(eng, f"H4-{r}-{c}-{i}") for i in range(ctx.http_cases // 2 or 1)]
                     for c in range(4)]
            counts = [0] * 4
            lats: list[list[float]] = [[] for _ in range(4)]

            def client_run(c, cases=cases, counts=counts, lats=lats):
                cl = Client(server.port, token)
                for iid in cases[c]:
                    counts[c] += _drive(eng, cl, iid, lats[c], errors)
                cl.close()

            threads = [threading.Thread(target=client_run, args=(c,)) for c in range(4)]
            t0 = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            four_rates.append(sum(counts) / wall)
            for x in lats:
                lat4.extend(x)
        probe.close()
        if not ctx.quick:
            _profile_server(ctx, server, token)
    finally:
        server.__exit__()
    med_ratio = statistics.median(ratios) if ratios else None
    rec.add(fig_from(label, W8, "HTTP completions, 1 client", "completions/s", one_rates,
                     limit_name="in memory" if limit else None, limit=limit, ratio=med_ratio,
                     ratio_text=f"{med_ratio:.3f} x in memory" if med_ratio else None,
                     target=">= 0.10 x in memory", met=(med_ratio >= 0.10) if ratios else None,
                     note=f"{ctx.http_cases} cases x {M.COMPLETIONS_PER_CASE} per run; "
                     f"server LOTSE_ENV={server.lotse_env}; "
                     f"request latency p50 {percentile(lat1, 50) * 1000:.1f} ms, p95 "
                     f"{percentile(lat1, 95) * 1000:.1f} ms; rate = completions / time in "
                     "POST requests"))
    four_med = statistics.median(four_rates)
    rec.add(fig_from(label, W8, "HTTP completions, 4 clients", "completions/s", four_rates,
                     limit_name="in memory" if limit else None, limit=limit,
                     ratio=four_med / limit if limit else None,
                     ratio_text=f"{four_med / limit:.3f} x in memory" if limit else None,
                     target=">= 0.10 x in memory", met=(four_med / limit >= 0.10) if limit
                     else None,
                     note=f"4 threads in the benchmark process (its CPU competes with "
                     f"gunicorn's 2 workers on {ctx.nproc} cores); rate = completions / wall "
                     f"time; latency p50 {percentile(lat4, 50) * 1000:.1f} ms, p95 "
                     f"{percentile(lat4, 95) * 1000:.1f} ms"))
    if errors:
        rec.fail(f"{label}: HTTP completions failed: {errors[:3]}")
        rec.note(label, W8, f"errors: {errors[:3]}")
    ctx.series[(label, "http")] = {"one": lat1, "four": lat4}
