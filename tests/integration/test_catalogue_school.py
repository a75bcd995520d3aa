"""P3 school enrolment (kim_school_enrolment): through the KI_SEB referral protocol and on its
own, every track, the parallel examination and assignment, measles notice and the timers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import clock as engine_clock
from processes import demo_catalogue as D
from tests.integration import test_catalogue_support as S


@pytest.fixture
def cat(engine, clock):
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


def _standalone(cat, birth: str) -> int:
    iid = cat.start("kim_school_enrolment", {"case_id": "K-3"}, case_ref="K-3")["instance_id"]
    S.complete(cat, "KI_SEB", "Task_NewcomerCounselling", D.counselling_data(birth), iid)
    return iid


def test_referral_to_the_ki_runs_the_enrolment_and_reports_the_school(cat):
    consent = S.grant(cat, "K-1", "KI_SEB", "KI_SEB:SCHULPLATZ", ["IDENT", "EDU"])
    cm = cat.start("kim_single_referral", {
        "case_id": "K-1", "consents": [consent],
        "referral": {"office": "KI_SEB", "purpose": "KI_SEB:SCHULPLATZ"}},
        case_ref="K-1")["instance_id"]
    S.complete(cat, "KI_SEB", "Task_AckReferral", D.ack_data())
    S.complete(cat, "KI_SEB", "Task_NewcomerCounselling", D.counselling_data("2016-05-01"))
    assert S.names(cat, "GA") == ["Task_HealthExam"]
    assert S.names(cat, "SCHUL") == ["Task_AssignSchool"]
    S.complete(cat, "SCHUL", "Task_AssignSchool", D.school_data())
    assert S.names(cat, "SCHULE") == []  # waits for the examination too
    S.complete(cat, "GA", "Task_HealthExam", D.exam_data(measles_status="incomplete"))
    S.complete(cat, "SCHULE", "Task_ConfirmAdmission", D.admission_data("fehlt"))
    (notice,) = S.messages(cat, "measles_proof_missing")
    assert notice["status"] == "unmatched"  # the GA's inbox; admission is not blocked
    record = cat.show(cm)["data"]["referral_record"]
    assert record["status"] == "completed" and record["outcome"] == "granted"
    assert record["result"]["school_name"] == "Grundschule am Park"
    assert record["result"]["track"] == "primar"
    assert record["result"]["support_model"] == "regelklasse_mit_daz"


@pytest.mark.parametrize(("birth", "end", "track"), [
    ("2022-01-10", "End_Kita", "kita"), ("2007-01-10", "End_Adult", "adult")])
def test_children_under_six_and_adults_end_early(cat, birth, end, track):
    iid = _standalone(cat, birth)
    shown = cat.show(iid)
    assert shown["status"] == "completed"
    assert shown["data"]["track"] == track
    assert shown["data"]["outcome"] == "no_action_needed" and shown["data"]["notes_for_cm"]
    assert S.names(cat, "GA") == [] and S.names(cat, "SCHUL") == []


@pytest.mark.parametrize(("birth", "track"), [("2009-06-01", "berufskolleg"),
                                              ("2013-06-01", "sek1"),
                                              ("2018-06-01", "primar")])
def test_track_follows_the_age(cat, birth, track):
    iid = _standalone(cat, birth)
    task = S.find(cat, "SCHUL", "Task_AssignSchool", iid)
    assert S.task_data(cat, task["task_id"])["track"] == track


def test_measles_proof_present_sends_no_notice(cat):
    iid = _standalone(cat, "2016-05-01")
    S.complete(cat, "GA", "Task_HealthExam", D.exam_data(), iid)
    S.complete(cat, "SCHUL", "Task_AssignSchool", D.school_data(), iid)
    S.complete(cat, "SCHULE", "Task_ConfirmAdmission", D.admission_data(), iid)
    assert cat.show(iid)["status"] == "completed"
    assert S.messages(cat, "measles_proof_missing") == []


def test_reminders_escalations_and_the_three_month_limit(cat, clock):
    iid = _standalone(cat, "2016-05-01")  # compulsory schooling began 20 days ago
    clock.advance(timedelta(days=15))
    cat.fire_due_timers()
    assert S.names(cat, "SCHUL") == ["Task_AssignSchool", "Task_RemindAssignSchool"]
    clock.advance(timedelta(days=14))
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_EscalateAssignSchool"]
    assert S.names(cat, "GA") == ["Task_HealthExam", "Task_RemindHealthExam"]
    S.complete(cat, "GA", "Task_HealthExam", D.exam_data(), iid)
    assert S.names(cat, "GA") == []  # the reminder closed with the examination
    clock.advance(timedelta(days=45))  # 3 months after compulsory schooling began
    cat.fire_due_timers()
    assert S.names(cat, "KIM_KO") == ["Task_EducationAccessCritical",
                                      "Task_EscalateAssignSchool"]
    S.complete(cat, "SCHUL", "Task_AssignSchool", D.school_data(), iid)
    assert S.names(cat, "KIM_KO") == [] and S.names(cat, "SCHUL") == []
    assert S.names(cat, "SCHULE") == ["Task_ConfirmAdmission"]


def test_counselling_refuses_more_schooling_years_than_age_minus_five(cat):
    """F3.1: schooling_years_abroad <= max(0, age - 5) on the engine clock, with every other
    field error at once and naming both fields; the task stays open."""
    from engine.errors import FormInvalid
    from processes.dates import add_months, today

    iid = cat.start("kim_school_enrolment", {"case_id": "K-3"}, case_ref="K-3")["instance_id"]
    task = S.find(cat, "KI_SEB", "Task_NewcomerCounselling", iid)
    eight = add_months(today(), -8 * 12)  # eighth birthday today: at most 3 years abroad
    bad = D.counselling_data(eight, schooling_years_abroad=4, languages=["arabic"])
    with pytest.raises(FormInvalid) as exc:
        cat.complete(task["task_id"], bad)
    assert set(exc.value.errors) == {"schooling_years_abroad", "languages.0"}
    (msg,) = exc.value.errors["schooling_years_abroad"]
    assert "Schulbesuchsjahre im Ausland" in msg and "Geburtsdatum des Kindes" in msg
    assert msg.endswith("(3)"), msg
    assert S.find(cat, "KI_SEB", "Task_NewcomerCounselling", iid)["task_id"] == task["task_id"]
    S.complete(cat, "KI_SEB", "Task_NewcomerCounselling",
               D.counselling_data(eight, schooling_years_abroad=3), iid)
    assert S.names(cat, "KI_SEB") != ["Task_NewcomerCounselling"]
