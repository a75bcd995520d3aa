"""Demo data for ``make run``: a few cases at different stages (idempotent)."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.models import ProcessInstance
from engine.runtime import Actor, Engine

PEOPLE = [
    ("Amal", "Haddad", "SYR", "ar"),
    ("Олена", "Коваленко", "UKR", "uk"),
    ("Yonas", "Tesfaye", "ERI", "ti"),
    ("Zahra", "Ahmadi", "AFG", "fa"),
    ("Mehmet", "Yılmaz", "TUR", "tr"),
    ("Nguyễn", "Thị Lan", "VNM", "en"),
    ("ሰላም", "ገብረ", "ERI", "ti"),
    ("Fatima", "Al-Rashid", "IRQ", "ar"),
]


def seed(engine: Engine) -> dict:
    """Create demo cases of ``kim_first_referral`` unless demo cases exist already."""
    with engine.db.reader() as s:
        existing = s.scalar(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.case_ref.like("DEMO-%"))
        )
    if existing:
        return {"created": 0, "existing": existing}
    cm = Actor(user="demo.cm")
    created = 0
    for i, (first, last, nat, lang) in enumerate(PEOPLE, start=1):
        out = engine.start("kim_first_referral", {}, case_ref=f"DEMO-{i:03d}", actor=cm)
        created += 1
        if i % 2 == 0:
            continue  # leave the intake waiting at KIM_CM
        task = engine.tasks(instance_id=out["instance_id"])[0]
        engine.complete(
            task["task_id"],
            {
                "first_name": first,
                "last_name": last,
                "birth_date": f"19{80 + i}-0{1 + i % 9}-1{i % 9}",
                "nationality": nat,
                "language": lang,
                "residence_status": "temporary",
            },
            actor=cm,
        )
    return {"created": created, "existing": 0}
