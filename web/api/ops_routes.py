"""Operations for administrators (issue 15.2, as Camunda Cockpit's instance pages): the
instance and incident list, retry of a failed step, suspend / resume / terminate with a
reason, and the user administration (list, create, roles and offices, disable / enable,
password reset; tokens: ``/api/tokens?user=`` and ``DELETE /api/tokens/{id}``). Every
action is audited with the administrator (and the reason); the list carries Lotse's
incident message without values (the full text stays with ``lotse incident``). No answer
carries a password, its hash or a token secret."""

from __future__ import annotations

from flask import g
from marshmallow import Schema, fields, validate

from engine import read_model
from web import accounts
from web.api import Blueprint
from web.api.schemas import ErrorSchema
from web.ctx import actor, services
from web.errors import Forbidden, Unauthorized
from web.models import ROLES

blp = Blueprint("api_ops", __name__, url_prefix="/api",
                description="Operations: incidents, retry, suspend, resume, terminate, "
                            "users (role admin)")

STATUSES = ("running", "error", "suspended", "completed", "cancelled")


@blp.before_request
def _require_admin():
    if g.get("user") is None:
        raise Unauthorized("ein gültiges Bearer-Token ist nötig / a valid bearer token is "
                           "required")
    if not g.user.has("admin"):
        raise Forbidden("nur für die Administration / administrators only")


class InstanceListArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    process_id = fields.String(load_default=None, validate=validate.Length(1, 200))
    version = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    case_ref = fields.String(load_default=None, validate=validate.Length(1, 200))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class OpsInstanceSchema(Schema):
    instance_id = fields.Integer()
    process_id = fields.String()
    version = fields.Integer()
    case_ref = fields.String(allow_none=True)
    status = fields.String()
    updated_at = fields.String(allow_none=True)
    error_element = fields.String(allow_none=True)
    error_type = fields.String(allow_none=True)
    error = fields.String(allow_none=True, metadata={
        "description": "Lotse's incident message, without task values"})
    error_at = fields.String(allow_none=True)


class ReasonBody(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500), metadata={
        "description": "why (audited; no personal data)"})


class InstanceStateSchema(Schema):
    instance_id = fields.Integer()
    status = fields.String()
    error = fields.String(allow_none=True)


def _errors(*codes: int):
    def deco(fn):
        for code in (401, 403, *codes):
            fn = blp.alt_response(code, schema=ErrorSchema)(fn)
        return fn
    return deco


@blp.route("/ops/instances", methods=["GET"])
@blp.arguments(InstanceListArgs, location="query")
@blp.response(200, OpsInstanceSchema(many=True))
@_errors(400)
def list_instances(args):
    """Instances by state, process, version and case; ``status=error`` is the incident
    list (element, error type, message without values)."""
    return read_model.instances(services().db, **args)


@blp.route("/ops/instances/<int:instance_id>/retry", methods=["POST"])
@blp.response(200, InstanceStateSchema)
@_errors(404, 409)
def retry(instance_id):
    """Run the failed step of an instance with an incident again (409 without one)."""
    return services().engine.retry(instance_id, actor=actor())


@blp.route("/ops/instances/<int:instance_id>/suspend", methods=["POST"])
@blp.arguments(ReasonBody)
@blp.response(200, InstanceStateSchema)
@_errors(400, 404, 409)
def suspend(body, instance_id):
    """Hold an instance: no timers fire, messages wait, its tasks answer 409
    INSTANCE_SUSPENDED to claims and completions until it is resumed."""
    return services().engine.suspend(instance_id, reason=body["reason"], actor=actor())


@blp.route("/ops/instances/<int:instance_id>/resume", methods=["POST"])
@blp.arguments(ReasonBody)
@blp.response(200, InstanceStateSchema)
@_errors(400, 404, 409)
def resume(body, instance_id):
    """Let a suspended instance go on; timers due meanwhile fire at the next worker round
    and waiting messages are delivered."""
    return services().engine.resume(instance_id, reason=body["reason"], actor=actor())


@blp.route("/ops/instances/<int:instance_id>/terminate", methods=["POST"])
@blp.arguments(ReasonBody)
@blp.response(200, InstanceStateSchema)
@_errors(400, 404, 409)
def terminate(body, instance_id):
    """End an instance for good; its open tasks leave every worklist."""
    return services().engine.terminate(instance_id, reason=body["reason"], actor=actor())


