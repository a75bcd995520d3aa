"""(5) Worklist page p95 at 10k / 100k (/ 1M) open tasks across 20 offices.

``human_task`` rows are inserted in bulk (PostgreSQL: COPY, then VACUUM ANALYZE as
autovacuum would); the page is ``Engine.tasks(office=..., limit=50)``
in this process, and ``GET /api/offices/{code}/tasks?limit=50`` through gunicorn when the
API answers. The plan of both queries must use ix_human_task_office_state_created, else the
benchmark fails.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from bench.common import Figure, SqlCounter, fig_from, percentile
from bench.http_server import Client, Gunicorn
from engine.models import HumanTask, ProcessDefinition, ProcessInstance

W5 = "5 worklist"
INDEX = "ix_human_task_office_state_created"
COLS = ("id", "instance_id", "process_id", "case_ref", "element_id", "name", "office", "state",
        "assignee", "form", "created_at", "due_at")
FILLER_INSTANCES = 2000
SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite


def _offices(ctx) -> list[str]:
    from processes.offices import OfficeRegistry

    return OfficeRegistry.load(None).codes()[:20]


def _filler_instances(db) -> list[int]:
    with db.reader() as s:
        d = s.scalar(select(ProcessDefinition).limit(1))
    now = datetime.now(UTC)
    rows = [{"definition_id": d.id, "process_id": d.process_id, "case_ref": f"W-{i}",
             "status": "running", "created_at": now, "updated_at": now, "revision": 0,
             "next_seq": 0} for i in range(FILLER_INSTANCES)]
    with db.unit_of_work() as s:
        s.execute(insert(ProcessInstance), rows)
    with db.reader() as s:
        return list(s.scalars(select(ProcessInstance.id).where(
            ProcessInstance.case_ref.like("W-%"))))


def _rows(start: int, stop: int, offices, instances, rnd, base):
    for i in range(start, stop):
        created = base + timedelta(seconds=i * 30 + rnd.randint(0, 29))
        office = offices[i % len(offices)]
        yield (str(uuid.UUID(int=rnd.getrandbits(128), version=4)), rnd.choice(instances),
               "bench_referral", f"W-{i}", f"Task_{office}", f"Prüfen {office}", office,
               "READY", None if rnd.random() < 0.8 else f"user{i % 50}", None, created,
               created + timedelta(days=14))


def _bulk_insert(db, start: int, stop: int, offices, instances, rnd, base) -> None:
    if db.is_sqlite:
        raw = db.engine.raw_connection()
        try:
            cur = raw.driver_connection.cursor()
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany(
                f"INSERT INTO human_task ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})",
                ((*r[:10], r[10].strftime(SQLITE_TS), r[11].strftime(SQLITE_TS))
                 for r in _rows(start, stop, offices, instances, rnd, base)))
            cur.execute("COMMIT")
        finally:
            raw.close()
    else:
        raw = db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.cursor() as cur, cur.copy(
                    f"COPY human_task ({', '.join(COLS)}) FROM STDIN") as cp:
                for r in _rows(start, stop, offices, instances, rnd, base):
                    cp.write_row(r)
            conn.commit()
            conn.autocommit = True  # what autovacuum would have done by the time of a query
            with conn.cursor() as cur:
                cur.execute("VACUUM (ANALYZE) human_task")
            conn.autocommit = False
        finally:
            raw.close()


def _sqlite_ts_check(db) -> None:
    """The bulk rows must read back like engine-written ones (UTCDateTime on SQLite)."""
    with db.reader() as s:
        t = s.scalar(select(HumanTask).limit(1))
        assert t.created_at.tzinfo is not None


def _explain(db, statement: str, params) -> tuple[bool, str]:
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            plan = "; ".join(str(r[-1]) for r in rows)
            return INDEX in plan, plan
        raw = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params).scalar()
        doc = raw if isinstance(raw, list) else json.loads(raw)
        nodes = []

        def walk(n):
            nodes.append(f"{n.get('Node Type')}" + (f" {n['Index Name']}" if n.get("Index Name")
                                                    else ""))
            for c in n.get("Plans", []):
                walk(c)

        walk(doc[0]["Plan"])
        return any(INDEX in x for x in nodes), " > ".join(nodes)


def _captured(db, fn) -> tuple[str, object]:
    counter = SqlCounter(keep_log=True)
    with counter.attached(db):
        fn()
    selects = [(s, p) for s, p in counter.log if "human_task" in s and s.lstrip().upper()
               .startswith("SELECT")]
    return selects[-1]


def worklist(ctx) -> None:
    db, eng, rec, label = ctx.db, ctx.engine, ctx.rec, ctx.backend.label
    offices = _offices(ctx)
    instances = _filler_instances(db)
    rnd = random.Random(8)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    http = ctx.http_ok is not False
    user_token = None
    server = None
    if http:
        from web import accounts

        accounts.create_user(db, "bench-worklist", roles=["caseworker"], offices=offices)
        user_token = accounts.issue_token(db, "bench-worklist")
        try:
            server = Gunicorn(ctx.backend.url, ctx.workdir).__enter__()
        except Exception as exc:  # noqa: BLE001
            rec.note(label, W5, f"HTTP worklist not measured: {exc}")
            server = None
    p95s, http_p95s, have = {}, {}, 0
    try:
        for size in ctx.worklist_sizes:
            t0 = time.perf_counter()
            _bulk_insert(db, have, size, offices, instances, rnd, base)
            fill_s = time.perf_counter() - t0
            have = size
            if db.is_sqlite:
                _sqlite_ts_check(db)
            with db.reader() as s:
                count = s.scalar(select(func.count()).select_from(HumanTask)
                                 .where(HumanTask.state == "READY"))
            # the SQL Engine.tasks and the API's worklist run, and their plans
            stmt, params = _captured(db, lambda: eng.tasks(office=offices[3], limit=50))
            ok, plan = _explain(db, stmt, params)
            from web import queries

            wstmt, wparams = _captured(db, lambda: queries.worklist(
                db, queries.TaskFilter(offices=(offices[3],)), now=eng.now(), limit=50))
            wok, wplan = _explain(db, wstmt, wparams)
            rec.note(label, W5, f"{size:,} open tasks ({fill_s:.1f} s to insert): plan of "
                     f"Engine.tasks: `{plan}`; of the API worklist: `{wplan}`")
            if not (ok and wok):
                rec.fail(f"{label}: worklist query at {size} tasks does not use {INDEX}: "
                         f"{plan} / {wplan}")
            for _ in range(10):  # warm caches
                eng.tasks(office=rnd.choice(offices), limit=50)
            runs, p50s = [], []
            for _r in range(ctx.repeats):
                lat = []
                for _ in range(ctx.worklist_queries):
                    o = rnd.choice(offices)
                    t0 = time.perf_counter()
                    rows = eng.tasks(office=o, limit=50)
                    lat.append(time.perf_counter() - t0)
                    assert len(rows) == 50
                runs.append(percentile(lat, 95) * 1000)
                p50s.append(percentile(lat, 50) * 1000)
            p95s[size] = statistics.median(runs) / 1000
            rec.add(fig_from(label, W5, f"Engine.tasks page of 50 at {count:,} open tasks, p95",
                             "ms", runs, note=f"p95 of {ctx.worklist_queries} pages per run, "
                             f"random office; p50 {statistics.median(p50s):.2f} ms; index "
                             f"used: {ok}"))
            if server is not None:
                c = Client(server.port, user_token)
                st, body = c.request("GET", f"/api/offices/{offices[3]}/tasks?limit=50")
                if st != 200:
                    rec.note(label, W5, f"HTTP worklist answered {st}: {str(body)[:300]}")
                    server.__exit__()
                    server = None
                else:
                    for _ in range(10):
                        c.request("GET", f"/api/offices/{rnd.choice(offices)}/tasks?limit=50")
                    runs, p50s = [], []
                    for _r in range(ctx.repeats):
                        hl = []
                        for _ in range(ctx.worklist_queries):
                            o = rnd.choice(offices)
                            t0 = time.perf_counter()
                            st, body = c.request("GET", f"/api/offices/{o}/tasks?limit=50")
                            hl.append(time.perf_counter() - t0)
                            assert st == 200 and len(body["items"]) == 50, (st, str(body)[:200])
                        runs.append(percentile(hl, 95) * 1000)
                        p50s.append(percentile(hl, 50) * 1000)
                    c.close()
                    http_p95s[size] = statistics.median(runs) / 1000
                    rec.add(fig_from(label, W5, f"HTTP GET worklist page of 50 at {count:,} "
                                     "open tasks, p95", "ms", runs,
                                     target="<= 15 ms at 100k" if size >= 100_000 else None,
                                     met=(http_p95s[size] <= 0.015) if size == 100_000
                                     else None,
                                     note=f"p95 of {ctx.worklist_queries} pages per run; p50 "
                                     f"{statistics.median(p50s):.2f} ms; one keep-alive "
                                     "client, bearer token, gunicorn with 2 workers"))
    finally:
        if server is not None:
            server.__exit__()
    for series, what in ((p95s, "Engine.tasks"), (http_p95s, "HTTP")):
        if len(series) >= 2:
            lo, hi = min(series), max(series)
            growth = series[hi] / series[lo]
            rec.add(Figure(label, W5, f"{what} p95 growth {lo:,} -> {hi:,} open tasks", "x",
                           median=growth, runs=2, limit_name=f"p95 at {lo:,}",
                           limit=series[lo] * 1000, ratio=growth,
                           ratio_text=f"{growth:.2f} x",
                           target="<= 1.5 x from 10k to 1M" if hi >= 1_000_000 else
                           f"<= 1.5 x (10k -> 1M; measured to {hi:,})",
                           met=growth <= 1.5))
    ctx.series[(label, "worklist")] = {"engine": p95s, "http": http_p95s}
