"""Every action says what happened (issue 15.5): the notice on the page after completing a
task names the next tasks and their offices, start names the first task, claim / release /
reassign name the task, an upload says how many files, in German and English, always in
the page's role=status live region (HTTP through the Flask test client, both databases)."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from html.parser import HTMLParser

from engine.runtime import Actor
from tests import bpmn_builder as B
from tests.integration.test_form_rules_engine import FORM, _process
from tests.web_support import base_consent
from tests.web_support import signed_in as user

CASE = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1990-04-01",
        "nationality": "SYR", "language": "ar", "residence_status": "temporary"}
CM = Actor(user="cm.demo")


class _Region(HTMLParser):
    """The text inside <div id="lotse-notices" role="status">, nested elements included."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.found = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.depth:
            self.depth += tag not in ("br", "img", "input")
        elif a.get("id") == "lotse-notices" and a.get("role") == "status":
            self.depth, self.found = 1, True

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def notices(page: str) -> str:
    """The text of the live region of a page."""
    p = _Region()
    p.feed(page)
    assert p.found, "no live region in the page"
    return " ".join("".join(p.text).split())


def start(eng, ref):
    return eng.start("kim_first_referral", {}, ref, actor=CM)["instance_id"]


def test_completion_names_the_next_tasks_and_their_offices(web_app, eng):
    start(eng, "FB-1")
    cm = user(web_app, "cm.demo")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    r = cm.post(f"/tasks/{tid}", data={"csrf_token": cm.token, **CASE})
    assert r.status_code == 302
    text = notices(cm.get(r.headers["Location"]).text)
    assert text.startswith("Aufgabe „Fall erfassen“ erledigt; nächste Aufgabe: ")
    assert "„Aufenthaltstitel prüfen“ bei Ausländerbehörde" in text
    assert "„Leistungsanspruch prüfen“ bei Jobcenter" in text
    # no personal data of the case in the notice
    assert "Amal" not in text and "Haddad" not in text
    # the next page no longer shows it (a flash is said once)
    assert notices(cm.get("/").text) == ""


def test_completion_notice_in_english(web_app, eng):
    start(eng, "FB-EN")
    cm = user(web_app, "cm.demo")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    r = cm.post(f"/tasks/{tid}?lang=en", data={"csrf_token": cm.token, **CASE})
    text = notices(cm.get(r.headers["Location"] + "?lang=en").text)
    assert text.startswith("Task “Record case” completed; next task: ")
    assert "“Check residence title” at Foreigners' authority" in text.replace("&#39;", "'")
    assert "at Job centre" in text


def test_completion_without_a_new_task_says_so(web_app, eng):
    """The office results: after the first of two parallel checks nothing new opens."""
    start(eng, "FB-2")
    tid = eng.tasks(office="KIM_CM")[0]["task_id"]
    eng.complete(tid, CASE, actor=CM)
    jc = user(web_app, "jc.demo")
    jc_task = eng.tasks(office="JC")[0]["task_id"]
    r = jc.post(f"/tasks/{jc_task}", data={"csrf_token": jc.token, "jc_result": "granted"})
    assert r.status_code == 302, r.text[:2000]
    assert [t["office"] for t in eng.tasks()] == ["ABH"]  # the join waits for the ABH
    assert notices(jc.get(r.headers["Location"]).text) == (
        "Aufgabe „Leistungsanspruch prüfen“ erledigt; keine neue Aufgabe ist entstanden, "
        "der Vorgang wartet (z. B. auf eine Frist oder eine Nachricht).")


def test_start_names_the_first_task(web_app, eng):
    cm = user(web_app, "cm.demo")
    page = cm.get("/start").text
    def_id = re.search(r'name="definition_id" value="(\d+)"', page)
    data = {"csrf_token": cm.token, "case_ref": "FB-START"}
    if def_id:
        data["definition_id"] = def_id.group(1)
    proc = re.search(r'name="process_id"[^>]*value="([^"]+)"', page)
    data["process_id"] = proc.group(1) if proc else "kim_first_referral"
    r = cm.post("/start", data=data)
    assert r.status_code == 302, r.text[:3000]
    text = notices(cm.get(r.headers["Location"]).text)
    iid = eng.tasks()[0]["instance_id"]
    assert text == (f"Fall FB-START gestartet (Vorgang {iid}); erste Aufgabe: "
                    "„Fall erfassen“ bei KIM-Case-Management.")


