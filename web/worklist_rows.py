"""What a worklist row shows besides the task row itself (issue 15.4): the task's name in
the page's language, whether the viewer's office may open the case (a row whose case is
not shared with the office says so instead of linking to a 404), the person's name where
the consent lets the office see identity data (``web.visibility``; the read is logged like
every other read of case data), and the path a task page returns to after completion."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import g, request

from engine import read_model
from web import queries, visibility
from web.ctx import lang, services

NAME_FIELDS = ("first_name", "last_name")


def _names(data: dict) -> dict:
    """The name fields of an instance's data: on the top level (the case manager's
    processes) or in the referral's ``shared_data`` (a receiving office's)."""
    top = {k: data[k] for k in NAME_FIELDS if isinstance(data.get(k), str) and data[k]}
    if top:
        return top
    shared = data.get("shared_data")
    if isinstance(shared, dict):
        inner = {k: shared[k] for k in NAME_FIELDS if isinstance(shared.get(k), str)
                 and shared[k]}
        if inner:
            return {"shared_data": inner}
    return {}


def person_name(case_ref: str, instance_id: int, task_id: str) -> str | None:
    """The person's display name ("Amal Haddad") if the viewer may see identity data of
    the case, else None; what is shown is noted in the read log."""
    view = visibility.access(g.user, case_ref)
    if not view.visible or view.masked or "IDENT" not in view.categories:
        return None
    try:
        data = services().engine.show(instance_id).get("data") or {}
    except Exception:  # noqa: BLE001 - a row without a name is better than no worklist
        return None
    wanted = _names(data)
    if not wanted:
        return None
    seen = visibility.case_data(g.user, case_ref, wanted, instance_id=instance_id,
                                task_id=task_id).data
    shared = seen.get("shared_data")
    inner: dict = shared if isinstance(shared, dict) else seen
    parts = [inner.get(k) for k in NAME_FIELDS if isinstance(inner.get(k), str)]
    return " ".join(p for p in parts if p) or None


def enrich(rows: list[dict], *, now: datetime) -> list[dict]:
    """Adds ``overdue``, ``title`` (and ``title_lang``: "de" when it is the German name on
    an English page), ``case_open`` and ``person`` to the worklist rows (in place)."""
    en = read_model.english_titles(services().db, [r["task_id"] for r in rows]) \
        if lang() == "en" else {}
    names: dict[str, str | None] = {}
    for r in rows:
        r["overdue"] = queries.is_overdue(r, now)
        r["title"] = en.get(r["task_id"]) or r["name"]
        r["title_lang"] = "de" if lang() == "en" and r["task_id"] not in en else None
        ref = r.get("case_ref")
        r["case_open"] = bool(ref) and visibility.access(g.user, ref).visible
        r["person"] = None
        if ref and r["case_open"]:
            if ref not in names:
                names[ref] = person_name(ref, r["instance_id"], r["task_id"])
            r["person"] = names[ref]
    return rows


def back_path() -> str:
    """The worklist page as the viewer sees it (filters, page cursor), for the task page
    to return to: the GET's own path, or the ``next`` a row action posted."""
    if request.method == "GET":
        path = request.full_path
    else:
        path = request.form.get("next") or ""
    return path.rstrip("?") if is_local(path) else ""


def is_local(path: str | None) -> bool:
    """A path on this site (no scheme, no host, no ``//`` or backslash, no control
    characters): the only kind of return target accepted."""
    if not path or not isinstance(path, str) or not path.startswith("/") or \
            path.startswith("//") or "\\" in path or len(path) > 2000:
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc


_RETURNS = "lotse_return"  # session key: task id -> the worklist page it was opened from
_RETURNS_KEPT = 10


def remember_return(task_id: str, path: str | None) -> None:
    """Note the worklist page (a local path only) the task page was opened from, so the
    completion returns there - the same filter and page, not page 1."""
    from flask import session

    if not is_local(path):
        return
    kept = {k: v for k, v in (session.get(_RETURNS) or {}).items() if k != task_id}
    kept[task_id] = path
    session[_RETURNS] = dict(list(kept.items())[-_RETURNS_KEPT:])


def return_to(task_id: str, posted: str | None = None) -> str | None:
    """Where the completion of ``task_id`` goes back to: a posted ``next`` or the page
    remembered when the task was opened, if it is a local path; None otherwise (then the
    office's worklist). The remembered entry is used once."""
    from flask import session

    kept = dict(session.get(_RETURNS) or {})
    remembered = kept.pop(task_id, None)
    if remembered is not None:
        session[_RETURNS] = kept
    for path in (posted, remembered):
        if is_local(path):
            return path
    return None
