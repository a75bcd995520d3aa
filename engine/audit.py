"""The append-only, hash-chained audit log.

Entries are added to a session like any row (``session.add(AuditEvent(...))``). Before
they are flushed, ``chain_entries`` locks the chain head, gives each new entry the next
``seq``, the previous entry's hash and ``hash = sha256(prev_hash + canonical JSON)``, and
moves the head - all in the transaction of the change the entry records. No code path
updates or deletes entries. ``verify`` recomputes the chain and names the first entry
that was changed, removed or inserted.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from engine.models import AuditEvent, AuditHead

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
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, e: AuditEvent) -> str:
    """sha256(previous hash + canonical JSON of the entry)."""
    return hashlib.sha256((prev_hash + canonical(e)).encode("utf-8")).hexdigest()


def chain_entries(session: Session, _flush_context=None, _instances=None) -> None:
    """before_flush hook: chain every new audit entry of this flush."""
    new = [o for o in session.new if isinstance(o, AuditEvent) and o.seq is None]
    if not new:
        return
    new.sort(key=lambda o: o._sa_instance_state.insert_order)
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    for e in new:
        if e.at is not None and e.at.tzinfo is None:
            raise ValueError("audit times must be aware")
        e.details = e.details or {}
        e.seq = head.seq + 1
        e.prev_hash = head.hash
        e.hash = entry_hash(head.hash, e)
        head.seq, head.hash = e.seq, e.hash


def add_at_commit(session: Session, entry: AuditEvent) -> None:
    """Queue an entry to be added just before commit (the chain head is locked only then)."""
    session.info.setdefault("lotse_audit", []).append(entry)


def _add_queued(session: Session) -> None:
    queued = session.info.pop("lotse_audit", None)
    if queued:
        session.add_all(queued)
        session.flush()


def install(factory: sessionmaker) -> None:
    """Chain audit entries on every flush of sessions from ``factory`` (idempotent)."""
    if not event.contains(factory, "before_flush", chain_entries):
        event.listen(factory, "before_flush", chain_entries)
    if not event.contains(factory, "before_commit", _add_queued):
        event.listen(factory, "before_commit", _add_queued)


def verify(db: Database, *, batch: int = 5000) -> dict:
    """Recompute the chain; report the first changed, removed or inserted entry."""
    prev, expected, count = GENESIS, 1, 0
    with db.reader() as s:
        head = s.get(AuditHead, 1)
        unchained = s.scalar(select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1))
        if unchained is not None:
            return _bad(count, unchained, None, "inserted: entry is not in the chain")
        last = 0
        while True:
            rows = s.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for e in rows:
                if e.seq != expected:
                    return _bad(
                        count, e.id, e.seq, f"removed: entry {expected} is missing before {e.seq}"
                    )
                if e.prev_hash != prev:
                    return _bad(
                        count, e.id, e.seq, "inserted or reordered: previous hash does not match"
                    )
                if entry_hash(prev, e) != e.hash:
                    return _bad(count, e.id, e.seq, "changed: content does not match its hash")
                prev, expected, count = e.hash, expected + 1, count + 1
                last = e.seq
        if head is not None and (head.seq != count or head.hash != prev):
            return _bad(
                count,
                None,
                head.seq if head else None,
                "removed: the newest entries are missing (chain head is further)",
            )
    return {"ok": True, "entries": count, "head": prev}


def _bad(count: int, entry_id, seq, problem: str) -> dict:
    return {
        "ok": False,
        "entries_verified": count,
        "first_bad": {"id": entry_id, "seq": seq, "problem": problem},
    }
