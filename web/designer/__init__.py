"""The process designer in the browser (issue 6): catalogue of processes and versions, diff and
migration, the bpmn-js modeler with drafts, live validation, form preview, deploy and import.

Role ``process_designer`` works here; ``admin`` may look (catalogue, versions, diffs,
drafts read-only). Every other role gets 403, as ``web.auth.roles_required`` answers.

The modeler's fetch calls send ``Accept: application/json`` and get JSON errors
(``{"error": CODE, "message": ...}``) with the statuses of ``web.errors``; pages get the
usual HTML error page.
"""

from __future__ import annotations

import functools

from flask import Blueprint, Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.errors import LotseError
from web.errors import Forbidden, Unauthorized, error_body, status_for

bp = Blueprint("designer", __name__, url_prefix="/designer")

VIEW_ROLES = ("process_designer", "admin")
EDIT_ROLES = ("process_designer",)


def wants_json() -> bool:
    """The modeler's fetch calls (JSON body or ``Accept: application/json``)."""
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def _guard(roles: tuple[str, ...]):
    def deco(view):
        from web.auth import login_required

        @functools.wraps(view)
        def inner(*args, **kwargs):
            if not g.user.has(*roles):
                raise Forbidden("your role does not allow this")
            return view(*args, **kwargs)

        page_view = login_required(inner)

        @functools.wraps(view)
        def outer(*args, **kwargs):
            if g.get("user") is None and wants_json():
                raise Unauthorized("your session has ended; log in again")
            return page_view(*args, **kwargs)

        return outer

    return deco


viewer_required = _guard(VIEW_ROLES)
designer_required = _guard(EDIT_ROLES)


def can_edit() -> bool:
    u = g.get("user")
    return bool(u and u.has(*EDIT_ROLES))


@bp.errorhandler(LotseError)
def _lotse_error(exc: LotseError):
    if wants_json():
        resp = jsonify(error_body(exc))
        resp.status_code = status_for(exc)
        return resp
    from web.errors import handle_lotse_error

    return handle_lotse_error(exc)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if wants_json():
        name = (exc.name or "error").upper().replace(" ", "_").replace("'", "")
        resp = jsonify({"error": name, "message": exc.description or exc.name})
        resp.status_code = exc.code or 400
        return resp
    from web.errors import handle_http_exception

    return handle_http_exception(exc)


def init_app(app: Flask) -> None:
    """Register the designer pages (``/designer/...``)."""
    from web.designer import modeler, models, views  # noqa: F401 - tables and routes

    app.register_blueprint(bp)
