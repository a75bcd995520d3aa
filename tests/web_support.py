"""Test helpers for the web tests: an app on a test engine, logins, tokens and a live server.

Used by the web, API and browser tests; their fixtures are in ``tests.web_fixtures``, loaded
for the whole suite by ``tests/conftest.py``. They live under ``tests/`` so that the
distribution does not ship them."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from werkzeug.serving import make_server

from web import accounts
from web.app import create_app
from web.demo_users import DEMO_PASSWORD, seed_users
from web.settings import Settings

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(engine, instance_dir: Path, **overrides):
    """A test-mode app on ``engine`` with the demo accounts."""
    accounts.use_fast_hashing()
    settings = Settings(database_url=str(engine.db.url), env="test", offices_file=None,
                        secret_key="test-secret-" + "x" * 40, instance_dir=instance_dir,
                        **overrides)
    app = create_app(settings, engine=engine)
    app.config["TESTING"] = True
    seed_users(engine.db, env="test", known_offices=app.extensions["lotse"].offices.codes())
    return app


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def login(client, name: str, password: str = DEMO_PASSWORD):
    """Log ``client`` in through the login form; returns the response of the POST."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token})


def csrf(client, path: str = "/") -> str:
    """The session's CSRF token, read from a page."""
    return csrf_from(client.get(path).get_data(as_text=True))


def signed_in(app, name: str):
    """A test client of ``app`` logged in as ``name``, its CSRF token in ``.token``."""
    c = app.test_client()
    assert login(c, name).status_code == 302
    c.token = csrf(c)
    return c


def token_for(app, name: str) -> dict:
    """Authorization headers with a fresh bearer token of ``name``."""
    tok = accounts.issue_token(app.extensions["lotse"].db, name)
    return {"Authorization": f"Bearer {tok}"}


class LiveServer:
    """The app served by werkzeug on 127.0.0.1 (random port) in a thread."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:  # noqa: PYI034
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def refer(engine, case_ref: str, office: str, purpose: str, categories, *,
          health: bool = False, days: int = 365) -> dict:
    """A consent for ``office``/``purpose`` plus a referral record to that office, as if the
    case manager had sent one (for tests of consent-scoped visibility)."""
    from datetime import timedelta

    from processes.consent import record_consent
    from processes.models import Referral

    now = engine.now()
    today = now.date()
    c = record_consent(engine, case_id=case_ref, office=office, purpose=purpose,
                       categories=list(categories), valid_from=today,
                       valid_until=today + timedelta(days=days), includes_health=health)
    with engine.db.unit_of_work() as s:
        s.add(Referral(referral_id=f"{case_ref}-{office}-{c['consent_id'][:8]}",
                       case_id=case_ref, office=office, purpose=purpose, state="sent",
                       sent_at=now, due_ack=now + timedelta(days=5),
                       due_result=now + timedelta(days=30), consent_id=c["consent_id"]))
    return c


def base_consent(engine, case_ref: str, categories, *, health: bool = False) -> dict:
    """The client's base consent to KIM case management."""
    from datetime import timedelta

    from processes.consent import BASE_PURPOSE, record_consent

    today = engine.now().date()
    return record_consent(engine, case_id=case_ref, office="KIM_CM", purpose=BASE_PURPOSE,
                          categories=list(categories), valid_from=today,
                          valid_until=today + timedelta(days=730), includes_health=health)
