"""marshmallow schemas of the data-protection and audit endpoints."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from web.api.schemas import NotSharedSchema, _dt


class CaseInstanceSchema(Schema):
    instance_id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True)
    data = fields.Dict(required=True, metadata={
        "description": "case data within the caller's consent scope (fields outside it are "
                       "left out); auditors get every single value masked, keyed by its "
                       "path (children[0].first_name)"})
    data_masked = fields.Boolean(required=True)
    hidden_fields = fields.Integer(required=True, metadata={
        "description": "how many fields the consent scope leaves out"})
    field_categories = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "masked answers only (auditors): the data category of each field, "
                       "by its path (nested records field by field: "
                       "children[0].first_name, shared_data.income)"})


class CaseSchema(Schema):
    case_ref = fields.String(required=True)
    categories = fields.List(fields.String(), required=True, metadata={
        "description": "data categories the caller may see in this case"})
    instances = fields.List(fields.Nested(CaseInstanceSchema), required=True)
    not_shared = fields.List(fields.Nested(NotSharedSchema), required=True, metadata={
        "description": "the data categories the caller may not see in this case (code and "
                       "German name, never values): what the case page names as \"nicht "
                       "freigegeben\"; empty for auditors (they see every field masked)"})


class CaseDataArgs(Schema):
    category = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list,
                           metadata={"description": "only these categories (repeatable); a "
                                                    "category outside the consent answers "
                                                    "403 CONSENT_SCOPE"})


class ConsentSchema(Schema):
    class Meta:
        unknown = INCLUDE

    consent_id = fields.String(required=True)
    case_id = fields.String(required=True)
    office = fields.String(required=True)
    purpose = fields.String(required=True)
    categories = fields.List(fields.String(), required=True)
    includes_health = fields.Boolean(required=True)
    valid_from = fields.String(required=True, metadata={"format": "date"})
    valid_until = fields.String(required=True, metadata={"format": "date"})
    status = fields.String(required=True, metadata={"enum": ["active", "revoked", "expired"]})
    revoked_at = _dt(allow_none=True)
    effects = fields.Dict(metadata={"description": "revocation only: withdrawn referral ids, "
                                                   "cancelled instances, follow-up instance"})


class ConsentBody(Schema):
    office = fields.String(required=True, validate=validate.Length(min=1, max=32))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=60))
    categories = fields.List(fields.String(validate=validate.Length(max=20)), required=True,
                             validate=validate.Length(min=1, max=20))
    includes_health = fields.Boolean(load_default=False, metadata={
        "description": "explicit consent to health data (Art. 9(2)(a) GDPR); required for "
                       "HEALTH"})
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)


class RevokeBody(Schema):
    channel = fields.String(load_default="written", validate=validate.OneOf(
        ["written", "oral", "electronic"]), metadata={"description": "how the revocation "
                                                                      "was received"})


class AccessReportSchema(Schema):
    class Meta:
        unknown = INCLUDE

    case_id = fields.String(required=True)
    generated_at = _dt(required=True)
    answer_due_by = fields.String(required=True)
    data_by_category = fields.Dict(required=True, metadata={
        "description": "category -> {field path: value}: every single value under its own "
                       "category, nested records field by field (children[0].first_name "
                       "under the category of children, a referral's "
                       "shared_data.income under FINANCE)"})
    purposes = fields.List(fields.String(), required=True)
    recipients = fields.List(fields.Dict(), required=True)
    consents = fields.List(fields.Dict(), required=True)
    planned_pseudonymisation = fields.String(allow_none=True)
    sources = fields.List(fields.String(), required=True)
    rights = fields.List(fields.Dict(), required=True)


class BadEntrySchema(Schema):
    id = fields.Integer(allow_none=True)
    stream = fields.Integer(allow_none=True, metadata={
        "description": "chain: 0 = global, otherwise the instance id"})
    seq = fields.Integer(allow_none=True)
    problem = fields.String(required=True)


class VerifyArgs(Schema):
    full = fields.Boolean(load_default=False, metadata={
        "description": "recompute the whole chain (auditors); default: only the entries "
                       "added since the last intact verification"})


class VerifySchema(Schema):
    ok = fields.Boolean(required=True)
    mode = fields.String(metadata={"description": "full or incremental (from the last "
                                                  "checkpoint; the first run is full)"})
    since = fields.Integer(metadata={"description": "incremental: the global chain's "
                                                    "checkpoint it started from"})
    entries = fields.Integer(metadata={"description": "entries verified (chain intact)"})
    head = fields.String(metadata={"description": "hash of the newest global entry"})
    streams = fields.Integer(metadata={"description": "instance streams verified"})
    entries_verified = fields.Integer(metadata={"description": "intact entries before the "
                                                               "first bad one"})
    first_bad = fields.Nested(BadEntrySchema)


class AuditEventSchema(Schema):
    seq = fields.Integer(required=True, metadata={"description": "position in its chain"})
    stream = fields.Integer(required=True, metadata={
        "description": "chain: 0 = global, otherwise the instance id"})
    id = fields.Integer(required=True)
    at = _dt(required=True)
    event_type = fields.String(required=True)
    actor = fields.String(allow_none=True)
    office = fields.String(allow_none=True)
    case_id = fields.String(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    definition_id = fields.Integer(allow_none=True)
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    details = fields.Dict(required=True, metadata={"description": "ids, field names, "
                                                                  "categories; free text "
                                                                  "masked"})
    hash = fields.String(allow_none=True)


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)
    next = fields.String(allow_none=True, required=True, metadata={
        "description": "cursor for ?after= (newest first), null on the last page"})


class AuditArgs(Schema):
    office = fields.String(load_default=None)
    user = fields.String(load_default=None)
    event_type = fields.String(load_default=None)
    case = fields.String(load_default=None)
    instance = fields.String(load_default=None)
    date_from = fields.Date(data_key="from", load_default=None)
    date_to = fields.Date(data_key="to", load_default=None)
    after = fields.String(load_default=None, metadata={"description": "cursor (entry id)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ClockBody(Schema):
    set = fields.String(load_default=None, metadata={
        "description": "ISO 8601 date-time to set the clock to"})
    advance = fields.String(load_default=None, metadata={
        "description": "ISO 8601 duration to move the clock forward, e.g. P5D"})


class ClockSchema(Schema):
    now = _dt(required=True)
    timers_fired = fields.Integer(required=True)
    messages_delivered = fields.Integer(required=True)
    consents_expired = fields.List(fields.String(), required=True)
