"""Office board and worklists (per office, and "my tasks")."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, g, redirect, render_template, request, url_for

from engine.errors import InvalidInput, LotseError
from web import queries, saved_filters, worklist_rows
from web.accounts import list_users
from web.auth import login_required, safe_next
from web.ctx import services
from web.errors import OfficeNotFound
from web.flashes import flash
from web.ui import bp, is_htmx

PAGE_SIZE = 25


def board_offices() -> list[str]:
    """Offices shown on the board: the user's own; all active ones for auditors and admins."""
    reg = services().offices
    if g.user.has("auditor", "admin"):
        return [o.code for o in reg if o.active and not o.external]
    return [o for o in g.user.offices if o in reg]


@bp.get("/")
@login_required
def board():
    """Per office: waiting, claimed, overdue and the oldest waiting task."""
    svc = services()
    codes = board_offices()
    counts = queries.board(svc.db, codes, now=svc.engine.now())
    can_open = g.user.work_offices
    tpl = "_board_cards.html" if is_htmx() else "board.html"
    return render_template(tpl, nav="board", codes=codes, counts=counts, can_open=can_open)


def _filter_from_args(offices: tuple[str, ...], *, mine: bool) -> tuple[queries.TaskFilter, dict]:
    args = request.args
    sort = args.get("sort") or "created"
    if sort not in queries.SORTS:
        sort = "created"
    state = args.get("state") or "open"
    if state not in queries.STATES:
        state = "open"
    assignee_arg = (args.get("assignee") or "").strip()[:100]
    assignee = None
    if mine or assignee_arg == queries.ME or state == "mine":
        assignee = g.user.name
    elif assignee_arg:
        assignee = assignee_arg
    process_id = (args.get("process") or "").strip()[:200] or None
    overdue = args.get("overdue") in ("1", "on", "true") or state == "overdue"
    case_text = (args.get("q") or "").strip()[:saved_filters.TEXT_MAX] or None
    f = queries.TaskFilter(offices=offices, process_id=process_id, assignee=assignee,
                           overdue=overdue, sort=sort, due_soon=state == "due_soon",
                           case_text=case_text)
    form = {"process": process_id or "", "assignee": assignee_arg, "overdue": overdue,
            "sort": sort, "state": state, "q": case_text or ""}
    return f, form


def filter_url(f: dict) -> str:
    """The worklist page a saved filter opens (its office, its criteria, marked as current)."""
    args = {k: v for k, v in (("process", f["process_id"]), ("state", f["state"]),
                              ("q", f["case_text"]), ("sort", f["sort"]),
                              ("filter", str(f["id"]))) if v and v != "open"}
    return url_for("ui.worklist", code=f["office"]) + "?" + urlencode(args)


def _current_filter_id() -> int | None:
    raw = request.args.get("filter") or ""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _render_worklist(f: queries.TaskFilter, form: dict, *, office: str | None, title: str):
    svc = services()
    now = svc.engine.now()
    after = request.args.get("after") or None
    with svc.db.reader() as s:  # one pool checkout for the page's reads
        try:
            rows, nxt = queries.worklist(svc.db, f, now=now, limit=PAGE_SIZE, after=after, s=s)
        except InvalidInput:
            rows, nxt = queries.worklist(svc.db, f, now=now, limit=PAGE_SIZE, s=s)
            after = None
        procs = queries.processes(svc.db, s)
        members = [u["name"] for u in list_users(svc.db, office=office, s=s)] if office else []
        saved = saved_filters.with_counts(svc.db, g.user, now=now, s=s)
    worklist_rows.enrich(rows, now=now)
    for sf in saved:
        sf["url"] = filter_url(sf)
    current = _current_filter_id()
    ctx = {"rows": rows, "next_cursor": nxt, "after": after, "form": form, "office": office,
           "processes": procs, "process_names": {p["process_id"]: p["name"] for p in procs},
           "members": members, "title": title, "nav": "mine" if office is None else "board",
           "saved": saved, "current_filter": current, "back": worklist_rows.back_path()}
    if is_htmx() and request.headers.get("HX-Target") == "worklist-results":
        return render_template("_worklist_results.html", **ctx)
    return render_template("worklist.html", **ctx)


@bp.post("/worklist-filters")
@login_required
def save_filter():
    """Save the worklist filter shown under a name (the user's own; PRG to it)."""
    form = request.form
    back = safe_next(form.get("next")) if form.get("next") else url_for("ui.board")
    try:
        spec = saved_filters.check(g.user, name=form.get("name"), office=form.get("office"),
                                   process_id=form.get("process"), state=form.get("state"),
                                   case_text=form.get("q"), sort=form.get("sort"))
        f = saved_filters.create(services().db, g.user, spec, now=services().engine.now())
    except saved_filters.SavedFilterExists:
        flash({"key": "sf.exists", "params": {}}, "error")
        return redirect(back)
    except LotseError:
        flash({"key": "sf.invalid", "params": {}}, "error")
        return redirect(back)
    flash({"key": "sf.saved", "params": {"name": f["name"]}}, "success")
    return redirect(filter_url(f))


@bp.post("/worklist-filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int):
    """Delete one of the user's saved filters (another user's: 404)."""
    f = saved_filters.get(services().db, g.user, filter_id)
    saved_filters.delete(services().db, g.user, filter_id)
    flash({"key": "sf.deleted", "params": {"name": f["name"]}}, "success")
    nxt = request.form.get("next")
    return redirect(safe_next(nxt) if nxt else url_for("ui.worklist", code=f["office"])
                    if f["office"] in g.user.work_offices else url_for("ui.board"))


@bp.get("/offices/<code>/tasks")
@login_required
def worklist(code: str):
    """Open tasks of one office, filtered, sorted and paged by keyset."""
    if code not in g.user.work_offices:
        raise OfficeNotFound(f"office '{code}' not found", office=code)
    f, form = _filter_from_args((code,), mine=False)
    return _render_worklist(f, form, office=code, title="office")


@bp.get("/my-tasks")
@login_required
def my_tasks():
    """Open tasks the user has claimed, across their offices."""
    if not g.user.is_worker:
        abort(404)
    f, form = _filter_from_args(tuple(sorted(g.user.work_offices)), mine=True)
    return _render_worklist(f, form, office=None, title="mine")
