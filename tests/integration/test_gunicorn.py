"""Real gunicorn (``lotse serve``, and ``gunicorn web.wsgi:app`` with the documented worker
class): the answers gunicorn gives itself, before the app runs, are JSON on ``/api/``
(issue 16.7) and stay HTML pages elsewhere."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import make_database

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn master (1 worker) on SQLite, started and stopped by the test."""

    def __init__(self, tmp_path: Path, how: str, *, url: str | None = None,
                 extra: tuple[str, ...] = (), env: dict | None = None) -> None:
        if url is None:
            db = make_database("sqlite", tmp_path)
            url = db.url.render_as_string(hide_password=False)
            db.dispose()
        self.home = tmp_path / "home"
        self.runtime = tmp_path / "xdg-runtime"
        self.home.mkdir()
        self.runtime.mkdir(mode=0o700)
        self.port = _free_port()
        run_env = dict(os.environ, LOTSE_DATABASE_URL=url, LOTSE_ENV="test",
                   LOTSE_SECRET_KEY="gunicorn-test-" + "k" * 40,
                   LOTSE_INSTANCE_DIR=str(tmp_path / "instance"),
                   HOME=str(self.home), XDG_RUNTIME_DIR=str(self.runtime))
        for name, value in (env or {}).items():
            if value is None:
                del run_env[name]
            else:
                run_env[name] = value
        if how == "lotse serve":
            cmd = [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1"]
        else:
            worker = ("web.server.JsonErrorThreadWorker", "--threads", "2") if "threads" in how \
                else ("web.server.JsonErrorWorker",)
            cmd = [sys.executable, "-m", "gunicorn", "web.wsgi:app", "--workers", "1",
                   "--worker-class", *worker, "--no-control-socket",
                   "--bind", f"127.0.0.1:{self.port}", "--access-logfile", "-", *extra]
        self.log = tmp_path / "gunicorn.log"
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=run_env, stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("gunicorn not ready:\n" + self.log.read_text()[-3000:])

    def raw(self, data: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send ``data`` as it is; (status, headers, body) of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        return int(lines[0].split(" ")[1]), headers, body

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # only the master this test started
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(params=["lotse serve", "gunicorn web.wsgi:app", "gunicorn --threads"])
def server(request, tmp_path):
    g = Gunicorn(tmp_path, request.param)
    yield g
    g.stop()


def _json_error(status, headers, body, want_status, code):
    assert status == want_status, (status, body[:300])
    assert headers["content-type"] == "application/json", headers
    doc = json.loads(body)
    assert doc["error"] == code, doc
    de, _, en = doc["message"].partition(" / ")
    assert de and en, doc  # German first, English second
    assert int(headers["content-length"]) == len(body)


def test_gunicorn_errors_on_api_paths_are_json(server):
    long_target = b"/api/offices?q=" + b"a" * 9000
    _json_error(*server.raw(b"GET " + long_target + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
                414, "REQUEST_LINE_TOO_LONG")
    _json_error(*server.raw(b"POST http://lotse.example" + long_target +
                            b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414, "REQUEST_LINE_TOO_LONG")
    _json_error(*server.raw(b"GET /api/offices HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000
                            + b"\r\n\r\n"), 431, "HEADERS_TOO_LARGE")
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))  # over 100 header fields
    _json_error(*server.raw(b"GET /api/offices HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"),
                431, "HEADERS_TOO_LARGE")
    _json_error(*server.raw(b"GET /api/offices HTTP/9.9\r\nHost: x\r\n\r\n"), 400,
                "BAD_REQUEST")
    # the app's own answers are unchanged
    status, headers, body = server.raw(b"GET /api/offices HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\n\r\n")
    assert status == 401 and json.loads(body)["error"] == "UNAUTHORIZED"


def test_gunicorn_errors_on_pages_stay_html(server):
    status, headers, body = server.raw(b"GET /offices?q=" + b"a" * 9000 +
                                       b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and headers["content-type"] == "text/html", (status, headers)
    status, headers, _ = server.raw(b"GET /apifoo?q=" + b"a" * 9000 +
                                    b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and headers["content-type"] == "text/html"


@pytest.mark.postgres
def test_worker_timeout_on_api_is_json(tmp_path):
    """A request still running at gunicorn's --timeout (here: waiting for an instance row
    another session holds, with the lock timeout off) ends its worker; the answer is JSON."""
    from engine.runtime import Actor
    from processes.wiring import build_engine
    from tests.e2e.test_db_outage import _hold_instance_lock
    from tests.web_support import BPMN_DIR
    from web import accounts
    from web.demo_users import seed_users

    db = make_database("postgresql", tmp_path)
    eng, registry = build_engine(db)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    accounts.use_fast_hashing()
    seed_users(db, env="test", known_offices=registry.codes())
    out = eng.start("kim_first_referral", {}, "TIMEOUT-1", actor=Actor(user="cm.demo"))
    tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
    token = accounts.issue_token(db, "cm.demo").encode()
    url = db.url.render_as_string(hide_password=False)
    db.dispose()
    g = Gunicorn(tmp_path, "gunicorn web.wsgi:app", url=url, extra=("--timeout", "2"),
                 env={"LOTSE_DB_LOCK_TIMEOUT_MS": "0"})
    holder = _hold_instance_lock(out["instance_id"])
    try:
        _json_error(*g.raw(b"POST /api/tasks/" + tid.encode() + b"/claim HTTP/1.1\r\n"
                           b"Host: x\r\nAuthorization: Bearer " + token +
                           b"\r\nContent-Length: 0\r\n\r\n"), 500, "WORKER_TIMEOUT")
    finally:
        holder.rollback()
        holder.close()
        g.stop()
    assert "WORKER TIMEOUT" in g.log.read_text()


@pytest.mark.parametrize("runtime_dir", [True, False], ids=["XDG_RUNTIME_DIR", "HOME only"])
def test_lotse_serve_leaves_no_control_socket_in_shared_paths(tmp_path, runtime_dir):
    """gunicorn would put its control socket at $XDG_RUNTIME_DIR/gunicorn.ctl or
    ~/.gunicorn/gunicorn.ctl, one path for every server of the account (issue 16.7)."""
    g = Gunicorn(tmp_path, "lotse serve",
                 env=None if runtime_dir else {"XDG_RUNTIME_DIR": None})
    try:
        status, _, _ = g.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 200
        made = [p for p in (*g.home.rglob("*"), *g.runtime.rglob("*"))]
        assert made == [], made
        assert "Control socket" not in g.log.read_text()
    finally:
        g.stop()
