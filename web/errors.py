"""Error handling: domain errors to HTTP statuses; JSON under /api/, an HTML page elsewhere.

Bad input never produces a 500. Unexpected exceptions answer a generic 500 and are
logged by type and code location only (exception messages may contain personal data).
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from engine.db import classify as classify_db_error
from engine.errors import (
    Conflict,
    DeployError,
    FormInvalid,
    InvalidInput,
    LotseError,
    NotFound,
    NotYourOffice,
    ScriptError,
    WorkflowDepthExceeded,
)
from processes.consent import ConsentMissing, ConsentScope
from web.accounts import LoginFailed, LoginThrottled
from web.csrf import CsrfFailed
from web.idempotency import IdempotencyKeyReused

log = logging.getLogger("lotse.web")


class Unauthorized(LotseError):
    code = "UNAUTHORIZED"


class Forbidden(LotseError):
    code = "FORBIDDEN"


class OfficeNotFound(NotFound):
    code = "OFFICE_NOT_FOUND"


# Most specific first.
_STATUS: list[tuple[type[LotseError], int]] = [
    (NotYourOffice, 404),
    (NotFound, 404),
    (FormInvalid, 422),
    (IdempotencyKeyReused, 422),  # an Idempotency-Key sent again with another body
    (ConsentMissing, 409),  # a referral without an active consent: nothing was changed
    (ConsentScope, 403),  # a category outside the consent, asked for explicitly
    (Conflict, 409),
    (InvalidInput, 400),
    (CsrfFailed, 400),
    (DeployError, 400),
    (Unauthorized, 401),
    (LoginFailed, 401),
    (Forbidden, 403),
    (LoginThrottled, 429),
    (ScriptError, 422),
    (WorkflowDepthExceeded, 409),
]


def status_for(exc: LotseError) -> int:
    """The HTTP status of a domain error (an error class of web/ may name its own
    ``http_status``, e.g. 413 for ``drafts.ModelTooLarge``)."""
    own = getattr(exc, "http_status", None)
    if isinstance(own, int):
        return own
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def error_body(exc: LotseError) -> dict:
    """The JSON body of a domain error; another office's object is plain "not found"."""
    if isinstance(exc, NotYourOffice):
        return {"error": "NOT_FOUND", "message": "not found"}
    return exc.to_dict()


def _html(status: int, *, message_key: str | None = None, detail: str | None = None,
          bilingual: bool = False):
    from web.ctx import t
    from web.i18n import translate

    message = t(message_key) if message_key else t(f"error.{status}")
    if message == f"error.{status}":
        message = t("error.400")
    message_en = None
    if bilingual:  # German first, English second, whatever language the visitor chose
        key = message_key or f"error.{status}"
        message, message_en = translate(key, "de"), translate(key, "en")
    return render_template("error.html", status=status, message=message,
                           message_en=message_en, detail=detail), status


# A held instance lock is released within a step; an unreachable database takes longer.
RETRY_AFTER_BUSY_SECONDS = 2
RETRY_AFTER_UNAVAILABLE_SECONDS = 15
_DB_ERRORS = {
    "busy": ("INSTANCE_BUSY", "error.instance_busy", RETRY_AFTER_BUSY_SECONDS),
    "unavailable": ("DATABASE_UNAVAILABLE", "error.db_unavailable",
                    RETRY_AFTER_UNAVAILABLE_SECONDS),
}


def handle_database_error(exc: Exception, kind: str):
    """503 with Retry-After: the instance is locked by another step (``INSTANCE_BUSY``) or
    the database cannot be reached or did not answer in time (``DATABASE_UNAVAILABLE``).
    The transaction was rolled back, so nothing of the request was applied."""
    from web.i18n import translate

    code, key, retry = _DB_ERRORS[kind]
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or "-"
    # type and SQLSTATE only: the driver's message may quote the statement's values
    log.warning("%s (%s %s) on %s %s", code, type(orig or exc).__name__, state,
                request.method, request.url_rule.rule if request.url_rule else "-")
    headers = {"Retry-After": str(retry)}
    if wants_json():
        resp = jsonify({"error": code,
                        "message": f"{translate(key, 'de')} / {translate(key, 'en')}",
                        "retry_after": retry})
        resp.status_code = 503
        resp.headers.update(headers)
        return resp
    try:
        body, status = _html(503, message_key=key, bilingual=True)
    except Exception:  # noqa: BLE001 - the page itself failed: plain text
        body, status = f"{translate(key, 'de')}\n{translate(key, 'en')}\n", 503
        headers["Content-Type"] = "text/plain; charset=utf-8"
    return body, status, headers


