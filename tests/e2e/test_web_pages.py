"""Pages through the Flask test client: board, worklists, task form, case, start, i18n,
scoping and error pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.web_support import refer
from tests.web_support import signed_in as browser_for

CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}


def base_consent(eng, ref, categories):
    """The client's base consent to KIM case management for ``categories``."""
    from datetime import date

    from processes.consent import BASE_PURPOSE, record_consent

    record_consent(eng, case_id=ref, office="KIM_CM", purpose=BASE_PURPOSE,
                   categories=categories, valid_from=date(2026, 1, 1),
                   valid_until=date(2027, 12, 31))


def start_case(eng, ref="W-1", data=None):
    from engine.runtime import Actor

    out = eng.start("kim_first_referral", {}, ref, actor=Actor(user="cm.demo"))
    if data is not None:
        tid = eng.tasks(instance_id=out["instance_id"])[0]["task_id"]
        eng.complete(tid, data, actor=Actor(user="cm.demo"))
    return out["instance_id"]


def test_board_counts(web_app, eng, clock):
    start_case(eng, "B-1")
    clock.advance(timedelta(hours=1))
    start_case(eng, "B-2")
    cm = browser_for(web_app, "cm.demo")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    cm.post(f"/tasks/{tid}/claim", data={"csrf_token": cm.token})
    page = cm.get("/").text
    assert 'data-count="waiting">1<' in page and 'data-count="claimed">1<' in page
    assert "02.03.2026" in page  # oldest waiting since (Europe/Berlin)
    assert "/offices/KIM_CM/tasks" in page
    # htmx refresh returns just the cards
    frag = cm.get("/", headers={"HX-Request": "true"}).text
    assert frag.lstrip().startswith('<div id="board-cards"')
    # the auditor sees every office's counts but no worklist links
    aud = browser_for(web_app, "auditor.demo").get("/").text
    assert "office-JC" in aud and "/offices/KIM_CM/tasks" not in aud


def test_worklist_filters_sort_and_paging(web_app, eng, clock):
    for i in range(30):
        start_case(eng, f"L-{i:02d}")
        clock.advance(timedelta(minutes=1))
    cm = browser_for(web_app, "cm.demo")
    page = cm.get("/offices/KIM_CM/tasks").text
    assert page.count('<tr class="kern-table__row" id="task-') == 25
    assert "L-00" in page and "L-25" not in page
    nxt = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    page2 = cm.get(nxt).text
    assert page2.count('id="task-') == 5 and "L-25" in page2 and "L-00" not in page2
    assert "Erste Seite" in page2 and 'rel="next"' not in page2
    # htmx filter request answers only the results fragment
    frag = cm.get("/offices/KIM_CM/tasks?assignee=@none",
                  headers={"HX-Request": "true", "HX-Target": "worklist-results"}).text
    assert frag.lstrip().startswith('<div id="worklist-results"')
    tid = eng.tasks(office="KIM_CM")[3]["task_id"]
    cm.post(f"/tasks/{tid}/claim", data={"csrf_token": cm.token})
    mine = cm.get("/offices/KIM_CM/tasks?assignee=@me").text
    assert mine.count('id="task-') == 1 and "L-03" in mine
    assert cm.get("/my-tasks").text.count('id="task-') == 1
    unclaimed = cm.get("/offices/KIM_CM/tasks?assignee=@none&sort=due").text
    assert "L-03" not in unclaimed
    assert cm.get("/offices/KIM_CM/tasks?overdue=1").text.count('id="task-') == 0
    # a broken cursor falls back to the first page instead of failing
    assert cm.get("/offices/KIM_CM/tasks?after=garbage").status_code == 200
    assert cm.get("/offices/KIM_CM/tasks?sort=bogus").status_code == 200


def test_overdue_marked_with_text(web_app, eng, monkeypatch):
    start_case(eng, "D-1")
    from sqlalchemy import update

    from engine.models import HumanTask

    with eng.db.unit_of_work() as s:
        s.execute(update(HumanTask).values(due_at=eng.now() - timedelta(days=1)))
    cm = browser_for(web_app, "cm.demo")
    page = cm.get("/offices/KIM_CM/tasks?overdue=1").text
    assert page.count('id="task-') == 1
    assert "überfällig" in page and "kern-icon--warning" in page
    assert 'data-count="overdue"><span' in cm.get("/").text


