"""(10) Lint and import check by model size (issue 16.6): ``lint_files`` and
``inspect_import`` on ``tests.bpmn_builder.large_process`` with 2,000 and 20,000 user tasks
(branches of 40 tasks with a gateway, a boundary timer, a message throw and a subprocess
each, lanes over four offices, a diagram). Linear means the 20,000-task model takes about
10 x as long as the 2,000-task one; before issue 16.6 SpiffWorkflow's process index and
message lookups were quadratic and the lint checked a form once per user task.

No database is involved: the workload runs once per benchmark run (with the first
database). The two sizes are measured alternately in each run and the ratio is taken per
run, so the machine's load drifts hit both sides.
"""

from __future__ import annotations

import statistics
import time

from bench.common import Figure

W10 = "10 lint"
SIZES = (2_000, 20_000)
TARGET = 13.0  # 10 x is linear; a quadratic part shows as 30 x and more
_measured = False


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def lint(ctx) -> None:
    global _measured
    if _measured:
        ctx.rec.note(ctx.backend.label, W10, "measured once with the first database "
                     "(no database involved)")
        return
    _measured = True
    from engine.interop import inspect_import
    from engine.lint import lint_files
    from processes.offices import OfficeRegistry
    from processes.wiring import script_helpers
    from tests import bpmn_builder as B

    registry = OfficeRegistry.load()
    helpers = sorted(script_helpers(registry))
    files = {n: B.large_files(n) for n in SIZES}
    repeats = 2 if ctx.quick else 3

    def run_lint(n):
        findings = lint_files(files[n], resolve_lane=registry.resolve_lane, helpers=helpers)
        if findings:
            raise RuntimeError(f"large model of {n} tasks has findings: {findings[:2]}")

    def run_import(n):
        out = inspect_import("large.bpmn", files[n][0].content,
                             resolve_lane=registry.resolve_lane)
        if out["status"] != "view_only":  # no form file comes with a single upload
            raise RuntimeError(f"import check of {n} tasks: {out['status']}")

    run_lint(SIZES[0])  # warm up imports and caches
    for what, fn in (("lotse lint (lint_files)", run_lint),
                     ("import check (inspect_import)", run_import)):
        times: dict[int, list[float]] = {n: [] for n in SIZES}
        ratios = []
        for _ in range(repeats):
            for n in SIZES:
                times[n].append(_timed(lambda n=n, fn=fn: fn(n)))
            ratios.append(times[SIZES[1]][-1] / times[SIZES[0]][-1])
        small = statistics.median(times[SIZES[0]])
        for n in SIZES:
            ts = times[n]
            kb = len(files[n][0].content) // 1024
            is_big = n == SIZES[1]
            ratio = statistics.median(ratios) if is_big else None
            ctx.rec.add(Figure(
                ctx.backend.label, W10, f"{what}, {n:,} user tasks ({kb:,} KB)", "s",
                median=statistics.median(ts), min=min(ts), max=max(ts), runs=len(ts),
                limit_name=f"{SIZES[0]:,} tasks" if is_big else None,
                limit=small if is_big else None, ratio=ratio,
                ratio_text=(f"{ratio:.1f} x {SIZES[0]:,} tasks (per-run "
                            f"{min(ratios):.1f}-{max(ratios):.1f}; linear: 10 x)")
                if is_big else None,
                target=f"<= {TARGET:.0f} x {SIZES[0]:,} tasks" if is_big else None,
                met=(ratio <= TARGET) if is_big else None))
