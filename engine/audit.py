"""The append-only, hash-chained audit log.

Entries are added to a session like any row (``session.add(AuditEvent(...))``). Before
they are flushed, ``chain_entries`` gives each new entry its chain (``stream``), the next
``seq`` of that chain, the previous entry's hash and ``hash = sha256(prev_hash + canonical
JSON)``, and moves the chain's head - all in the transaction of the change it records.

There is one chain per process instance and one global chain:

* An entry about an instance whose row this transaction holds locked (the engine calls
  ``hold_stream`` after ``SELECT ... FOR UPDATE``) extends that instance's stream; the head
  is ``ProcessInstance.audit_seq/audit_hash``, written in the same UPDATE as the step
  itself. Steps of different cases therefore never wait for each other here.
* Every other entry (logins, deploys, reads, consents ...) extends the global chain, whose
  head row (``AuditHead``) is locked while it is chained.
* ``instance.started``, ``instance.completed`` and ``instance.cancelled`` go to the global
  chain and carry the stream's seq and hash at that moment (``stream_seq``,
  ``stream_hash``): a finished case's stream is anchored in the global chain, so rewriting
  or dropping it (together with the instance row) is found as well.

No code path updates or deletes entries. ``verify`` recomputes every chain and names the
first entry that was changed, removed or inserted.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, insert, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from engine.models import AuditEvent, AuditHead, ProcessInstance

if TYPE_CHECKING:
    from engine.db import Database

GENESIS = "0" * 64


def canonical(e: AuditEvent) -> str:
    """The canonical JSON of an entry: every recorded field, sorted keys, no spaces."""
    body: dict[str, Any] = {
        "seq": e.seq,
        "at": e.at.isoformat() if e.at is not None else None,
        "event_type": e.event_type,
        "actor": e.actor,
        "office": e.office,
        "instance_id": e.instance_id,
        "definition_id": e.definition_id,
        "task_id": e.task_id,
        "element_id": e.element_id,
        "details": e.details or {},
    }
    if e.stream:  # global entries hash exactly as before streams existed
        body["stream"] = e.stream
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, e: AuditEvent) -> str:
    """sha256(previous hash + canonical JSON of the entry)."""
    return hashlib.sha256((prev_hash + canonical(e)).encode("utf-8")).hexdigest()


GLOBAL = 0
ANCHORS = frozenset({"instance.started", "instance.completed", "instance.cancelled"})
_FIELDS = ("at", "event_type", "actor", "office", "instance_id", "definition_id", "task_id",
           "element_id")
_HELD = "lotse_audit_streams"


def hold_stream(session: Session, instance: ProcessInstance) -> None:
    """Entries about ``instance`` in this transaction extend its own stream.

    Call only while the transaction holds the instance row locked (or created it).
    """
    session.info.setdefault(_HELD, {})[instance.id] = instance


def _release(session: Session, *_args) -> None:
    session.info.pop(_HELD, None)


def chain_entries(session: Session, _flush_context=None, _instances=None) -> None:
    """before_flush hook: chain every new audit entry of this flush."""
    new = [o for o in session.new if isinstance(o, AuditEvent) and o.seq is None]
    if not new:
        return
    new.sort(key=lambda o: o._sa_instance_state.insert_order)
    _chain(session, new)


def _chain(session: Session, new: list[AuditEvent]) -> None:
    """Give each entry its stream, seq, prev_hash and hash, in list order; move the heads."""
    held = session.info.get(_HELD, {})
    to_global = []
    for e in new:
        if e.at is not None and e.at.tzinfo is None:
            raise ValueError("audit times must be aware")
        for name in _FIELDS:  # every column given: the flush sends them as one batch
            if name not in e.__dict__:
                setattr(e, name, None)
        e.details = e.details or {}
        inst = held.get(e.instance_id) if e.instance_id is not None else None
        if inst is None or e.event_type in ANCHORS:
            to_global.append(e)
            continue
        prev = inst.audit_hash or GENESIS
        e.stream, e.seq, e.prev_hash = inst.id, (inst.audit_seq or 0) + 1, prev
        e.hash = entry_hash(prev, e)
        inst.audit_seq, inst.audit_hash = e.seq, e.hash
    if not to_global:
        return
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    for e in to_global:
        inst = held.get(e.instance_id) if e.instance_id is not None else None
        if inst is not None:
            e.details = {**e.details, "stream_seq": inst.audit_seq or 0,
                         "stream_hash": inst.audit_hash or GENESIS}
        e.stream, e.seq, e.prev_hash = GLOBAL, head.seq + 1, head.hash
        e.hash = entry_hash(head.hash, e)
        head.seq, head.hash = e.seq, e.hash


def add_at_commit(session: Session, entry: AuditEvent) -> None:
    """Queue an entry to be added just before commit (the chain head is locked only then)."""
    session.info.setdefault("lotse_audit", []).append(entry)


def _add_queued(session: Session) -> None:
    """Chain the queued entries and write them in one INSERT (an executemany)."""
    queued = session.info.pop("lotse_audit", None)
    if not queued:
        return
    _chain(session, queued)
    cols = [c.key for c in AuditEvent.__table__.columns if c.key != "id"]
    session.execute(insert(AuditEvent.__table__),
                    [{c: getattr(e, c) for c in cols} for e in queued])


def install(factory: sessionmaker) -> None:
    """Chain audit entries on every flush of sessions from ``factory`` (idempotent)."""
    if not event.contains(factory, "before_flush", chain_entries):
        event.listen(factory, "before_flush", chain_entries)
    if not event.contains(factory, "before_commit", _add_queued):
        event.listen(factory, "before_commit", _add_queued)
    for name in ("after_commit", "after_rollback"):
        if not event.contains(factory, name, _release):
            event.listen(factory, name, _release)


def verify(db: Database, *, batch: int = 5000) -> dict:
    """Recompute every chain; report the first changed, removed or inserted entry.

    The global chain is checked first, then each instance stream against the head on its
    instance row and against the anchors the global chain holds for it.
    """
    count = 0
    with db.reader() as s:
        unchained = s.scalar(select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1))
        if unchained is not None:
            return _bad(count, unchained, None, "inserted: entry is not in the chain")
        head = s.get(AuditHead, 1)
        heads = {i: (n, h or GENESIS) for i, n, h in s.execute(
            select(ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_hash)
            .where(ProcessInstance.audit_seq > 0))}
        anchors: dict[tuple[int, int], tuple[str, AuditEvent]] = {}
        walk = _Walk()
        for e in _entries(s, batch, AuditEvent.stream == GLOBAL):
            bad = walk.step(e)
            if bad:
                return _bad(count, e.id, e.seq, bad, e.stream)
            count += 1
            d = e.details or {}
            if e.instance_id is not None and "stream_seq" in d:
                anchors[(e.instance_id, int(d["stream_seq"]))] = (str(d.get("stream_hash")), e)
        if head is not None and (head.seq != walk.seq or head.hash != walk.prev):
            return _bad(count, None, head.seq, "removed: the newest entries are missing "
                        "(chain head is further)", GLOBAL)
        global_head = walk.prev
        streams = 0
        walk = None
        for e in _entries(s, batch, AuditEvent.stream != GLOBAL):
            if walk is None or e.stream != walk.stream:
                if walk is not None:
                    bad = _close(walk, heads)
                    if bad:
                        return _bad(count, None, walk.seq, bad, walk.stream)
                walk, streams = _Walk(e.stream), streams + 1
            bad = walk.step(e)
            if bad:
                return _bad(count, e.id, e.seq, bad, e.stream)
            count += 1
            anchor = anchors.pop((e.stream, e.seq), None)
            if anchor is not None and anchor[0] != e.hash:
                return _bad(count, anchor[1].id, anchor[1].seq, f"changed: the stream of "
                            f"instance {e.stream} no longer matches this anchor", GLOBAL)
        if walk is not None:
            bad = _close(walk, heads)
            if bad:
                return _bad(count, None, walk.seq, bad, walk.stream)
        for iid, (n, _h) in sorted(heads.items()):
            return _bad(count, None, n, f"removed: every entry of the stream of instance "
                        f"{iid} is missing", iid)
        for (iid, n), (_h, e) in sorted(anchors.items()):
            if n:
                return _bad(count, e.id, e.seq, f"removed: entry {n} of the stream of "
                            f"instance {iid}, anchored here, is missing", GLOBAL)
    return {"ok": True, "entries": count, "head": global_head, "streams": streams}


class _Walk:
    """Checks one chain entry by entry."""

    def __init__(self, stream: int = GLOBAL):
        self.stream, self.seq, self.prev = stream, 0, GENESIS

    def step(self, e: AuditEvent) -> str | None:
        if e.seq != self.seq + 1:
            return f"removed: entry {self.seq + 1} is missing before {e.seq}"
        if e.prev_hash != self.prev:
            return "inserted or reordered: previous hash does not match"
        if entry_hash(self.prev, e) != e.hash:
            return "changed: content does not match its hash"
        self.seq, self.prev = e.seq, e.hash
        return None


def _close(walk: _Walk, heads: dict) -> str | None:
    n, h = heads.pop(walk.stream, (0, GENESIS))
    if (n, h) != (walk.seq, walk.prev):
        if n > walk.seq:
            return "removed: the newest entries are missing (stream head is further)"
        return "inserted or changed: the stream does not end at its instance's head"
    return None


def _entries(s, batch: int, where):
    last = (-1, 0)
    while True:
        rows = s.scalars(
            select(AuditEvent).where(where, tuple_(AuditEvent.stream, AuditEvent.seq) > last)
            .order_by(AuditEvent.stream, AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = (rows[-1].stream, rows[-1].seq)


def _bad(count: int, entry_id, seq, problem: str, stream: int = GLOBAL) -> dict:
    return {
        "ok": False,
        "entries_verified": count,
        "first_bad": {"id": entry_id, "stream": stream, "seq": seq, "problem": problem},
    }
