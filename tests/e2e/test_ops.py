"""/readyz and /metrics through the real app (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from engine.db import Database
from engine.migrate import downgrade, upgrade
from engine.runtime import Actor
from processes.wiring import build_engine
from tests import bpmn_builder as B
from tests.conftest import START
from tests.timer_models import intermediate_process
from tests.web_support import make_app
from web import settings as settings_mod
from web.app import create_app
from web.settings import Settings

START_MINUS_DAY = START - timedelta(days=1)
CM = Actor(user="cm.demo", offices=frozenset({"KIM_CM"}))
TOKEN = "metrics-token-" + "z" * 20


def _simple(pid: str) -> str:
    body = ('<bpmn:startEvent id="Ev_Start"/>' + B.user_task("Task_Do", "Erledigen")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Do") + B.flow("F2", "Task_Do", "Ev_End"))
    return B.process(pid, {"KIM_CM": ["Ev_Start", "Task_Do", "Ev_End"]}, body)


def _bare_app(engine, tmp_path, **overrides):
    settings = Settings(database_url=str(engine.db.url), env="test", offices_file=None,
                        secret_key="test-secret-" + "x" * 40, instance_dir=tmp_path,
                        **overrides)
    app = create_app(settings, engine=engine)
    app.config["TESTING"] = True
    return app


def scrape(client, **kw) -> dict:
    """``{(name, office-or-None): value}`` parsed with prometheus_client's own parser."""
    resp = client.get("/metrics", **kw)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for fam in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in fam.samples:
            out[(s.name, s.labels.get("office"))] = s.value
    return out


# ---------------------------------------------------------------- readiness


def test_readyz_ready_without_login(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "definitions"}
    assert all(c["ok"] for c in body["checks"].values())
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]
    assert "Set-Cookie" not in resp.headers
    assert resp.headers["Cache-Control"] == "no-store"


def test_readyz_not_ready_without_definitions_unless_configured(engine, tmp_path):
    resp = _bare_app(engine, tmp_path).test_client().get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "not_ready" and body["failed"] == ["definitions"]
    assert "lotse deploy" in body["checks"]["definitions"]["message"]
    ok = _bare_app(engine, tmp_path, ready_min_definitions=0).test_client().get("/readyz")
    assert ok.status_code == 200 and ok.get_json()["status"] == "ready"


def test_readyz_not_ready_when_schema_behind_then_ready_after_upgrade(web_app, db):
    c = web_app.test_client()
    downgrade(db, "-1")
    try:
        resp = c.get("/readyz")
        assert resp.status_code == 503
        body = resp.get_json()
        assert "migrations" in body["failed"]
        mig = body["checks"]["migrations"]
        assert mig["current"] != mig["head"] and "lotse db upgrade" in mig["message"]
    finally:
        upgrade(db)
    assert c.get("/readyz").status_code == 200


def test_readyz_treats_a_newer_schema_as_ready_for_rolling_deploys(web_app, db):
    c = web_app.test_client()
    with db.engine.begin() as conn:
        old = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = 'zz_from_next_release'"))
    try:
        resp = c.get("/readyz")
        assert resp.status_code == 200
        assert resp.get_json()["checks"]["migrations"]["ahead"] is True
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": old})


def test_readyz_not_ready_on_a_database_never_migrated(tmp_path, clock):
    fresh = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    eng, _ = build_engine(fresh, clock=clock)
    resp = _bare_app(eng, tmp_path).test_client().get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["failed"] == ["migrations", "definitions"]
    assert body["checks"]["database"]["ok"] is True
    assert "not migrated" in body["checks"]["migrations"]["message"]


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://lotse:secret-pw@127.0.0.1:9/nowhere",  # nothing listens on port 9
    "sqlite:///{tmp}",  # a directory, not a database file
], ids=["postgresql-down", "sqlite-unopenable"])
def test_readyz_database_unreachable_is_503_fast_and_names_no_secrets(url, tmp_path, clock):
    eng, _ = build_engine(Database(url.format(tmp=tmp_path)), clock=clock)
    c = _bare_app(eng, tmp_path).test_client()
    started = time.monotonic()
    resp = c.get("/readyz")
    assert time.monotonic() - started < 5
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["failed"][0] == "database"
    raw = resp.get_data(as_text=True)
    assert "secret-pw" not in raw and "lotse" not in raw.replace("lotse db", "")
    assert str(tmp_path) not in raw


# ---------------------------------------------------------------- metrics


