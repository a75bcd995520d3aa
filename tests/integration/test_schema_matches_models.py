"""The migrations create exactly the schema the models describe (no drift)."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import web
from engine.models import Base


def _import_all_models() -> None:
    for mod in ("engine.models", "engine.files", "processes.models", "processes.consent",
                "web.models"):
        importlib.import_module(mod)
    for info in pkgutil.walk_packages(web.__path__, "web."):
        if "designer" in info.name and not info.ispkg:
            importlib.import_module(info.name)


def test_migrations_match_the_models(db):
    _import_all_models()
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], diff
