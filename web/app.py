"""Flask app factory."""

from __future__ import annotations

from flask import Flask, render_template

from engine.db import Database
from processes.wiring import build_engine
from web import settings as settings_mod


def create_app(settings: settings_mod.Settings | None = None, *, engine=None) -> Flask:
    """Create the Lotse web app (settings read once here)."""
    settings = settings or settings_mod.from_env()
    app = Flask(__name__)
    app.config["LOTSE_SETTINGS"] = settings
    if engine is None:
        engine, offices = build_engine(Database(settings.database_url),
                                       offices_file=settings.offices_file)
    else:
        from processes.offices import OfficeRegistry

        offices = OfficeRegistry.load(settings.offices_file)
    app.extensions["lotse_engine"] = engine
    app.extensions["lotse_offices"] = offices

    @app.get("/")
    def index():
        waiting = {o.code: engine.tasks(office=o.code) for o in offices}
        return render_template("index.html", offices=list(offices), waiting=waiting)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