def handle_lotse_error(exc: LotseError):
    status = status_for(exc)
    if wants_json():
        resp = jsonify(error_body(exc))
        resp.status_code = status
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="lotse"'
        return resp
    if isinstance(exc, CsrfFailed):
        return _html(status, message_key="error.csrf")
    key = getattr(exc, "message_key", None)
    if key:  # refused form input: German first, English second
        return _html(status, message_key=key, bilingual=True)
    return _html(status)


def _flatten(messages) -> dict[str, list[str]]:
    """webargs' {location: {field: [msg]}} as {field: [msg]}."""
    out: dict[str, list[str]] = {}
    if not isinstance(messages, dict):
        return {"_request": [str(messages)]}
    for loc, fields in messages.items():
        if isinstance(fields, dict):
            for name, msgs in fields.items():
                out.setdefault(str(name), []).extend(_strings(msgs))
        else:
            out.setdefault(f"_{loc}", []).extend(_strings(fields))
    return out


def _strings(msgs) -> list[str]:
    if isinstance(msgs, list):
        return [m if isinstance(m, str) else str(m) for m in msgs]
    if isinstance(msgs, dict):
        return [f"{k}: {'; '.join(_strings(v))}" for k, v in msgs.items()]
    return [str(msgs)]


def handle_http_exception(exc: HTTPException):
    original = getattr(exc, "original_exception", None)
    if original is not None:  # raised outside a view (an after_request hook): Flask's 500
        kind = classify_db_error(original)
        if kind:
            return handle_database_error(original, kind)
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if wants_json():
        if "messages" in data:  # webargs: the request did not match the schema
            body = {"error": "INVALID_INPUT", "message": "the request is invalid",
                    "errors": _flatten(data["messages"])}
            status = 400
        else:
            name = (exc.name or "error").upper().replace(" ", "_").replace("'", "")
            body = {"error": name, "message": exc.description or exc.name}
        resp = jsonify(body)
        resp.status_code = status
        valid_methods = getattr(exc, "valid_methods", None)  # MethodNotAllowed (405) only
        if valid_methods:
            resp.headers["Allow"] = ", ".join(valid_methods)
        return resp
    if status not in (400, 401, 403, 404, 405, 409, 422, 429):
        status = 400 if status < 500 else 500
    return _html(status)


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    kind = classify_db_error(exc)
    if kind:
        return handle_database_error(exc, kind)
    ref = uuid.uuid4().hex[:12]
    frames = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}"
                       for f in traceback.extract_tb(exc.__traceback__)[-8:])
    # Type and code location only: messages and locals may carry personal data.
    log.error("unhandled %s on %s %s (ref %s) at %s", type(exc).__name__, request.method,
              request.url_rule.rule if request.url_rule else "-", ref, frames)
    g.error_ref = ref
    if wants_json():
        resp = jsonify({"error": "INTERNAL_ERROR", "message": "internal error", "ref": ref})
        resp.status_code = 500
        return resp
    try:
        return _html(500, detail=ref)
    except Exception:  # noqa: BLE001 - the template failed: plain text, no traceback
        return "Interner Fehler / internal error (ref " + ref + ")", 500, {
            "Content-Type": "text/plain; charset=utf-8"}


def _reject_nul() -> None:
    """NUL characters are never valid input (and PostgreSQL text cannot hold them)."""
    if "\x00" in request.path:
        raise NotFound("not found")
    for multi in (request.args, request.form if request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data") else None):
        if multi is None:
            continue
        for key, values in multi.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                raise InvalidInput("input contains a NUL character")


class JsonTooDeep(InvalidInput):
    code = "JSON_TOO_DEEP"


class JsonNumberTooLong(InvalidInput):
    code = "JSON_NUMBER_TOO_LONG"


class JsonBadText(InvalidInput):
    code = "JSON_BAD_TEXT"


class FormTooDeep(InvalidInput):
    """A form field's JSON nests deeper than MAX_JSON_DEPTH (HTML form posts)."""
    code = "FORM_TOO_DEEP"
    message_key = "error.form_too_deep"


class FormBadText(InvalidInput):
    """A form post that is not UTF-8 or whose JSON field holds a lone surrogate."""
    code = "FORM_BAD_TEXT"
    message_key = "error.form_bad_text"


class FormControlCharacter(InvalidInput):
    """A form field (or a key or text inside a JSON field) with a control character."""
    code = "FORM_CONTROL_CHARACTER"
    message_key = "error.form_control"


# Request bodies deeper than this are refused before anything else sees them (forms nest
# a few levels; the engine and the JSON Schema validator recurse).
MAX_JSON_DEPTH = 32
# Python refuses to convert integers of more digits (sys.get_int_max_str_digits).
MAX_INT_DIGITS = 4300


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonNumberTooLong(f"Zahl mit mehr als {MAX_INT_DIGITS} Ziffern / number with "
                                f"more than {MAX_INT_DIGITS} digits")
    return int(text)


def _too_deep(form: bool) -> InvalidInput:
    cls = FormTooDeep if form else JsonTooDeep
    return cls(f"JSON tiefer als {MAX_JSON_DEPTH} Ebenen / JSON nested deeper than "
               f"{MAX_JSON_DEPTH} levels", max_depth=MAX_JSON_DEPTH)


def _check_tree(value, *, form: bool = False) -> None:
    """Depth and text of a parsed JSON document, iteratively (no recursion). ``form``: the
    JSON came from an HTML form field (Form* errors; control characters refused too)."""
    check = _check_form_text if form else _check_text
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, str):
            check(item)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(form)
        if isinstance(item, dict):
            for key, val in item.items():
                check(key)
                todo.append((val, depth + 1))
        else:
            todo.extend((val, depth + 1) for val in item)


