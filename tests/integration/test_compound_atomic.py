"""Issue 13.3: a consent revocation is one unit of work.

The consent, the withdrawal of its referrals (and their delivery), the cancelled receiving
instance and the follow-up start either all happen or none does. The fault is real: a second
connection holds the receiving instance's row (as a long step of another worker would), so
the cancellation inside the revocation runs into PostgreSQL's lock timeout. Before the
change the consent was committed first and stayed revoked while its referral was still
open in the receiving office."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from engine.audit import verify
from engine.db import Database, Timeouts
from engine.models import AuditEvent, Message
from processes.consent import Consent, revoke_consent
from processes.referrals import list_referrals
from processes.wiring import build_engine
from tests.conftest import PG_URL, make_database
from tests.integration.test_consent import _deploy
from tests.integration.test_referrals import CASE_DATA, consent_for


def _state(engine, db, consent_id):
    with db.reader() as s:
        events = [e.event_type for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        withdrawn = s.scalars(select(Message.id).where(
            Message.name.in_(("referral_withdrawn", "consent_revoked")))).all()
        consent = s.get(Consent, consent_id).status
    (ref,) = list_referrals(db, now=engine.now(), case_id="K-1")
    return {"consent": consent, "referral": ref["state"],
            "jc_tasks": [t["name"] for t in engine.tasks(office="JC")],
            "cm_tasks": sorted(t["name"] for t in engine.tasks(office="KIM_CM")),
            "revoked_entries": events.count("consent.revoked"),
            "cancelled_entries": events.count("instance.cancelled"),
            "messages": len(withdrawn)}


@pytest.mark.postgres
def test_a_revocation_that_fails_half_way_leaves_nothing_done(tmp_path, clock):
    setup = make_database("postgresql", tmp_path)  # skips without PostgreSQL
    db = Database(PG_URL, timeouts=Timeouts(lock_ms=300))
    engine, _ = build_engine(db, clock=clock)
    _deploy(engine)
    c = consent_for(engine)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    (ack,) = engine.tasks(office="JC")
    before = _state(engine, db, c["consent_id"])
    assert before["consent"] == "active" and before["referral"] == "sent"
    assert before["jc_tasks"] == [ack["name"]]

    with setup.engine.connect() as other:
        held = other.begin()
        other.execute(text("SELECT id FROM process_instance WHERE id = :i FOR UPDATE"),
                      {"i": ack["instance_id"]})
        with pytest.raises(OperationalError) as exc:
            revoke_consent(engine, c["consent_id"], channel="oral")
        assert "lock" in str(exc.value.orig).lower()
        held.rollback()

    # nothing of the revocation happened: not the consent, not the withdrawal, not the
    # follow-up task, not one audit entry
    assert _state(engine, db, c["consent_id"]) == before
    assert verify(db)["ok"]

    # once the lock is gone the same revocation does all of it
    out = revoke_consent(engine, c["consent_id"], channel="oral")
    after = _state(engine, db, c["consent_id"])
    assert out["effects"]["withdrawn"] and out["effects"]["follow_up"]
    assert after["consent"] == "revoked" and after["referral"] == "suspended_consent_revoked"
    assert after["jc_tasks"] == [] and "Hilfeplan nach Widerruf anpassen" in after["cm_tasks"]
    assert after["revoked_entries"] == 1 and after["messages"] == 2
    assert verify(db)["ok"]
    db.dispose()
    setup.dispose()


@pytest.mark.postgres
def test_a_revocation_killed_half_way_leaves_nothing_done(tmp_path, clock):
    """The process dies (SIGKILL) in the middle of the revocation: ``lotse consent revoke``
    runs as its own process, has revoked the consent inside its transaction and waits for
    the receiving instance's row, which this test holds; then it is killed. Nothing of it
    may remain - and a second revocation afterwards does all of it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    setup = make_database("postgresql", tmp_path)  # skips without PostgreSQL
    engine, _ = build_engine(setup, clock=clock)
    _deploy(engine)
    c = consent_for(engine)
    engine.start("test_cm_referral", dict(CASE_DATA), case_ref="K-1")
    (ack,) = engine.tasks(office="JC")
    before = _state(engine, setup, c["consent_id"])
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, LOTSE_DATABASE_URL=PG_URL, LOTSE_ENV="test",
               LOTSE_DB_LOCK_TIMEOUT_MS="60000")
    with setup.engine.connect() as other:
        held = other.begin()
        other.execute(text("SELECT id FROM process_instance WHERE id = :i FOR UPDATE"),
                      {"i": ack["instance_id"]})
        proc = subprocess.Popen([sys.executable, "-m", "web.cli", "consent", "revoke",
                                 c["consent_id"], "--json"], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            waiting = False
            for _ in range(600):  # until the revocation waits for the held row
                # a fresh connection each time: pg_stat_activity is a snapshot per
                # transaction, and ``other`` holds one open
                with setup.engine.connect() as probe:
                    waiting = bool(probe.execute(text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock'")).scalar())
                if waiting or proc.poll() is not None:
                    break
                time.sleep(0.1)
            assert waiting, proc.communicate(timeout=5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        held.rollback()
    # the killed process's backend is gone once its socket closes; wait for that
    for _ in range(100):
        with setup.engine.connect() as conn:
            if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                     "wait_event_type = 'Lock'")).scalar():
                break
        time.sleep(0.1)
    assert _state(engine, setup, c["consent_id"]) == before
    assert verify(setup)["ok"]
    out = revoke_consent(engine, c["consent_id"], channel="oral")
    assert out["status"] == "revoked"
    assert _state(engine, setup, c["consent_id"])["referral"] == "suspended_consent_revoked"
    setup.dispose()
