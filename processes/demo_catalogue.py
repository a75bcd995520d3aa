"""Demo data for the KIM catalogue: fictional people and about 30 cases at different stages.

``seed_catalogue(engine)`` (called by ``lotse demo seed``) deploys nothing: the catalogue must
be deployed (``bpmn/``). It is idempotent: cases carry the case reference ``DEMO-K-nnn`` and
nothing is created when such cases exist. Every person is fictional.

The ``*_data`` functions return valid submissions of the catalogue's forms; the tests use them
too, so the demo and the tests exercise the same data.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from engine import clock as engine_clock
from engine.models import ProcessInstance
from processes.dates import age_on

# (first name, family name, Latin spelling or None, birth date, gender, nationality, language)
PEOPLE: list[tuple[str, str, str | None, str, str, str, str]] = [
    ("Amal", "Haddad", None, "1989-04-12", "f", "SYR", "ar"),
    ("Олена", "Коваленко", "Olena Kovalenko", "1985-09-30", "f", "UKR", "uk"),
    ("Yonas", "Tesfaye", None, "1996-01-17", "m", "ERI", "ti"),
    ("زهرا", "احمدی", "Zahra Ahmadi", "1992-06-03", "f", "AFG", "fa"),
    ("Mehmet", "Yılmaz", "Mehmet Yilmaz", "1979-11-21", "m", "TUR", "tr"),
    ("ሰላም", "ገብረ", "Selam Gebre", "2001-02-14", "f", "ERI", "ti"),
    ("Fatima", "Al-Rashid", None, "1987-07-08", "f", "IRQ", "ar"),
    ("Дмитро", "Шевченко", "Dmytro Shevchenko", "1975-03-02", "m", "UKR", "uk"),
    ("Abdirahman", "Warsame", None, "1999-12-01", "m", "SOM", "so"),
    ("Rojda", "Demir", None, "1994-05-19", "f", "SYR", "kmr"),
    ("Хасан", "Алиев", "Khasan Aliev", "1983-10-10", "m", "RUS", "ru"),
    ("Nasrin", "Karimi", None, "1990-08-25", "f", "IRN", "fa"),
    ("Jean-Baptiste", "Mukendi", None, "1986-02-28", "m", "COD", "fr"),
    ("Aziz", "Rahimi", None, "2006-04-04", "m", "AFG", "prs"),
    ("Mariam", "Yousef", None, "1998-09-09", "f", "SYR", "ar"),
    ("Bilal", "Nazari", None, "1993-01-30", "m", "AFG", "ps"),
    ("Hawa", "Diallo", None, "1991-06-15", "f", "GIN", "fr"),
    ("Sara", "Tesfamariam", None, "1997-03-12", "f", "ERI", "ti"),
    ("Ahmad", "Al-Khatib", None, "1982-12-24", "m", "SYR", "ar"),
    ("Ірина", "Бондаренко", "Iryna Bondarenko", "1988-11-11", "f", "UKR", "uk"),
    ("Karwan", "Mahmoud", None, "1995-07-07", "m", "IRQ", "ckb"),
    ("Leyla", "Hasanova", None, "1990-10-01", "f", "AZE", "ru"),
    ("Samir", "Benali", None, "1984-05-05", "m", "DZA", "fr"),
    ("Noor", "Hussain", None, "2003-08-18", "f", "IRQ", "ar"),
    ("Tigist", "Alemu", None, "1993-04-22", "f", "ETH", "en"),
    ("Omid", "Sadeghi", None, "1980-02-09", "m", "IRN", "fa"),
    ("Ayşe", "Kaya", "Ayse Kaya", "1977-06-30", "f", "TUR", "tr"),
    ("Mustafa", "Osman", None, "1999-09-19", "m", "SDN", "ar"),
    ("Ксенія", "Мельник", "Kseniia Melnyk", "1996-12-12", "f", "UKR", "uk"),
    ("Ali", "Rezaei", None, "1988-03-03", "m", "AFG", "fa"),
]
CASE_MANAGERS = ["anna.schmidt", "deniz.aydin", "lena.wagner"]


def _today() -> date:
    return engine_clock.now_berlin().date()


def _iso(d: date) -> str:
    return d.isoformat()


def days_ago(n: int) -> str:
    return _iso(_today() - timedelta(days=n))


def days_ahead(n: int) -> str:
    return _iso(_today() + timedelta(days=n))


# --- form data (valid submissions) ------------------------------------------------------------

def inquiry_data(i: int = 0, **over: Any) -> dict:
    first, last, latin, born, gender, nat, lang = PEOPLE[i % len(PEOPLE)]
    data = {
        "source_channel": "walk_in", "first_name": first, "last_name": last,
        "birth_date": born, "gender": gender, "nationality": nat, "languages": [lang],
        "interpreter_needed": lang not in ("de", "en"), "phone": f"+49 521 55{i:04d}",
        "residence_status": "aufenthaltserlaubnis", "household_size": 3,
        "minors_in_household": 1, "urgent": False,
        "inquiry_reason": "Braucht Unterstützung bei Wohnung, Arbeit und Sprache.",
    }
    if latin:
        data["name_latin"] = latin
    data.update(over)
    return data


def allocation_data(cm: str = "anna.schmidt", **over: Any) -> dict:
    return {"assigned_cm": cm, "district": "mitte", **over}


def interview_data(**over: Any) -> dict:
    return {"intake_date": days_ago(0), "informed_art13": True, "information_language": "ar",
            "interpreter_used": "professional_onsite", **over}


def cm_consent_data(given: bool = True, **over: Any) -> dict:
    if not given:
        return {"consent_cm_given": False, "includes_health_data": False, **over}
    return {"consent_cm_given": True, "consent_date": days_ago(0), "consent_form": "elektronisch",
            "signed_by": "self", "consent_language": "ar", "includes_health_data": False,
            **over}


def clearing_data(indicated: bool = True, **over: Any) -> dict:
    return {"handlungsfelder_need": ["wohnen", "arbeit_ausbildung", "sprache"],
            "involved_actors_count": 3, "regelversorgung_sufficient": not indicated,
            "existing_case_management": "none", "cm_indicated": indicated,
            "clearing_rationale": "Mehrere Handlungsfelder, die Regelversorgung reicht nicht.",
            **over}


def short_advice_data(**over: Any) -> dict:
    return {"topics": ["orientierung"], "advice_note": "Hinweise zu Sprachkursen gegeben.",
            **over}


def assessment_data(**over: Any) -> dict:
    data = {
        "residence_status": "aufenthaltserlaubnis",
        "residence_title_basis": "§ 25 Abs. 2 AufenthG", "permit_issue_date": days_ago(300),
        "permit_valid_until": days_ahead(400), "bamf_decision": "fluechtling",
        "bamf_decision_date": days_ago(330), "german_level": "A2",
        "integration_course_status": "attending", "employment_status": "employed",
        "benefits_current": "sgb2", "housing_situation": "own_lease", "eviction_risk": False,
    }
    data.update(over)
    return data


def plan_data(referrals: list[dict] | None = None, **over: Any) -> dict:
    return {
        "goals": [{"handlungsfeld": "arbeit_ausbildung",
                   "goal_text": "Eine Arbeitsstelle im erlernten Beruf finden.",
                   "target_date": days_ahead(180), "responsible": "office",
                   "responsible_office": "JC", "priority": 1}],
        "selected_referrals": referrals if referrals is not None else [],
        "client_agreed": True, "agreement_date": days_ago(0), "agreement_form": "signed_paper",
        "plan_language": "ar", "next_review_date": days_ahead(90), "conference_requested": False,
        **over,
    }


def consent_data(office: str, purpose: str, categories: list[str] | None = None,
                 **over: Any) -> dict:
    return {
        "consent_given": True, "recipient_office": office, "consent_purpose": purpose,
        "data_categories": categories or ["IDENT", "CONTACT"], "includes_health": False,
        "mutual_release": True, "valid_from": days_ago(0), "valid_until": days_ahead(365),
        "consent_form": "elektronisch", "signed_by": "self", "consent_language": "ar",
        "interpreter_used": "professional_onsite", "informed_consequences_of_refusal": True,
        **over,
    }


def consent_record(office: str, purpose: str, categories: list[str] | None = None,
                   consent_id: str | None = None) -> dict:
    """A consent as the processes keep it in ``consents`` (for start data)."""
    return {"consent_id": consent_id or f"E-{office.lower()}0001", "recipient_office": office,
            "purpose": purpose, "data_categories": categories or ["IDENT", "CONTACT"],
            "includes_health": False, "valid_from": days_ago(10),
            "valid_until": days_ahead(355), "status": "active"}


def review_data(next_step: str = "monitor", **over: Any) -> dict:
    data = {"goal_status": ["open"], "contact_date": days_ago(0), "contact_channel": "in_person",
            "new_needs": next_step == "reassess", "close_case": next_step == "close"}
    if next_step != "close":
        data["next_review_date"] = days_ahead(90)
    data.update(over)
    return data


def closure_data(**over: Any) -> dict:
    return {"closure_reason": "goals_achieved", "closure_date": days_ago(0),
            "goal_final_status": ["achieved"], "client_feedback_score": 5,
            "final_summary": "Ziele erreicht, Arbeit gefunden.", **over}


def ack_data(responsible: bool = True, **over: Any) -> dict:
    if responsible:
        return {"responsible": True, "office_reference": "AZ-2026-001",
                "expected_result_date": days_ahead(14), **over}
    return {"responsible": False, "suggested_office": "MBE",
            "not_responsible_reason": "Zuständig ist die Migrationsberatung.", **over}


def result_data(outcome: str = "granted", **over: Any) -> dict:
    data: dict[str, Any] = {"outcome": outcome}
    if outcome in ("granted", "partially_granted", "rejected", "no_action_needed"):
        data["decision_date"] = days_ago(0)
    if outcome == "rejected":
        data["rejection_reason"] = "Voraussetzungen liegen nicht vor."
    if outcome == "info_needed":
        data["documents_missing"] = ["Mietvertrag"]
        data["required_by"] = days_ahead(14)
    if outcome == "appointment_scheduled":
        data["next_appointment"] = f"{days_ahead(7)}T10:00"
    data.update(over)
    return data


def proxy(data: dict) -> dict:
    """The extra fields KIM_CM records when answering on behalf of an external office."""
    return {"recorded_channel": "email", "recorded_received_on": days_ago(0), **data}


def acknowledge_data(**over: Any) -> dict:
    return {"action_taken": "contacted", "action_date": days_ago(0), **over}


def counselling_data(birth_date: str = "2016-05-01", **over: Any) -> dict:
    # F3.1: at most max(0, age - 5) years of schooling abroad
    schooling = min(2, max(0, age_on(birth_date) - 5))
    return {"child_first_name": "Omar", "child_last_name": "Haddad", "child_birth_date": birth_date,
            "assignment_or_registration_date": days_ago(20), "guardian_name": "Amal Haddad",
            "guardian_phone": "+49 521 550001", "languages": ["ar"],
            "schooling_years_abroad": schooling,
            "literacy_latin_script": False, "german_level": "none",
            "special_support_indication": False, "placement_proposal": "grundschule", **over}


def exam_data(**over: Any) -> dict:
    return {"exam_date": days_ago(0), "exam_done": True, "fit_for_school": "yes",
            "measles_status": "proof_complete", **over}


def school_data(**over: Any) -> dict:
    return {"school_name": "Grundschule am Park", "school_number": "123456",
            "school_form": "grundschule", "grade": 3, "support_model": "regelklasse_mit_daz",
            "start_date": days_ahead(7), "transport_needed": False, **over}


def admission_data(measles: str = "vorhanden", **over: Any) -> dict:
    return {"first_school_day": days_ahead(7), "class_name": "3b", "measles_proof": measles,
            "contact_teacher": "Frau Becker", **over}


def housing_data(**over: Any) -> dict:
    return {"notice_type": "raeumungsklage", "notice_date": days_ago(20),
            "eviction_suit_served_date": days_ago(10), "arrears_amount": 2400,
            "monthly_rent_gross": 800, "benefits_current": "sgb2", "household_size": 4,
            "minors_in_household": 2, **over}


def bamf_data(**over: Any) -> dict:
    return {"bamf_decision": "fluechtling", "bamf_decision_date": days_ago(5),
            "service_date": days_ago(3), "persons_covered": ["Hauptperson"],
            "children_in_household": 0, **over}


# --- seeding ------------------------------------------------------------------------------------

def _open(engine, office: str, element: str, instance_id: int | None = None,
          case_ref: str | None = None) -> dict | None:
    for t in engine.tasks(office=office):
        if t["element_id"] == element and (instance_id is None or t["instance_id"] == instance_id) \
                and (case_ref is None or t["case_ref"] == case_ref):
            return t
    return None


def _do(engine, office: str, element: str, data: dict, instance_id: int | None = None,
        user: str | None = None, case_ref: str | None = None) -> bool:
    from engine.runtime import Actor

    task = _open(engine, office, element, instance_id, case_ref)
    if task is None:
        return False
    engine.complete(task["task_id"], data, actor=Actor(user=user))
    return True


def _grant(engine, case_id: str, office: str, purpose: str) -> dict:
    """Record a consent in the consent register (as the case manager would) and return it as
    the processes keep it in ``consents``."""
    from processes.consent import record_consent
    from processes.helpers import allowed_categories

    today = _today()
    cats = [c for c in allowed_categories(purpose) if c not in ("HEALTH", "YOUTH")][:4]
    c = record_consent(engine, case_id=case_id, office=office, purpose=purpose,
                       categories=cats or ["IDENT"], valid_from=today,
                       valid_until=today + timedelta(days=365))
    return {"consent_id": c["consent_id"], "recipient_office": office, "purpose": purpose,
            "data_categories": c["categories"], "includes_health": False,
            "valid_from": c["valid_from"], "valid_until": c["valid_until"], "status": "active"}


def _intake(engine, i: int, ref: str, stage: str, consents: list[dict] | None = None) -> int:
    """P1 up to ``stage``: inquiry, recorded, allocated, interviewed, consent, plan."""
    iid = engine.start("kim_intake_clearing", {"case_id": ref, "consents": consents or []},
                       case_ref=ref)["instance_id"]
    if stage == "inquiry":
        return iid
    cm = CASE_MANAGERS[i % len(CASE_MANAGERS)]
    _do(engine, "KIM_KO", "Task_RecordInquiry", inquiry_data(i), iid, "demo.ko")
    if stage == "recorded":
        return iid
    _do(engine, "KIM_KO", "Task_AllocateCase", allocation_data(cm), iid, "demo.ko")
    if stage == "allocated":
        return iid
    _do(engine, "KIM_CM", "Task_IntakeInterview", interview_data(), iid, cm)
    if stage == "interviewed":
        return iid
    if stage == "no_consent":
        _do(engine, "KIM_CM", "Task_RecordCmConsent", cm_consent_data(False), iid, cm)
        return iid
    _do(engine, "KIM_CM", "Task_RecordCmConsent", cm_consent_data(), iid, cm)
    if stage == "consent":
        return iid
    _do(engine, "KIM_CM", "Task_Clearing", clearing_data(), iid, cm)
    return iid


def _external(engine, office: str) -> bool:
    from processes.helpers import HELPERS

    try:
        return bool(HELPERS["is_external"](office))
    except ValueError:
        return False


def _acknowledge(engine, ref: str, office: str) -> None:
    lane = "KIM_CM" if _external(engine, office) else office
    for t in engine.tasks(office=lane):
        if t["element_id"] == "Task_AckReferral" and t["case_ref"] == ref:
            data = proxy(ack_data()) if lane == "KIM_CM" else ack_data()
            engine.complete(t["task_id"], data)
            return


# (days back, offices referred to) for cases in the support plan with open referrals
REFERRAL_CASES: list[tuple[int, list[tuple[str, str]]]] = [
    (40, [("JC", "JC:SGB2"), ("ABH", "ABH:AUFENTHALT")]),
    (12, [("AA", "AA:VERMITTLUNG"), ("JA", "JA:JUGENDHILFE")]),
    (3, [("SOZ", "SOZ:LEISTUNG"), ("WOHN", "WOHN:SICHERUNG")]),
    (25, [("MBE", "MBE:BERATUNG"), ("GA", "GA:UNTERSUCHUNG")]),
    (6, [("JMD", "JMD:BERATUNG"), ("JC", "JC:SGB2")]),
    (1, [("ANERK", "ANERK:BERATUNG"), ("FK", "FK:KINDERGELD")]),
    (30, [("IKT", "IKT:KURSANMELDUNG"), ("ORD", "ORD:UNTERBRINGUNG")]),
    (9, [("SCHUL", "SCHUL:ZUWEISUNG"), ("ABH", "ABH:AUFENTHALT")]),
    (15, [("FWT", "FWT:SCHULDNERBERATUNG"), ("BAMF", "BAMF:INTEGRATIONSKURS")]),
]


def seed_catalogue(engine) -> dict:
    """About 30 fictional cases across P1-P6, so that every office's worklist has work and some
    of it is overdue. Needs the catalogue deployed and its script helpers registered.

    Older cases are created with the engine clock set back (a ``SettableClock`` stands in for
    the engine's clock while seeding); their timers then fire on the next timer run, which
    produces the reminders and escalations of overdue work."""
    from engine.clock import SettableClock

    with engine.db.reader() as s:
        existing = s.scalar(select(func.count()).select_from(ProcessInstance)
                            .where(ProcessInstance.case_ref.like("DEMO-K-%")))
    if existing:
        return {"created": 0, "existing": existing}
    created: list[str] = []
    real_clock = engine.clock
    now = real_clock.now()
    n = 0

    def case(days_back: int) -> str:
        nonlocal n
        n += 1
        engine.clock = SettableClock(now - timedelta(days=days_back))
        ref = f"DEMO-K-{n:03d}"
        created.append(ref)
        return ref

    try:
        # P1 intake at every stage: KIM_KO and KIM_CM queues, some allocations overdue
        for stage, back in (("inquiry", 0), ("recorded", 8), ("allocated", 20),
                            ("allocated", 2), ("interviewed", 3), ("consent", 4),
                            ("no_consent", 1)):
            ref = case(back)
            with engine_clock.using(engine.clock):
                _intake(engine, n, ref, stage)
        # P2 with parallel referrals to the offices (consents in the register first)
        for back, pairs in REFERRAL_CASES:
            ref = case(back)
            with engine_clock.using(engine.clock):
                consents = [_grant(engine, ref, o, p) for o, p in pairs]
                cm = CASE_MANAGERS[n % len(CASE_MANAGERS)]
                iid = _intake(engine, n, ref, "plan", consents)
                _do(engine, "KIM_CM", "Task_Assessment", assessment_data(), iid, cm)
                referrals = [{"office": o, "purpose": p,
                              "requested_service": "Bitte prüfen und Ergebnis melden."}
                             for o, p in pairs]
                _do(engine, "KIM_CM", "Task_SupportPlan", plan_data(referrals), iid, cm)
                if back >= 9:  # older cases: the first office has acknowledged
                    _acknowledge(engine, ref, pairs[0][0])
        # P2 in monitoring, with a case conference pending, and one re-assessed case
        for back, step in ((50, "monitor"), (5, "conference"), (20, "reassess")):
            ref = case(back)
            with engine_clock.using(engine.clock):
                cm = CASE_MANAGERS[n % len(CASE_MANAGERS)]
                iid = _intake(engine, n, ref, "plan")
                _do(engine, "KIM_CM", "Task_Assessment",
                    assessment_data(eviction_risk=step == "reassess"), iid, cm)
                _do(engine, "KIM_CM", "Task_SupportPlan",
                    plan_data([], conference_requested=step == "conference"), iid, cm)
                if step != "conference":
                    _do(engine, "KIM_CM", "Task_ReviewResults", review_data(step), iid, cm)
        # P3 school enrolment on its own: KI_SEB, GA, SCHUL queues
        for back, birth, counselled in ((35, "2015-03-01", True), (4, "2012-10-10", False),
                                        (16, "2009-01-20", True)):
            ref = case(back)
            with engine_clock.using(engine.clock):
                iid = engine.start("kim_school_enrolment", {"case_id": ref},
                                   case_ref=ref)["instance_id"]
                if counselled:
                    _do(engine, "KI_SEB", "Task_NewcomerCounselling",
                        counselling_data(birth, child_first_name=PEOPLE[n][0],
                                         child_last_name=PEOPLE[n][1]), iid)
        # P4 recognition transition: ABH, JC, SOZ queues
        for back in (20, 2):
            ref = case(back)
            with engine_clock.using(engine.clock):
                consents = [_grant(engine, ref, o, p) for o, p in (
                    ("ABH", "ABH:AUFENTHALT"), ("JC", "JC:SGB2"), ("SOZ", "SOZ:LEISTUNG"))]
                iid = engine.start("kim_recognition_transition",
                                   {"case_id": ref, "consents": consents},
                                   case_ref=ref)["instance_id"]
                _do(engine, "KIM_CM", "Task_RecordBamfDecision", bamf_data(), iid)
        # P5 housing emergencies: WOHN, JC/SOZ, ORD queues; one from a court notice
        for back, benefits in ((10, "sgb2"), (1, "asylblg")):
            ref = case(back)
            with engine_clock.using(engine.clock):
                consents = [_grant(engine, ref, o, p) for o, p in (
                    ("JC", "JC:SGB2"), ("SOZ", "SOZ:LEISTUNG"),
                    ("FWT", "FWT:SCHULDNERBERATUNG"))]
                iid = engine.start("kim_housing_emergency",
                                   {"case_id": ref, "consents": consents},
                                   case_ref=ref)["instance_id"]
                _do(engine, "KIM_CM", "Task_RecordHousingEmergency", housing_data(
                    benefits_current=benefits, notice_type="raeumungstermin",
                    eviction_date=days_ahead(5)), iid)
        ref = case(2)
        with engine_clock.using(engine.clock):
            engine.publish("court_eviction_notice", {"case_id": ref,
                                                     "court_reference": "12 C 345/26",
                                                     "served_date": days_ago(2)})
        # the permit watch of a title that expires in seven weeks
        ref = case(0)
        with engine_clock.using(engine.clock):
            consents = [_grant(engine, ref, "ABH", "ABH:AUFENTHALT")]
            engine.publish("permit_watch_requested", {
                "case_id": ref, "permit_valid_until": days_ahead(49), "consents": consents})
        # an ad-hoc referral to the youth welfare office
        ref = case(7)
        with engine_clock.using(engine.clock):
            consents = [_grant(engine, ref, "JA", "JA:JUGENDHILFE")]
            engine.start("kim_single_referral", {
                "case_id": ref, "consents": consents,
                "referral": {"office": "JA", "purpose": "JA:JUGENDHILFE",
                             "requested_service": "Kita-Platz für ein Kind (3 Jahre)"}},
                case_ref=ref)
        # P6: a case being closed
        ref = case(60)
        with engine_clock.using(engine.clock):
            cm = CASE_MANAGERS[0]
            iid = _intake(engine, n, ref, "plan")
            _do(engine, "KIM_CM", "Task_Assessment", assessment_data(), iid, cm)
            _do(engine, "KIM_CM", "Task_SupportPlan", plan_data([]), iid, cm)
            _do(engine, "KIM_CM", "Task_ReviewResults", review_data("close"), iid, cm)
    finally:
        engine.clock = real_clock
    fired = engine.fire_due_timers()
    return {"created": len(created), "existing": 0, "timers_fired": fired, "cases": created}
