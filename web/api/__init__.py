"""REST API (flask-smorest + marshmallow): OpenAPI at /api/openapi.json, docs at /api/docs.

Bearer tokens only (``lotse user token NAME``); every error is JSON
``{"error": CODE, "message": ...}`` (see web/errors.py).
"""

from __future__ import annotations

import flask_smorest
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
    api = Api(app)
    from web.api import case_routes, docs, dp_routes, routes

    api.register_blueprint(routes.blp)
    api.register_blueprint(dp_routes.blp)
    api.register_blueprint(case_routes.blp)
    if not app.config["LOTSE_SETTINGS"].is_production:  # 404 in production: no such route
        api.register_blueprint(dp_routes.test_blp)
    app.register_blueprint(docs.bp)
    app.extensions["lotse_api"] = api
    return api
