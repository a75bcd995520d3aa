"""Readiness checks (``/readyz``): database reachable, schema at head, definitions deployed.

No Flask here; ``web.ops`` calls :func:`readiness` and turns the result into HTTP.
Every check is one tiny query on a fresh connection with a short timeout, so a probe
never waits on a pool that busy requests hold and never hangs on a dead pooled socket.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.pool import NullPool

from engine.db import Database
from engine.migrate import alembic_config
from engine.models import ProcessDefinition


@dataclass(frozen=True)
class Revisions:
    """The migration heads this code needs and every revision it knows."""

    heads: frozenset[str]
    known: frozenset[str]


def code_revisions(db: Database) -> Revisions:
    """Read the migration scripts once (at start-up): heads and all known revision ids."""
    script = ScriptDirectory.from_config(alembic_config(db))
    known = frozenset(rev.revision for rev in script.walk_revisions())
    return Revisions(heads=frozenset(script.get_heads()), known=known)


def probe_engine(db: Database, timeout_seconds: float) -> Engine:
    """An engine for probes: PostgreSQL gets a fresh connection per probe with a connect
    timeout; SQLite (a local file) shares the app's engine."""
    if db.is_sqlite:
        return db.engine
    return create_engine(db.url, poolclass=NullPool,
                         connect_args={"connect_timeout": max(1, round(timeout_seconds))})


def readiness(engine: Engine, revisions: Revisions, *, min_definitions: int = 1,
              timeout_seconds: float = 2.0) -> dict:
    """Run the checks; ``{"ready": bool, "failed": [names], "checks": {name: {...}}}``.

    A schema at a revision this code does not know counts as ready ("ahead"): during a
    rolling deploy the database is migrated first and the old hosts keep serving.
    """
    checks: dict[str, dict] = {}
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET statement_timeout = {int(timeout_seconds * 1000)}"))
            conn.execute(text("SELECT 1"))
            checks["database"] = {"ok": True}
            checks["migrations"] = _migrations(conn, revisions)
            if checks["migrations"]["ok"]:
                checks["definitions"] = _definitions(conn, min_definitions)
            else:
                checks["definitions"] = {"ok": False, "message": "schema not at head"}
            conn.rollback()
    except Exception as exc:  # any failure to reach the database: never a 500
        checks["database"] = {"ok": False, "message": _describe(exc)}
        checks.setdefault("migrations", {"ok": False, "message": "database unreachable"})
        checks.setdefault("definitions", {"ok": False, "message": "database unreachable"})
    failed = [name for name, c in checks.items() if not c["ok"]]
    return {"ready": not failed, "failed": failed, "checks": checks}


def _migrations(conn, revisions: Revisions) -> dict:
    current: frozenset[str] = frozenset()
    if inspect(conn).has_table("alembic_version"):
        current = frozenset(conn.scalars(text("SELECT version_num FROM alembic_version")))
    out = {"current": sorted(current), "head": sorted(revisions.heads)}
    if not current:
        return {"ok": False, **out, "message": "database not migrated: run `lotse db upgrade`"}
    if current == revisions.heads:
        return {"ok": True, **out}
    if current and not current & revisions.known:
        return {"ok": True, "ahead": True, **out,
                "message": "schema is newer than this code (rolling deploy)"}
    return {"ok": False, **out, "message": "schema behind this code: run `lotse db upgrade`"}


def _definitions(conn, minimum: int) -> dict:
    if minimum <= 0:
        return {"ok": True, "required": 0}
    sub = select(ProcessDefinition.id).limit(minimum).subquery()
    count = conn.scalar(select(func.count()).select_from(sub))
    out = {"ok": count >= minimum, "required": minimum, "count_at_least": count}
    if not out["ok"]:
        out["message"] = "no process deployed: run `lotse deploy bpmn/`"
    return out


def _describe(exc: Exception) -> str:
    # The class name only: driver messages may name hosts, users or paths.
    original = getattr(exc, "orig", None) or exc
    return f"database unreachable ({type(original).__name__})"
