"""Shared fixtures: a migrated database on SQLite and (when configured) PostgreSQL,
and an engine wired to the shipped office registry with a settable clock."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.clock import SettableClock
from engine.db import Database
from engine.migrate import downgrade, upgrade

pytest_plugins = ["tests.web_fixtures"]  # web_app, eng, client, sqlite_app, live_server

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = ROOT / "bpmn"
PG_URL = os.environ.get("LOTSE_TEST_DATABASE_URL")
START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)

_pg_ready = False


def _backends():
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return params


def make_database(backend: str, tmp_path: Path) -> Database:
    """A fresh, migrated database of the given backend."""
    global _pg_ready
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'lotse.db'}")
        upgrade(db)
        return db
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("LOTSE_TEST_DATABASE_URL must be set in CI")
        pytest.skip("LOTSE_TEST_DATABASE_URL not set")
    db = Database(PG_URL)
    if not _pg_ready:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(db)
        _pg_ready = True
    else:
        with db.engine.begin() as conn:
            names = conn.scalars(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'")).all()
            tables = ", ".join(f'"{n}"' for n in names)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :g)"),
                         {"g": "0" * 64})
    return db


@pytest.fixture(params=_backends())
def db(request, tmp_path):
    """A migrated, empty database; parametrized over SQLite and PostgreSQL."""
    database = make_database(request.param, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path):
    """A migrated SQLite database only (for tests that do not depend on the backend)."""
    database = make_database("sqlite", tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def clock():
    return SettableClock(START)


@pytest.fixture
def engine(db, clock):
    """An engine on ``db`` with the shipped offices, helpers and a settable clock."""
    from processes.wiring import build_engine

    eng, _registry = build_engine(db, clock=clock)
    return eng


@pytest.fixture
def first_process(engine):
    """The engine with ``bpmn/kim_first_referral`` deployed."""
    engine.deploy([BPMN_DIR / "kim_first_referral"])
    return engine


__all__ = ["make_database", "downgrade"]
