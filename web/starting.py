"""Who may start which process for which case, with which start data (pages, REST API and
``lotse start --user`` alike).

A start needs all of:

* a worker role (caseworker, case manager, team lead): else ``FORBIDDEN`` (403);
* the office of the *start lane* among the user's offices: the lane that holds the
  process's start event, or - when the start event lies in no lane - the lane of the
  first user task reached from it (``START_OFFICE_FORBIDDEN``, 403);
* when an existing case is named: access to that case by the usual decision
  (``processes.consent.case_access``; ``CASE_FORBIDDEN``, 403);
* start data the process accepts: validated by its start form; without a start form
  only the names the process declares as data inputs (``bpmn:ioSpecification``), any
  other key is refused (``FormInvalid``, 422).

No Flask here: the CLI uses it as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists, select

from engine import forms as engine_forms
from engine.db import Database
from engine.errors import FormInvalid, InvalidInput, ProcessNotFound
from engine.models import ProcessInstance
from processes.consent import Consent
from processes.models import Referral
from web import case_queries as cq
from web import queries
from web.accounts import Principal
from web.errors import Forbidden

_UNKNOWN = {"de": "Unbekanntes Feld: dieser Prozess nimmt es beim Start nicht an",
            "en": "Unknown field: this process does not accept it at the start"}


class StartForbidden(Forbidden):
    """The user is in none of the offices of the process's start lane (403)."""

    code = "START_OFFICE_FORBIDDEN"


class CaseForbidden(Forbidden):
    """The named case exists and the user has no access to it (403)."""

    code = "CASE_FORBIDDEN"


@dataclass(frozen=True)
class StartInfo:
    """What a start of the latest version of a process needs to know about it."""

    process_id: str
    definition_id: int
    offices: frozenset[str]  # offices of the start lane (empty: no lane, nobody)
    schema: dict | None  # the start form (JSON Schema), if any
    inputs: frozenset[str]  # declared data inputs (used only without a start form)


def start_info(db: Database, process_id: str) -> StartInfo | None:
    """The start lane, start form and data inputs of the latest version of ``process_id``
    (None when it is not deployed). The definition comes from the per-process cache."""
    chosen = next((p for p in queries.processes(db) if p["process_id"] == process_id), None)
    if chosen is None:
        return None
    found = cq.start_lanes(db, chosen["id"], process_id)
    if found is None:
        return None
    offices, inputs = found
    schema, _ui = cq.start_form(db, chosen["id"], process_id)
    return StartInfo(process_id, chosen["id"], offices, schema, inputs)


def may_start(user: Principal, info: StartInfo) -> bool:
    """Whether ``user`` works in an office of the process's start lane."""
    return bool(info.offices & user.work_offices)


def case_exists(db: Database, case_ref: str) -> bool:
    """Whether anything is known about case ``case_ref`` (an instance, consent, referral)."""
    with db.reader() as s:
        return bool(s.scalar(select(
            exists().where(ProcessInstance.case_ref == case_ref)
            | exists().where(Consent.case_id == case_ref)
            | exists().where(Referral.case_id == case_ref))))


def sees_case(engine, user: Principal, case_ref: str) -> bool:
    """The case-access decision outside a request (the CLI): as web/visibility.py decides
    it for pages and the API (``processes.consent.case_access``)."""
    from processes import consent
    from web.visibility import CM_OFFICE, policy

    cm = user.is_worker and CM_OFFICE in user.work_offices
    with engine.db.reader() as s:
        return consent.case_access(s, policy(), case_ref, user.work_offices, engine.now(),
                                   case_manager=cm).visible


def check_start(db: Database, user: Principal, process_id: str, case_ref: str | None,
                data: dict | None, *, sees_case: Callable[[str], bool],
                format_checker=None, lang: str = "de") -> dict:
    """Raise unless ``user`` may start ``process_id`` for ``case_ref`` with ``data``;
    return the cleaned start data. ``sees_case(case_ref)`` is the caller's case-access
    decision (pages and API log a refused read there)."""
    if not user.is_worker:
        raise Forbidden("nur Fallbearbeitung, Fallmanagement und Teamleitung starten Fälle "
                         "/ only caseworkers, case managers and team leads start cases")
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("Startdaten müssen ein JSON-Objekt sein / initial data must be a "
                           "JSON object")
    info = start_info(db, process_id)
    if info is None:
        raise ProcessNotFound(f"process '{process_id}' is not deployed", process_id=process_id)
    if not may_start(user, info):
        raise StartForbidden(
            "Diesen Prozess starten nur Beschäftigte der Dienststelle der Startbahn / only "
            "staff of the office of the process's start lane start this process",
            process_id=process_id, offices=sorted(info.offices))
    if case_ref and case_exists(db, case_ref) and not sees_case(case_ref):
        raise CaseForbidden("Kein Zugriff auf diesen Fall / you have no access to this case",
                            case_ref=case_ref)
    return clean_start_data(info, data or {}, format_checker=format_checker, lang=lang)


def clean_start_data(info: StartInfo, data: dict, *, format_checker=None,
                     lang: str = "de") -> dict:
    """``data`` validated by the start form, or limited to the declared data inputs."""
    if info.schema:
        cleaned, errs = engine_forms.clean_and_validate(info.schema, data,
                                                        format_checker=format_checker,
                                                        lang=lang)
        if errs:
            raise FormInvalid(errs)
        return cleaned
    unknown = sorted(str(k) for k in data if k not in info.inputs)
    if unknown:
        text = _UNKNOWN.get(lang, _UNKNOWN["de"])
        raise FormInvalid({k: [text] for k in unknown})
    return dict(data)
