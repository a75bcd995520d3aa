"""Flask app factory: settings, engine, accounts, pages, REST API, error handling."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, g, get_flashed_messages, request
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.db import Database
from engine.runtime import Engine
from processes.offices import OfficeRegistry
from processes.wiring import build_engine
from web import queries
from web import settings as settings_mod
from web.ctx import Services, office_name, t
from web.i18n import LANG_COOKIE, format_date, format_datetime, normalize_lang


def create_app(settings: settings_mod.Settings | None = None, *,
               engine: Engine | None = None) -> Flask:
    """Create the Lotse web app (settings read once here)."""
    settings = settings or settings_mod.from_env()
    app = Flask(__name__, instance_path=str(Path(settings.instance_dir).resolve()))
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_NAME="lotse_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookies_secure,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        LOTSE_SETTINGS=settings,
    )
    if settings.proxy_count:
        # Flask's documented way to wrap its WSGI app; mypy sees wsgi_app only as a method
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count,  # type: ignore[method-assign]
                                x_proto=settings.proxy_count)
    if engine is None:
        # outside production the clock is movable (lotse clock, POST /api/test/clock)
        db = Database(settings.database_url, timeouts=settings.db_timeouts)
        engine, offices = build_engine(db,
                                       offices_file=settings.offices_file,
                                       movable_clock=not settings.is_production,
                                       script_budget=settings.script_budget)
    else:
        offices = OfficeRegistry.load(settings.offices_file)
    app.extensions["lotse"] = Services(settings=settings, engine=engine, offices=offices)
    # once per app: deploys through this process drop it at once, others within the ttl
    queries.definitions_cache(engine.db, ttl=settings.definitions_cache_seconds)

    _init_clock(app, engine)
    _init_i18n(app)
    from web import api, auth, csrf, errors, readlog, ui

    auth.init_app(app)
    csrf.init_app(app)
    api.init_app(app)
    ui.init_app(app)
    from web import designer

    designer.init_app(app)
    errors.init_app(app)  # after flask-smorest: our handlers win
    app.after_request(_security_headers)  # before readlog: also on the 503 flush may answer
    readlog.init_app(app)  # DP-11: data.read / audit.read entries after each response

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    from web import ops

    ops.init_app(app)  # /readyz, /metrics (docs/deployment.md)
    return app


def _secret_key(settings: settings_mod.Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    if settings.is_production:
        raise settings_mod.SettingsError(
            "LOTSE_SECRET_KEY must be set (LOTSE_ENV is not development/test)")
    path = Path(settings.instance_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: of several gunicorn workers starting at once, exactly one writes the key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text(encoding="utf-8").strip()
            if key:
                return key
            time.sleep(0.05)  # another worker is writing it right now
        raise settings_mod.SettingsError(
            f"{path} is empty; delete it or set LOTSE_SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key


def _init_clock(app: Flask, engine) -> None:
    """One time per request: a clock shared through the database (development and test)
    reads its offset once when the request starts, so every read of "now" in the request
    agrees and sees a move made by any other worker before the request began."""
    pin = getattr(engine.clock, "pinned", None)
    if pin is None:
        return

    @app.before_request
    def _pin_clock():
        cm = pin()
        cm.__enter__()
        g.lotse_clock_pin = cm

    @app.teardown_request
    def _unpin_clock(_exc):
        cm = g.pop("lotse_clock_pin", None)
        if cm is not None:
            cm.__exit__(None, None, None)


def _init_i18n(app: Flask) -> None:
    @app.before_request
    def _pick_lang():
        chosen = normalize_lang(request.args.get("lang"))
        g.lang_chosen = chosen
        g.lang = chosen or normalize_lang(request.cookies.get(LANG_COOKIE)) or "de"

    @app.after_request
    def _remember_lang(resp):
        chosen = g.get("lang_chosen")
        if chosen and chosen != request.cookies.get(LANG_COOKIE):
            resp.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax",
                            httponly=True, secure=app.config["SESSION_COOKIE_SECURE"])
        return resp

    def flashes():
        from web.flashes import render

        return [(category, render(msg, t=t, office_name=office_name, lang=g.get("lang", "de")))
                for category, msg in get_flashed_messages(with_categories=True)]

    def lang_switch_query() -> str:
        args = request.args.to_dict(flat=False)
        args["lang"] = ["de" if g.get("lang") == "en" else "en"]
        return urlencode(args, doseq=True)

    app.jinja_env.globals.update(
        t=t, office_name=office_name, flashes=flashes, lang_switch_query=lang_switch_query,
        fmt_date=lambda d: format_date(d, g.get("lang", "de")),
        fmt_dt=lambda d: format_datetime(d, g.get("lang", "de")),
    )
    app.jinja_env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)


CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "font-src 'self' data:; script-src 'self'; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def _security_headers(resp):
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Content-Security-Policy", CSP)
    if resp.mimetype == "text/html" and not request.path.startswith("/static/"):
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp
