"""Saved worklist filters of the caller (issue 15.4): list (with each filter's count of
open tasks), create, delete. A filter belongs to the user who saved it; for everybody
else it does not exist (404 SAVED_FILTER_NOT_FOUND, never listed or counted)."""

from __future__ import annotations

from flask import g
from marshmallow import Schema, fields, validate

from web import queries, saved_filters
from web.api import Blueprint
from web.api.schemas import ErrorSchema
from web.ctx import services
from web.errors import Unauthorized

blp = Blueprint("api_filters", __name__, url_prefix="/api",
                description="Saved worklist filters of the caller")


@blp.before_request
def _require_token():
    if g.get("user") is None:
        raise Unauthorized("ein gültiges Bearer-Token ist nötig / a valid bearer token is "
                           "required")


def _errors(*codes: int):
    desc = {400: "INVALID_INPUT", 401: "UNAUTHORIZED",
            404: "SAVED_FILTER_NOT_FOUND (also for another user's filter)",
            409: "SAVED_FILTER_EXISTS: you already have a filter of this name"}

    def deco(fn):
        for code in (401, *codes):
            fn = blp.alt_response(code, schema=ErrorSchema, description=desc[code])(fn)
        return fn

    return deco


class SavedFilterBody(Schema):
    name = fields.String(required=True, validate=validate.Length(1, saved_filters.NAME_MAX),
                         metadata={"example": "Überfällig, mein Amt, P4"})
    office = fields.String(required=True, validate=validate.Length(1, 32),
                           metadata={"description": "one of the caller's offices",
                                     "example": "JC"})
    process_id = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(1, 200))
    state = fields.String(load_default="open", validate=validate.OneOf(queries.STATES),
                          metadata={"description": "open: every open task; mine: claimed by "
                                                   "the caller; overdue; due_soon: due "
                                                   "within three days"})
    case_text = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(1, saved_filters.TEXT_MAX),
                              metadata={"description": "part of the case reference"})
    sort = fields.String(load_default="created", validate=validate.OneOf(queries.SORTS))


class SavedFilterSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    office = fields.String(required=True)
    process_id = fields.String(allow_none=True, required=True)
    state = fields.String(required=True, metadata={"enum": list(queries.STATES)})
    case_text = fields.String(allow_none=True, required=True)
    sort = fields.String(required=True, metadata={"enum": list(queries.SORTS)})
    created_at = fields.DateTime(required=True)
    count = fields.Integer(metadata={"description": "open tasks matching now (list only)"})


@blp.route("/saved-filters", methods=["GET"])
@blp.response(200, SavedFilterSchema(many=True))
@_errors()
def list_filters():
    """The caller's saved worklist filters by name, each with its count of open tasks."""
    svc = services()
    return saved_filters.with_counts(svc.db, g.user, now=svc.engine.now())


@blp.route("/saved-filters", methods=["POST"])
@blp.arguments(SavedFilterBody)
@blp.response(201, SavedFilterSchema)
@_errors(400, 409)
def create_filter(body):
    """Save a worklist filter for the caller (the office must be one of theirs)."""
    svc = services()
    spec = saved_filters.check(g.user, **body)
    return saved_filters.create(svc.db, g.user, spec, now=svc.engine.now())


@blp.route("/saved-filters/<int:filter_id>", methods=["DELETE"])
@blp.response(204)
@_errors(404)
def delete_filter(filter_id):
    """Delete one of the caller's saved filters."""
    saved_filters.delete(services().db, g.user, filter_id)
    return ""
