"""What an incident records: the element, the exception type and a message without values.

An exception's own text may quote task data (``invalid literal for int() with base 10:
'Zeynep'``), so the message auditors see and the audit trail keeps is built here from
parts that carry no data by construction: the exception class, where it happened (script,
preScript, postScript, expression) and the element's BPMN id. Only refusals of Lotse's own
sandbox (``SandboxViolation``: texts written by Lotse, naming the rule) keep their text.
The full original text is returned as ``detail`` for the administrators' column
``process_instance.error_detail``.
"""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exc as sa_exc

from engine.sandbox import BudgetExceeded, SandboxViolation

PRE_SCRIPT_NOTE = "Error occurred in the Pre-Script"
POST_SCRIPT_NOTE = "Error occurred in the Post-Script"
# internal_data key of a task whose preScript failed: retry runs its update again
RETRY_UPDATE = "lotse_retry_update"
MAX_DETAIL = 4000


def _cause(exc: BaseException) -> BaseException:
    """The innermost exception of a wrapped script error."""
    seen = {id(exc)}
    cur = exc
    while True:
        nxt = cur.__cause__ or (None if cur.__suppress_context__ else cur.__context__)
        if nxt is None or id(nxt) in seen:
            return cur
        seen.add(id(nxt))
        cur = nxt


def _where(exc: BaseException, spec) -> str:
    notes = [str(n) for n in getattr(exc, "notes", None) or []]
    text = " ".join(notes) + " " + (exc.args[0] if exc.args and isinstance(exc.args[0], str)
                                    else "")
    if PRE_SCRIPT_NOTE in notes:
        return "preScript"
    if POST_SCRIPT_NOTE in notes:
        return "postScript"
    if "Error evaluating expression" in text:
        return "expression"
    if getattr(spec, "script", None) is not None:
        return "script"
    return "step"


def _element(wf, spec) -> str:
    element = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
    if element:
        return str(element)
    if wf is not None:  # the exception named no task: the task it left in ERROR, or the process
        from engine import store

        for _k, w in store.iter_workflows(wf):
            for t in w.tasks.values():
                if t.state == TaskState.ERROR:
                    return t.task_spec.bpmn_id or t.task_spec.name
        return str(getattr(wf.spec, "name", None) or "process")
    return "process"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: set[int] = set()
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ or (None if cur.__suppress_context__ else cur.__context__)
    return out


def is_db_error(exc: BaseException) -> bool:
    """Raised by SQLAlchemy or the PostgreSQL driver."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installations
        return isinstance(exc, sa_exc.SQLAlchemyError)
    return isinstance(exc, (sa_exc.SQLAlchemyError, psycopg.Error))


def is_transient_db_error(exc: BaseException) -> bool:
    """A database failure that heals by itself: lost or refused connection, server shutdown,
    serialization failure, deadlock, pool timeout. The step rolls back and is tried again
    later; it is no incident. Errors of the statement itself (IntegrityError, DataError,
    ProgrammingError) are not transient and still become incidents (without SQL text)."""
    import sqlite3

    for e in _chain(exc):
        if isinstance(e, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                          sa_exc.DisconnectionError, sa_exc.PendingRollbackError,
                          sqlite3.OperationalError)):
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        try:
            import psycopg
        except ImportError:  # pragma: no cover
            continue
        if isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)):
            return True
        if isinstance(e, psycopg.errors.InFailedSqlTransaction):  # after one of the above
            return True
    return False


def db_error_name(exc: BaseException) -> str:
    """Class names (and SQLSTATE) of a database error: never its SQL, parameters or the
    server's DETAIL line, which quote values (the serialized workflow state)."""
    names = []
    for e in _chain(exc):
        name = type(e).__name__
        code = getattr(getattr(e, "diag", None), "sqlstate", None) or getattr(e, "sqlstate", None)
        names.append(f"{name} ({code})" if isinstance(code, str) else name)
    return " <- ".join(dict.fromkeys(names))


def describe(exc: BaseException, wf=None, *, element: str | None = None) -> dict:
    """``{"type", "element", "message", "detail"}`` of a failed step (see module doc)."""
    task = getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None) or getattr(exc, "task_spec", None)
    if not hasattr(spec, "bpmn_id") and not hasattr(spec, "name"):
        spec = None
    element = element or _element(wf, spec)
    cause = _cause(exc)
    error_type = getattr(exc, "error_type", None)
    if not error_type or error_type == "unknown" or cause is not exc:
        error_type = type(cause).__name__
    message = f"{error_type} in {_where(exc, spec)} of {element}"
    if isinstance(cause, (SandboxViolation, BudgetExceeded)):  # Lotse's own text, no data
        message = f"{message}: {str(cause)[:300]}"
    if any(is_db_error(e) for e in _chain(exc)):  # the text quotes SQL parameters
        detail = f"database error: {db_error_name(exc)}"
    else:
        detail = str(exc).strip() or type(exc).__name__
    if cause is not exc and not detail.startswith("database error: "):
        detail = f"{detail}\n{type(cause).__name__}: {cause}"
    return {"type": error_type[:100], "element": element[:200], "message": message[:1000],
            "detail": detail[:MAX_DETAIL]}


def mark_for_retry(exc: BaseException) -> None:
    """A task whose preScript failed never became READY: retry must run its update again."""
    task = getattr(exc, "task", None)
    if task is not None and PRE_SCRIPT_NOTE in [str(n) for n in getattr(exc, "notes", [])]:
        task.internal_data[RETRY_UPDATE] = True
