"""Pseudonymisation of closed cases keeps the audit chain and removes personal values."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from engine.audit import verify
from processes.retention import closed_cases_due, run_retention
from tests.integration.test_engine import PERSON


def _close_case(eng, ref="RET-1"):
    iid = eng.start("kim_first_referral", {}, case_ref=ref)["instance_id"]
    eng.complete(eng.tasks(instance_id=iid)[0]["task_id"], {**PERSON, "phone": "+49 521 123456",
                                                            "notes": "Gespräch vertraulich"})
    for t in eng.tasks(instance_id=iid):
        data = ({"abh_result": "granted", "abh_valid_until": "2027-01-31"}
                if t["office"] == "ABH" else {"jc_result": "granted"})
        eng.complete(t["task_id"], data)
    eng.complete(eng.tasks(instance_id=iid)[0]["task_id"],
                 {"client_informed": True, "closed_on": "2026-03-02"})
    assert eng.show(iid)["status"] == "completed"
    return iid


def _dump(db) -> str:
    with db.engine.connect() as c:
        parts = [str(r) for t in ("json_data", "workflow_state", "message")
                 for r in c.execute(text(f"SELECT * FROM {t}"))]
    return " ".join(parts)


def test_closed_case_is_pseudonymised_after_the_retention_period(first_process, db, clock):
    eng = first_process
    iid = _close_case(eng)
    open_iid = eng.start("kim_first_referral", {}, case_ref="RET-OPEN")["instance_id"]
    assert "Haddad" in _dump(db)
    clock.advance(timedelta(days=30 * 35))
    assert closed_cases_due(eng) == []
    clock.advance(timedelta(days=30 * 2))
    assert closed_cases_due(eng) == ["RET-1"]  # the open case is not due
    out = run_retention(eng)
    assert out["pseudonymised"] == {"RET-1": [iid]}
    data = eng.show(iid)["data"]
    assert data["first_name"].startswith("P-") and data["last_name"].startswith("P-")
    assert data["first_name"] != data["last_name"]
    assert data["birth_date"] == "1990"
    assert "phone" not in data and "notes" not in data and "case_summary" not in data
    assert data["abh_result"] == "granted" and data["nationality"] == "SYR"
    dump = _dump(db)
    for value in ("Amal", "Haddad", "1990-04-12", "+49 521 123456", "vertraulich"):
        assert value not in dump, value
    assert verify(db)["ok"]
    assert eng.show(open_iid)["status"] == "running"
    assert run_retention(eng)["pseudonymised"] == {}  # done once
