"""The consent register is the single truth (issue 14.2), with the shipped catalogue and the
web app on SQLite and PostgreSQL: a consent recorded on the case page or through the API is
used by the support plan and the housing process (they do not ask again); a case started
with a case reference keeps it everywhere (instance, register, access of its case manager);
a consent recorded twice is refused on the page, the API and the CLI path and merged on the
process path, never a second row."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import clock as engine_clock
from engine.errors import InvalidInput
from engine.models import AuditEvent, ProcessInstance
from engine.runtime import Actor
from processes import demo_catalogue as D
from processes.consent import BASE_PURPOSE, Consent, ConsentDuplicate, case_access, record_consent
from processes.dataprotection import Policy
from processes.models import Referral
from tests.integration import test_catalogue_support as S
from tests.web_support import csrf, login, token_for

CM = Actor(user="cm.demo", offices=frozenset({"KIM_CM"}))
PERSON = {"first_name": "Amal", "last_name": "Haddad", "birth_date": "1989-04-12"}
JC = {"office": "JC", "purpose": "JC:SGB2", "requested_service": "Bürgergeld prüfen"}


@pytest.fixture
def eng(web_app, clock):
    engine = web_app.extensions["lotse"].engine
    with engine_clock.using(clock):
        yield S.deploy_catalogue(engine)


@pytest.fixture
def api(web_app):
    c = web_app.test_client()
    c.h = token_for(web_app, "cm.demo")
    return c


def page_client(web_app):
    c = web_app.test_client()
    assert login(c, "cm.demo").status_code == 302
    c.token = csrf(c)
    return c


def rows(eng, case_id: str) -> list[Consent]:
    with eng.db.reader() as s:
        return list(s.scalars(select(Consent).where(Consent.case_id == case_id)
                              .order_by(Consent.purpose)))


def referrals(eng, case_id: str) -> list[tuple[str, str | None]]:
    with eng.db.reader() as s:
        return [(r.state, r.consent_id) for r in
                s.scalars(select(Referral).where(Referral.case_id == case_id))]


def open_elements(eng, office: str) -> list[str]:
    return [t["element_id"] for t in eng.tasks(office=office)]


def consent_body(office="JC", purpose="JC:SGB2", categories=("IDENT", "CONTACT", "FINANCE")):
    return {"office": office, "purpose": purpose, "categories": list(categories),
            "valid_from": D.days_ago(1), "valid_until": D.days_ahead(300)}


def test_support_plan_uses_the_consent_recorded_through_the_api(eng, api):
    iid = eng.start("kim_support_plan", {"case_opened": D.days_ago(0), "person": PERSON,
                                         **PERSON}, "K-21", actor=CM)["instance_id"]
    r = api.post("/api/cases/K-21/consents", headers=api.h, json=consent_body())
    assert r.status_code == 201, r.json
    consent_id = r.json["consent_id"]
    S.complete(eng, "KIM_CM", "Task_Assessment", D.assessment_data(), iid)
    S.complete(eng, "KIM_CM", "Task_SupportPlan", D.plan_data([JC]), iid)
    # the plan does not ask for the consent again: the referral is sent under the register's
    assert "Task_RecordConsentPerOffice" not in open_elements(eng, "KIM_CM")
    assert open_elements(eng, "JC") == ["Task_AckReferral"]
    assert referrals(eng, "K-21") == [("sent", consent_id)]
    assert [c.consent_id for c in rows(eng, "K-21")] == [consent_id]  # no duplicate
    assert "consents" not in eng.show(iid)["data"]  # the process keeps no copy


def test_housing_uses_the_consent_recorded_on_the_case_page(web_app, eng):
    iid = eng.start("kim_housing_emergency", {}, "K-22", actor=CM)["instance_id"]
    cm = page_client(web_app)
    form = {"csrf_token": cm.token, **consent_body(), "categories": ["IDENT", "FINANCE",
                                                                     "HOUSING"]}
    assert cm.post("/cases/K-22/consents", data=form).status_code == 302
    S.complete(eng, "KIM_CM", "Task_RecordHousingEmergency", D.housing_data(), iid)
    # JC (the payer) gets the referral at once; only FWT, recorded nowhere, is asked for
    assert open_elements(eng, "JC") == ["Task_AckReferral"]
    obtain = [t for t in eng.tasks(office="KIM_CM") if t["element_id"] == "Task_ObtainConsent"]
    assert [S.task_data(eng, t["task_id"])["office"] for t in obtain] == ["FWT"]
    assert [c.purpose for c in rows(eng, "K-22")] == ["JC:SGB2"]


def test_a_case_reference_given_at_the_start_is_the_case_id_everywhere(eng):
    iid = eng.start("kim_intake_clearing", {"walk_in": True}, "K-31", actor=CM)["instance_id"]
    S.complete(eng, "KIM_CM", "Task_RecordInquiryWalkIn", D.inquiry_data(0), iid)
    S.complete(eng, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    S.complete(eng, "KIM_CM", "Task_IntakeInterview", D.interview_data(), iid)
    S.complete(eng, "KIM_CM", "Task_RecordCmConsent", D.cm_consent_data(), iid)
    assert eng.show(iid)["data"]["case_id"] == "K-31"
    (base,) = rows(eng, "K-31")  # the base consent is registered under the given reference
    assert base.purpose == BASE_PURPOSE
    with eng.db.reader() as s:
        assert s.scalar(select(Consent.case_id).where(Consent.case_id != "K-31")) is None
        access = case_access(s, Policy.load(), "K-31", frozenset({"KIM_CM"}), eng.now())
    assert access.visible and "FINANCE" in access.categories  # more than IDENT/CONTACT
    # start data naming another case id is refused, nothing is started
    with pytest.raises(InvalidInput) as exc:
        eng.start("kim_intake_clearing", {"case_id": "K-99"}, "K-32", actor=CM)
    assert "weicht" in exc.value.message and "differs" in exc.value.message
    with eng.db.reader() as s:
        assert s.scalar(select(ProcessInstance.id).where(
            ProcessInstance.case_ref.in_(["K-32", "K-99"]))) is None


def test_a_start_without_case_reference_gets_one_id_from_its_first_step(eng):
    iid = eng.start("kim_intake_clearing", {"walk_in": True}, actor=CM)["instance_id"]
    shown = eng.show(iid)
    assert shown["case_ref"] and shown["case_ref"] == shown["data"]["case_id"]


def test_a_duplicate_consent_is_refused_on_the_api_the_page_and_the_cli_path(web_app, eng,
                                                                             api):
    eng.start("kim_support_plan", {"case_opened": D.days_ago(0)}, "K-41", actor=CM)
    assert api.post("/api/cases/K-41/consents", headers=api.h,
                    json=consent_body()).status_code == 201
    # the same office and purpose, an overlapping validity: 409, nothing added
    r = api.post("/api/cases/K-41/consents", headers=api.h,
                 json=consent_body(categories=("IDENT",)))
    assert r.status_code == 409 and r.json["error"] == "CONSENT_DUPLICATE", r.json
    assert "bereits" in r.json["message"] and "exists already" in r.json["message"]
    cm = page_client(web_app)
    r = cm.post("/cases/K-41/consents", data={"csrf_token": cm.token, **consent_body()})
    assert r.status_code == 409 and "bereits eine aktive Einwilligung" in r.text
    with pytest.raises(ConsentDuplicate):  # what `lotse consent record` calls
        record_consent(eng, case_id="K-41", office="JC", purpose="JC:SGB2",
                       categories=["IDENT"], valid_from=eng.now().date(),
                       valid_until=eng.now().date())
    assert len(rows(eng, "K-41")) == 1


def test_a_consent_a_process_records_again_is_merged_not_doubled(eng, api):
    iid = eng.start("kim_single_referral", {"referral": {"office": "JC", "purpose": "JC:SGB2"},
                                            "person": PERSON}, "K-51", actor=CM)["instance_id"]
    task = S.find(eng, "KIM_CM", "Task_ObtainConsent", iid)
    # meanwhile the consent is recorded on the API (IDENT only); then the form is completed
    r = api.post("/api/cases/K-51/consents", headers=api.h,
                 json=consent_body(categories=("IDENT",)))
    assert r.status_code == 201
    eng.complete(task["task_id"], D.consent_data("JC", "JC:SGB2", ["IDENT", "FINANCE"]))
    (row,) = rows(eng, "K-51")
    assert row.consent_id == r.json["consent_id"]
    assert set(row.categories) == {"IDENT", "FINANCE"}  # extended, one row
    with eng.db.reader() as s:
        merged = [e.details for e in s.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "consent.merged"))]
    assert [m["consent_id"] for m in merged] == [row.consent_id]
    assert referrals(eng, "K-51") == [("sent", row.consent_id)]


def test_intake_does_not_ask_for_a_base_consent_the_register_holds(eng, api):
    """P1 asks the register: a base consent recorded through the API before the intake
    reaches its consent step is used; "Einwilligung Case Management erfassen" is not
    offered, the case goes on to the clearing, and no second consent row appears."""
    iid = eng.start("kim_intake_clearing", {"walk_in": True}, "K-61",
                    actor=CM)["instance_id"]
    r = api.post("/api/cases/K-61/consents", headers=api.h, json=consent_body(
        office="KIM_CM", purpose=BASE_PURPOSE, categories=("IDENT", "CONTACT", "FINANCE")))
    assert r.status_code == 201, r.json
    S.complete(eng, "KIM_CM", "Task_RecordInquiryWalkIn", D.inquiry_data(0), iid)
    S.complete(eng, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    S.complete(eng, "KIM_CM", "Task_IntakeInterview", D.interview_data(), iid)
    assert "Task_RecordCmConsent" not in open_elements(eng, "KIM_CM")
    assert open_elements(eng, "KIM_CM") == ["Task_Clearing"]
    assert [c.consent_id for c in rows(eng, "K-61")] == [r.json["consent_id"]]
    data = eng.show(iid)["data"]
    assert data["consent_cm_given"] is True
    S.complete(eng, "KIM_CM", "Task_Clearing", D.clearing_data(False), iid)
    assert open_elements(eng, "KIM_CM") == ["Task_ShortAdvice"]


def test_intake_asks_for_the_base_consent_when_the_register_has_none_valid(eng, api):
    """Without a valid base consent (here only another office's) the task is offered."""
    iid = eng.start("kim_intake_clearing", {"walk_in": True}, "K-62",
                    actor=CM)["instance_id"]
    assert api.post("/api/cases/K-62/consents", headers=api.h,
                    json=consent_body()).status_code == 201
    S.complete(eng, "KIM_CM", "Task_RecordInquiryWalkIn", D.inquiry_data(0), iid)
    S.complete(eng, "KIM_KO", "Task_AllocateCase", D.allocation_data(), iid)
    S.complete(eng, "KIM_CM", "Task_IntakeInterview", D.interview_data(), iid)
    assert open_elements(eng, "KIM_CM") == ["Task_RecordCmConsent"]
