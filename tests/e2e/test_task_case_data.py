"""Issue 15.0: the results review (the join of the referrals) shows the offices' results, and
the case data of a task page read as words: what the open task sees (inside the called
support plan, not the intake's data at the call), dates as TT.MM.JJJJ, languages and states
by name, statuses and outcomes in German, no working variable of the processes (``cycle``,
``round_records``) and no snake_case key."""

from __future__ import annotations

import re

import pytest

from engine import clock as engine_clock
from processes import demo_catalogue as D
from tests.integration import test_catalogue_support as S
from tests.web_support import make_app, signed_in

JC = {"office": "JC", "purpose": "JC:SGB2", "requested_service": "Bürgergeld prüfen"}
ABH = {"office": "ABH", "purpose": "ABH:AUFENTHALT", "requested_service": "Titel verlängern"}


@pytest.fixture
def review(sqlite_db, clock, tmp_path):
    """An intake walked by the engine to the case manager's results review."""
    from processes.wiring import build_engine

    eng, _ = build_engine(sqlite_db, clock=clock)
    with engine_clock.using(eng.clock):
        S.deploy_catalogue(eng)
        iid = eng.start("kim_intake_clearing", {"case_id": "K-1"}, case_ref="K-1")["instance_id"]
        for office, element, data in [
                ("KIM_KO", "Task_RecordInquiry", D.inquiry_data(0)),
                ("KIM_KO", "Task_AllocateCase", D.allocation_data("cm.demo")),
                ("KIM_CM", "Task_IntakeInterview", D.interview_data()),
                ("KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(True)),
                ("KIM_CM", "Task_Clearing", D.clearing_data(True))]:
            S.complete(eng, office, element, data, iid)
        S.complete(eng, "KIM_CM", "Task_Assessment", D.assessment_data())
        S.complete(eng, "KIM_CM", "Task_SupportPlan", D.plan_data([JC, ABH]))
        while tasks := [t for t in eng.tasks(office="KIM_CM")
                        if t["element_id"] == "Task_RecordConsentPerOffice"]:
            asked = S.task_data(eng, tasks[0]["task_id"])["consent_request"]
            eng.complete(tasks[0]["task_id"], D.consent_data(asked["office"], asked["purpose"]))
        extra = {"JC": {"sgb2_benefit_start": D.days_ahead(30)},
                 "ABH": {"permit_valid_until": D.days_ahead(700)}}
        for office in ("JC", "ABH"):
            S.complete(eng, office, "Task_AckReferral", D.ack_data(office_reference=f"{office}-7"))
            S.complete(eng, office, "Task_ProcessReferral",
                       D.result_data("granted", **extra[office]))
        task = S.find(eng, "KIM_CM", "Task_ReviewResults")
    return make_app(eng, tmp_path), task


def _case_data(html: str) -> dict[str, str]:
    section = re.search(r'<section[^>]*id="case-data".*?</section>', html, re.S)
    assert section, "no case data on the task page"
    rows = re.findall(r"<dt[^>]*>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", section.group(0), re.S)
    out: dict[str, str] = {}
    for dt, dd in rows:
        out.setdefault(dt.strip(), "")
        out[dt.strip()] += (" | " if out[dt.strip()] else "") + re.sub(r"\s+", " ", dd).strip()
    return out


def test_the_results_review_shows_the_offices_results_in_words(review):
    app, task = review
    html = signed_in(app, "cm.demo").get(f"/tasks/{task['task_id']}").get_data(as_text=True)
    rows = _case_data(html)
    referrals = rows["Vermittlungen"]
    assert "Aktenzeichen der Stelle: JC-7" in referrals and "ABH-7" in referrals
    assert "Ergebnis: Bewilligt / erledigt" in referrals
    assert "Status: abgeschlossen" in referrals
    assert "Titel gültig bis: " in referrals  # the ABH's own result field, by its form
    # values as words
    assert rows["Staatsangehörigkeit"] == "Syrien"
    assert rows["Sprachen"] == "Arabisch"
    assert rows["Sprache der Einwilligung"] == "Arabisch"
    assert rows["Fallstatus"] == "aktiv"
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", rows["Fall eröffnet am"])
    assert "Arbeit und Ausbildung" in rows["Handlungsfelder mit Bedarf"]
    assert "Form: elektronisch" in rows["Einwilligungen"]
    text = " ".join(f"{k} {v}" for k, v in rows.items())
    assert not re.search(r"\d{4}-\d\d-\d\d", text), text  # no ISO date
    assert not re.search(r"\b[a-z]+(?:_[a-z0-9]+)+\b", text), text  # no snake_case
    # the processes' working variables are not shown (and not read)
    for internal in ("Cycle", "Round records", "Same", "Plan next", "Review next",
                     "Health allowed", "Consents needed"):
        assert internal not in rows, internal


def test_the_results_review_in_english(review):
    app, task = review
    client = signed_in(app, "cm.demo")
    client.set_cookie("lotse_lang", "en")
    html = client.get(f"/tasks/{task['task_id']}?lang=en").get_data(as_text=True)
    rows = _case_data(html)
    assert rows["Nationality"] == "Syria" and rows["Languages"] == "Arabic"
    assert rows["Case status"] == "active"
    assert "Outcome: Granted / done" in rows["Referrals"]
