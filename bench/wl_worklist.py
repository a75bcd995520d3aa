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
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.common import SqlCounter, fig_from, percentile
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


def _size_database(ctx, size: int):
    """A separate, migrated database per size (SQLite file / PostgreSQL schema), so the sizes
    can be queried in alternation."""
    from sqlalchemy import text

    from bench.common import Backend, fresh_database
    from engine.db import Database

    if ctx.backend.name == "sqlite":
        return fresh_database(Backend("sqlite", f"sqlite:///{Path(ctx.workdir) / f'wl-{size}.db'}"))
    schema = f"bench_wl_{size}"
    with ctx.db.engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in ctx.backend.url else "?"
    url = f"{ctx.backend.url}{sep}options=-csearch_path%3D{schema}"
    db = Database(url)
    # engine.migrate.upgrade() hands the URL to Alembic's configparser, which chokes on the
    # "%" of a URL-encoded option; run the same migrations with the "%" escaped.
    from alembic import command
    from alembic.config import Config

    from engine.migrate import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return db


def _drop_schemas(ctx, sizes) -> None:
    from sqlalchemy import text

    if ctx.backend.name == "sqlite":
        return
    with ctx.db.engine.begin() as conn:
        for size in sizes:
            conn.execute(text(f"DROP SCHEMA IF EXISTS bench_wl_{size} CASCADE"))


def _timed(fn, n: int) -> tuple[float, float]:
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    return percentile(lat, 95) * 1000, percentile(lat, 50) * 1000


