"""Worklists as people work them (issue 15.4, 15.0): saved filters per user with their
counts (pages and /api/saved-filters), sorting by due date with overdue first, the case
reference and the person's name only where the office may see it, rows whose case is not
shared saying so instead of linking to a 404, "Meine Aufgaben", and the return to the
worklist page a task was opened from (never to another site). SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import quote

from sqlalchemy import select, update

from engine.models import AuditEvent, HumanTask
from engine.runtime import Actor
from tests.web_support import refer, token_for
from tests.web_support import signed_in as browser_for

CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}
CM = Actor(user="cm.demo")


def start_case(eng, ref, data=None):
    out = eng.start("kim_first_referral", {}, ref, actor=CM)
    if data is not None:
        tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
        eng.complete(tid, data, actor=CM)
    return out["instance_id"]


def set_due(eng, case_ref, due):
    with eng.db.unit_of_work() as s:
        s.execute(update(HumanTask).where(HumanTask.case_ref == case_ref).values(due_at=due))


def task_of(eng, case_ref, office=None):
    """The id of the open task of case ``case_ref`` (in ``office``)."""
    q = select(HumanTask.id).where(HumanTask.case_ref == case_ref, HumanTask.state == "READY")
    if office:
        q = q.where(HumanTask.office == office)
    with eng.db.reader() as s:
        return s.scalars(q).one()


def rows(page: str) -> list[str]:
    """The case references of the worklist rows, in order."""
    return re.findall(r'<tr class="kern-table__row" id="task-[^"]+">.*?>([A-Z]+-\d+)<',
                      page, flags=re.S)


def tab_count(page: str, name: str) -> int:
    m = re.search(re.escape(name) + r' <span class="kern-badge[^"]*" data-count="(\d+)"',
                  page)
    assert m, f"no tab {name!r}"
    return int(m.group(1))


def save(client, **form):
    data = {"csrf_token": client.token, "office": "KIM_CM", "state": "open",
            "sort": "created", "process": "", "q": "", **form}
    return client.post("/worklist-filters", data=data)


# ---------------------------------------------------------------- saved filters (pages)
def test_saved_filter_tab_with_count_opens_and_deletes(web_app, eng, clock):
    for i in range(4):
        start_case(eng, f"SF-{i}")
        clock.advance(timedelta(minutes=1))
    start_case(eng, "XY-9")
    now = eng.now()
    set_due(eng, "SF-1", now - timedelta(days=2))
    set_due(eng, "SF-3", now - timedelta(hours=1))
    set_due(eng, "XY-9", now - timedelta(days=1))
    set_due(eng, "SF-2", now + timedelta(days=1))  # due soon, not overdue
    cm = browser_for(web_app, "cm.demo")
    assert "Noch keine gespeicherten Filter" in cm.get("/offices/KIM_CM/tasks").text
    r = save(cm, name="Überfällig, mein Amt, SF", state="overdue", q="sf-")
    assert r.status_code == 302
    target = r.headers["Location"]
    assert target.startswith("/offices/KIM_CM/tasks?") and "state=overdue" in target
    page = cm.get(target).text
    assert sorted(rows(page)) == ["SF-1", "SF-3"]  # overdue and case text, not XY-9
    assert tab_count(page, "Überfällig, mein Amt, SF") == 2
    assert 'aria-current="page">Überfällig, mein Amt, SF' in page
    assert "Filter „Überfällig, mein Amt, SF“ gespeichert." in page
    # a second filter; every tab shows its own count, on the "Meine Aufgaben" page too
    assert save(cm, name="Bald fällig", state="due_soon").status_code == 302
    mine = cm.get("/my-tasks").text
    assert tab_count(mine, "Bald fällig") == 1 and tab_count(mine, "Überfällig, mein Amt, SF") == 2
    # the count follows the tasks: one overdue task is done
    tid = task_of(eng, "SF-1")
    eng.complete(tid, CASE, actor=CM)
    assert tab_count(cm.get("/my-tasks").text, "Überfällig, mein Amt, SF") == 1
    # the same name twice is refused, nothing else saved
    r = save(cm, name="Bald fällig", state="open", next="/offices/KIM_CM/tasks")
    assert r.status_code == 302 and r.headers["Location"] == "/offices/KIM_CM/tasks"
    page = cm.get("/offices/KIM_CM/tasks").text
    assert "bereits einen Filter mit diesem Namen" in page
    assert page.count('class="lotse-saved-filters__item"') == 2
    # an office the user does not work in cannot be saved
    assert save(cm, name="Fremd", office="JC").status_code == 302
    assert "Fremd" not in cm.get("/offices/KIM_CM/tasks").text
    # delete
    fid = re.search(r'id="saved-filter-(\d+)"', page).group(1)
    r = cm.post(f"/worklist-filters/{fid}/delete", data={"csrf_token": cm.token})
    assert r.status_code == 302
    page = cm.get("/offices/KIM_CM/tasks").text
    assert page.count('class="lotse-saved-filters__item"') == 1 and "gelöscht" in page


def test_saved_filters_are_the_users_own(web_app, eng):
    start_case(eng, "OWN-1", CASE)
    jc = browser_for(web_app, "jc.demo")
    lead = browser_for(web_app, "lead.jc")  # same office, another user
    assert save(jc, name="Meine JC", office="JC", state="mine").status_code == 302
    page = jc.get("/offices/JC/tasks").text
    fid = re.search(r'id="saved-filter-(\d+)"', page).group(1)
    other = lead.get("/offices/JC/tasks").text
    assert "Meine JC" not in other and "Noch keine gespeicherten Filter" in other
    # opening its URL with ?filter= marks nothing and shows only the URL's criteria
    assert 'aria-current="page">Meine JC' not in lead.get(f"/offices/JC/tasks?filter={fid}").text
    # deleting another user's filter is a 404 and keeps it
    assert lead.post(f"/worklist-filters/{fid}/delete",
                     data={"csrf_token": lead.token}).status_code == 404
    assert "Meine JC" in jc.get("/offices/JC/tasks").text
    # the API neither lists, counts nor deletes it for the other user
    h_lead, h_jc = token_for(web_app, "lead.jc"), token_for(web_app, "jc.demo")
    api = web_app.test_client()
    assert api.get("/api/saved-filters", headers=h_lead).json == []
    assert api.delete(f"/api/saved-filters/{fid}", headers=h_lead).status_code == 404
    assert [f["name"] for f in api.get("/api/saved-filters", headers=h_jc).json] == ["Meine JC"]


# ---------------------------------------------------------------- saved filters (API)
def test_api_saved_filters_list_create_delete(web_app, eng):
    start_case(eng, "API-1", CASE)
    start_case(eng, "API-2", CASE)
    set_due(eng, "API-2", eng.now() - timedelta(days=1))
    api = web_app.test_client()
    h = token_for(web_app, "jc.demo")
    r = api.post("/api/saved-filters", headers=h,
                 json={"name": "Überfällig JC", "office": "JC", "state": "overdue",
                       "process_id": "kim_first_referral", "sort": "due"})
    assert r.status_code == 201, r.json
    made = r.json
    assert made["office"] == "JC" and made["state"] == "overdue" and made["case_text"] is None
    r = api.post("/api/saved-filters", headers=h, json={"name": "Alle", "office": "JC"})
    assert r.status_code == 201 and r.json["state"] == "open" and r.json["sort"] == "created"
    listed = api.get("/api/saved-filters", headers=h).json
    assert [(f["name"], f["count"]) for f in listed] == [("Alle", 2), ("Überfällig JC", 1)]
    # duplicates 409, another office 400, bad state 400: nothing saved
    dup = api.post("/api/saved-filters", headers=h, json={"name": "Alle", "office": "JC"})
    assert dup.status_code == 409 and dup.json["error"] == "SAVED_FILTER_EXISTS"
    foreign = api.post("/api/saved-filters", headers=h, json={"name": "X", "office": "ABH"})
    assert foreign.status_code == 400 and foreign.json["error"] == "INVALID_INPUT"
    assert api.post("/api/saved-filters", headers=h,
                    json={"name": "Y", "office": "JC", "state": "late"}).status_code == 400
    assert len(api.get("/api/saved-filters", headers=h).json) == 2
    assert api.delete(f"/api/saved-filters/{made['id']}", headers=h).status_code == 204
    assert api.delete(f"/api/saved-filters/{made['id']}", headers=h).status_code == 404
    assert [f["name"] for f in api.get("/api/saved-filters", headers=h).json] == ["Alle"]
    assert api.get("/api/saved-filters").status_code == 401
    spec = api.get("/api/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/api/saved-filters"])
    assert "delete" in spec["paths"]["/api/saved-filters/{filter_id}"]


# ---------------------------------------------------------------- sorting and due dates
def test_sort_by_due_and_overdue_first_with_german_dates(web_app, eng, clock):
    for i in range(5):
        start_case(eng, f"DU-{i}")
        clock.advance(timedelta(minutes=5))
    now = eng.now()
    set_due(eng, "DU-0", now + timedelta(days=10))
    set_due(eng, "DU-1", now - timedelta(days=1))
    set_due(eng, "DU-2", now + timedelta(days=2))
    set_due(eng, "DU-4", now - timedelta(days=3))  # DU-3 has no due date
    cm = browser_for(web_app, "cm.demo")
    assert rows(cm.get("/offices/KIM_CM/tasks?sort=created").text) == \
        ["DU-0", "DU-1", "DU-2", "DU-3", "DU-4"]
    assert rows(cm.get("/offices/KIM_CM/tasks?sort=due").text) == \
        ["DU-4", "DU-1", "DU-2", "DU-0", "DU-3"]
    page = cm.get("/offices/KIM_CM/tasks?sort=overdue_first").text
    assert rows(page) == ["DU-4", "DU-1", "DU-0", "DU-2", "DU-3"]
    # the due date as TT.MM.JJJJ and the overdue marker as text (not only a colour)
    day = (now - timedelta(days=3)).strftime("%d.%m.%Y")
    row4 = re.search(r'<tr[^>]*>(?:(?!</tr>).)*DU-4(?:(?!</tr>).)*</tr>', page, re.S).group(0)
    assert f">{day}</time>" in row4 and "überfällig" in row4
    row0 = re.search(r'<tr[^>]*>(?:(?!</tr>).)*DU-0(?:(?!</tr>).)*</tr>', page, re.S).group(0)
    assert "überfällig" not in row0
    # overdue-first pages by keyset across the two groups, without gaps or repeats
    import web.ui.board as board

    old, board.PAGE_SIZE = board.PAGE_SIZE, 2
    try:
        seen, url = [], "/offices/KIM_CM/tasks?sort=overdue_first"
        while url:
            page = cm.get(url).text
            seen += rows(page)
            m = re.search(r'rel="next" href="([^"]+)"', page)
            url = unescape(m.group(1)) if m else None
        assert seen == ["DU-4", "DU-1", "DU-0", "DU-2", "DU-3"]
    finally:
        board.PAGE_SIZE = old
    # state=due_soon: due within three days, not overdue
    assert rows(cm.get("/offices/KIM_CM/tasks?state=due_soon").text) == ["DU-2"]
    assert cm.get("/offices/KIM_CM/tasks?sort=overdue_first&after=garbage").status_code == 200


# ---------------------------------------------------------------- rows: case, person, title
def test_rows_show_the_name_only_where_the_office_may_see_it(web_app, eng):
    start_case(eng, "P-1", CASE)   # JC: consent with identity data
    start_case(eng, "P-2", CASE)   # JC: consent without identity data
    start_case(eng, "P-3", CASE)   # JC: no referral, no consent
    refer(eng, "P-1", "JC", "JC:SGB2", ["IDENT"])
    refer(eng, "P-2", "JC", "JC:SGB2", ["CONTACT"])
    jc = browser_for(web_app, "jc.demo")
    page = jc.get("/offices/JC/tasks").text
    by_ref = {ref: re.search(r'<tr[^>]*>(?:(?!</tr>).)*>' + ref + r'<(?:(?!</tr>).)*</tr>',
                             page, re.S).group(0) for ref in ("P-1", "P-2", "P-3")}
    assert "Amal Haddad" in by_ref["P-1"] and 'href="/cases/P-1"' in by_ref["P-1"]
    assert "Amal" not in by_ref["P-2"] and 'href="/cases/P-2"' in by_ref["P-2"]
    # no link that would be a 404: the row says why
    assert 'href="/cases/P-3"' not in by_ref["P-3"]
    assert "Fall für Ihr Amt nicht freigegeben" in by_ref["P-3"]
    assert page.count("Amal") == 1 and "Haddad" not in page.replace("Amal Haddad", "")
    assert jc.get("/cases/P-3").status_code == 404  # what the link would have been
    for m in re.finditer(r'href="(/(?:cases|tasks|instances)/[^"]+)"', page):
        assert jc.get(unescape(m.group(1))).status_code == 200, m.group(1)
    # the name shown is a logged read of identity data (without the value)
    with eng.db.reader() as s:
        reads = [e for e in s.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "data.read")) if (e.details or {}).get("case_id") == "P-1"
            or e.case_ref == "P-1"]
    assert reads and all("Amal" not in str(e.details) for e in reads)
    # English: the English task names where the form has one, without a German lang mark
    en = jc.get("/offices/JC/tasks?lang=en").text
    assert "Case not shared with your office" in en
    titles = re.findall(r'href="/tasks/[^"]+"( lang="de")?>([^<]+)<', en)
    assert titles and all(mark == "" for mark, _name in titles)
    de_titles = re.findall(r'href="/tasks/[^"]+">([^<]+)<',
                           jc.get("/offices/JC/tasks?lang=de").text)
    assert de_titles
    assert {n for _m, n in titles}.isdisjoint(de_titles)


# ---------------------------------------------------------------- my tasks, return path
def test_my_tasks_has_claimed_and_assigned_tasks(web_app, eng):
    start_case(eng, "M-1", CASE)
    start_case(eng, "M-2", CASE)
    jc, lead = browser_for(web_app, "jc.demo"), browser_for(web_app, "lead.jc")
    t1 = task_of(eng, "M-1", "JC")
    t2 = task_of(eng, "M-2", "JC")
    assert rows(jc.get("/my-tasks").text) == []
    jc.post(f"/tasks/{t1}/claim", data={"csrf_token": jc.token})
    r = lead.post(f"/tasks/{t2}/reassign", data={"csrf_token": lead.token, "user": "jc.demo"})
    assert r.status_code == 302
    assert sorted(rows(jc.get("/my-tasks").text)) == ["M-1", "M-2"]
    assert rows(lead.get("/my-tasks").text) == []
    assert sorted(rows(jc.get("/offices/JC/tasks?state=mine").text)) == ["M-1", "M-2"]


def test_after_submit_back_to_the_worklist_page_it_came_from(web_app, eng, clock):
    import web.ui.board as board

    for i in range(4):
        start_case(eng, f"N-{i}")
        clock.advance(timedelta(minutes=1))
    cm = browser_for(web_app, "cm.demo")
    old, board.PAGE_SIZE = board.PAGE_SIZE, 2
    try:
        first = cm.get("/offices/KIM_CM/tasks?q=N-").text
        page2_url = unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
        page2 = cm.get(page2_url).text
    finally:
        board.PAGE_SIZE = old
    assert rows(page2) == ["N-2", "N-3"]
    link = unescape(re.search(r'href="(/tasks/[^"]+\?next=[^"]+)"', page2).group(1))
    assert cm.get(link).status_code == 200
    tid = link.split("?")[0].rsplit("/", 1)[1]
    r = cm.post(f"/tasks/{tid}", data={"csrf_token": cm.token, **CASE})
    assert r.status_code == 302 and r.headers["Location"] == page2_url  # not page 1
    # no open redirect: another site as next is ignored (the office's worklist instead)
    for evil in ("https://evil.example/x", "//evil.example/x", "/\\evil.example",
                 "javascript:alert(1)"):
        tid = task_of(eng, "N-0", "KIM_CM")
        assert cm.get(f"/tasks/{tid}?next={quote(evil)}").status_code == 200
        r = cm.post(f"/tasks/{tid}?next={quote(evil)}", data={"csrf_token": cm.token})
        assert r.status_code in (302, 422)
        assert "evil" not in r.headers.get("Location", "")
    tid = task_of(eng, "N-0", "KIM_CM")
    cm.get(f"/tasks/{tid}?next={quote('https://evil.example/')}")
    r = cm.post(f"/tasks/{tid}?next={quote('https://evil.example/')}",
                data={"csrf_token": cm.token, **CASE})
    assert r.status_code == 302 and r.headers["Location"] == "/offices/KIM_CM/tasks"
