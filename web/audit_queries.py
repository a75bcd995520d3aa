"""Auditor queries on the audit log: search with keyset paging, a case's timeline across
its instances and offices, an instance's replay on its diagram, CSV/JSON export.

Auditors never see personal values: entries hold ids, field names and categories only
(DP-12), and ``safe_details`` masks anything that looks like free text (e.g. engine error
messages) before an entry leaves the server."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from engine.db import Database
from engine.errors import InvalidInput
from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, TaskRow
from engine.read_model import flow_elements  # noqa: F401 - the replay reads element kinds

BERLIN = ZoneInfo("Europe/Berlin")
MASK = "•••"
PAGE = 50
EXPORT_MAX = 20000
USER_RE = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")
OFFICE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
EVENT_RE = re.compile(r"^[a-z_]+\.[a-z_]+$")
CASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_SAFE_STR = re.compile(r"^[A-Za-z0-9_.:/@+<>\-]{0,200}$")  # ids, codes, times, routes
# keys whose values may be free text (exception messages, notes): always masked
_TEXT_KEYS = frozenset({"error", "message", "note", "text", "comment"})
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
COMPLETED = 64
# audit events that start a processing step of an instance (who and when of that step)
STEP_EVENTS = ("instance.started", "task.completed", "timer.fired", "message.received",
               "message.delivered", "instance.retried", "instance.migrated", "instance.cancelled",
               "instance.data_rewritten", "case.pseudonymised")

# a message caught by an instance (``message.delivered`` in entries written before 14.3)
MESSAGE_STEPS = ("message.received", "message.delivered")


# ---------------------------------------------------------------- filters
@dataclass(frozen=True)
class AuditFilter:
    office: str | None = None
    user: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    event_type: str | None = None
    case_ref: str | None = None
    instance_id: int | None = None

    def as_dict(self) -> dict:
        """The set filters (for the audit.read entry and links); no personal values."""
        return {k: (v.isoformat() if isinstance(v, date) else v)
                for k, v in asdict(self).items() if v not in (None, "")}


def _opt(args, key: str, pattern: re.Pattern | None = None) -> str | None:
    value = (args.get(key) or "").strip()
    if not value:
        return None
    if pattern is not None and not pattern.match(value):
        raise InvalidInput(f"invalid filter {key}", parameter=key)
    return value


def _opt_date(args, key: str) -> date | None:
    value = _opt(args, key)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{key} must be a date YYYY-MM-DD", parameter=key) from None


def parse_filter(args) -> AuditFilter:
    """Filters from a query string (InvalidInput for malformed values)."""
    inst = _opt(args, "instance", re.compile(r"^[0-9]{1,18}$"))
    f = AuditFilter(office=_opt(args, "office", OFFICE_RE), user=_opt(args, "user", USER_RE),
                    date_from=_opt_date(args, "from"), date_to=_opt_date(args, "to"),
                    event_type=_opt(args, "event_type", EVENT_RE),
                    case_ref=_opt(args, "case", CASE_RE),
                    instance_id=int(inst) if inst else None)
    if f.date_from and f.date_to and f.date_to < f.date_from:
        raise InvalidInput("'to' lies before 'from'", parameter="to")
    return f


def parse_after(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise InvalidInput("invalid cursor 'after'", parameter="after")
    return int(value)


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=BERLIN)


def case_instance_ids(db: Database, case_ref: str) -> list[int]:
    with db.reader() as s:
        return list(s.scalars(select(ProcessInstance.id)
                              .where(ProcessInstance.case_ref == case_ref)
                              .order_by(ProcessInstance.id)))


def _query(db: Database, f: AuditFilter):
    q = select(AuditEvent)
    if f.office:
        q = q.where(AuditEvent.office == f.office)
    if f.user:
        q = q.where(AuditEvent.actor == f.user)
    if f.event_type:
        q = q.where(AuditEvent.event_type == f.event_type)
    if f.date_from:
        q = q.where(AuditEvent.at >= _day_start(f.date_from))
    if f.date_to:
        q = q.where(AuditEvent.at < _day_start(f.date_to + timedelta(days=1)))
    if f.instance_id is not None:
        q = q.where(AuditEvent.instance_id == f.instance_id)
    if f.case_ref:
        ids = case_instance_ids(db, f.case_ref)
        by_case = AuditEvent.details["case_id"].as_string() == f.case_ref
        q = q.where(or_(AuditEvent.instance_id.in_(ids), by_case) if ids else by_case)
    return q


def search(db: Database, f: AuditFilter, *, after: int | None = None, limit: int = PAGE,
           newest_first: bool = True) -> tuple[list[dict], str | None]:
    """One page of entries matching ``f`` (keyset on the entry id, the order in which
    entries were written across all chains) and the cursor of the next page (None on the
    last)."""
    q = _query(db, f).where(AuditEvent.seq.is_not(None))
    if newest_first:
        if after is not None:
            q = q.where(AuditEvent.id < after)
        q = q.order_by(AuditEvent.id.desc())
    else:
        if after is not None:
            q = q.where(AuditEvent.id > after)
        q = q.order_by(AuditEvent.id)
    with db.reader() as s:
        rows = s.scalars(q.limit(limit + 1)).all()
        cases = _instance_cases(s, {e.instance_id for e in rows if e.instance_id})
        out = [row_dict(e, cases) for e in rows[:limit]]
    nxt = str(out[-1]["id"]) if len(rows) > limit else None
    return out, nxt


def _instance_cases(s, ids: set[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    return dict(s.execute(select(ProcessInstance.id, ProcessInstance.case_ref)
                          .where(ProcessInstance.id.in_(ids))).all())


def event_types(db: Database) -> list[str]:
    with db.reader() as s:
        return sorted(s.scalars(select(AuditEvent.event_type).distinct()))


def safe_value(value):
    """A detail value as an auditor may see it: ids, codes, numbers, times; free text
    masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if _SAFE_STR.match(value) else MASK
    if isinstance(value, list | tuple):
        return [safe_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): (MASK if k in _TEXT_KEYS and v not in (None, "") else safe_value(v))
                for k, v in value.items()}
    return MASK