def test_metrics_follow_starts_completions_timers_and_incidents(web_app, clock):
    eng = web_app.extensions["lotse"].engine
    eng.deploy_files(B.files(simple__bpmn=_simple("ops_simple")))
    eng.deploy_files(B.files(t__bpmn=intermediate_process("ops_timer", '"PT1H"')))
    eng.deploy_files(B.files(b__bpmn=intermediate_process("ops_boom", '"PT3H"',
                                                          after_script="x = 1 / 0")))
    c = web_app.test_client()
    m0 = scrape(c)
    assert m0[("lotse_tasks_waiting", "KIM_CM")] == 0
    assert m0[("lotse_tasks_waiting", "JC")] == 0  # every office is listed, also with 0
    assert m0[("lotse_task_completions_total", "KIM_CM")] == 0
    assert m0[("lotse_timer_lag_seconds", None)] == 0
    assert m0[("lotse_incidents_open", None)] == 0

    a = eng.start("ops_simple", {}, "OPS-1", actor=CM)
    eng.start("ops_simple", {}, "OPS-2", actor=CM)
    m1 = scrape(c)
    assert m1[("lotse_tasks_waiting", "KIM_CM")] == 2

    tid = eng.tasks(instance_id=a["instance_id"])[0]["task_id"]
    eng.complete(tid, {}, actor=CM)
    m2 = scrape(c)
    assert m2[("lotse_tasks_waiting", "KIM_CM")] == 1
    assert m2[("lotse_task_completions_total", "KIM_CM")] == 1
    assert m2[("lotse_task_completions_total", "JC")] == 0

    eng.start("ops_timer", {}, "OPS-3", actor=CM)   # due at +1h
    eng.start("ops_boom", {}, "OPS-4", actor=CM)    # due at +3h, its script then fails
    assert scrape(c)[("lotse_timer_lag_seconds", None)] == 0
    clock.advance(timedelta(hours=2))
    m3 = scrape(c)
    assert m3[("lotse_timer_lag_seconds", None)] == pytest.approx(3600, abs=1)
    assert m3[("lotse_timers_due", None)] == 1
    clock.advance(timedelta(hours=2))
    m4 = scrape(c)
    assert m4[("lotse_timer_lag_seconds", None)] == pytest.approx(3 * 3600, abs=1)
    assert m4[("lotse_timers_due", None)] == 2

    assert eng.fire_due_timers() == 2
    m5 = scrape(c)
    assert m5[("lotse_timer_lag_seconds", None)] == 0
    assert m5[("lotse_timers_due", None)] == 0
    assert m5[("lotse_tasks_waiting", "KIM_CM")] == 2  # the timer's follow-up task
    assert m5[("lotse_incidents_open", None)] == 1     # the failing script
    assert m5[("lotse_task_completions_total", "KIM_CM")] == 1
    other = scrape(_bare_app(eng, web_app.instance_path).test_client())
    assert other == m5  # another process (gunicorn worker) answers the same


def test_completion_counter_is_exact_across_processes_and_clock_moves(web_app, clock,
                                                                       tmp_path):
    """Each process counts incrementally; a fresh process (another gunicorn worker) and
    one that saw every step in between report the same number."""
    eng = web_app.extensions["lotse"].engine
    eng.deploy_files(B.files(simple__bpmn=_simple("ops_simple")))
    c = web_app.test_client()
    key = ("lotse_task_completions_total", "KIM_CM")

    def complete_one(ref: str) -> None:
        iid = eng.start("ops_simple", {}, ref, actor=CM)["instance_id"]
        eng.complete(eng.tasks(instance_id=iid)[0]["task_id"], {}, actor=CM)

    complete_one("CC-1")
    assert scrape(c)[key] == 1                      # counted live (recent)
    clock.advance(timedelta(hours=1))
    assert scrape(c)[key] == 1                      # aged into the remembered base once
    complete_one("CC-2")
    clock.advance(timedelta(minutes=10))
    complete_one("CC-3")
    assert scrape(c)[key] == 3
    clock.advance(timedelta(days=2))
    assert scrape(c)[key] == 3
    fresh = _bare_app(eng, tmp_path).test_client()  # a new process: one full count
    assert scrape(fresh)[key] == 3
    clock.set(START_MINUS_DAY)                      # clock moved back: full recount
    assert scrape(c)[key] == 3


def test_metrics_text_declares_every_family_once(client):
    raw = client.get("/metrics").get_data(as_text=True)
    types = {ln.split()[2]: ln.split()[3] for ln in raw.splitlines() if ln.startswith("# TYPE")}
    assert types == {"lotse_tasks_waiting": "gauge", "lotse_task_completions_total": "counter",
                     "lotse_timer_lag_seconds": "gauge", "lotse_timers_due": "gauge",
                     "lotse_incidents_open": "gauge", "lotse_messages_pending": "gauge"}
    assert raw.endswith("\n")


def test_metrics_without_token_only_from_loopback_not_through_a_proxy(client):
    assert client.get("/metrics").status_code == 200
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 403 and far.get_json()["error"] == "FORBIDDEN"
    assert "LOTSE_METRICS_TOKEN" in far.get_json()["message"]
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert proxied.status_code == 403
    v6 = client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"})
    assert v6.status_code == 200


def test_metrics_with_token_needs_exactly_that_bearer_token(first_process, tmp_path):
    app = make_app(first_process, tmp_path, metrics_token=TOKEN)
    c = app.test_client()
    assert c.get("/metrics").status_code == 401  # also from loopback
    wrong = c.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "y"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "UNAUTHORIZED"
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    basic = c.get("/metrics", headers={"Authorization": "Basic " + TOKEN})
    assert basic.status_code == 401
    far = {"REMOTE_ADDR": "10.1.2.3"}
    assert scrape(c, headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=far)
    # a user's API token is not a metrics token
    from tests.web_support import token_for

    assert c.get("/metrics", headers=token_for(app, "admin.demo")).status_code == 401


def test_metrics_token_setting_is_checked_at_start_up():
    with pytest.raises(settings_mod.SettingsError, match="LOTSE_METRICS_TOKEN"):
        settings_mod.from_env({"LOTSE_METRICS_TOKEN": "short"})
    with pytest.raises(settings_mod.SettingsError, match="LOTSE_READY_MIN_DEFINITIONS"):
        settings_mod.from_env({"LOTSE_READY_MIN_DEFINITIONS": "-1"})
    s = settings_mod.from_env({"LOTSE_METRICS_TOKEN": f"  {TOKEN} ",
                               "LOTSE_READY_MIN_DEFINITIONS": "0"})
    assert s.metrics_token == TOKEN and s.ready_min_definitions == 0
    assert settings_mod.from_env({}).metrics_token is None