def test_claim_release_and_reassign_name_the_task(web_app, eng):
    start(eng, "FB-3")
    eng.complete(eng.tasks(office="KIM_CM")[0]["task_id"], CASE, actor=CM)
    jc = user(web_app, "jc.demo")
    tid = eng.tasks(office="JC")[0]["task_id"]
    r = jc.post(f"/tasks/{tid}/claim", data={"csrf_token": jc.token})
    assert notices(jc.get(r.headers["Location"]).text) == (
        "Aufgabe übernommen: „Leistungsanspruch prüfen“ – sie steht jetzt unter „Meine "
        "Aufgaben“.")
    r = jc.post(f"/tasks/{tid}/unclaim", data={"csrf_token": jc.token})
    assert notices(jc.get(r.headers["Location"]).text) == (
        "Aufgabe freigegeben: „Leistungsanspruch prüfen“ – sie steht wieder allen bei "
        "Jobcenter zur Verfügung.")
    # the htmx row answer carries the same text
    r = jc.post(f"/tasks/{tid}/claim", data={"csrf_token": jc.token, "office_view": "JC"},
                headers={"HX-Request": "true", "HX-Target": f"task-{tid}"})
    assert "Aufgabe übernommen: „Leistungsanspruch prüfen“" in html.unescape(r.text)
    lead = user(web_app, "lead.jc")
    r = lead.post(f"/tasks/{tid}/reassign?lang=en",
                  data={"csrf_token": lead.token, "user": "lead.jc"})
    assert notices(lead.get(r.headers["Location"] + "?lang=en").text) == (
        "Task “Leistungsanspruch prüfen” assigned to lead.jc.")


def test_consent_record_and_revoke_say_what_happened(web_app, eng):
    start(eng, "FB-4")
    eng.complete(eng.tasks(office="KIM_CM")[0]["task_id"], CASE, actor=CM)
    cm = user(web_app, "cm.demo")
    day = eng.now().date()
    r = cm.post("/cases/FB-4/consents", data={
        "csrf_token": cm.token, "office": "JC", "purpose": "JC:SGB2",
        "categories": ["IDENT"], "valid_from": day.isoformat(),
        "valid_until": (day + timedelta(days=300)).isoformat()})
    assert r.status_code == 302, r.text[:2000]
    page = cm.get(r.headers["Location"]).text
    assert notices(page) == "Einwilligung für JC (JC:SGB2) gespeichert."
    cid = re.search(r'/consents/([^/"]+)/revoke', page).group(1)
    r = cm.post(f"/cases/FB-4/consents/{cid}/revoke",
                data={"csrf_token": cm.token, "channel": "written"})
    assert notices(cm.get(r.headers["Location"]).text).startswith(
        "Widerruf für JC (JC:SGB2) erfasst: ")


def test_upload_says_how_many_files(web_app, eng):
    eng.deploy_files(B.files(p__bpmn=_process(), f__json=json.dumps(FORM)))
    base_consent(eng, "FB-UP", ["IDENT", "CONTACT", "CM_NOTES"])
    iid = eng.start("form_rules", {}, "FB-UP", actor=Actor(user="cm.demo",
                                                            offices=frozenset({"KIM_CM"})))
    tid = eng.tasks(instance_id=iid["instance_id"])[0]["task_id"]
    cm = user(web_app, "cm.demo")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    r = cm.post(f"/tasks/{tid}", data={
        "csrf_token": cm.token, "due": (eng.now() + timedelta(days=3)).date().isoformat(),
        "doc": (io.BytesIO(png), "scan.png", "image/png")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.text[:1000]
    text = notices(cm.get(r.headers["Location"]).text)
    assert "1 Datei(en) hochgeladen und dem Fall beigefügt." in text
    assert "scan.png" not in text  # a file name may name the person: never in the notice


def test_the_live_region_is_in_every_page_even_without_a_notice(web_app):
    cm = user(web_app, "cm.demo")
    page = cm.get("/").text
    assert re.search(r'<div class="lotse-flashes" id="lotse-notices" role="status" '
                     r'aria-live="polite"', page)
    assert notices(page) == ""
