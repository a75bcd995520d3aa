"""pytest fixtures for the web tests, loaded for the whole suite by ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web_support import BPMN_DIR, LiveServer, make_app


@pytest.fixture
def web_app(first_process, tmp_path):
    """The app on the engine with kim_first_referral deployed (SQLite and PostgreSQL)."""
    return make_app(first_process, tmp_path)


@pytest.fixture
def eng(web_app):
    """The engine behind ``web_app``."""
    return web_app.extensions["lotse"].engine


@pytest.fixture
def client(web_app):
    return web_app.test_client()


@pytest.fixture
def sqlite_app(sqlite_db, clock, tmp_path):
    """The app on SQLite only (browser tests)."""
    from processes.wiring import build_engine

    eng, _ = build_engine(sqlite_db, clock=clock)
    eng.deploy([BPMN_DIR / "kim_first_referral"])
    return make_app(eng, tmp_path)


@pytest.fixture
def live_server(sqlite_app) -> Iterator[LiveServer]:
    with LiveServer(sqlite_app) as server:
        yield server
