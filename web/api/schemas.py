"""marshmallow schemas of the REST API (request bodies, query strings and responses)."""

from __future__ import annotations

import re

from marshmallow import INCLUDE, Schema, fields, validate

CASE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
PROCESS_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")


def _dt(**kw):
    return fields.String(metadata={"format": "date-time", **kw.pop("metadata", {})}, **kw)


class ErrorSchema(Schema):
    """Every error: a stable code and a message (plus details for some codes, e.g. the
    current ``assignee`` of TASK_CLAIMED)."""

    class Meta:
        unknown = INCLUDE  # documents additionalProperties: true

    error = fields.String(required=True, metadata={"example": "TASK_NOT_FOUND"})
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "field -> messages (VALIDATION_FAILED, "
                                                  "INVALID_INPUT)"})
    retry_after = fields.Integer(metadata={
        "description": "INSTANCE_BUSY / DATABASE_UNAVAILABLE (503): seconds to wait, as the "
                       "Retry-After header"})


class OfficeSchema(Schema):
    code = fields.String(required=True, metadata={"example": "JC"})
    name_de = fields.String(required=True)
    name_en = fields.String(required=True)
    external = fields.Boolean(required=True)
    active = fields.Boolean(required=True)


class TaskSchema(Schema):
    """A worklist entry."""

    task_id = fields.String(required=True, metadata={"format": "uuid"})
    instance_id = fields.Integer(required=True)
    case_ref = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    office = fields.String(allow_none=True)
    state = fields.String(required=True, metadata={"enum": ["READY", "COMPLETED", "CANCELLED",
                                                            "ERROR"]})
    assignee = fields.String(allow_none=True)
    created_at = _dt(required=True)
    due_at = _dt(allow_none=True)


class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema), required=True)
    next = fields.String(allow_none=True, required=True,
                         metadata={"description": "cursor for ?after=, null on the last page"})


class TaskListArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(load_default=None, validate=validate.Length(max=500))


class TaskDetailSchema(TaskSchema):
    """A task with its form."""

    process_id = fields.String()
    element_id = fields.String()
    completed_at = _dt(allow_none=True)
    completed_by = fields.String(allow_none=True)
    documentation = fields.String(allow_none=True)
    instructions = fields.String(allow_none=True)
    legal_basis = fields.String(allow_none=True)
    process_version = fields.Integer()
    form_schema = fields.Dict(allow_none=True, metadata={"description": "JSON Schema"})
    ui_schema = fields.Dict(allow_none=True)
    data = fields.Dict(metadata={
        "description": "case data of the task's instance the caller may see: the fields of "
                       "the consented categories, also inside containers such as a "
                       "referral's shared_data (empty without access to the case)"})
    data_masked = fields.Boolean()
    not_shared = fields.List(fields.Nested(lambda: NotSharedSchema()), metadata={
        "description": "data categories outside the caller's consent scope, by name"})


class NotSharedSchema(Schema):
    category = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "German name"})


class CompleteBody(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict,
                       metadata={"description": "form data (validated against form_schema)"})


class InstanceResultSchema(Schema):
    instance_id = fields.Integer(required=True)
    status = fields.String(required=True)
    error = fields.String(allow_none=True)


class StartBody(Schema):
    process_id = fields.String(required=True, validate=validate.Regexp(PROCESS_ID))
    case_ref = fields.String(load_default=None, allow_none=True,
                             validate=validate.Regexp(CASE_REF))
    data = fields.Dict(keys=fields.String(), load_default=dict)


class InstanceSchema(Schema):
    instance_id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True)
    case_ref = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    data = fields.Dict(required=True, metadata={"description": "case data the caller may see"})
    data_masked = fields.Boolean(required=True)
    tasks = fields.List(fields.Nested(TaskSchema), required=True)


class FileRefSchema(Schema):
    """A stored upload, as sent back in the completion data of its file field."""

    id = fields.String(required=True)
    sha256 = fields.String(required=True)
    size = fields.Integer(required=True)
    media_type = fields.String(required=True)
    filename = fields.String(required=True)


class TokenSchema(Schema):
    """An API token as its owner sees it (never the secret)."""

    id = fields.Integer(required=True)
    user = fields.String(required=True)
    label = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenListArgs(Schema):
    user = fields.String(load_default=None, validate=validate.Length(max=100))
