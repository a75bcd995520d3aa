"""Scale-out on one PostgreSQL: two gunicorn app processes (2 workers each) and two
``lotse worker`` processes under concurrent load from client threads.

Host A runs ``lotse serve`` and host B ``gunicorn web.wsgi:app``: the two ways the docs
deploy the app. Client threads log in (browser session, used on the other host), start
cases and complete tasks through both hosts alternately with API bearer tokens, and
submit some completions twice at once (one on each host). Meanwhile the test moves the
shared engine clock (``engine.stored_clock``) so the workers must fire each case's timer.
At the end the database and the audit chain must show every case once, every completion
once, every timer fired once, no 5xx anywhere, and a 409 for each losing double submit.

PostgreSQL only (``LOTSE_TEST_DATABASE_URL``): SQLite is a single-host database.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.stored_clock import StoredOffsetClock
from processes.wiring import build_engine
from tests import bpmn_builder as B
from tests.conftest import PG_URL, make_database
from web import accounts

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not PG_URL and not os.environ.get("CI"),
                                 reason="scale-out needs PostgreSQL: set "
                                        "LOTSE_TEST_DATABASE_URL")]

ROOT = Path(__file__).resolve().parents[2]
PID = "scaleout"
THREADS = 6
CASES_PER_THREAD = 8
N = THREADS * CASES_PER_THREAD
PASSWORD = "scale-out-pw-1"
METRICS_TOKEN = "scaleout-metrics-" + "t" * 16
DEADLINE_S = 75


def _process() -> str:
    """Task A (KIM_CM), then a 1 h timer, then task B (KIM_CM)."""
    body = ('<bpmn:startEvent id="Ev_Start"/>'
            + B.user_task("Task_A", "Erstgespräch")
            + '<bpmn:intermediateCatchEvent id="Timer_Wait"><bpmn:timerEventDefinition>'
              '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>'
              "</bpmn:intermediateCatchEvent>"
            + B.user_task("Task_B", "Nachfassen")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_A") + B.flow("F2", "Task_A", "Timer_Wait")
            + B.flow("F3", "Timer_Wait", "Task_B") + B.flow("F4", "Task_B", "Ev_End"))
    return B.process(PID, {"KIM_CM": ["Ev_Start", "Task_A", "Timer_Wait", "Task_B",
                                      "Ev_End"]}, body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """One keep-alive connection per host with a bearer token; records every status."""

    def __init__(self, ports: list[int], token: str, log: list) -> None:
        self.conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=60) for p in ports]
        self.token = token
        self.log = log

    def call(self, host: int, method: str, path: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn = self.conns[host]
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        self.log.append((host, method, path.split("?")[0].rsplit("/", 1)[-1], resp.status))
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode("utf-8", "replace")

    def close(self) -> None:
        for c in self.conns:
            c.close()


def _complete_twice(ports, token, task_id, log) -> list[tuple[int, dict]]:
    """POST the same completion to both hosts at the same moment."""
    barrier = threading.Barrier(2)
    out: list = [None, None]

    def go(host: int) -> None:
        api = Api(ports, token, log)
        try:
            barrier.wait(10)
            out[host] = api.call(host, "POST", f"/api/tasks/{task_id}/complete", {"data": {}})
        finally:
            api.close()

    ts = [threading.Thread(target=go, args=(h,)) for h in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return out


def _login_and_cross_host(ports: list[int], name: str, t: int) -> tuple[int, int]:
    """Log in through the form on one host, then open the board on the other host."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    a, b = ports[t % 2], ports[(t + 1) % 2]
    html = opener.open(f"http://127.0.0.1:{a}/login", timeout=30).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"name": name, "password": PASSWORD,
                                   "csrf_token": csrf}).encode()
    resp = opener.open(f"http://127.0.0.1:{a}/login", data=form, timeout=30)
    login_final = resp.geturl()
    board = opener.open(f"http://127.0.0.1:{b}/", timeout=30)
    assert "/login" not in login_final and "/login" not in board.geturl(), \
        "the session from one host must be valid on the other"
    return resp.status, board.status


