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

After every intact verification the end of each chain is kept in ``audit_checkpoint``.
``verify(db, incremental=True)`` starts there: it checks that each checkpoint entry still
has the verified hash, recomputes every entry after it (global chain and each stream whose
head or last entry moved), and checks the anchors of the new global entries against the
streams. A change after the last checkpoint is found there; a change before it only if it
altered a checkpoint entry's hash - the full verification (``incremental=False``,
``lotse audit verify --full``, ``?full=1``) recomputes everything and finds the rest.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, event, func, insert, inspect, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from engine.models import AuditCheckpoint, AuditEvent, AuditHead, ProcessInstance, core_table

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
    # insert_order is set for every pending object (typed Optional for detached ones)
    new.sort(key=lambda o: inspect(o).insert_order or 0)
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
    session.execute(insert(core_table(AuditEvent)),
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


def verify(db: Database, *, batch: int = 5000, incremental: bool = False,
           now=None) -> dict:
    """Recompute the chains; report the first changed, removed or inserted entry.

    Full (default): the global chain first, then each instance stream against the head on
    its instance row and against the anchors the global chain holds for it. Incremental:
    only what follows the last checkpoints (see the module docstring); without any
    checkpoint it is the full run. An intact run moves the checkpoints (``now``: its time).
    """
    with db.reader() as s:
        if s.get_bind().dialect.name == "postgresql":  # one snapshot for every statement
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        checkpoints = {c.stream: (c.seq, c.hash) for c in s.scalars(select(AuditCheckpoint))}
        if incremental and checkpoints:
            out, ends = _verify_since(s, batch, checkpoints)
            out.setdefault("mode", "incremental")
        else:
            out, ends = _verify_all(s, batch)
            out["mode"] = "full"
    if out["ok"]:
        _save_checkpoints(db, {k: v for k, v in ends.items() if checkpoints.get(k) != v},
                          now)
    return out


def _verify_all(s, batch: int) -> tuple[dict, dict]:
    """The full verification; (result, end of every chain)."""
    count = 0
    ends: dict[int, tuple[int, str]] = {}
    unchained = s.scalar(select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1))
    if unchained is not None:
        return _bad(count, unchained, None, "inserted: entry is not in the chain"), {}
    head = s.get(AuditHead, 1)
    heads = {i: (n, h or GENESIS) for i, n, h in s.execute(
        select(ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_hash)
        .where(ProcessInstance.audit_seq > 0))}
    walk = _Walk()
    count, anchors, failed = _walk_global(s, batch, walk, head, count)
    if failed:
        return failed, {}
    global_head = walk.prev
    ends[GLOBAL] = (walk.seq, walk.prev)
    streams = 0
    swalk: _Walk | None = None  # the instance stream being walked
    for e in _entries(s, batch, AuditEvent.stream != GLOBAL):
        if swalk is None or e.stream != swalk.stream:
            if swalk is not None:
                bad = _close(swalk, heads)
                if bad:
                    return _bad(count, None, swalk.seq, bad, swalk.stream), {}
                ends[swalk.stream] = (swalk.seq, swalk.prev)
            swalk, streams = _Walk(e.stream), streams + 1
        bad = swalk.step(e)
        if bad:
            return _bad(count, e.id, e.seq, bad, e.stream), {}
        count += 1
        anchor = anchors.pop((e.stream, e.seq), None)
        if anchor is not None and anchor[0] != e.hash:
            return _bad(count, anchor[1].id, anchor[1].seq, f"changed: the stream of "
                        f"instance {e.stream} no longer matches this anchor", GLOBAL), {}
    if swalk is not None:
        bad = _close(swalk, heads)
        if bad:
            return _bad(count, None, swalk.seq, bad, swalk.stream), {}
        ends[swalk.stream] = (swalk.seq, swalk.prev)
    for iid, (n, _h) in sorted(heads.items()):
        return _bad(count, None, n, f"removed: every entry of the stream of instance "
                    f"{iid} is missing", iid), {}
    for (iid, n), (_h, e) in sorted(anchors.items()):
        if n:
            return _bad(count, e.id, e.seq, f"removed: entry {n} of the stream of "
                        f"instance {iid}, anchored here, is missing", GLOBAL), {}
    return {"ok": True, "entries": count, "head": global_head, "streams": streams}, ends


