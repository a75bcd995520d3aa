"""Fewer reads per request (issue 8, HTTP path): the per-process list of deployed processes
(LOTSE_DEFINITIONS_CACHE_SECONDS) sees a deploy of this process at once and one of another
process within its ttl; the UI completion reads only the task row before the engine runs;
the API start reads the definition once; the worklist page uses one pool checkout.
SQLite and PostgreSQL, real engine, Flask test client."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from engine.db import Database
from processes.wiring import build_engine
from tests.conftest import BPMN_DIR
from tests.web_support import signed_in as browser_for
from tests.web_support import token_for
from web import accounts, queries
from web.settings import SettingsError, from_env

CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}
SECOND = "kim_single_referral"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def defs(web_app):
    """The app's definitions cache on a clock only the test moves (ttl 5 s)."""
    c = queries.definitions_cache(web_app.extensions["lotse"].db)
    c.clock = FakeClock()
    c.ttl = 5
    return c


@pytest.fixture
def frozen_auth(web_app):
    """Sessions and tokens answer from the auth cache for the whole test (no clock runs)."""
    c = accounts.auth_cache(web_app.extensions["lotse"].db)
    c.clock = FakeClock()
    c.ttl = 5
    return c


@pytest.fixture
def other_process(web_app):
    """An engine on a second Database of the same database: its deploys do not pass this
    process's commit hooks (as with `lotse deploy` or another gunicorn worker)."""
    url = web_app.extensions["lotse"].db.url.render_as_string(hide_password=False)
    db = Database(url)
    engine, _ = build_engine(db)
    yield engine
    db.dispose()


class Counter:
    """Statements (without BEGIN) and pool checkouts of the app's database."""

    def __init__(self, db: Database) -> None:
        self.db, self.statements, self.checkouts = db, [], 0

    def _stmt(self, conn, cursor, statement, *a):
        if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE"):
            self.statements.append(" ".join(statement.split()))

    def _checkout(self, *a):
        self.checkouts += 1

    def __enter__(self):
        event.listen(self.db.engine, "before_cursor_execute", self._stmt)
        event.listen(self.db.engine.pool, "checkout", self._checkout)
        return self

    def __exit__(self, *exc):
        event.remove(self.db.engine, "before_cursor_execute", self._stmt)
        event.remove(self.db.engine.pool, "checkout", self._checkout)

    def reading(self, table: str) -> list[str]:
        return [s for s in self.statements if s.upper().startswith("SELECT")
                and f"FROM {table}".upper() in s.upper()]


def _names(app_client) -> str:
    return app_client.get("/start").text


# ---------------------------------------------------------------- the deployed processes
def test_cached_list_reads_nothing_within_its_ttl(web_app, defs):
    db = web_app.extensions["lotse"].db
    first = queries.processes(db)
    assert [p["process_id"] for p in first] == ["kim_first_referral"]
    with Counter(db) as c:
        again = queries.processes(db)
    assert again == first and c.statements == []
    again[0]["name"] = "changed by a caller"  # callers get copies
    assert queries.processes(db)[0]["name"] != "changed by a caller"


def test_deploy_in_this_process_shows_at_once(web_app, eng, defs):
    # the start page lists what the user may start: SECOND starts in KIM_CM's lane
    jc = browser_for(web_app, "cm.demo")
    assert SECOND not in _names(jc)
    eng.deploy([BPMN_DIR / SECOND])
    # the clock has not moved: only the commit hook can have dropped the list
    assert f'value="{SECOND}"' in _names(jc)
    assert SECOND in [p["process_id"] for p in queries.processes(eng.db)]


def test_deploy_of_another_process_shows_within_the_ttl(web_app, eng, defs, other_process):
    # the start page lists what the user may start: SECOND starts in KIM_CM's lane
    jc = browser_for(web_app, "cm.demo")
    assert SECOND not in _names(jc)
    other_process.deploy([BPMN_DIR / SECOND])
    defs.clock.now += 4  # within the ttl this process still answers from memory
    assert SECOND not in _names(jc)
    defs.clock.now += 2  # past it: the version probe sees the new definition
    assert f'value="{SECOND}"' in _names(jc)
    with Counter(eng.db) as c:  # and then the probe alone, nothing re-read
        defs.clock.now += 6
        queries.processes(eng.db)
    assert len(c.statements) == 1 and "max(" in c.statements[0].lower()
    assert c.reading("process_definition") == c.statements


def test_ttl_zero_sees_another_process_deploy_at_once(web_app, defs, other_process):
    defs.ttl = 0
    db = web_app.extensions["lotse"].db
    assert [p["process_id"] for p in queries.processes(db)] == ["kim_first_referral"]
    other_process.deploy([BPMN_DIR / SECOND])
    got = queries.processes(db)
    assert [p["process_id"] for p in got] == ["kim_first_referral", SECOND]
    assert got[1]["version"] == 1 and got[1]["id"] > got[0]["id"]


