"""Demo data for ``make run``: about 30 cases, work in every office's queue, some of it overdue,
readable fictional people in Latin and non-Latin scripts; seeding twice creates nothing."""

from __future__ import annotations

import unicodedata

from processes import demo_catalogue as D
from tests.integration import test_catalogue_support as S


def test_seed_gives_every_office_work_some_of_it_overdue(sqlite_db, clock):
    from processes.wiring import build_engine

    engine, registry = build_engine(sqlite_db, clock=clock)
    S.deploy_catalogue(engine)
    out = D.seed_catalogue(engine)
    assert out["created"] == 30 and len(set(out["cases"])) == 30
    assert out["timers_fired"] > 0
    tasks = engine.tasks()
    offices = {t["office"] for t in tasks}
    internal = {o.code for o in registry if not o.external}
    # every office that logs in has work (SCHULE only gets it after an assignment, MELDE
    # receives no demo referral); external offices' answers wait in KIM_CM's queue
    assert internal - {"SCHULE", "MELDE"} <= offices
    proxied = {S.task_data(engine, t["task_id"]).get("office") for t in tasks
               if t["office"] == "KIM_CM" and t["element_id"] == "Task_AckReferral"}
    assert {"FK", "ANERK", "IKT", "FWT", "BAMF"} & proxied
    now = engine.now()
    overdue = [t for t in tasks if t["due_at"] and t["due_at"] < now.isoformat()]
    assert len(overdue) >= 5
    reminders = {t["element_id"] for t in tasks}
    assert {"Task_ChaseAck", "Task_EscalateNoAck", "Task_RemindAllocation",
            "Task_RemindFirstContact"} <= reminders
    assert all(t["case_ref"].startswith("DEMO-K-") for t in tasks)
    assert D.seed_catalogue(engine)["created"] == 0  # idempotent


def test_demo_people_are_diverse_and_valid():
    scripts = {unicodedata.name(p[0][0]).split()[0] for p in D.PEOPLE}
    assert {"LATIN", "CYRILLIC", "ARABIC", "ETHIOPIC"} <= scripts
    assert len(D.PEOPLE) == 30
    assert all(p[2] is None or p[2].isascii() for p in D.PEOPLE)
