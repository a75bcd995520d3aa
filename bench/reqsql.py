"""SQL statements, commits and pool checkouts of single HTTP requests, counted in process
with SQLAlchemy events (``bench.common.SqlCounter``) through Flask's test client on the same
app gunicorn serves: the worklist, a task, a claim and a completion, over the REST API with a
bearer token and over the HTML pages with a session cookie.

Each request is made twice on a warm app (the first of each kind warms caches); the second
is counted: with the per-process auth cache as configured (a hit: the session or token was
resolved within its ttl) and with it off (every request resolves it from the database).

``python -m bench.reqsql URL`` prints the table for a fresh database at URL
(it wipes it, like every workload).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from bench import models as M
from bench.common import SqlCounter, describe_statement

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
API_USER = "bench-sql-api"
UI_USER = "bench-sql-ui"


def _app(db, engine, workdir: Path):
    from web.app import create_app
    from web.settings import Settings

    settings = Settings(database_url=str(db.url), env="test", offices_file=None,
                        secret_key="bench-" + "x" * 40, instance_dir=Path(workdir) / "instance")
    return create_app(settings, engine=engine)


def _case_tasks(engine, tag: str, element: str | None = None) -> dict:
    """A fresh referral case; its open task (of ``element`` when given; after intake)."""
    iid = engine.start(M.REFERRAL_PID, {}, tag)["instance_id"]
    if element is None:
        return engine.tasks(instance_id=iid)[0]
    intake = engine.tasks(instance_id=iid)[0]
    engine.complete(intake["task_id"], M.form_data(intake["element_id"]))
    return next(t for t in engine.tasks(instance_id=iid) if t["element_id"] == element)


def measure(db, engine, workdir: Path) -> dict[str, dict]:
    """{request label: {status, statements, commits, checkouts, log}} for the API and UI."""
    from web import accounts

    offices = ["KIM_CM", *M.OFFICES]
    accounts.create_user(db, API_USER, roles=["caseworker"], offices=offices)
    token = accounts.issue_token(db, API_USER)
    password = secrets.token_urlsafe(16)
    accounts.create_user(db, UI_USER, roles=["caseworker"], offices=offices, password=password)
    app = _app(db, engine, workdir)
    api = app.test_client()
    hdr = {"Authorization": f"Bearer {token}"}
    ui = app.test_client()
    page = ui.get("/login").get_data(as_text=True)
    r = ui.post("/login", data={"name": UI_USER, "password": password,
                                "csrf_token": CSRF_RE.search(page).group(1)})
    if r.status_code != 302:
        raise RuntimeError(f"bench login answered {r.status_code}")
    csrf = CSRF_RE.search(ui.get("/").get_data(as_text=True)).group(1)

    def api_steps(t):
        tid = t["task_id"]
        return [
            ("GET worklist", lambda: api.get("/api/offices/JC/tasks?limit=50", headers=hdr)),
            ("GET task", lambda: api.get(f"/api/tasks/{tid}", headers=hdr)),
            ("POST claim", lambda: api.post(f"/api/tasks/{tid}/claim", headers=hdr)),
            ("POST complete", lambda: api.post(f"/api/tasks/{tid}/complete", headers=hdr,
                                               json={"data": M.form_data(t["element_id"])})),
        ]

    def ui_steps(t):
        tid = t["task_id"]
        return [
            ("GET worklist", lambda: ui.get("/offices/JC/tasks")),
            ("GET task", lambda: ui.get(f"/tasks/{tid}")),
            ("POST claim", lambda: ui.post(f"/tasks/{tid}/claim",
                                           data={"csrf_token": csrf})),
            ("POST complete", lambda: ui.post(f"/tasks/{tid}", data={
                "csrf_token": csrf, **M.form_data(t["element_id"])})),
        ]

    expected = {"GET worklist": 200, "GET task": 200, "POST claim": (200, 302),
                "POST complete": (200, 302)}
    out: dict[str, dict] = {}
    counter = SqlCounter(keep_log=True)
    # (older commits have no auth cache: then only the plain variants are measured)
    cache = accounts.auth_cache(db) if hasattr(accounts, "auth_cache") else None
    ttl = cache.ttl if cache is not None else 0
    variants = [("API", api_steps, ttl), ("UI", ui_steps, ttl)]
    if ttl > 0:  # the same requests with the auth cache off: what every cache miss costs
        variants += [("API, auth cache off,", api_steps, 0), ("UI, auth cache off,", ui_steps, 0)]
    for channel, steps, variant_ttl in variants:
        if cache is not None:
            cache.ttl = variant_ttl
        for run in range(2):  # run 0 warms every path; run 1 is counted
            t = _case_tasks(engine, f"SQL-{channel}-{run}", element="Task_JC")
            for label, call in steps(t):
                with counter.attached(db):
                    counter.reset()
                    resp = call()
                ok = expected[label]
                ok = ok if isinstance(ok, tuple) else (ok,)
                if resp.status_code not in ok:
                    raise RuntimeError(f"{channel} {label} answered {resp.status_code}: "
                                       f"{resp.get_data(as_text=True)[:300]}")
                if run == 1:
                    out[f"{channel} {label}"] = {
                        "status": resp.status_code, "statements": counter.statements,
                        "commits": counter.commits, "checkouts": counter.checkouts,
                        "log": [describe_statement(x) for x, _ in counter.log]}
    if cache is not None:
        cache.ttl = ttl
    return out


def main(argv=None) -> int:
    import sys
    import tempfile

    from bench.common import Backend, fresh_database
    from processes.wiring import build_engine

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m bench.reqsql DATABASE_URL (the database is wiped)")
        return 2
    url = args[0]
    backend = Backend("sqlite" if url.startswith("sqlite") else "postgresql", url)
    db = fresh_database(backend)
    engine, _ = build_engine(db)
    engine.deploy_files(M.all_files())
    with tempfile.TemporaryDirectory() as wd:
        rows = measure(db, engine, Path(wd))
    print(f"{backend.label}:")
    for label, r in rows.items():
        print(f"  {label:40s} {r['statements']:3d} statements, {r['commits']} commit(s), "
              f"{r['checkouts']} checkout(s); {', '.join(r['log'])}")
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