def safe_details(details: dict | None) -> dict:
    return safe_value(dict(details or {}))


# the detail fields an auditor reads in every entry that names them, in this order, with
# their label (web/i18n_dp.py); values of a fixed vocabulary get a label of their own
FACT_FIELDS = (
    ("name", "audit.f.name"), ("message_id", "audit.f.message_id"),
    ("from_office", "audit.f.from_office"), ("to_office", "audit.f.to_office"),
    ("referral_id", "audit.f.referral_id"), ("from_instance", "audit.f.from_instance"),
    ("to_instance", "audit.f.to_instance"), ("element", "audit.f.element"),
    ("task_id", "audit.f.task_id"), ("from", "audit.f.state_from"),
    ("to", "audit.f.state_to"), ("reason", "audit.f.reason"), ("cause", "audit.f.cause"),
    ("trigger", "audit.f.trigger"), ("trigger_kind", "audit.f.trigger_kind"),
    ("by_message", "audit.f.by_message"), ("outcome", "audit.f.outcome"),
)
_VOCABULARY = {"reason": "audit.reason.", "cause": "audit.reason.",
               "trigger_kind": "audit.kind.", "outcome": "audit.outcome.",
               "from": "referral.state.", "to": "referral.state."}
_ELEMENT_FIELDS = frozenset({"element", "trigger"})


def facts(details: dict | None) -> list[dict]:
    """The named fields of an entry's (already safe) details for the pages: label key,
    value, the label key of a vocabulary value, and whether the value is a diagram
    element (shown by its name)."""
    details = details or {}
    out = []
    for key, label in FACT_FIELDS:
        value = details.get(key)
        if value in (None, "", [], {}) or isinstance(value, dict | list):
            continue
        prefix = _VOCABULARY.get(key)
        out.append({"key": key, "label": label, "value": value,
                    "value_key": f"{prefix}{value}" if prefix else None,
                    "element": key in _ELEMENT_FIELDS})
    return out


def row_dict(e: AuditEvent, cases: dict[int, str | None] | None = None) -> dict:
    details = safe_details(e.details)
    case = details.get("case_id") if isinstance(details.get("case_id"), str) else None
    if case is None and e.instance_id is not None and cases:
        case = cases.get(e.instance_id)
    return {"seq": e.seq, "stream": e.stream, "id": e.id,
            "at": e.at.isoformat() if e.at else None,
            "event_type": e.event_type, "actor": e.actor, "office": e.office,
            "case_id": case, "instance_id": e.instance_id, "definition_id": e.definition_id,
            "task_id": e.task_id, "element_id": e.element_id, "details": details,
            "hash": e.hash}


