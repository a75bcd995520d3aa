"""The demo catalogue (about 30 fictional people, referrals to many offices) through the
web app: an auditor reading every case's trail, replays and exports never sees a name;
an office sees exactly the demo cases referred to it; no audit entry holds a value."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine.models import AuditEvent, ProcessInstance
from processes import demo_catalogue as D
from processes.consent import Consent
from processes.models import Referral
from tests.integration import test_catalogue_support as S
from tests.web_support import make_app, token_for
from tests.web_support import signed_in as _browser


def _names() -> list[re.Pattern]:
    out = set()
    for first, last, latin, *_ in D.PEOPLE:
        out |= {first, last} | set((latin or "").split())
    return [re.compile(rf"(?<![\w-]){re.escape(n)}(?![\w-])") for n in sorted(out) if n]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from engine.clock import SettableClock
    from processes.wiring import build_engine
    from tests.conftest import START, make_database

    tmp = tmp_path_factory.mktemp("demo")
    db = make_database("sqlite", tmp)
    engine, _ = build_engine(db, clock=SettableClock(START))
    S.deploy_catalogue(engine)
    D.seed_catalogue(engine)
    app = make_app(engine, tmp)
    yield app, engine
    db.dispose()


def test_an_auditor_never_sees_a_demo_name(demo):
    app, engine = demo
    names = _names()
    with engine.db.reader() as s:
        refs = sorted(set(s.scalars(select(ProcessInstance.case_ref)
                                    .where(ProcessInstance.case_ref.is_not(None)))))
        iids = list(s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))
    # the case manager reads a few cases first, so reads are part of the trail
    cm = _browser(app, "cm.demo")
    for ref in refs[:5]:
        assert cm.get(f"/cases/{ref}").status_code == 200
    aud = _browser(app, "auditor.demo")
    paths = ["/audit", "/audit/export.csv", "/audit/export.json", "/audit/verify",
             "/audit?event_type=data.read", "/cases"]
    paths += [f"/audit/cases/{ref}" for ref in refs]
    paths += [f"/cases/{ref}" for ref in refs[:10]]
    paths += [f"/audit/instances/{iid}" for iid in iids[:: max(1, len(iids) // 15)]]
    api_h = token_for(app, "auditor.demo")
    api_paths = ["/api/audit/events?limit=500"] + [f"/api/cases/{r}" for r in refs[:10]]
    for path in paths:
        r = aud.get(path)
        assert r.status_code == 200, path
        text = r.get_data(as_text=True)
        hits = [p.pattern for p in names if p.search(text)]
        assert not hits, (path, hits)
    for path in api_paths:
        r = aud.get(path, headers=api_h)
        assert r.status_code == 200, path
        hits = [p.pattern for p in names if p.search(r.get_data(as_text=True))]
        assert not hits, (path, hits)
    # DP-12 over the whole log, the reads included
    with engine.db.reader() as s:
        blob = "\n".join(json.dumps(e.details, ensure_ascii=False)
                         for e in s.scalars(select(AuditEvent)))
    hits = [p.pattern for p in names if p.search(blob)]
    assert not hits, hits
    assert aud.get("/audit/verify").text.count('data-ok="true"') == 1


def test_an_office_sees_exactly_the_demo_cases_referred_to_it(demo):
    app, engine = demo
    now = engine.now()
    from processes.consent import active_consent

    with engine.db.reader() as s:
        refs = sorted(set(s.scalars(select(ProcessInstance.case_ref)
                                    .where(ProcessInstance.case_ref.is_not(None)))))
        referred = set()
        for ref in s.scalars(select(Referral).where(Referral.office == "JC")):
            if ref.state not in ("withdrawn", "suspended_consent_revoked", "forwarded") and \
                    active_consent(s, ref.case_id, "JC", ref.purpose, now):
                referred.add(ref.case_id)
        assert s.scalar(select(Consent).limit(1)) is not None
    assert referred, "the demo refers some cases to the Jobcenter"
    jc = _browser(app, "jc.demo")
    for ref in refs:
        status = jc.get(f"/cases/{ref}").status_code
        assert status == (200 if ref in referred else 404), ref