def worklist(ctx) -> None:
    from bench import models as M
    from processes.wiring import build_engine
    from web import accounts, queries

    rec, label = ctx.rec, ctx.backend.label
    offices = _offices(ctx)
    rnd = random.Random(8)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    sizes = sorted(ctx.worklist_sizes)
    want_http = ctx.http_ok is not False
    setups, servers = {}, []
    try:
        for size in sizes:
            db = _size_database(ctx, size)
            eng, _ = build_engine(db)
            eng.deploy_files(M.all_files())
            instances = _filler_instances(db)
            t0 = time.perf_counter()
            _bulk_insert(db, 0, size, offices, instances, rnd, base)
            fill_s = time.perf_counter() - t0
            if db.is_sqlite:
                _sqlite_ts_check(db)
            with db.reader() as s:
                count = s.scalar(select(func.count()).select_from(HumanTask)
                                 .where(HumanTask.state == "READY"))
            stmt, params = _captured(db, lambda eng=eng: eng.tasks(office=offices[3], limit=50))
            ok, plan = _explain(db, stmt, params)
            wstmt, wparams = _captured(db, lambda db=db, eng=eng: queries.worklist(
                db, queries.TaskFilter(offices=(offices[3],)), now=eng.now(), limit=50))
            wok, wplan = _explain(db, wstmt, wparams)
            rec.note(label, W5, f"{count:,} open tasks ({fill_s:.1f} s to insert): plan of "
                     f"Engine.tasks: `{plan}`; of the API worklist: `{wplan}`")
            if not (ok and wok):
                rec.fail(f"{label}: worklist query at {size} tasks does not use {INDEX}: "
                         f"{plan} / {wplan}")
            server = client = None
            if want_http:
                accounts.create_user(db, "bench-worklist", roles=["caseworker"],
                                     offices=offices)
                token = accounts.issue_token(db, "bench-worklist")
                try:
                    server = Gunicorn(db.url.render_as_string(hide_password=False),
                                      ctx.workdir).__enter__()
                    servers.append(server)
                    client = Client(server.port, token)
                    st, body = client.request("GET", f"/api/offices/{offices[3]}/tasks?limit=50")
                    if st != 200:
                        rec.note(label, W5, f"HTTP worklist answered {st}: {str(body)[:300]}")
                        client = None
                except Exception as exc:  # noqa: BLE001
                    rec.note(label, W5, f"HTTP worklist not measured: {exc}")
                    client = None
            setups[size] = {"db": db, "eng": eng, "count": count, "ok": ok, "client": client}

        def page(eng):
            rows = eng.tasks(office=rnd.choice(offices), limit=50)
            assert len(rows) == 50

        def http_page(client):
            st, body = client.request("GET", f"/api/offices/{rnd.choice(offices)}/tasks"
                                      "?limit=50")
            assert st == 200 and len(body["items"]) == 50, (st, str(body)[:200])

        for size in sizes:  # warm every database and server
            _timed(lambda e=setups[size]["eng"]: page(e), 20)
            if setups[size]["client"] is not None:
                _timed(lambda c=setups[size]["client"]: http_page(c), 20)
        eng_p95 = {s: [] for s in sizes}
        eng_p50 = {s: [] for s in sizes}
        http_p95 = {s: [] for s in sizes}
        http_p50 = {s: [] for s in sizes}
        for r in range(ctx.repeats):
            order = sizes[r % len(sizes):] + sizes[:r % len(sizes)]
            for size in order:
                su = setups[size]
                p95, p50 = _timed(lambda e=su["eng"]: page(e), ctx.worklist_queries)
                eng_p95[size].append(p95)
                eng_p50[size].append(p50)
                if su["client"] is not None:
                    p95, p50 = _timed(lambda c=su["client"]: http_page(c), ctx.worklist_queries)
                    http_p95[size].append(p95)
                    http_p50[size].append(p50)
    finally:
        for server in servers:
            server.__exit__()
        for su in setups.values():
            if su.get("client") is not None:
                su["client"].close()
            su["db"].dispose()
        _drop_schemas(ctx, sizes)

    for size in sizes:
        count = setups[size]["count"]
        rec.add(fig_from(label, W5, f"Engine.tasks page of 50 at {count:,} open tasks, p95",
                         "ms", eng_p95[size],
                         note=f"p95 of {ctx.worklist_queries} pages per run, random office; "
                         f"p50 {statistics.median(eng_p50[size]):.2f} ms; index used: "
                         f"{setups[size]['ok']}"))
        if http_p95[size]:
            rec.add(fig_from(label, W5, f"HTTP GET worklist page of 50 at {count:,} open tasks,"
                             " p95", "ms", http_p95[size],
                             target="<= 15 ms at 100k" if size == 100_000 else None,
                             met=(statistics.median(http_p95[size]) <= 15)
                             if size == 100_000 else None,
                             note=f"p95 of {ctx.worklist_queries} pages per run; p50 "
                             f"{statistics.median(http_p50[size]):.2f} ms; one keep-alive "
                             "client, bearer token, gunicorn with 2 workers"))
    lo, hi = sizes[0], sizes[-1]
    for series, what in ((eng_p95, "Engine.tasks"), (http_p95, "HTTP")):
        if lo == hi or not series[lo] or not series[hi]:
            continue
        growth = [b / a for a, b in zip(series[lo], series[hi], strict=True)]
        g = statistics.median(growth)
        rec.add(fig_from(label, W5, f"{what} p95 growth {lo:,} -> {hi:,} open tasks", "x",
                         growth, limit_name=f"p95 at {lo:,}",
                         limit=statistics.median(series[lo]), ratio=g,
                         ratio_text=f"{g:.2f} x (median of per-run ratios)",
                         target="<= 1.5 x from 10k to 1M" if hi >= 1_000_000 else
                         f"<= 1.5 x (10k -> 1M; measured to {hi:,})",
                         met=g <= 1.5,
                         note="the sizes live in separate databases and are queried in "
                         "alternation, so load drift hits all of them"))
    ctx.series[(label, "worklist")] = {
        "engine": {s: statistics.median(v) / 1000 for s, v in eng_p95.items() if v},
        "http": {s: statistics.median(v) / 1000 for s, v in http_p95.items() if v}}
