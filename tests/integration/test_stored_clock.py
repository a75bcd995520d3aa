"""The movable test clock shared through the database: every reader sees the same time.

Two engines on one database stand for two gunicorn workers (or a worker and the CLI): when
one moves the clock, the other's next read of "now" (outside any engine call, e.g. a
revocation's ``revoked_at``) already uses the new offset.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine import clock as engine_clock
from engine.stored_clock import StoredOffsetClock
from processes.consent import revoke_consent
from processes.wiring import build_engine
from tests.integration.test_referrals import consent_for


def _two_engines(db):
    a, _ = build_engine(db, clock=StoredOffsetClock(db))
    b, _ = build_engine(db, clock=StoredOffsetClock(db))
    return a, b


def test_a_clock_moved_by_one_engine_is_the_time_of_the_others_revocation(db):
    a, b = _two_engines(db)
    consent = consent_for(b, case_id="K-7")
    assert abs(b.now() - a.now()) < timedelta(seconds=5)
    a.clock.advance(timedelta(days=40))  # e.g. `lotse clock advance P40D` in another worker
    expected = datetime.now(engine_clock.BERLIN) + timedelta(days=40)
    revoked = revoke_consent(b, consent["consent_id"], channel="phone")
    at = datetime.fromisoformat(revoked["revoked_at"])
    assert abs(at - expected) < timedelta(minutes=1), (at, expected)


def test_every_read_of_now_sees_the_stored_offset(db):
    a, b = _two_engines(db)
    b.now()  # b has read the offset once
    a.clock.set(datetime(2031, 1, 15, 9, 30, tzinfo=engine_clock.BERLIN))
    assert abs(b.now() - a.now()) < timedelta(seconds=5)
    assert b.now().year == 2031
    # inside an engine call (one unit of work) the offset is read once, not per script call
    with engine_clock.using(b.clock):
        first = engine_clock.now()
        a.clock.advance(timedelta(days=1))
        assert abs(engine_clock.now() - first) < timedelta(seconds=5)
    assert b.now() - first > timedelta(hours=23)



def test_two_apps_one_moves_the_clock_the_other_revokes_at_the_new_time(db, tmp_path):
    """Two gunicorn workers: the test clock is moved through one, a consent revoked through
    the other; ``revoked_at`` is the moved time."""
    from web import accounts
    from web.app import create_app
    from web.settings import Settings

    def app():
        settings = Settings(database_url=db.url.render_as_string(hide_password=False),
                            env="development", offices_file=None, secret_key="s" * 48,
                            instance_dir=tmp_path)
        return create_app(settings)

    first, second = app(), app()
    accounts.use_fast_hashing()
    accounts.create_user(db, "cm", roles=["case_manager"], offices=["KIM_CM"],
                         password="geheim-123", known_offices=["KIM_CM"])
    auth = {"Authorization": f"Bearer {accounts.issue_token(db, 'cm')}"}
    consent = consent_for(second.extensions["lotse"].engine, case_id="K-9")
    second.test_client().get("/healthz")  # the second worker is warm, its clock read
    r = first.test_client().post("/api/test/clock", headers=auth, json={"advance": "P40D"})
    assert r.status_code == 200, r.json
    moved = datetime.fromisoformat(r.json["now"])
    r = second.test_client().post(f"/api/consents/{consent['consent_id']}/revoke",
                                  headers=auth, json={"channel": "oral"})
    assert r.status_code == 200, r.json
    revoked = datetime.fromisoformat(r.json["revoked_at"])
    assert timedelta(0) <= revoked - moved < timedelta(minutes=1), (revoked, moved)
