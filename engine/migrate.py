"""Schema migrations (Alembic), run programmatically by ``lotse db upgrade`` and tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    """An Alembic config pointing at our migrations and ``db``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config is an INI parser: a "%" in the URL (an encoded password) must be doubled.
    url = db.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        _no_statement_timeout(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(db: Database, revision: str) -> None:
    """Take the schema back to ``revision``."""
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        _no_statement_timeout(conn)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _no_statement_timeout(conn) -> None:
    """A migration may rewrite a large table: no LOTSE_DB_STATEMENT_TIMEOUT_MS for it (the
    lock timeout stays, so it never queues behind a long transaction and blocks everyone)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