def test_claim_unclaim_htmx_rows_and_reassign(web_app, eng):
    start_case(eng, "R-1", CASE)
    jc = browser_for(web_app, "jc.demo")
    tid = eng.tasks(office="JC")[0]["task_id"]
    r = jc.post(f"/tasks/{tid}/claim", data={"csrf_token": jc.token, "office_view": "JC"},
                headers={"HX-Request": "true", "HX-Target": f"task-{tid}"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith(f'<tr class="kern-table__row" id="task-{tid}"')
    assert "jc.demo" in r.text and "Freigeben" in r.text and "Aufgabe übernommen" in r.text
    # the team lead reassigns it to himself
    lead = browser_for(web_app, "lead.jc")
    page = lead.get(f"/tasks/{tid}").text
    assert 'id="reassign-user"' in page
    r = lead.post(f"/tasks/{tid}/reassign", data={"csrf_token": lead.token, "user": "lead.jc"})
    assert r.status_code == 302
    assert eng.get_task(tid)["assignee"] == "lead.jc"
    # jc.demo can no longer release it; gets a clear message
    r = jc.post(f"/tasks/{tid}/unclaim", data={"csrf_token": jc.token, "office_view": "JC"},
                headers={"HX-Request": "true", "HX-Target": f"task-{tid}"})
    assert "lead.jc" in r.text and "bearbeitet" in r.text
    # reassigning to somebody outside the office is refused
    r = lead.post(f"/tasks/{tid}/reassign", data={"csrf_token": lead.token, "user": "abh.demo"})
    assert r.status_code == 400
    r = jc.post(f"/tasks/{tid}/reassign", data={"csrf_token": jc.token, "user": "jc.demo"})
    assert r.status_code == 403


def test_task_form_rendering(web_app, eng):
    start_case(eng, "F-1")
    cm = browser_for(web_app, "cm.demo")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    page = cm.get(f"/tasks/{tid}").text
    assert ('<label class="kern-label" for="f-first_name">Vorname(n)'
            '<span aria-hidden="true"> *</span></label>') in page
    assert 'aria-describedby="f-first_name-hint0 f-first_name-hint1"' in page
    assert "Schreibweise genau wie angegeben" in page  # ui:help
    assert 'placeholder="TT.MM.JJJJ"' in page and 'type="tel"' in page and "<textarea" in page
    assert 'type="radio"' in page and "Befristete Aufenthaltserlaubnis" in page  # x-enum-labels
    assert page.index('id="f-first_name"') < page.index('id="f-residence_status"')  # ui:order
    assert "Bitte erfassen Sie die Grunddaten" in page  # instructions
    assert "Record the person" in page and 'lang="en"' in page  # BPMN documentation
    assert "§ 9 TIntG NRW" in page
    en = cm.get(f"/tasks/{tid}?lang=en").text
    assert '<html lang="en">' in en and "First name(s)" in en and "Temporary residence permit" in en
    assert "Record case" in en  # form title in English


def test_failed_submit_keeps_values_and_shows_errors(web_app, eng):
    start_case(eng, "E-1")
    cm = browser_for(web_app, "cm.demo")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    r = cm.post(f"/tasks/{tid}", data={"csrf_token": cm.token, "first_name": "Олена",
                                        "birth_date": "2999-01-01", "notes": "<b>hi</b>",
                                        "residence_status": "duldung"})
    assert r.status_code == 422
    page = r.text
    assert 'id="error-summary"' in page and "data-focus" in page
    assert 'href="#f-last_name"' in page and 'id="f-last_name-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'value="Олена"' in page and 'value="01.01.2999"' in page  # TT.MM.JJJJ (issue 15)
    assert "&lt;b&gt;hi&lt;/b&gt;" in page and "<b>hi</b>" not in page
    assert re.search(r'value="duldung"\s+checked', page)
    assert "Pflichtfeld" in page
    # English messages on the English page
    r = cm.post(f"/tasks/{tid}?lang=en", data={"csrf_token": cm.token})
    assert r.status_code == 422 and "This field is required" in r.text
    assert eng.get_task(tid)["state"] == "READY"


def test_good_submit_then_double_submit(web_app, eng):
    start_case(eng, "G-1")
    cm = browser_for(web_app, "cm.demo")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    form = {"csrf_token": cm.token, **CASE}
    r = cm.post(f"/tasks/{tid}", data=form)
    assert r.status_code == 302 and r.headers["Location"] == "/offices/KIM_CM/tasks"
    assert "erledigt" in cm.get(r.headers["Location"]).text
    r = cm.post(f"/tasks/{tid}", data=form)
    assert r.status_code == 409
    assert "bereits erledigt" in r.text and "cm.demo" in r.text
    assert 'id="task-form"' not in r.text
    assert len(eng.tasks(office="ABH")) == 1  # completed exactly once


def test_task_of_another_office_is_404(web_app, eng):
    start_case(eng, "S-1")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    jc = browser_for(web_app, "jc.demo")
    assert jc.get(f"/tasks/{tid}").status_code == 404
    assert jc.post(f"/tasks/{tid}", data={"csrf_token": jc.token}).status_code == 404
    assert jc.post(f"/tasks/{tid}/claim", data={"csrf_token": jc.token}).status_code == 404
    assert jc.get("/offices/KIM_CM/tasks").status_code == 404
    assert jc.get("/cases/S-1").status_code == 404
    r = jc.get("/tasks/not-a-task")
    assert r.status_code == 404 and "Nicht gefunden" in r.text and r.mimetype == "text/html"


def test_case_page(web_app, eng):
    iid = start_case(eng, "K-1", CASE)
    base_consent(eng, "K-1", ["IDENT", "CONTACT", "RESIDENCE"])
    cm = browser_for(web_app, "cm.demo")
    page = cm.get("/cases/K-1").text
    assert "Fall K-1" in page and f"#{iid}" in page
    assert "data-active='[\"Task_Aufenthalt_Pruefen\", \"Task_Leistung_Pruefen\"]'" in page
    assert "Task_Erfassen" in re.search(r"data-completed='([^']*)'", page).group(1)
    assert "Aufenthaltstitel prüfen</span> – aktiv" in page
    assert "Vorgang gestartet" in page and "Aufgabe erledigt" in page  # timeline
    assert "Amal" in page and "Vorname(n)" in page  # data with form labels
    assert "Befristete Aufenthaltserlaubnis" in page  # enum label, not the code
    xml = cm.get(f"/instances/{iid}/diagram.bpmn")
    assert xml.status_code == 200 and b"Task_Erfassen" in xml.data
    r = cm.get(f"/instances/{iid}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/K-1#instance-{iid}")
    assert cm.get("/cases?ref=K-1").headers["Location"] == "/cases/K-1"
    assert "K-1" in cm.get("/cases").text
    # JC has a task now, but no referral and consent: the case does not exist for JC
    jc = browser_for(web_app, "jc.demo")
    assert jc.get("/cases/K-1").status_code == 404
    # with a referral and a consent for identity data JC sees exactly those
    refer(eng, "K-1", "JC", "JC:SGB2", ["IDENT"])
    jc_page = jc.get("/cases/K-1")
    assert jc_page.status_code == 200 and "Amal" in jc_page.text
    assert "Befristete Aufenthaltserlaubnis" not in jc_page.text
    assert "Einwilligung deckt sie" in jc_page.text
    # the auditor sees it masked; admin not at all
    aud = browser_for(web_app, "auditor.demo").get("/cases/K-1").text
    assert "•••" in aud and "Amal" not in aud and "Vorgang gestartet" in aud
    assert browser_for(web_app, "admin.demo").get("/cases/K-1").status_code == 404
    assert cm.get("/instances/999999/diagram.bpmn").status_code == 404
    huge = "99999999999999999999999"
    assert cm.get(f"/instances/{huge}").status_code == 404
    assert cm.get(f"/instances/{huge}/diagram.bpmn").status_code == 404
    assert browser_for(web_app, "auditor.demo").get(f"/instances/{huge}").status_code == 404
    assert cm.get("/cases/" + "x" * 101).status_code == 404


def test_start_a_case(web_app, eng):
    cm = browser_for(web_app, "cm.demo")
    page = cm.get("/start").text
    assert 'name="case_ref"' in page and "kim_first_referral" in page
    r = cm.post("/start", data={"csrf_token": cm.token, "process_id": "kim_first_referral",
                                "case_ref": "bad ref!"})
    assert r.status_code == 422 and 'id="error-summary"' in r.text
    r = cm.post("/start", data={"csrf_token": cm.token, "process_id": "kim_first_referral",
                                "case_ref": "NEU-1"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/tasks/")
    assert eng.tasks(office="KIM_CM")[0]["case_ref"] == "NEU-1"
    r = cm.post("/start", data={"csrf_token": cm.token, "process_id": "nope", "case_ref": "X"})
    assert r.status_code == 422
    aud = browser_for(web_app, "auditor.demo")
    assert aud.get("/start").status_code == 403


def test_language_switch_is_remembered(web_app):
    cm = browser_for(web_app, "cm.demo")
    r = cm.get("/?lang=en")
    assert '<html lang="en">' in r.text and "Offices overview" in r.text
    assert "lotse_lang=en" in r.headers.get("Set-Cookie", "")
    assert "Offices overview" in cm.get("/").text
    assert 'href="?lang=de"' in cm.get("/").text
    assert "Übersicht der Stellen" in cm.get("/?lang=de").text


def test_html_error_pages_and_security_headers(web_app):
    cm = browser_for(web_app, "cm.demo")
    r = cm.get("/no/such/page")
    assert r.status_code == 404 and "<h1" in r.text
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert cm.get("/cases/%00").status_code in (400, 404)
    assert cm.get("/offices/KIM_CM/tasks?process=%00").status_code == 400


def test_unexpected_error_html_is_generic(web_app, monkeypatch):
    cm = browser_for(web_app, "cm.demo")

    def boom(*a, **k):
        raise RuntimeError("Amal Haddad")

    monkeypatch.setattr("web.queries.board", boom)
    r = cm.get("/")
    assert r.status_code == 500 and "Amal" not in r.text and "Traceback" not in r.text
    assert "interner fehler" in r.text.lower()


def test_instructions_show_only_shared_case_data(web_app, eng):
    start_case(eng, "I-1", {**CASE, "last_name": "O'Brien"})
    abh = browser_for(web_app, "abh.demo")
    tid = eng.tasks(office="ABH")[0]["task_id"]
    page = abh.get(f"/tasks/{tid}").text
    # case_summary is a case-manager note (names, nationality, status): never shared
    assert "für: nicht freigegeben." in page and "Brien" not in page
    refer(eng, "I-1", "ABH", "ABH:AUFENTHALT", ["IDENT", "RESIDENCE"])
    page = abh.get(f"/tasks/{tid}").text
    # the instructions still quote no case-manager note; the name itself is IDENT, which
    # ABH's consent now covers, so the task's case-data section shows it (issue 14.1)
    instructions = page.split('id="instructions-heading"', 1)[1].split("</section>", 1)[0]
    assert "für: nicht freigegeben." in instructions and "Brien" not in instructions
    shared = page.split('id="case-data"', 1)[1].split("</section>", 1)[0]
    assert "O&#39;Brien" in shared and "Fallzusammenfassung" not in page
    assert "{{" not in page


def test_case_data_follows_the_consent_scope(web_app, eng):
    start_case(eng, "CS-1", CASE)
    cm = browser_for(web_app, "cm.demo")
    page = cm.get("/cases/CS-1").text  # no base consent yet: identity and contact only
    assert "Amal" in page and "Befristete Aufenthaltserlaubnis" not in page
    assert "nicht sichtbar" in page and "Fallzusammenfassung" not in page
    base_consent(eng, "CS-1", ["IDENT", "CONTACT", "RESIDENCE", "EDU"])
    page = cm.get("/cases/CS-1").text
    assert "Befristete Aufenthaltserlaubnis" in page and "Haddad" in page
    # uncategorised fields are case-management notes, shown under their German name
    assert "Fallzusammenfassung" in page and "case_summary" not in page
