"""Office board and worklists (per office, and "my tasks")."""

from __future__ import annotations

from flask import abort, g, render_template, request

from engine.errors import InvalidInput
from web import queries
from web.accounts import list_users
from web.auth import login_required
from web.ctx import services
from web.errors import OfficeNotFound
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
    assignee_arg = (args.get("assignee") or "").strip()[:100]
    assignee = None
    if mine or assignee_arg == queries.ME:
        assignee = g.user.name
    elif assignee_arg:
        assignee = assignee_arg
    process_id = (args.get("process") or "").strip()[:200] or None
    overdue = args.get("overdue") in ("1", "on", "true")
    f = queries.TaskFilter(offices=offices, process_id=process_id, assignee=assignee,
                           overdue=overdue, sort=sort)
    form = {"process": process_id or "", "assignee": assignee_arg, "overdue": overdue,
            "sort": sort}
    return f, form


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
    for r in rows:
        r["overdue"] = queries.is_overdue(r, now)
    ctx = {"rows": rows, "next_cursor": nxt, "after": after, "form": form, "office": office,
               "processes": procs, "process_names": {p["process_id"]: p["name"] for p in procs},
               "members": members, "title": title, "nav": "mine" if office is None else "board"}
    if is_htmx() and request.headers.get("HX-Target") == "worklist-results":
        return render_template("_worklist_results.html", **ctx)
    return render_template("worklist.html", **ctx)


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