# ------------------------------------------------------------------ users
class UserListArgs(Schema):
    office = fields.String(load_default=None, validate=validate.Length(1, 32))
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))
    active = fields.Boolean(load_default=None)


class UserSchema(Schema):
    """An account as administrators see it (never the password or its hash)."""

    name = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    roles = fields.List(fields.String(), required=True)
    offices = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(allow_none=True)
    password_changed_at = fields.DateTime(allow_none=True)


_ROLE_LIST = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                         validate=validate.Length(1, len(ROLES)))
_OFFICE_LIST = fields.List(fields.String(validate=validate.Length(1, 32)), load_default=list,
                           validate=validate.Length(max=100), metadata={
                               "description": "office codes; caseworkers, case managers and "
                                              "team leads need at least one"})
_PASSWORD = fields.String(required=True, load_only=True, validate=validate.Length(
    accounts.MIN_PASSWORD, 200), metadata={"description": "at least 10 characters; "
                                                          "stored as an argon2 hash"})


NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,99}$"  # accounts.NAME_RE, anchored (OpenAPI pattern)


class UserCreateBody(Schema):
    name = fields.String(required=True, validate=validate.Regexp(NAME_PATTERN), metadata={
        "description": "2-100 characters a-z 0-9 . _ - (starting with a letter or digit)"})
    display_name = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(max=200))
    roles = _ROLE_LIST
    offices = _OFFICE_LIST
    password = _PASSWORD


class UserAccessBody(Schema):
    roles = _ROLE_LIST
    offices = _OFFICE_LIST


class PasswordBody(Schema):
    password = _PASSWORD


def _office_codes() -> list[str]:
    return services().offices.codes()


@blp.route("/ops/users", methods=["GET"])
@blp.arguments(UserListArgs, location="query")
@blp.response(200, UserSchema(many=True))
@_errors(400)
def list_users(args):
    """Every account with its roles, offices and whether it is active."""
    users = accounts.list_users(services().db, office=args["office"])
    return [u for u in users
            if (args["role"] is None or args["role"] in u["roles"])
            and (args["active"] is None or u["active"] == args["active"])]


@blp.route("/ops/users", methods=["POST"])
@blp.arguments(UserCreateBody)
@blp.response(201, UserSchema)
@_errors(400, 409)
def create_user(body):
    """Create an active account with an initial password (audited ``auth.user_created``;
    409 USER_EXISTS when the name is taken)."""
    db = services().db
    p = accounts.create_user(db, body["name"], roles=body["roles"], offices=body["offices"],
                             password=body["password"], display_name=body["display_name"],
                             known_offices=_office_codes(), by=g.user)
    return accounts.account(db, p.name)


@blp.route("/ops/users/<name>", methods=["GET"])
@blp.response(200, UserSchema)
@_errors(404)
def get_user(name):
    """One account (404 USER_NOT_FOUND)."""
    return accounts.account(services().db, name)


@blp.route("/ops/users/<name>/access", methods=["PUT"])
@blp.arguments(UserAccessBody)
@blp.response(200, UserSchema)
@_errors(400, 404, 409)
def set_access(body, name):
    """Replace the roles and offices (audited ``auth.user_changed`` with before and after;
    409 SELF_LOCKOUT when an administrator would take their own admin role)."""
    return accounts.set_access(services().db, name, roles=body["roles"],
                               offices=body["offices"], known_offices=_office_codes(),
                               by=g.user)


@blp.route("/ops/users/<name>/disable", methods=["POST"])
@blp.response(200, UserSchema)
@_errors(404, 409)
def disable_user(name):
    """Disable an account: its sessions end, its tokens are revoked (409 SELF_LOCKOUT for
    the caller's own account)."""
    db = services().db
    accounts.set_active(db, name, False, by=g.user)
    return accounts.account(db, name)


@blp.route("/ops/users/<name>/enable", methods=["POST"])
@blp.response(200, UserSchema)
@_errors(404)
def enable_user(name):
    """Enable an account again (its revoked tokens stay revoked)."""
    db = services().db
    accounts.set_active(db, name, True, by=g.user)
    return accounts.account(db, name)


@blp.route("/ops/users/<name>/password", methods=["POST"])
@blp.arguments(PasswordBody)
@blp.response(200, UserSchema)
@_errors(400, 404)
def reset_password(body, name):
    """Set a new password; every browser session of the account ends (audited
    ``auth.password_reset``, never the password)."""
    db = services().db
    accounts.set_password(db, name, body["password"], by=g.user)
    return accounts.account(db, name)
