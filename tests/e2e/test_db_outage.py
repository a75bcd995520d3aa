"""A held instance lock and a database outage answer 503 with Retry-After, never a 500 or
a hang (issue 16 points 3 and 4), over real HTTP against the machine's PostgreSQL.

The lock is held by a second connection (``SELECT ... FOR UPDATE``); the outage is a
loopback TCP proxy in front of PostgreSQL that the test cuts (connections closed at once)
or stalls (connections accepted, nothing forwarded: only the connect timeout ends it).
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.db import Database, Timeouts
from engine.runtime import Actor
from tests.conftest import PG_URL, make_database
from tests.web_support import BPMN_DIR, LiveServer, make_app, token_for
from web import accounts
from web.app import create_app
from web.demo_users import DEMO_PASSWORD, seed_users
from web.settings import Settings, from_env

pytestmark = pytest.mark.postgres

CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Http:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base: str, headers: dict | None = None) -> None:
        self.base = base
        self.headers = headers or {}
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())

    def send(self, method: str, path: str, *, json_body=None, form=None, timeout=20):
        headers = dict(self.headers)
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers)
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    def login(self, name: str) -> None:
        _, _, page = self.send("GET", "/login")
        token = CSRF_RE.search(page).group(1)
        status, _, _ = self.send("POST", "/login", form={
            "name": name, "password": DEMO_PASSWORD, "csrf_token": token})
        assert status == 302, status

    def csrf(self, path: str = "/") -> str:
        return CSRF_RE.search(self.send("GET", path)[2]).group(1)


def _pg_url() -> str:
    if not PG_URL:
        pytest.fail("LOTSE_TEST_DATABASE_URL must be set for these tests")
    return PG_URL


def _pg_dsn() -> str:
    url = make_url(_pg_url()).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg_engine(tmp_path, clock):
    """kim_first_referral deployed on PostgreSQL with a 1 s lock timeout."""
    from processes.wiring import build_engine

    make_database("postgresql", tmp_path).dispose()  # fresh, migrated schema
    db = Database(_pg_url(), timeouts=Timeouts(lock_ms=1000))
    eng, _ = build_engine(db, clock=clock)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    yield eng
    db.dispose()


def _task_state(eng, tid: str) -> str:
    with eng.db.reader() as s:
        return s.execute(text("SELECT state FROM human_task WHERE id = :i"),
                         {"i": tid}).scalar_one()


def _audit_count(eng) -> int:
    with eng.db.reader() as s:
        return s.execute(text("SELECT count(*) FROM audit_event")).scalar_one()


def _hold_instance_lock(instance_id: int) -> psycopg.Connection:
    conn = psycopg.connect(_pg_dsn())
    conn.execute("SELECT id FROM process_instance WHERE id = %s FOR UPDATE", (instance_id,))
    return conn  # in a transaction until rollback/close


def test_held_instance_lock_answers_503_instance_busy_then_completes(pg_engine, tmp_path):
    app = make_app(pg_engine, tmp_path)
    out = pg_engine.start("kim_first_referral", {}, "BUSY-1", actor=Actor(user="cm.demo"))
    iid = out["instance_id"]
    tid = pg_engine.tasks(instance_id=iid)[0]["task_id"]
    with LiveServer(app) as server:
        api = Http(server.url, token_for(app, "cm.demo"))
        page = Http(server.url)
        page.login("cm.demo")
        token = page.csrf(f"/tasks/{tid}")
        before = _audit_count(pg_engine)

        holder = _hold_instance_lock(iid)
        try:
            t0 = time.monotonic()
            status, headers, body = api.send("POST", f"/api/tasks/{tid}/complete",
                                             json_body={"data": CASE})
            elapsed = time.monotonic() - t0
            assert status == 503, (status, body)
            assert elapsed < 5, elapsed
            doc = json.loads(body)
            assert doc["error"] == "INSTANCE_BUSY"
            assert doc["message"].startswith("Der Fall wird gerade bearbeitet")
            assert int(headers["Retry-After"]) > 0

            status, headers, html = page.send("POST", f"/tasks/{tid}",
                                              form={**CASE, "csrf_token": token})
            assert status == 503, (status, html[:300])
            assert int(headers["Retry-After"]) > 0
            assert headers["Content-Type"].startswith("text/html")
            de = html.index("Der Fall wird gerade bearbeitet, bitte gleich noch einmal versuchen")
            assert html.index("The case is being worked on") > de  # German first

            # nothing half-applied
            assert _task_state(pg_engine, tid) == "READY"
            assert _audit_count(pg_engine) == before
        finally:
            holder.rollback()
            holder.close()

        status, _, body = api.send("POST", f"/api/tasks/{tid}/complete",
                                   json_body={"data": CASE})
        assert status == 200, body
        assert _task_state(pg_engine, tid) == "COMPLETED"


def test_every_connection_gets_the_configured_timeouts(tmp_path):
    """The defaults reach PostgreSQL; each LOTSE_DB_* setting changes its value."""
    make_database("postgresql", tmp_path).dispose()
    defaults = from_env({})
    assert defaults.db_timeouts == Timeouts(lock_ms=5000, statement_ms=30000, idle_tx_ms=60000,
                                            connect_seconds=5, busy_ms=30000)
    custom = from_env({"LOTSE_DB_LOCK_TIMEOUT_MS": "1234",
                       "LOTSE_DB_STATEMENT_TIMEOUT_MS": "4321",
                       "LOTSE_DB_IDLE_TX_TIMEOUT_MS": "7000",
                       "LOTSE_DB_CONNECT_TIMEOUT_SECONDS": "3",
                       "LOTSE_DB_BUSY_TIMEOUT_MS": "900"})
    for settings, want in ((defaults, ("5s", "30s", "1min")),
                           (custom, ("1234ms", "4321ms", "7s"))):
        db = Database(_pg_url(), timeouts=settings.db_timeouts)
        try:
            with db.reader() as s:
                got = tuple(s.execute(text(f"SHOW {name}")).scalar_one() for name in (
                    "lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout"))
            with db.unit_of_work() as s:  # also inside a write transaction
                assert s.execute(text("SHOW lock_timeout")).scalar_one() == want[0]
        finally:
            db.dispose()
        assert got == want
    sqlite = Database(f"sqlite:///{tmp_path / 'b.db'}", timeouts=custom.db_timeouts)
    try:
        with sqlite.reader() as s:
            assert s.execute(text("PRAGMA busy_timeout")).scalar_one() == 900
    finally:
        sqlite.dispose()


def test_statement_timeout_is_cancelled_and_classified_unavailable(tmp_path):
    """A statement past LOTSE_DB_STATEMENT_TIMEOUT_MS is cancelled by the server and counts
    as "database unavailable" (503), not as an unexpected error (500)."""
    from sqlalchemy.exc import OperationalError

    from engine.db import classify

    make_database("postgresql", tmp_path).dispose()
    db = Database(_pg_url(), timeouts=Timeouts(statement_ms=300))
    try:
        t0 = time.monotonic()
        with pytest.raises(OperationalError) as info, db.reader() as s:
            s.execute(text("SELECT pg_sleep(3)"))
        assert time.monotonic() - t0 < 2
        assert classify(info.value) == "unavailable"
    finally:
        db.dispose()


class TcpProxy:
    """127.0.0.1:<port> forwarding to PostgreSQL; ``cut()`` closes every connection and
    refuses new ones, ``stall()`` accepts new ones and never forwards, ``heal()`` forwards."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "forward"
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.open.append(client)
            if self.mode == "cut":
                self._close(client)
            elif self.mode == "forward":
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    self._close(client)
                    continue
                upstream.settimeout(None)
                with self.lock:
                    self.open.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()
            # "stall": keep the socket open and never answer

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._close(src)
        self._close(dst)

    def _close(self, s: socket.socket) -> None:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def _drop_all(self) -> None:
        with self.lock:
            socks, self.open = self.open, []
        for s in socks:
            self._close(s)

    def cut(self) -> None:
        self.mode = "cut"
        self._drop_all()

    def stall(self) -> None:
        self.mode = "stall"
        self._drop_all()

    def heal(self) -> None:
        self._drop_all()
        self.mode = "forward"

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        self._drop_all()