def test_a_new_version_replaces_the_old_one(web_app, eng, defs, other_process):
    from engine.deploy import SourceFile, collect_files

    before = queries.processes(eng.db)[0]
    other_process.deploy([BPMN_DIR / "kim_first_referral"])  # unchanged: no new version
    defs.clock.now += 6
    assert queries.processes(eng.db)[0] == before
    files = [SourceFile(f.name, f.content.replace(b'name="Erstberatung und Vermittlung"',
                                                  b'name="Erstberatung, Version 2"'))
             for f in collect_files([BPMN_DIR / "kim_first_referral"])]
    other_process.deploy_files(files)
    defs.clock.now += 6
    after = queries.processes(eng.db)
    assert [(p["process_id"], p["version"], p["name"]) for p in after] == [
        ("kim_first_referral", before["version"] + 1, "Erstberatung, Version 2")]


def test_definitions_cache_setting():
    assert from_env({}).definitions_cache_seconds == 5
    assert from_env({"LOTSE_DEFINITIONS_CACHE_SECONDS": "0"}).definitions_cache_seconds == 0
    assert from_env({"LOTSE_DEFINITIONS_CACHE_SECONDS": "300"}).definitions_cache_seconds == 300
    for bad in ("-1", "301", "soon"):
        with pytest.raises(SettingsError):
            from_env({"LOTSE_DEFINITIONS_CACHE_SECONDS": bad})


# ---------------------------------------------------------------- fewer reads per request
def _start_case(eng, ref):
    from engine.runtime import Actor

    out = eng.start("kim_first_referral", {}, ref, actor=Actor(user="cm.demo"))
    return eng.tasks(instance_id=out["instance_id"])[0]["task_id"]


def test_ui_completion_reads_the_task_once_before_the_engine(web_app, eng, defs, frozen_auth):
    cm = browser_for(web_app, "cm.demo")
    warm = _start_case(eng, "R-0")
    assert cm.post(f"/tasks/{warm}", data={"csrf_token": cm.token, **CASE}).status_code == 302
    tid = _start_case(eng, "R-1")
    with Counter(eng.db) as c:
        r = cm.post(f"/tasks/{tid}", data={"csrf_token": cm.token, **CASE})
    assert r.status_code == 302 and r.headers["Location"] == "/offices/KIM_CM/tasks"
    assert eng.get_task(tid)["state"] == "COMPLETED"
    reads = c.reading("human_task")
    by_id = [q for q in reads if "WHERE human_task.id = " in q]
    # one joined read of the task row (the engine's own locked read comes after it)
    assert len(by_id) == 2, c.statements
    # and the notice's two reads of the case's open tasks, before and after (issue 15.5)
    notice = [q for q in reads if q not in by_id]
    assert len(notice) == 2 and all("human_task.case_ref" in q and "human_task.state" in q
                                    for q in notice), c.statements
    assert c.reading("process_instance") == [], c.statements  # not read separately
    assert c.reading("process_definition") == [], c.statements  # cached definition
    # the read, the engine's unit of work and the notice's two reads of open tasks
    assert c.checkouts == 4


def test_ui_completion_errors_still_render_the_full_form(web_app, eng, defs):
    cm = browser_for(web_app, "cm.demo")
    tid = _start_case(eng, "R-2")
    r = cm.post(f"/tasks/{tid}", data={"csrf_token": cm.token, "first_name": "Amal"})
    assert r.status_code == 422 and 'id="task-form"' in r.text and "Pflichtfeld" in r.text
    assert 'value="Amal"' in r.text
    assert "Bitte erfassen Sie die Grunddaten" in r.text  # instructions of the full view
    jc = browser_for(web_app, "jc.demo")  # another office: still 404, nothing completed
    assert jc.post(f"/tasks/{tid}", data={"csrf_token": jc.token, **CASE}).status_code == 404
    assert cm.post("/tasks/not-a-task", data={"csrf_token": cm.token}).status_code == 404
    assert eng.get_task(tid)["state"] == "READY"


def test_api_start_reads_the_definition_once(web_app, eng, defs, frozen_auth):
    h = token_for(web_app, "cm.demo")
    api = web_app.test_client()
    body = {"process_id": "kim_first_referral", "data": {}}
    assert api.post("/api/process-instances", headers=h,
                    json={**body, "case_ref": "A-0"}).status_code == 201
    with Counter(eng.db) as c:
        r = api.post("/api/process-instances", headers=h, json={**body, "case_ref": "A-1"})
    assert r.status_code == 201
    assert len(c.reading("process_definition")) == 1, c.statements  # the engine's own


def test_worklist_page_uses_one_checkout(web_app, eng, defs, frozen_auth):
    _start_case(eng, "W-1")
    cm = browser_for(web_app, "cm.demo")
    assert cm.get("/offices/KIM_CM/tasks").status_code == 200
    with Counter(eng.db) as c:
        r = cm.get("/offices/KIM_CM/tasks")
    assert r.status_code == 200 and "W-1" in r.text
    # one checkout for the page: the tasks, the office's members and the user's saved
    # filters (issue 15.4), the process list from the cache
    page = c.statements[:3]
    assert [s.split(" FROM ")[1].split()[0] for s in page] == \
        ["human_task", "user_account", "saved_filter"], c.statements
    # issue 15.4: then, per distinct case on the page, its access (web.visibility) and,
    # where identity data is visible, the instance's data for the person's name - a
    # checkout each; nothing else
    assert c.checkouts == 1 + 2, c.statements
