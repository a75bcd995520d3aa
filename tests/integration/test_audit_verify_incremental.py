"""Issue 16.7: the audit chain is verified incrementally from the last checkpoint (only the
entries added since are recomputed); tampering after the checkpoint is still found there,
tampering before it by the full verification (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from engine.actor import Actor
from engine.audit import verify
from engine.models import AuditCheckpoint, AuditEvent
from tests.integration.test_audit_chain import _tamper
from tests.integration.test_engine import PERSON


def _case(eng, ref: str) -> int:
    iid = eng.start("kim_first_referral", {}, case_ref=ref)["instance_id"]
    task = eng.tasks(instance_id=iid)[0]
    eng.claim(task["task_id"], actor=Actor("anna"))
    eng.complete(task["task_id"], PERSON, actor=Actor("anna"))
    return iid


def _total(db) -> int:
    with db.reader() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def _actor(db, stream: int, seq: int):
    with db.engine.connect() as c:
        return c.execute(text("SELECT actor FROM audit_event WHERE stream = :s AND seq = :n"),
                         {"s": stream, "n": seq}).scalar_one()


def _set_actor(db, stream: int, seq: int, actor) -> None:
    _tamper(db, "UPDATE audit_event SET actor = :a WHERE stream = :s AND seq = :n",
            a=actor, s=stream, n=seq)


def _checkpoints(db) -> dict:
    with db.reader() as s:
        return {c.stream: c.seq for c in s.scalars(select(AuditCheckpoint))}


def test_incremental_verification_recomputes_only_what_was_added(first_process, db):
    eng = first_process
    first = [_case(eng, f"INC-{i}") for i in range(3)]
    # without a checkpoint the incremental run is the full one
    out = verify(db, incremental=True)
    assert out["ok"] and out["mode"] == "full" and out["entries"] == _total(db)
    cps = _checkpoints(db)
    assert set(cps) == {0, *first} and all(cps.values())
    # nothing new: nothing recomputed
    out = verify(db, incremental=True)
    assert out == {**out, "ok": True, "mode": "incremental", "entries": 0, "streams": 0}
    before = _total(db)
    later = _case(eng, "INC-9")
    task = eng.tasks(instance_id=first[0])[0]
    eng.claim(task["task_id"], actor=Actor("bob"))  # one more entry in an old stream
    out = verify(db, incremental=True)
    assert out["ok"] and out["mode"] == "incremental", out
    assert out["entries"] == _total(db) - before and out["streams"] == 2
    assert out["since"] == cps[0]
    assert verify(db)["head"] == out["head"]  # the full run agrees
    assert _checkpoints(db)[later] > 0


def test_tampering_after_the_checkpoint_is_found_incrementally(first_process, db):
    eng = first_process
    iid = _case(eng, "T-1")
    assert verify(db)["ok"]  # checkpoint
    cps = _checkpoints(db)
    other = _case(eng, "T-2")
    task = eng.tasks(instance_id=iid)[0]
    eng.claim(task["task_id"], actor=Actor("bob"))
    # a new stream entry of an old stream, changed
    was = _actor(db, iid, cps[iid] + 1)
    _tamper(db, "UPDATE audit_event SET actor = 'mallory' WHERE stream = :i AND seq = :n",
            i=iid, n=cps[iid] + 1)
    out = verify(db, incremental=True)
    assert not out["ok"] and out["first_bad"]["stream"] == iid
    assert out["first_bad"]["problem"].startswith("changed")
    assert _checkpoints(db) == cps  # a failed run moves no checkpoint
    _set_actor(db, iid, cps[iid] + 1, was)
    # a new global entry changed
    was = _actor(db, 0, cps[0] + 1)
    _set_actor(db, 0, cps[0] + 1, "mallory")
    out = verify(db, incremental=True)
    assert not out["ok"] and out["first_bad"]["stream"] == 0
    assert out["first_bad"]["seq"] == cps[0] + 1
    _set_actor(db, 0, cps[0] + 1, was)
    assert verify(db, incremental=True)["ok"]
    # an entry appended behind a stream's head, with a valid hash
    with db.reader() as s:
        last = s.scalars(select(AuditEvent).where(AuditEvent.stream == other)
                         .order_by(AuditEvent.seq.desc()).limit(1)).one()
    from engine import audit

    forged = AuditEvent(stream=other, seq=last.seq + 1, prev_hash=last.hash, at=last.at,
                        event_type="task.completed", actor="mallory", details={})
    forged.hash = audit.entry_hash(last.hash, forged)
    _tamper(db, "INSERT INTO audit_event (stream, seq, prev_hash, hash, at, event_type, actor,"
            " details) VALUES (:s, :q, :p, :h, :a, 'task.completed', 'mallory', '{}')",
            s=other, q=forged.seq, p=forged.prev_hash, h=forged.hash, a=last.at)
    out = verify(db, incremental=True)
    assert not out["ok"] and out["first_bad"]["stream"] == other


def test_tampering_before_the_checkpoint_needs_the_full_run(first_process, db):
    eng = first_process
    iid = _case(eng, "B-1")
    _case(eng, "B-2")
    assert verify(db)["ok"]
    cps = _checkpoints(db)
    assert cps[iid] >= 3 and cps[0] >= 2
    # content changed inside the verified part, hashes left as they were
    _tamper(db, "UPDATE audit_event SET actor = 'mallory' WHERE stream = :i AND seq = 2", i=iid)
    _tamper(db, "UPDATE audit_event SET actor = 'mallory' WHERE stream = 0 AND seq = 1")
    assert verify(db, incremental=True)["ok"]  # not recomputed: documented
    out = verify(db)
    assert not out["ok"] and out["mode"] == "full" and out["first_bad"]["seq"] == 1
    # a checkpoint entry whose hash was rewritten is found by the incremental run too
    _tamper(db, "UPDATE audit_event SET hash = :h WHERE stream = :i AND seq = :n",
            h="f" * 64, i=iid, n=cps[iid])
    out = verify(db, incremental=True)
    assert not out["ok"] and out["first_bad"]["stream"] == iid
    assert "before the last checkpoint" in out["first_bad"]["problem"]


def test_api_and_page_verify_incrementally_and_in_full_on_request(web_app):
    from tests.web_support import login, token_for

    eng = web_app.extensions["lotse"].engine
    _case(eng, "API-1")
    c, aud = web_app.test_client(), token_for(web_app, "auditor.demo")
    r = c.get("/api/audit/verify", headers=aud)
    assert r.status_code == 200 and r.json["ok"] and r.json["mode"] == "full"  # first run
    _case(eng, "API-2")
    r = c.get("/api/audit/verify", headers=aud)
    assert r.json["ok"] and r.json["mode"] == "incremental" and r.json["since"] > 0
    full = c.get("/api/audit/verify?full=1", headers=aud)
    assert full.json["mode"] == "full" and full.json["entries"] > r.json["entries"]
    _tamper(eng.db, "UPDATE audit_event SET actor = 'mallory' WHERE stream = 0 AND seq = 1")
    assert c.get("/api/audit/verify", headers=aud).json["ok"] is True
    assert c.get("/api/audit/verify?full=1", headers=aud).json["ok"] is False
    page = web_app.test_client()
    login(page, "auditor.demo")
    html = page.get("/audit/verify").get_data(as_text=True)
    assert 'data-mode="incremental"' in html and "Vollständig prüfen" in html
    assert 'data-ok="true"' in html
    html = page.get("/audit/verify?full=1").get_data(as_text=True)
    assert 'data-mode="full"' in html and 'data-ok="false"' in html