def export_rows(db: Database, f: AuditFilter) -> list[dict]:
    """Every matching entry, oldest first (at most EXPORT_MAX)."""
    rows, _ = search(db, f, limit=EXPORT_MAX, newest_first=False)
    return rows


CSV_COLUMNS = ("id", "stream", "seq", "at", "event_type", "actor", "office", "case_id",
               "instance_id", "definition_id", "task_id", "element_id", "details", "hash")


def _cell(value) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(
        value, dict | list) else str(value)
    # no spreadsheet formulas (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in CSV_COLUMNS])
    return buf.getvalue()


# ---------------------------------------------------------------- case timeline
def case_overview(db: Database, case_ref: str) -> list[dict]:
    """The case's instances (every office), oldest first."""
    with db.reader() as s:
        out = []
        for inst in s.scalars(select(ProcessInstance).where(ProcessInstance.case_ref == case_ref)
                              .order_by(ProcessInstance.created_at, ProcessInstance.id)):
            d = s.get(ProcessDefinition, inst.definition_id)
            assert d is not None  # a foreign key; deployed definitions are never deleted
            offices = sorted({o for o in s.scalars(select(HumanTask.office).distinct().where(
                HumanTask.instance_id == inst.id)) if o})
            out.append({"instance_id": inst.id, "process_id": inst.process_id,
                        "process_name": d.name or d.process_id, "version": d.version,
                        "status": inst.status, "created_at": inst.created_at,
                        "completed_at": inst.completed_at, "created_by": inst.created_by,
                        "offices": offices, "definition_id": d.id})
        return out


# ---------------------------------------------------------------- replay
def _last_change(props: str) -> float:
    try:
        return float(json.loads(props).get("last_state_change") or 0.0)
    except (ValueError, TypeError, AttributeError):
        return 0.0


def replay(db: Database, instance_id: int, xml: str | None, case_ref: str | None = None) -> dict:
    """The path an instance took: every completed element of its diagram in order, with
    who and when (a user task: who completed it; an automatic element: the actor and time
    of the processing step that ran it), plus the audit entries of the instance."""
    elements = flow_elements(xml)
    with db.reader() as s:
        rows = s.execute(select(TaskRow.spec_name, TaskRow.state, TaskRow.props, TaskRow.seq)
                         .where(TaskRow.instance_id == instance_id)).all()
        events = s.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                           .order_by(AuditEvent.id)).all()
        offices = dict(s.execute(select(HumanTask.element_id, HumanTask.office)
                                 .where(HumanTask.instance_id == instance_id)).all())
        entries = [row_dict(e, {instance_id: case_ref}) for e in events]
    done = sorted(((_last_change(p), seq, name) for name, state, p, seq in rows
                   if state == COMPLETED and name in elements), key=lambda r: (r[0], r[1]))
    steps = [e for e in events if e.event_type in STEP_EVENTS]
    used: set[int] = set()
    pointer = steps[0] if steps else None
    path = []
    for n, (_ts, _seq, name) in enumerate(done, start=1):
        el = elements[name]
        own = None
        after = pointer.id if pointer is not None else 0
        if el["human"]:
            own = next((e for e in steps if e.id not in used and e.event_type == "task.completed"
                        and e.element_id == name), None)
        elif el["timer"]:
            own = next((e for e in steps if e.id not in used and e.event_type == "timer.fired"
                        and e.id > after), None)
        elif el["message"]:
            own = next((e for e in steps if e.id not in used
                        and e.event_type in MESSAGE_STEPS and e.id > after), None)
        if own is not None:
            used.add(own.id)
            pointer = own
        step = own or pointer
        path.append({"n": n, "element_id": name, "name": el["name"] or name,
                     "kind": el["kind"], "office": offices.get(name),
                     "who": (step.actor or "system") if step else None,
                     "at": step.at if step else None,
                     "via": step.event_type if step else None, "own": own is not None})
    order: dict[str, list[int]] = {}
    for p in path:
        order.setdefault(p["element_id"], []).append(p["n"])
    return {"path": path, "order": order, "entries": entries,
            "names": {k: v["name"] for k, v in elements.items() if v["name"]}}
