"""A new office is one entry in the offices file and gets referrals (issue 13.1): the one
referral protocol process (office_referral) resolves its lane from the referral's office at
run time and gives an office without its own form the generic one. Also: a message start
shared by several processes starts none (no routing by process-id suffix any more)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import clock as engine_clock
from engine import read_model
from engine.actor import Actor
from engine.deadlines import instance_deadlines
from engine.errors import DeployError, LotseError
from engine.models import AuditEvent, ProcessInstance
from processes import demo_catalogue as D
from processes.consent import Consent
from processes.offices import DEFAULT_PATH
from processes.wiring import build_engine
from tests import bpmn_builder as B
from tests.integration import test_catalogue_support as S
from tests.referral_models import office_process

NEW_OFFICE = """
[[office]]
code = "NEU_BER"
name_de = "Neue Beratungsstelle"
name_en = "New counselling service"
legal_domain = "§ 9 TIntG NRW"
external = false
active = true
sla_ack_days = 3
sla_result_days = 10
purposes = ["NEU_BER:BERATUNG"]
"""


@pytest.fixture
def new_office_engine(db, clock, tmp_path):
    """An engine on an offices file with one extra office, bpmn/ deployed as shipped."""
    offices = tmp_path / "offices.toml"
    offices.write_text(DEFAULT_PATH.read_text(encoding="utf-8") + NEW_OFFICE, encoding="utf-8")
    eng, registry = build_engine(db, offices_file=offices, clock=clock)
    assert "NEU_BER" in registry
    with engine_clock.using(clock):
        S.with_helpers(eng)
        eng.deploy([S.BPMN / f for f in S.FOLDERS])
        yield eng


def _consent(eng, case_id: str, office: str, purpose: str) -> dict:
    """An active consent in the real register. Written as a row because the data-protection
    policy (processes/data_protection.toml, the officer's file) has no categories for the new
    purpose, and record_consent refuses a purpose it does not know (by design)."""
    today = eng.now().date()
    row = Consent(consent_id="E-NEU-1", case_id=case_id, recipient_office=office,
                  purpose=purpose, categories=["IDENT", "CONTACT"], includes_health=False,
                  valid_from=today - timedelta(days=1), valid_until=today + timedelta(days=300),
                  status="active", recorded_at=eng.now())
    with eng.db.unit_of_work() as s:
        s.add(row)
    return {"consent_id": "E-NEU-1", "recipient_office": office, "purpose": purpose,
            "data_categories": ["IDENT", "CONTACT"], "includes_health": False,
            "valid_from": (today - timedelta(days=1)).isoformat(),
            "valid_until": (today + timedelta(days=300)).isoformat(), "status": "active"}


def test_a_new_office_gets_referrals_with_the_generic_form(new_office_engine):
    eng = new_office_engine
    consent = _consent(eng, "K-7", "NEU_BER", "NEU_BER:BERATUNG")
    iid = eng.start("kim_single_referral", {
        "case_id": "K-7", "referral": {"office": "NEU_BER", "purpose": "NEU_BER:BERATUNG",
                                       "requested_service": "Beratung"},
        "consents": [consent], "person": {"first_name": "Amal", "last_name": "Haddad"}},
        case_ref="K-7")["instance_id"]
    ack = S.find(eng, "NEU_BER", "Task_AckReferral")
    assert ack["process_id"] == "office_referral"
    assert ack["name"] == "Eingang bestätigen und Zuständigkeit prüfen"  # no proxy prefix
    mine = Actor(user="neu1", offices=frozenset({"NEU_BER"}))
    other = Actor(user="jc1", offices=frozenset({"JC"}))
    # only the new office sees it
    assert all(t["task_id"] != ack["task_id"] for t in eng.tasks(office="JC"))
    with pytest.raises(LotseError):
        eng.get_task(ack["task_id"], actor=other)
    with pytest.raises(LotseError):
        eng.claim(ack["task_id"], actor=other)
    shown = eng.get_task(ack["task_id"], actor=mine)
    # no own form: the generic one, with its UI schema
    assert shown["form_schema"]["$id"] == "urn:lotse:form:p0-eingang"
    assert shown["form_schema"]["description"].startswith("Vermittlung an die empfangende")
    assert shown["ui_schema"]["ui:order"][0] == "responsible"
    assert shown["legal_basis"] == "§ 9 TIntG NRW; § 16 SGB I"  # NEU_BER's legal_domain
    eng.claim(ack["task_id"], actor=mine)
    eng.complete(ack["task_id"], D.ack_data(), actor=mine)
    work = S.find(eng, "NEU_BER", "Task_ProcessReferral")
    p0 = work["instance_id"]
    timers = instance_deadlines(eng.db, p0)["timers"]
    assert timers and {t["basis"] for t in timers} == {"§ 9 TIntG NRW"}  # Sub_Work's basis
    schema = eng.get_task(work["task_id"], actor=mine)["form_schema"]
    assert schema["$id"] == "urn:lotse:form:p0-bearbeiten"
    with pytest.raises(LotseError):
        eng.complete(work["task_id"], D.result_data(), actor=other)
    eng.claim(work["task_id"], actor=mine)
    eng.complete(work["task_id"], D.result_data(), actor=mine)
    record = eng.show(iid)["data"]["referral_record"]
    assert record["office"] == "NEU_BER" and record["status"] == "completed"
    assert record["outcome"] == "granted" and record["result"] == {}
    # the audit names the concrete office of the run-time lane
    with eng.db.reader() as s:
        created = s.execute(select(AuditEvent.element_id, AuditEvent.details).where(
            AuditEvent.event_type == "task.created")).all()
        completed = s.scalars(select(AuditEvent.office).where(
            AuditEvent.event_type == "task.completed",
            AuditEvent.element_id == "Task_ProcessReferral")).all()
    assert {e for e, d in created if d.get("office") == "NEU_BER"} == {
        "Task_AckReferral", "Task_ProcessReferral"}
    assert completed == ["NEU_BER"]


def test_a_shipped_office_keeps_its_own_form(new_office_engine):
    eng = new_office_engine
    consent = S.grant(eng, "K-8", "ABH", "ABH:AUFENTHALT", ["IDENT", "RESIDENCE"])
    eng.start("kim_single_referral", {
        "case_id": "K-8", "referral": {"office": "ABH", "purpose": "ABH:AUFENTHALT"},
        "consents": [consent]}, case_ref="K-8")
    ack = S.find(eng, "ABH", "Task_AckReferral")
    shown = eng.get_task(ack["task_id"])
    assert shown["form_schema"]["$id"] == "urn:lotse:form:p0-eingang-abh"
    # the legal basis is the office's own law, as with the per-office copies
    assert shown["legal_basis"] == "AufenthG; § 16 SGB I"
    assert S.names(eng, "NEU_BER") == []


def test_a_message_start_shared_by_two_processes_starts_none(engine):
    # two processes start on the same message: the engine picks none (before, the one whose
    # id ended in _<payload office>), and the message says why
    def shared(office: str) -> str:  # a message no listener (consent gate) looks at
        return office_process(office).replace('name="referral_sent"', 'name="shared_start"')

    engine.deploy_files(B.files(jc__bpmn=shared("JC"), abh__bpmn=shared("ABH")))
    engine.publish("shared_start", {"referral_id": "V-1", "case_id": "K-1", "office": "JC"})
    assert engine.tasks() == []
    (msg,) = engine.messages(status="unmatched")
    assert "several processes start on it" in msg["reason"]
    assert "test_office_referral_abh, test_office_referral_jc" in msg["reason"]


def _run_time_lane_process(office_from: str, office: str | None = None) -> str:
    props = (f'<spiffworkflow:property name="office" value="{office}"/>' if office else "")
    props += f'<spiffworkflow:property name="office_from" value="{office_from}"/>'
    body = ('<bpmn:startEvent id="Ev_Start"/>'
            + B.script_task("Task_Set", 'target = {"office": office_in}')
            + B.user_task("Task_Do", "Erledigen")
            + '<bpmn:endEvent id="Ev_End"/>'
            + B.flow("F1", "Ev_Start", "Task_Set") + B.flow("F2", "Task_Set", "Task_Do")
            + B.flow("F3", "Task_Do", "Ev_End"))
    doc = B.process("run_time_lane", {"Stelle": ["Ev_Start", "Task_Set", "Task_Do", "Ev_End"]},
                    body)
    return doc.replace('name="Stelle">', 'name="Stelle"><bpmn:extensionElements>'
                       f'<spiffworkflow:properties>{props}</spiffworkflow:properties>'
                       '</bpmn:extensionElements>', 1)


def test_a_run_time_lane_takes_the_office_from_the_task_data(engine):
    engine.deploy_files(B.files(p__bpmn=_run_time_lane_process("target.office")))
    engine.start("run_time_lane", {"office_in": "ABH"})
    engine.start("run_time_lane", {"office_in": "JC"})
    assert [t["element_id"] for t in engine.tasks(office="ABH")] == ["Task_Do"]
    assert [t["element_id"] for t in engine.tasks(office="JC")] == ["Task_Do"]
    assert engine.tasks(office="target.office") == []


@pytest.mark.parametrize("office_from,office", [
    ("referral['office']", None),  # code, not a path
    ("referral.office()", None),
    ("referral..office", None),
    ("referral.office", "JC"),  # both
])
def test_deploy_refuses_a_run_time_lane_that_is_no_plain_path(engine, office_from, office):
    with pytest.raises(DeployError) as exc:
        engine.deploy_files(B.files(p__bpmn=_run_time_lane_process(office_from, office)))
    assert any("office_from" in (p.get("problem") or "") for p in exc.value.problems)


def test_the_case_picture_reads_a_run_time_lane_from_the_instance(engine):
    # the case page's badges (read_model.element_offices): the run-time lane's office is the
    # instance's, never the "@path" the definition keeps
    engine.deploy_files(B.files(p__bpmn=_run_time_lane_process("target.office")))
    iid = engine.start("run_time_lane", {"office_in": "ABH"})["instance_id"]
    with engine.db.reader() as s:
        definition_id = s.get(ProcessInstance, iid).definition_id
    data = engine.show(iid)["data"]
    offices = read_model.element_offices(engine.db, definition_id, "run_time_lane", data)
    assert offices["Task_Do"] == "ABH"
    assert read_model.element_offices(engine.db, definition_id, "run_time_lane") == {}
