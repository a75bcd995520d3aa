"""Task instructions (BPMN ``instructionsForEndUser``) show dates and times the German way:
TT.MM.JJJJ for a day, "TT.MM.JJJJ, HH:MM Uhr" in Europe/Berlin for a moment (issue 14, the
raw ISO timestamp of ``due_ack`` was shown before). The instruction text is German, so the
values are German whatever the page language is."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from engine import clock as engine_clock
from tests.integration import test_catalogue_support as S
from tests.web_support import login, make_app
from web.ui.tasks import render_instructions


@pytest.mark.parametrize(("value", "shown"), [
    ("2026-03-10T08:00:00+01:00", "10.03.2026, 08:00 Uhr"),      # winter time
    ("2026-07-01T06:30:00+00:00", "01.07.2026, 08:30 Uhr"),      # UTC -> Berlin summer time
    ("2026-07-01T06:30:00Z", "01.07.2026, 08:30 Uhr"),
    ("2026-07-01T08:30", "01.07.2026, 08:30 Uhr"),               # no offset: Berlin wall time
    ("2026-03-10", "10.03.2026"),
    (date(2026, 3, 10), "10.03.2026"),
    (datetime(2026, 3, 10, 7, 0, tzinfo=timezone.utc), "10.03.2026, 08:00 Uhr"),
    ("AZ 2026-03-10/7", "AZ 2026-03-10/7"),                      # not a date: as it is
    ("2026-02-30", "2026-02-30"),                                 # no real date: as it is
    (["Pass", "Mietvertrag"], "Pass, Mietvertrag"),
])
def test_values_in_instructions_are_german(value, shown):
    assert render_instructions("Bis {{ x }}.", {"x": value}) == f"Bis {shown}."


def test_nested_values_are_german_too():
    text = "Angefordert: {{ info.documents_missing }} bis {{ info.required_by }}."
    data = {"info": {"documents_missing": ["Pass"], "required_by": "2026-04-01"}}
    assert render_instructions(text, data) == "Angefordert: Pass bis 01.04.2026."


def test_the_office_task_page_shows_due_ack_as_german_date_and_time(engine, tmp_path):
    app = make_app(engine, tmp_path)
    with engine_clock.using(engine.clock):
        S.deploy_catalogue(engine)
        consent = S.grant(engine, "K-4", "JC", "JC:SGB2", ["IDENT"])
        engine.start("kim_single_referral",
                     {"case_id": "K-4", "consents": [consent], "person": {},
                      "referral": {"office": "JC", "purpose": "JC:SGB2",
                                   "requested_service": "Bürgergeld prüfen"}},
                     case_ref="K-4")
        task = S.find(engine, "JC", "Task_AckReferral")
    raw = engine.show(task["instance_id"])["data"]["due_ack"]
    moment = datetime.fromisoformat(raw).astimezone(engine_clock.BERLIN)
    c = app.test_client()
    assert login(c, "jc.demo").status_code == 302
    r = c.get(f"/tasks/{task['task_id']}")
    assert r.status_code == 200
    section = r.text.split('id="instructions-heading"', 1)[1].split("</section>", 1)[0]
    assert f"Bitte bis {moment:%d.%m.%Y, %H:%M} Uhr den Eingang bestätigen." in section
    assert raw not in section
