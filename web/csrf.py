"""CSRF protection for the browser pages: one random token per session, checked on
every unsafe request (form field ``csrf_token`` or header ``X-CSRF-Token``).

The REST API under /api/ authenticates with bearer tokens only (never cookies), so it
needs no CSRF token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, request, session

from engine.errors import LotseError

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfFailed(LotseError):
    """The CSRF token was missing or wrong (stale page, or a forged request)."""

    code = "CSRF_FAILED"


def csrf_token() -> str:
    """The session's token (created on first use)."""
    token = session.get("_csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["_csrf"] = token
    return token


def rotate() -> None:
    """A fresh token (after login)."""
    session["_csrf"] = secrets.token_urlsafe(32)


def check() -> None:
    """Raise ``CsrfFailed`` unless the request carries the session's token."""
    expected = session.get("_csrf")
    sent = request.headers.get(HEADER) or request.form.get(FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise CsrfFailed("CSRF token missing or invalid")


def init_app(app: Flask) -> None:
    """Check the token before every unsafe browser request; expose ``csrf_token()``."""

    @app.before_request
    def _csrf_protect():
        if request.method in SAFE or request.path.startswith("/api/"):
            return
        check()
        return

    app.jinja_env.globals["csrf_token"] = csrf_token
