"""Login, logout and who is asking: browser sessions for pages, bearer tokens for /api/."""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from web import accounts, csrf
from web.ctx import services, t
from web.errors import Forbidden, Unauthorized
from web.flashes import flash
from web.settings import _int

bp = Blueprint("auth", __name__)
SESSION_KEY = "sid"
DOCS_PATH = "/api/docs"  # an HTML page: knows the browser session


def _idle() -> timedelta:
    return timedelta(minutes=services().settings.idle_timeout_minutes)


def _token_age() -> timedelta:
    return timedelta(days=services().settings.token_days)


def _session_age() -> timedelta:
    return timedelta(hours=services().settings.session_max_hours)


# Not personal data: the API's description and its page.
CACHEABLE_API = frozenset({DOCS_PATH, "/api/openapi.json"})


def _no_store(resp):
    """Answers of the API (personal data) are never kept by browsers or proxies; HTML
    pages get the same in web/app.py."""
    if request.path.startswith("/api/") and request.path not in CACHEABLE_API:
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _load_user() -> None:
    g.user = None
    g.session_expired = False
    if request.path.startswith("/api/") and request.path != DOCS_PATH:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            db = services().db
            g.user = accounts.resolve_token(db, token.strip(), cache=accounts.auth_cache(db),
                                            max_age=_token_age())
        return
    if request.path.startswith("/static/") or request.path == "/healthz":
        return
    cookie_token = session.get(SESSION_KEY)
    if cookie_token:
        db = services().db
        g.user = accounts.resolve_session(db, cookie_token, idle=_idle(),
                                          cache=accounts.auth_cache(db),
                                          max_age=_session_age())
        if g.user is None:
            session.pop(SESSION_KEY, None)
            g.session_expired = True


def login_required(view):
    """Pages: redirect to the login page; API: 401 JSON."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("user") is None:
            if request.path.startswith("/api/"):
                raise Unauthorized("a valid bearer token is required")
            flash({"key": "login.expired" if g.get("session_expired") else "login.required"},
                  "info")
            target = url_for("auth.login", next=_next_target())
            if request.headers.get("HX-Request") == "true":
                # htmx would follow a 302 and swap the login page into a table row
                return "", 200, {"HX-Redirect": target}
            return redirect(target)
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str):
    """Like ``login_required``, and the user must hold one of ``roles`` (else 403)."""

    def deco(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if not g.user.has(*roles):
                raise Forbidden("your role does not allow this")
            return view(*args, **kwargs)

        return login_required(inner)

    return deco


def _next_target() -> str:
    if request.headers.get("HX-Request") == "true":  # back to the page, not the fragment
        parts = urlsplit(request.headers.get("HX-Current-URL", ""))
        return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
    path = request.full_path if request.query_string else request.path
    return path if request.method == "GET" else url_for("ui.board")


def safe_next(target: str | None) -> str:
    """Only local paths; anything else (other hosts, control characters such as CR/LF that
    would split the Location header) goes to the board."""
    if (not target or not isinstance(target, str) or not target.startswith("/")
            or target.startswith("//") or "\\" in target
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        return url_for("ui.board")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("ui.board")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success a fresh session (new id and CSRF token)."""
    nxt = request.values.get("next")
    if request.method == "GET":
        if g.user is not None:
            return redirect(safe_next(nxt))
        return render_template("login.html", next=nxt, name="", error=None)
    name = (request.form.get("name") or "").strip()
    password = request.form.get("password") or ""
    st = services().settings
    try:
        user = accounts.authenticate(
            services().db, name, password, remote_addr=request.remote_addr,
            max_failures=st.login_max_failures,
            window=timedelta(minutes=st.login_window_minutes),
            address_max_failures=st.login_address_max_failures,
            now=services().engine.now())  # the app's clock (movable outside production)
    except accounts.LoginThrottled:
        return render_template("login.html", next=nxt, name=name,
                               error=t("login.throttled")), 429
    except accounts.LoginFailed:
        return render_template("login.html", next=nxt, name=name,
                               error=t("login.failed")), 401
    old = session.get(SESSION_KEY)
    if old:
        accounts.close_session(services().db, old)
    session.clear()
    session[SESSION_KEY] = accounts.open_session(services().db, user.id)
    csrf.rotate()
    accounts.prune_sessions(services().db, idle=_idle())
    return redirect(safe_next(nxt))


@bp.post("/logout")
def logout():
    """End the session server-side and clear the cookie."""
    accounts.close_session(services().db, session.get(SESSION_KEY))
    session.clear()
    flash({"key": "logout.done"}, "success")
    return redirect(url_for("auth.login"))


def auth_cache_seconds(settings, environ=None) -> int:
    """How long (s) a resolved session or bearer token answers from this process's memory
    before it is read again: ``LOTSE_AUTH_CACHE_SECONDS``, default 5, 0 = off, at most 60.
    It bounds how late a revocation, logout or disabled account made by another process
    (the CLI, another gunicorn worker) takes effect here."""
    value = getattr(settings, "auth_cache_seconds", None)
    if value is not None:
        return value
    return _int(os.environ if environ is None else environ, "LOTSE_AUTH_CACHE_SECONDS",
                int(accounts.DEFAULT_AUTH_CACHE_SECONDS), 0, 60)


def init_app(app: Flask) -> None:
    st = app.config["LOTSE_SETTINGS"]
    accounts.auth_cache(app.extensions["lotse"].db, ttl=auth_cache_seconds(st))  # once
    app.before_request(_load_user)
    app.after_request(_no_store)
    app.register_blueprint(bp)