def _verify_since(s, batch: int, checkpoints: dict) -> tuple[dict, dict]:
    """The incremental verification from ``checkpoints``; (result, end of each chain)."""
    count = 0
    ends: dict[int, tuple[int, str]] = {}
    unchained = s.scalar(select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1))
    if unchained is not None:
        return _bad(count, unchained, None, "inserted: entry is not in the chain"), {}
    # every checkpoint entry still there with the hash it had when it was verified
    moved = s.execute(
        select(AuditCheckpoint.stream, AuditCheckpoint.seq, AuditEvent.id)
        .outerjoin(AuditEvent, and_(AuditEvent.stream == AuditCheckpoint.stream,
                                    AuditEvent.seq == AuditCheckpoint.seq,
                                    AuditEvent.hash == AuditCheckpoint.hash))
        .where(AuditCheckpoint.seq > 0, AuditEvent.id.is_(None))
        .order_by(AuditCheckpoint.stream).limit(1)).first()
    if moved is not None:
        return _bad(count, None, moved.seq, "changed or removed before the last checkpoint: "
                    "the entry no longer has the verified hash (run the full verification)",
                    moved.stream), {}
    head = s.get(AuditHead, 1)
    g_seq, g_hash = checkpoints.get(GLOBAL, (0, GENESIS))
    walk = _Walk()
    walk.seq, walk.prev = g_seq, g_hash
    count, anchors, failed = _walk_global(s, batch, walk, head, count, after=(GLOBAL, g_seq))
    if failed:
        return failed, {}
    global_head = ends[GLOBAL] = (walk.seq, walk.prev)
    # streams whose instance head, or whose last entry, is not where it was verified
    heads = {i: (n, h or GENESIS) for i, n, h in s.execute(
        select(ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_hash)
        .where(ProcessInstance.audit_seq > 0))}
    last = dict(s.execute(select(AuditEvent.stream, func.max(AuditEvent.seq))
                          .where(AuditEvent.stream != GLOBAL).group_by(AuditEvent.stream)).all())
    streams = 0
    for st in sorted(set(heads) | set(last) | (set(checkpoints) - {GLOBAL})):
        cp = checkpoints.get(st, (0, GENESIS))
        if heads.get(st, (0, GENESIS)) == cp and last.get(st, 0) == cp[0]:
            continue
        walk, streams = _Walk(st), streams + 1
        walk.seq, walk.prev = cp
        for e in _entries(s, batch, AuditEvent.stream == st, after=(st, cp[0])):
            bad = walk.step(e)
            if bad:
                return _bad(count, e.id, e.seq, bad, e.stream), {}
            count += 1
        bad = _close(walk, heads)
        if bad:
            return _bad(count, None, walk.seq, bad, walk.stream), {}
        ends[st] = (walk.seq, walk.prev)
    # the anchors the new global entries hold: the stream entry they name, unchanged
    wanted = sorted(k for k in anchors if k[1])
    found: dict[tuple[int, int], str] = {}
    for i in range(0, len(wanted), 500):
        found.update({(a, b): h for a, b, h in s.execute(
            select(AuditEvent.stream, AuditEvent.seq, AuditEvent.hash)
            .where(tuple_(AuditEvent.stream, AuditEvent.seq).in_(wanted[i:i + 500])))})
    for key in wanted:
        want, e = anchors[key]
        if key not in found:
            return _bad(count, e.id, e.seq, f"removed: entry {key[1]} of the stream of "
                        f"instance {key[0]}, anchored here, is missing", GLOBAL), {}
        if found[key] != want:
            return _bad(count, e.id, e.seq, f"changed: the stream of instance {key[0]} no "
                        "longer matches this anchor", GLOBAL), {}
    return {"ok": True, "mode": "incremental", "entries": count, "head": global_head[1],
            "streams": streams, "since": g_seq}, ends


def _save_checkpoints(db: Database, ends: dict, now) -> None:
    """Move the checkpoints to the verified ends (never backwards)."""
    if not ends:
        return
    from engine import clock as engine_clock

    at = now or engine_clock.now()
    rows = [{"stream": st, "seq": seq, "hash": h, "verified_at": at}
            for st, (seq, h) in sorted(ends.items())]
    with db.unit_of_work() as s:
        mod = {"postgresql": postgresql, "sqlite": sqlite}[s.get_bind().dialect.name]
        stmt = mod.insert(AuditCheckpoint)
        stmt = stmt.on_conflict_do_update(
            index_elements=["stream"],
            set_={"seq": stmt.excluded.seq, "hash": stmt.excluded.hash,
                  "verified_at": stmt.excluded.verified_at},
            where=AuditCheckpoint.seq <= stmt.excluded.seq)
        s.execute(stmt, rows)


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


def _walk_global(s, batch: int, walk: _Walk, head, count: int, after=(-1, 0)):
    """Walk the global chain on from ``walk`` (after ``after``) up to the chain ``head``:
    (entries counted, the anchors of instance streams it holds, the failure or None). An
    anchor is a global entry's record of an instance stream's (seq, hash)."""
    anchors: dict[tuple[int, int], tuple[str, AuditEvent]] = {}
    for e in _entries(s, batch, AuditEvent.stream == GLOBAL, after=after):
        bad = walk.step(e)
        if bad:
            return count, anchors, _bad(count, e.id, e.seq, bad, e.stream)
        count += 1
        d = e.details or {}
        if e.instance_id is not None and "stream_seq" in d:
            anchors[(e.instance_id, int(d["stream_seq"]))] = (str(d.get("stream_hash")), e)
    if head is not None and (head.seq != walk.seq or head.hash != walk.prev):
        return count, anchors, _bad(count, None, head.seq, "removed: the newest entries are "
                                    "missing (chain head is further)", GLOBAL)
    return count, anchors, None


def _entries(s, batch: int, where, after=(-1, 0)):
    last = after
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
