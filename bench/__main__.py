"""``python -m bench`` (``make bench``): run the benchmark suite on SQLite and PostgreSQL and
write bench/results/latest.md (+ latest.json, PNG plots when matplotlib is installed).

Exit status 1 when a correctness check failed (index not used by the worklist plan, a timer
lost or fired twice, a lost update, a workload crashed); missed targets are reported, not
failures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bench import common, report
from bench.common import Backend, Recorder, fig_from, fresh_database
from bench.limits import InMemory, insert_commit_rate

WORKLOADS = ("completions", "sql", "memory", "profile", "history", "timers", "race", "http",
             "worklist", "mixed", "lint")


@dataclass
class Ctx:
    backend: Backend
    rec: Recorder
    workdir: Path
    results_dir: Path
    repeats: int
    cases: int
    mem_seconds: float
    insert_n: int
    history_repeats: int
    timers: int
    worklist_sizes: list[int]
    worklist_queries: int
    race_rounds: int
    http_cases: int
    mixed_seconds: float = 600.0
    quick: bool = False
    nproc: int = os.cpu_count() or 1
    limits: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)
    http_ok: bool | None = None
    db: object = None
    engine: object = None
    timer_engine: object = None

    def fresh(self, *, timer_engine: bool = False) -> None:
        from bench import models as M
        from processes.wiring import build_engine

        if self.db is not None:
            self.db.dispose()
        self.db = fresh_database(self.backend)
        self.engine, _ = build_engine(self.db)
        self.engine.deploy_files(M.all_files())
        self.timer_engine = build_engine(self.db, movable_clock=True)[0] if timer_engine \
            else None


def limits(ctx: Ctx, with_memory: bool) -> None:
    label = ctx.backend.label
    ctx.fresh()
    insert_commit_rate(ctx.db, max(100, ctx.insert_n // 10))  # warm up
    rates = [insert_commit_rate(ctx.db, ctx.insert_n) for _ in range(ctx.repeats)]
    ctx.limits["insert_commit"] = statistics.median(rates)
    ctx.rec.add(fig_from(label, "limits", "single-row INSERT + COMMIT (limit)", "tx/s", rates,
                         note=f"{ctx.insert_n} transactions per run through the same "
                         "SQLAlchemy engine" + (" (BEGIN IMMEDIATE, WAL, synchronous=NORMAL)"
                                                if ctx.backend.name == "sqlite" else "")))
    if with_memory:
        mem = InMemory()
        mem.rate(min_seconds=0.3)
        vals = [mem.rate(min_seconds=ctx.mem_seconds) for _ in range(ctx.repeats)]
        ctx.limits["in_memory"] = statistics.median(vals)
        ctx.rec.add(fig_from(label, "limits", "SpiffWorkflow in memory, same process (limit)",
                             "completions/s", vals))


def run_backend(ctx: Ctx, selected: list[str]) -> None:
    from bench import (
        wl_engine,
        wl_history,
        wl_http,
        wl_lint,
        wl_mixed,
        wl_race,
        wl_timers,
        wl_worklist,
    )

    steps = [
        ("limits", lambda: limits(ctx, "completions" not in selected), False),
        ("completions", lambda: wl_engine.completions(ctx), True),
        ("sql", lambda: wl_engine.sql_counts(ctx), False),
        ("memory", lambda: wl_engine.memory(ctx), False),
        ("profile", lambda: wl_engine.profile(ctx), False),
        ("history", lambda: wl_history.history(ctx), True),
        ("timers", lambda: wl_timers.timers(ctx), "timers"),
        ("race", lambda: wl_race.race(ctx), True),
        ("http", lambda: wl_http.http(ctx), True),
        ("worklist", lambda: wl_worklist.worklist(ctx), True),
        ("mixed", lambda: wl_mixed.mixed(ctx), True),
        ("lint", lambda: wl_lint.lint(ctx), False),
    ]
    for name, fn, fresh in steps:
        if name != "limits" and name not in selected:
            continue
        t0 = time.perf_counter()
        load0 = os.getloadavg()[0]
        print(f"[bench] {ctx.backend.label}: {name} ...", flush=True)
        try:
            if fresh:
                ctx.fresh(timer_engine=fresh == "timers")
            fn()
        except Exception as exc:  # noqa: BLE001 - a crash is a reported failure
            tb = traceback.format_exc()
            ctx.rec.fail(f"{ctx.backend.label}: workload {name} crashed: {exc!r}")
            ctx.rec.note(ctx.backend.label, "errors", f"{name}: ```{tb[-1500:]}```")
            print(tb, file=sys.stderr, flush=True)
        dt = time.perf_counter() - t0
        ctx.rec.durations[f"{ctx.backend.label}/{name}"] = dt
        ctx.rec.loads[f"{ctx.backend.label}/{name}"] = (load0, os.getloadavg()[0])
        print(f"[bench] {ctx.backend.label}: {name} done in {dt:.1f} s", flush=True)
    if ctx.db is not None:
        ctx.db.dispose()


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smaller sizes and fewer runs (about 3 minutes for both databases)")
    p.add_argument("--db", default="sqlite,postgresql",
                   help="comma list of sqlite, postgresql (default both)")
    p.add_argument("--pg-url", default=os.environ.get("LOTSE_BENCH_DATABASE_URL",
                                                      common.DEFAULT_PG_URL),
                   help="PostgreSQL database the benchmark may wipe (env "
                   "LOTSE_BENCH_DATABASE_URL; default %(default)s)")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help=f"comma list of {', '.join(WORKLOADS)} (default all)")
    p.add_argument("--repeats", type=int, default=None, help="runs per figure")
    p.add_argument("--timers", type=int, default=None, help="due timers per drain")
    p.add_argument("--worklist-sizes", default=None,
                   help="comma list of open-task counts (default 10000,100000,1000000; "
                   "quick 10000,100000)")
    p.add_argument("--mixed-seconds", type=float, default=None,
                   help="duration of the mixed HTTP load (default 600; quick 45)")
    p.add_argument("--out", default=str(common.RESULTS), help="results directory")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--head", action="store_true",
                   help="measure the committed HEAD: run from a clean `git archive HEAD` "
                   "export (uncommitted changes of others are not measured); results are "
                   "written here")
    return p.parse_args(argv)


def run_head(argv: list[str], out: Path) -> int:
    """Re-run this benchmark from a clean export of HEAD, writing results to ``out``."""
    import io
    import subprocess
    import tarfile

    commit = common._git("rev-parse", "HEAD")
    if not commit:
        print("--head needs a git checkout", file=sys.stderr)
        return 2
    tar = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=common.ROOT,
                         capture_output=True, check=True).stdout
    tmp = Path(tempfile.mkdtemp(prefix="lotse-bench-head-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(tmp, filter="data")
        args = [a for a in argv if a != "--head"]
        if "--out" not in args:
            args += ["--out", str(out.resolve())]
        env = dict(os.environ, LOTSE_BENCH_COMMIT=commit[:12],
                   LOTSE_BENCH_SOURCE=f"clean export of {commit[:12]} (git archive HEAD)",
                   PYTHONPATH=str(tmp))
        print(f"[bench] measuring HEAD {commit[:12]} from {tmp}", flush=True)
        return subprocess.run([sys.executable, "-m", "bench", *args], cwd=tmp,
                              env=env).returncode
    finally:
        common.rmtree_quiet(tmp)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.head:
        return run_head(argv, Path(args.out))
    quick = args.quick
    selected = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in selected if w not in WORKLOADS]
    if unknown:
        print(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    results = Path(args.out)
    results.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="lotse-bench-"))
    rec = Recorder()
    params = {
        "mode": "quick" if quick else "full",
        "repeats": args.repeats or (3 if quick else 5),
        "cases": 6 if quick else 20,
        "mem_seconds": 0.4 if quick else 1.0,
        "insert_n": 500 if quick else 2000,
        "history_repeats": 1 if quick else 3,
        "timers": args.timers or (1000 if quick else 10000),
        "worklist_sizes": [int(x) for x in (args.worklist_sizes or (
            "10000,100000" if quick else "10000,100000,1000000")).split(",")],
        "worklist_queries": 50 if quick else 100,
        "race_rounds": 4 if quick else 15,
        "http_cases": 4 if quick else 10,
        "mixed_seconds": args.mixed_seconds or (45.0 if quick else 600.0),
    }
    pg_problem = common.pg_reachable(args.pg_url) if "postgresql" in dbs else None
    machine = common.machine_info(args.pg_url if "postgresql" in dbs and not pg_problem
                                  else None)
    backends = []
    for d in dbs:
        if d == "sqlite":
            backends.append(common.sqlite_backend(workdir))
        elif d == "postgresql":
            if pg_problem:
                rec.note("PostgreSQL", "errors", f"not measured: {pg_problem}")
                print(f"[bench] PostgreSQL skipped: {pg_problem}", file=sys.stderr)
            else:
                backends.append(Backend("postgresql", args.pg_url))
        else:
            print(f"unknown database {d}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    series: dict = {}
    try:
        for b in backends:
            ctx = Ctx(backend=b, rec=rec, workdir=workdir, results_dir=results,
                      quick=quick, **{k: v for k, v in params.items() if k != "mode"})
            run_backend(ctx, selected)
            series.update(ctx.series)
    finally:
        common.rmtree_quiet(workdir)
    total = time.perf_counter() - t0
    plots = [] if args.no_plots else report.plots(rec, series, results)
    report.write(rec, machine, params, selected, [b.label for b in backends], total, plots,
                 results)
    print(f"[bench] wrote {results / 'latest.md'} in {total:.0f} s", flush=True)
    if rec.failures:
        print("[bench] FAILED:\n  " + "\n  ".join(rec.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
