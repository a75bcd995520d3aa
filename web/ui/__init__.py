"""Server-rendered pages (Jinja + htmx): board, worklists, task forms, cases, start."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, Flask, request

bp = Blueprint("ui", __name__)


def is_htmx() -> bool:
    """True for requests htmx made (they get fragments instead of whole pages)."""
    return request.headers.get("HX-Request") == "true"


def parse_dt(value):
    """ISO text (as in the engine's task dicts) -> aware datetime."""
    if not value or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_date(value):
    """ISO date text -> date (None when it is not one)."""
    from datetime import date

    if not value or isinstance(value, date):
        return value or None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def page_url(after: str | None) -> str:
    """The current list URL with the same filters and another page cursor."""
    args = {k: v for k, v in request.args.items() if k not in ("after", "lang")}
    if after:
        args["after"] = after
    return request.path + ("?" + urlencode(args) if args else "")


def t_opt(key: str, default: str) -> str:
    """The translation of ``key``, or ``default`` when the catalogue has none."""
    from web.ctx import t

    text = t(key)
    return default if text == key else text


def init_app(app: Flask) -> None:
    from web import uploads
    from web.ui import audit, board, cases, dataprotection, files, ops, start, tasks  # noqa: F401

    uploads.init_app(app)

    app.jinja_env.globals.update(parse_dt=parse_dt, parse_date=parse_date, page_url=page_url,
                                 t_opt=t_opt)
    app.register_blueprint(bp)
