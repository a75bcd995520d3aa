"""marshmallow schemas of the case endpoints: case search, referrals, one data category,
an instance's history and deploying a process definition."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from web.api.schemas import CASE_REF, PROCESS_ID, _dt

STATUSES = ("running", "completed", "error", "cancelled", "pseudonymised")
OFFICE_CODE = r"^[A-Za-z0-9_]{1,32}$"


# ---------------------------------------------------------------- case search
class CaseSearchArgs(Schema):
    ref = fields.String(load_default=None, validate=validate.Regexp(CASE_REF), metadata={
        "description": "case reference or its beginning (prefix match)"})
    process_id = fields.String(load_default=None, validate=validate.Regexp(PROCESS_ID))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    office = fields.String(load_default=None, validate=validate.Regexp(OFFICE_CODE), metadata={
        "description": "only instances with a task in this office"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(load_default=None, validate=validate.Length(max=500), metadata={
        "description": "cursor: ``next`` of the previous page"})


class CaseListItemSchema(Schema):
    instance_id = fields.Integer(required=True)
    case_ref = fields.String(allow_none=True, required=True)
    process_id = fields.String(required=True)
    process_name = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    created_at = _dt(required=True)
    completed_at = _dt(allow_none=True, required=True)


class CaseListSchema(Schema):
    items = fields.List(fields.Nested(CaseListItemSchema), required=True, metadata={
        "description": "process instances the caller may see, newest first"})
    next = fields.String(allow_none=True, required=True, metadata={
        "description": "cursor for ?after=, null on the last page"})


# ---------------------------------------------------------------- referrals
class ReferralEventSchema(Schema):
    at = _dt(required=True)
    event = fields.String(required=True, metadata={"enum": [
        "sent", "acknowledged", "forwarded", "info_requested", "info_provided", "result",
        "withdrawn"]})
    from_state = fields.String(allow_none=True, required=True, data_key="from")
    to_state = fields.String(required=True, data_key="to")
    reason = fields.String(allow_none=True, required=True, metadata={
        "description": "reason code of a withdrawal (e.g. consent_revoked), else null"})


class ReferralSchema(Schema):
    referral_id = fields.String(required=True)
    office = fields.String(required=True)
    purpose = fields.String(allow_none=True, required=True)
    state = fields.String(required=True, metadata={"enum": [
        "sent", "acknowledged", "in_progress", "info_requested", "completed", "forwarded",
        "withdrawn", "suspended_consent_revoked"]})
    sent_at = _dt(required=True)
    acknowledged_at = _dt(allow_none=True, required=True)
    closed_at = _dt(allow_none=True, required=True)
    outcome = fields.String(allow_none=True, required=True, metadata={
        "description": "result or reason code (auditors: free text masked)"})
    due_ack = _dt(required=True, metadata={"description": "SLA: acknowledgement due"})
    due_result = _dt(required=True, metadata={"description": "SLA: result due"})
    overdue_ack = fields.Boolean(required=True)
    overdue_result = fields.Boolean(required=True)
    first_overdue_at = _dt(allow_none=True, required=True)
    history = fields.List(fields.Nested(ReferralEventSchema), required=True, metadata={
        "description": "status changes, oldest first"})


class CaseReferralsSchema(Schema):
    case_ref = fields.String(required=True)
    referrals = fields.List(fields.Nested(ReferralSchema), required=True)


# ---------------------------------------------------------------- one data category
class CategoryInstanceSchema(Schema):
    instance_id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    status = fields.String(required=True)
    fields_ = fields.Dict(required=True, data_key="fields", metadata={
        "description": "the instance's fields of the category (inside containers such as "
                       "a referral's shared_data too)"})


class CaseCategorySchema(Schema):
    case_ref = fields.String(required=True)
    category = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "German name"})
    label_en = fields.String(required=True)
    instances = fields.List(fields.Nested(CategoryInstanceSchema), required=True)


# ---------------------------------------------------------------- instance history
class HistoryStepSchema(Schema):
    n = fields.Integer(allow_none=True, required=True, metadata={
        "description": "position on the path (null for elements not yet completed)"})
    element_id = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={"example": "userTask"})
    state = fields.String(required=True, metadata={"enum": ["completed", "active",
                                                            "waiting"]})
    at = _dt(allow_none=True, required=True)
    who = fields.String(allow_none=True, required=True, metadata={
        "description": "user who completed it, or the actor of the step that ran it "
                       "('system' for timers and messages)"})
    office = fields.String(allow_none=True, required=True)
    via = fields.String(allow_none=True, required=True, metadata={
        "description": "the audit event of the step (task.completed, timer.fired, ...)"})


class InstanceHistorySchema(Schema):
    instance_id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True)
    case_ref = fields.String(allow_none=True, required=True)
    steps = fields.List(fields.Nested(HistoryStepSchema), required=True)


# ---------------------------------------------------------------- deploy
class DeployOutcomeSchema(Schema):
    process_id = fields.String(required=True)
    version = fields.Integer(required=True)
    changed = fields.Boolean(required=True, metadata={
        "description": "false when the same content was deployed before (no new version)"})
    definition_id = fields.Integer(required=True)


class LintFindingSchema(Schema):
    class Meta:
        unknown = INCLUDE

    rule = fields.String(required=True)
    severity = fields.String(required=True, metadata={"enum": ["error", "warning", "info"]})
    file = fields.String(allow_none=True)
    element = fields.String(allow_none=True)
    message = fields.String(required=True)


class DeployResultSchema(Schema):
    outcomes = fields.List(fields.Nested(DeployOutcomeSchema), required=True)
    findings = fields.List(fields.Nested(LintFindingSchema), required=True, metadata={
        "description": "warnings of the lint report (a deploy with errors is refused)"})


class DeployProblemSchema(Schema):
    file = fields.String(allow_none=True)
    element = fields.String(allow_none=True)
    problem = fields.String(required=True)


class DeployRefusedSchema(Schema):
    """422: LINT_ERRORS (``findings``: the lint report) or DEPLOY_REFUSED (``problems``)."""

    class Meta:
        unknown = INCLUDE

    error = fields.String(required=True, metadata={"enum": ["LINT_ERRORS", "DEPLOY_REFUSED"]})
    message = fields.String(required=True)
    findings = fields.List(fields.Nested(LintFindingSchema), required=True)
    problems = fields.List(fields.Nested(DeployProblemSchema))


class DeployForm(Schema):
    files = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}),
                        metadata={"description": ".bpmn, .dmn and .json (form) files"})