def _client(t: int, ports, token, log, results, errors) -> None:
    """Start this thread's cases, then work its tasks off the shared worklist."""
    api = Api(ports, token, log)
    mine: dict[str, int] = {}
    try:
        results["logins"].append(_login_and_cross_host(ports, f"so{t}", t))
        for i in range(CASES_PER_THREAD):
            ref = f"SO-{t}-{i}"
            status, body = api.call((t + i) % 2, "POST", "/api/process-instances",
                                    {"process_id": PID, "case_ref": ref, "data": {}})
            assert status == 201, (status, body)
            mine[ref] = body["instance_id"]
        done: set[str] = set()
        flip = t
        deadline = time.monotonic() + DEADLINE_S
        while len(done) < 2 * CASES_PER_THREAD and time.monotonic() < deadline:
            flip += 1
            status, page = api.call(flip % 2, "GET", "/api/offices/KIM_CM/tasks?limit=200")
            assert status == 200, (status, page)
            todo = [it for it in page["items"]
                    if it["case_ref"] in mine and it["task_id"] not in done]
            if not todo:
                time.sleep(0.1)
                continue
            for it in todo:
                i = int(it["case_ref"].rsplit("-", 1)[1])
                kind = "A" if it["name"] == "Erstgespräch" else "B"
                if (kind == "A" and i % 4 == 1) or (kind == "B" and i % 4 == 3):
                    pair = _complete_twice(ports, token, it["task_id"], log)
                    results["double"].append((kind, it["task_id"], pair))
                else:
                    flip += 1
                    status, body = api.call(flip % 2, "POST",
                                            f"/api/tasks/{it['task_id']}/complete",
                                            {"data": {}})
                    results["single"].append((kind, it["task_id"], status, body))
                done.add(it["task_id"])
        results["cases"].update(mine)
        results["done"].append(len(done))
    except BaseException as exc:  # reported by the test, not lost in the thread
        errors.append(f"thread {t}: {exc!r}")
    finally:
        api.close()


