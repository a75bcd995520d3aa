"""REST API (flask-smorest + marshmallow): OpenAPI at /api/openapi.json, docs at /api/docs.

Bearer tokens only (``lotse user token NAME``); every error is JSON
``{"error": CODE, "message": ...}`` (see web/errors.py).
"""

from __future__ import annotations

import flask_smorest
from apispec import BasePlugin
from flask import Flask
from webargs.flaskparser import FlaskParser

from web.api.schemas import ErrorSchema


class _Parser(FlaskParser):
    # A body or query string that does not match the schema is a 400 INVALID_INPUT;
    # 422 is reserved for form data the task's JSON Schema rejects (VALIDATION_FAILED).
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """web/errors.py answers every error (HTML for pages, JSON for /api/)."""


UNAVAILABLE = "SERVICE_UNAVAILABLE"
_REF = "#/components/{}/" + UNAVAILABLE


class _ServiceUnavailable(BasePlugin):
    """Every operation reads the database (the bearer token at least), so every one
    documents the 503 answers of ``web.errors.handle_database_error`` (issue 16)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, op in (operations or {}).items():
            if method in ("get", "post", "put", "patch", "delete"):
                op.setdefault("responses", {})["503"] = {"$ref": _REF.format("responses")}


def _document_unavailable(api: Api) -> None:
    from web.errors import RETRY_AFTER_BUSY_SECONDS, RETRY_AFTER_UNAVAILABLE_SECONDS

    api.spec.components.header(UNAVAILABLE, {
        "description": "seconds to wait before sending the same request again",
        "required": True, "schema": {"type": "integer", "minimum": 1}})
    api.spec.components.response(UNAVAILABLE, {
        "description": (
            "INSTANCE_BUSY: the case's instance is locked by another step (a completion, a "
            "timer, an administrator) longer than LOTSE_DB_LOCK_TIMEOUT_MS, or SQLite has "
            "another writer. DATABASE_UNAVAILABLE: the database cannot be reached or did not "
            "answer in time. Either way the transaction was rolled back and nothing of the "
            "request was applied: send the same request again after Retry-After seconds."),
        "headers": {"Retry-After": {"$ref": _REF.format("headers")}},
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "examples": {
                "busy": {"value": {
                    "error": "INSTANCE_BUSY", "retry_after": RETRY_AFTER_BUSY_SECONDS,
                    "message": "Der Fall wird gerade bearbeitet, bitte gleich noch einmal "
                               "versuchen. / The case is being worked on right now, please "
                               "try again in a moment."}},
                "unavailable": {"value": {
                    "error": "DATABASE_UNAVAILABLE",
                    "retry_after": RETRY_AFTER_UNAVAILABLE_SECONDS,
                    "message": "Die Datenbank ist vorübergehend nicht verfügbar. Bitte "
                               "versuchen Sie es in Kürze erneut. / The database is "
                               "temporarily unavailable. Please try again shortly."}}}}}})


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE="Lotse API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Worklists, tasks and process instances of Lotse. "
                                   "Authenticate with `Authorization: Bearer <token>`."},
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api = Api(app, spec_kwargs={"extra_plugins": [_ServiceUnavailable()]})
    _document_unavailable(api)
    from web.api import case_routes, docs, dp_routes, filter_routes, ops_routes, routes

    api.register_blueprint(routes.blp)
    api.register_blueprint(dp_routes.blp)
    api.register_blueprint(case_routes.blp)
    api.register_blueprint(ops_routes.blp)
    api.register_blueprint(filter_routes.blp)
    if not app.config["LOTSE_SETTINGS"].is_production:  # 404 in production: no such route
        api.register_blueprint(dp_routes.test_blp)
    app.register_blueprint(docs.bp)
    app.extensions["lotse_api"] = api
    return api