# C0 controls and DEL; TAB, LF and CR are what text areas send.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_form_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FormBadText("Text mit ungültigem Zeichen (einzelnes Surrogat) / text with an "
                          "invalid character (lone surrogate)") from None
    if _CONTROL.search(text):
        raise FormControlCharacter("Text mit Steuerzeichen / text with a control character")


def check_form_tree(value) -> None:
    """``load_form_json``'s checks for JSON a form field carried, parsed elsewhere."""
    _check_tree(value, form=True)


def load_form_json(text: str):
    """A JSON form field (array/object widget, designer UI schema) parsed with the limits of
    JSON bodies: FormTooDeep past MAX_JSON_DEPTH (also where the parser itself would hit
    the recursion limit), FormBadText for a lone surrogate, FormControlCharacter for control
    characters in keys or texts, JsonNumberTooLong. Malformed JSON raises ValueError."""
    try:
        value = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise _too_deep(True) from None
    _check_tree(value, form=True)
    return value


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonBadText("Text mit ungültigem Zeichen (einzelnes Surrogat) / text with an "
                          "invalid character (lone surrogate)") from None
    if "\x00" in text:
        raise InvalidInput("input contains a NUL character")


def _check_json_body() -> None:
    """Every JSON request body passes here first: not nested too deep, no integer Python
    cannot convert, no lone surrogate or NUL in any string (each a 400 with its own code).
    A body that is not JSON at all is left to the endpoint (400 INVALID_INPUT)."""
    if not request.is_json or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    raw = request.get_data(cache=True)
    if not raw:
        return
    try:
        value = json.loads(raw, parse_int=_parse_int)
    except RecursionError:
        raise JsonTooDeep(f"JSON tiefer als {MAX_JSON_DEPTH} Ebenen / JSON nested deeper "
                          f"than {MAX_JSON_DEPTH} levels", max_depth=MAX_JSON_DEPTH) from None
    except InvalidInput:
        raise
    except ValueError:
        return  # malformed: the endpoint's parser answers 400 INVALID_INPUT
    _check_tree(value)
    if hasattr(request, "_cached_json"):  # werkzeug: parse once
        request._cached_json = (value, value)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _check_form_body() -> None:
    """Every HTML form post passes here first (before the CSRF check, which reads the form):
    an urlencoded body that is not UTF-8 (werkzeug would silently parse it as an empty form)
    is FormBadText, a field name or value with a control character other than TAB/LF/CR
    FormControlCharacter (NUL: ``_reject_nul``). JSON inside fields is checked where it is
    parsed (``load_form_json``). Each a 400 before anything is read or written."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.mimetype not in _FORM_TYPES:
        return
    if request.mimetype == _FORM_TYPES[0]:
        try:
            request.get_data(cache=True).decode("utf-8")
        except UnicodeDecodeError:
            raise FormBadText("Formular nicht in UTF-8 / form not in UTF-8") from None
    for key, values in request.form.lists():
        for text in (key, *values):
            if "\x00" not in text:
                _check_form_text(text)


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest, so ours win)."""
    # before the CSRF check, which parses the form, but after the user is known: a form
    # over the size limit raises 413 here, and its page shows the signed-in user's menus
    from web import auth

    funcs = app.before_request_funcs.setdefault(None, [])
    pos = funcs.index(auth._load_user) + 1 if auth._load_user in funcs else 0
    funcs.insert(pos, _check_form_body)
    app.before_request(_reject_nul)
    app.before_request(_check_json_body)
    app.register_error_handler(LotseError, handle_lotse_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