def _spawn(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    fh = log.open("w")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_ready(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"app on {port} exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"app on {port} not ready within 60 s:\n{log.read_text()[-3000:]}")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)  # only the processes this test started
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _scrape(port: int) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                 headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
    return {(s.name, s.labels.get("office")): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_two_app_hosts_and_two_workers_on_one_postgresql(tmp_path):
    started = time.monotonic()
    db = make_database("postgresql", tmp_path)
    clock = StoredOffsetClock(db)
    eng, offices = build_engine(db, clock=clock)
    eng.deploy_files(B.files(scaleout__bpmn=_process()))
    accounts.use_fast_hashing()
    tokens = []
    for t in range(THREADS):
        accounts.create_user(db, f"so{t}", roles=["case_manager"], offices=["KIM_CM"],
                             password=PASSWORD, known_offices=offices.codes())
        tokens.append(accounts.issue_token(db, f"so{t}", label="scale-out test"))

    env = dict(os.environ, LOTSE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               LOTSE_ENV="test", LOTSE_SECRET_KEY="scale-out-secret-" + "k" * 40,
               LOTSE_INSTANCE_DIR=str(tmp_path / "instance"),
               LOTSE_METRICS_TOKEN=METRICS_TOKEN)
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / "host-a.log", tmp_path / "host-b.log",
            tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    procs = [
        _spawn([sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1",
                "--port", str(ports[0]), "--workers", "2"], env, logs[0]),
        _spawn([sys.executable, "-m", "gunicorn", "web.wsgi:app", "--workers", "2",
                "--bind", f"127.0.0.1:{ports[1]}", "--access-logfile", "-"], env, logs[1]),
    ]
    try:
        for port, proc, log in zip(ports, procs, logs, strict=False):
            _wait_ready(port, proc, log)
        for log in logs[2:]:
            procs.append(_spawn([sys.executable, "-m", "web.cli", "worker",
                                 "--interval", "0.1", "--batch", "5"], env, log))

        http_log: list = []
        results = {"single": [], "double": [], "cases": {}, "done": [], "logins": []}
        errors: list[str] = []
        threads = [threading.Thread(target=_client,
                                    args=(t, ports, tokens[t], http_log, results, errors))
                   for t in range(THREADS)]
        stop_clock = threading.Event()

        def move_clock() -> None:  # every waiting timer becomes due within half a second
            while not stop_clock.wait(0.5):
                clock.advance(timedelta(hours=2))

        mover = threading.Thread(target=move_clock)
        mover.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE_S + 30)
        stop_clock.set()
        mover.join(10)
        assert not errors, errors
        assert results["done"] == [2 * CASES_PER_THREAD] * THREADS, results["done"]

        # every worker and host still running; no 5xx, in our log or the hosts' access logs
        assert all(p.poll() is None for p in procs), "a process died during the load"
        statuses = Counter(s for *_, s in http_log)
        assert not [s for s in statuses if s >= 500], statuses
        assert set(statuses) <= {200, 201, 409}, statuses
        per_host = Counter(h for h, *_ in http_log)
        assert per_host[0] > 50 and per_host[1] > 50, per_host
        metrics = [_scrape(p) for p in ports]
        readiness = [urllib.request.urlopen(f"http://127.0.0.1:{p}/readyz", timeout=10).status
                     for p in ports]
    finally:
        _stop(procs)
    for log in logs:
        text = log.read_text()
        assert "Traceback" not in text, f"{log.name}:\n{text[-3000:]}"
        assert not re.search(r'HTTP/1\.[01]" 5\d\d ', text), f"5xx in {log.name}"
    access = sum(len(re.findall(r'HTTP/1\.[01]" \d{3} ', log.read_text())) for log in logs[:2])
    assert access >= len(http_log)  # the hosts logged (at least) every request we made

    # single submits all applied; each double submit: one 200, one 409 TASK_NOT_OPEN
    assert all(status == 200 for _k, _t, status, _b in results["single"]), \
        [r for r in results["single"] if r[2] != 200][:3]
    for kind, _tid, pair in results["double"]:
        codes = sorted(status for status, _ in pair)
        assert codes == [200, 409], (kind, pair)
        loser = next(body for status, body in pair if status == 409)
        assert loser["error"] == "TASK_NOT_OPEN" and loser["message"], loser
    n_double = len(results["double"])
    assert n_double == THREADS * (CASES_PER_THREAD // 4) * 2  # i%4==1 on A, i%4==3 on B
    assert len(results["single"]) + n_double == 2 * N
    assert results["logins"] == [(200, 200)] * THREADS

    # the database: every case once, every completion once, every timer once
    with db.reader() as s:
        refs = s.execute(select(ProcessInstance.case_ref, ProcessInstance.id,
                                ProcessInstance.status)
                         .where(ProcessInstance.case_ref.like("SO-%"))).all()
        tasks = s.execute(select(HumanTask.instance_id, HumanTask.element_id, HumanTask.state,
                                 HumanTask.completed_by)
                          .where(HumanTask.process_id == PID)).all()
        completed = s.execute(select(AuditEvent.task_id, func.count())
                              .where(AuditEvent.event_type == "task.completed")
                              .group_by(AuditEvent.task_id)).all()
        fired = dict(s.execute(select(AuditEvent.instance_id, func.count())
                               .where(AuditEvent.event_type == "timer.fired")
                               .group_by(AuditEvent.instance_id)).all())
        due_left = s.scalar(select(func.count()).select_from(ProcessInstance)
                            .where(ProcessInstance.next_timer_at.is_not(None)))
    assert len(refs) == N and len({r for r, _i, _s in refs}) == N
    assert {r: i for r, i, _s in refs} == results["cases"]
    assert {st for *_x, st in refs} == {"completed"}
    assert len(tasks) == 2 * N
    per_instance = Counter((i, el) for i, el, _st, _by in tasks)
    assert set(per_instance.values()) == {1}  # exactly one Task_A and one Task_B each
    assert {st for _i, _el, st, _by in tasks} == {"COMPLETED"}
    assert all(by and by.startswith("so") for *_x, by in tasks)
    assert len(completed) == 2 * N and {n for _t, n in completed} == {1}
    assert len(fired) == N and set(fired.values()) == {1} and due_left == 0

    # the audit chain is intact (lotse audit verify, a separate process)
    out = subprocess.run([sys.executable, "-m", "web.cli", "audit", "verify", "--json"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    verdict = json.loads(out.stdout)
    assert verdict["ok"] is True and verdict["entries"] > 5 * N

    # both hosts report the same database-derived metrics, and are ready
    assert readiness == [200, 200]
    assert metrics[0] == metrics[1]
    assert metrics[0][("lotse_task_completions_total", "KIM_CM")] == 2 * N
    assert metrics[0][("lotse_tasks_waiting", "KIM_CM")] == 0
    assert metrics[0][("lotse_timer_lag_seconds", None)] == 0

    elapsed = time.monotonic() - started
    print(f"\nscale-out: {N} cases, {2 * N} completions ({n_double} double submits -> "
          f"{n_double} x 409), {len(fired)} timers fired once, {len(http_log)} requests "
          f"{dict(statuses)} over hosts {dict(per_host)}, audit entries "
          f"{verdict['entries']}, {elapsed:.1f} s")
    assert elapsed < 90