@pytest.fixture
def proxied_app(tmp_path):
    """An app built from its settings (as in production) whose database is behind a proxy."""
    seed = make_database("postgresql", tmp_path)
    from processes.wiring import build_engine

    eng, registry = build_engine(seed)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    accounts.use_fast_hashing()
    seed_users(seed, env="test", known_offices=registry.codes())
    eng.start("kim_first_referral", {}, "DOWN-1", actor=Actor(user="cm.demo"))
    seed.dispose()
    url = make_url(_pg_url())
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    settings = Settings(database_url=url.set(port=proxy.port).render_as_string(
                            hide_password=False),
                        env="test", offices_file=None, secret_key="test-secret-" + "x" * 40,
                        instance_dir=tmp_path, db_connect_timeout_seconds=2)
    app = create_app(settings)
    app.config["TESTING"] = True
    try:
        yield app, proxy
    finally:
        proxy.close()
        app.extensions["lotse"].engine.db.dispose()


def _assert_unavailable(status, headers, body, *, html: bool) -> None:
    assert status == 503, (status, body[:300])
    assert int(headers["Retry-After"]) > 0
    if html:
        assert headers["Content-Type"].startswith("text/html")
        de = body.index("vorübergehend nicht verfügbar")
        assert body.index("temporarily unavailable") > de  # German first, English second
    else:
        doc = json.loads(body)
        assert doc["error"] == "DATABASE_UNAVAILABLE"
        assert "vorübergehend nicht verfügbar" in doc["message"]


def test_database_outage_answers_503_database_unavailable(proxied_app):
    app, proxy = proxied_app
    with LiveServer(app) as server:
        api = Http(server.url, token_for(app, "cm.demo"))
        page = Http(server.url)
        page.login("cm.demo")
        assert api.send("GET", "/api/offices/KIM_CM/tasks")[0] == 200
        assert page.send("GET", "/offices/KIM_CM/tasks")[0] == 200

        proxy.cut()
        _assert_unavailable(*api.send("GET", "/api/offices/KIM_CM/tasks"), html=False)
        _assert_unavailable(*page.send("GET", "/offices/KIM_CM/tasks"), html=True)

        proxy.stall()  # the server accepts but never answers: the connect timeout ends it
        for client, html in ((api, False), (page, True)):
            t0 = time.monotonic()
            _assert_unavailable(*client.send("GET", "/offices/KIM_CM/tasks" if html
                                             else "/api/offices/KIM_CM/tasks"), html=html)
            assert time.monotonic() - t0 < 8

        proxy.heal()  # back without a restart
        assert api.send("GET", "/api/offices/KIM_CM/tasks")[0] == 200
        assert page.send("GET", "/offices/KIM_CM/tasks")[0] == 200
