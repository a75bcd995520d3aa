"""Shared helpers for the catalogue tests (no tests here): an engine with the catalogue's
script helpers and the catalogue deployed (parsed once per test session), task shortcuts."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from engine import clock as engine_clock
from engine import deploy as deploy_mod
from engine import forms, sandbox, store
from engine.models import ProcessDefinition, ProcessInstance
from processes.helpers import HELPERS, consent_recorder

ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "bpmn"
FOLDERS = (
    "kim_single_referral", "p3_school_enrolment", "p0_referral_protocol", "p6_case_closure",
    "p2_support_plan", "p1_intake_clearing", "p4_recognition_transition",
    "p5_housing_emergency",
)
_PREPARED: dict[tuple, list] = {}


def with_helpers(engine):
    """Register the catalogue's script helpers and its consent listener unless the engine's
    wiring already does (until processes/wiring.py registers them)."""
    missing = {k: v for k, v in HELPERS.items() if k not in engine.helpers}
    if missing:
        engine.helpers.update(missing)
        engine.script_engine = sandbox.make_script_engine(engine.helpers)
    if not any(getattr(li, "__name__", "") == "consent_recorder"
               for li in engine.message_listeners):
        engine.message_listeners.insert(0, consent_recorder)
    return engine


def grant(engine, case_id: str, office: str, purpose: str,
          categories: list[str] | None = None, *, includes_health: bool = False) -> dict:
    """Record a consent in the consent register and return it as the processes keep it."""
    from datetime import timedelta

    from processes.consent import Consent, ConsentDuplicate, consent_dict, record_consent

    today = engine.now().date()
    try:
        c = record_consent(engine, case_id=case_id, office=office, purpose=purpose,
                           categories=categories or ["IDENT", "CONTACT"],
                           valid_from=today - timedelta(days=10),
                           valid_until=today + timedelta(days=355),
                           includes_health=includes_health)
    except ConsentDuplicate as exc:  # one consent per case, office and purpose: reuse it
        with engine.db.reader() as s:
            c = consent_dict(s.get(Consent, exc.fields["consent_id"]))
    assert isinstance(c, dict)
    return {"consent_id": c["consent_id"], "recipient_office": office, "purpose": purpose,
            "data_categories": c["categories"], "includes_health": includes_health,
            "valid_from": c["valid_from"], "valid_until": c["valid_until"], "status": "active"}


def deploy_catalogue(engine, folders: tuple[str, ...] = FOLDERS):
    """Deploy catalogue folders (parsed and validated once per session, stored per test)."""
    with_helpers(engine)
    key = tuple(folders)
    if key not in _PREPARED:
        files = deploy_mod.collect_files([BPMN / f for f in folders])
        with engine_clock.using(engine.clock):
            _PREPARED[key] = deploy_mod.prepare(
                files, resolve_lane=engine.resolve_lane,
                check_expression=sandbox.check_expression, check_script=sandbox.check_script,
                check_form=lambda schema: forms.check_schema(
                    schema, format_checker=engine.format_checker))
    with engine.db.unit_of_work() as s:
        deploy_mod.store_prepared(s, _PREPARED[key], actor=None, now=engine.now())
    return engine


def open_tasks(engine, office: str | None = None, instance_id: int | None = None) -> list[dict]:
    return engine.tasks(office=office, instance_id=instance_id)


def names(engine, office: str) -> list[str]:
    return sorted(t["element_id"] for t in engine.tasks(office=office))


def find(engine, office: str, element: str, instance_id: int | None = None,
         case_ref: str | None = None) -> dict:
    found = [t for t in engine.tasks(office=office) if t["element_id"] == element
             and (instance_id is None or t["instance_id"] == instance_id)
             and (case_ref is None or t["case_ref"] == case_ref)]
    assert found, (f"no open {element} for {office}; open: "
                   f"{[t['element_id'] for t in engine.tasks(office=office)]}")
    assert len(found) == 1, f"{len(found)} open {element} tasks for {office}"
    return found[0]


def complete(engine, office: str, element: str, data: dict, instance_id: int | None = None,
             case_ref: str | None = None) -> dict:
    task = find(engine, office, element, instance_id, case_ref)
    out = engine.complete(task["task_id"], data)
    assert out["status"] != "error", out
    return out


def task_data(engine, task_id: str) -> dict:
    """The data of an open task (also inside subprocesses and called processes)."""
    with engine.db.reader() as s:
        from engine.models import HumanTask

        ht = s.get(HumanTask, task_id)
        inst = s.get(ProcessInstance, ht.instance_id)
        d = s.get(ProcessDefinition, inst.definition_id)
        wf, _ = store.load(s, inst, d.spec_hash)
        return dict(wf.get_task_from_id(UUID(task_id)).data)


def messages(engine, name: str | None = None, status: str | None = None) -> list[dict]:
    return [m for m in engine.messages(status=status) if name is None or m["name"] == name]


def instance_status(engine, instance_id: int) -> str:
    return engine.show(instance_id)["status"]
