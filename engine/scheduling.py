"""Timers, message delivery and incidents: the parts of the Engine a worker drives.

Each due timer and each message delivery is its own unit of work, claimed with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (an immediate transaction on SQLite), so any
number of workers fire every timer and consume every message exactly once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, cancellation, data_paths, incidents, messaging, store
from engine import clock as engine_clock
from engine.actor import SYSTEM, Actor
from engine.errors import InstanceNotFound, InstanceNotRunning, InvalidInput, LotseError
from engine.models import Message, MessageSubscription, ProcessDefinition, ProcessInstance
from engine.views import instance_summary

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    from engine.db import Database
    from engine.models import HumanTask

TIMER_RETRY = timedelta(minutes=1)
# seconds an instance waits after a transient database error while firing its timer
# (doubling per failure up to the second value); the timer stays due meanwhile
TIMER_DB_BACKOFF = (1.0, 30.0)
_DEFERRED = -1  # _fire_one: a transient database error rolled the step back


def ser_dumps_event(event) -> str:
    """Serialize a SpiffWorkflow event for the message table."""
    return store.ser.dumps(store.ser.REGISTRY.convert(event))


class SchedulingMixin:
    """Engine methods for timers, messages and incidents (needs the Engine's internals)."""

    if TYPE_CHECKING:  # what the Engine provides (engine.runtime), with its signatures
        db: Database
        clock: engine_clock.Clock
        message_listeners: list[messaging.MessageListener]

        def now(self) -> datetime: ...
        def _tick(self) -> engine_clock.Clock: ...
        def _definition(self, s: Session, definition_id: int) -> ProcessDefinition: ...
        def _load(self, s: Session, inst: ProcessInstance,
                  d: ProcessDefinition) -> tuple[BpmnWorkflow, store.Snapshot]: ...
        def _audit(self, s: Session, event_type: str, actor: Actor,
                   inst: ProcessInstance | None, *, task: HumanTask | None = None,
                   element: str | None = None, office: str | None = None,
                   details: dict | None = None) -> None: ...
        def _audit_sent(self, s: Session, actor: Actor, inst: ProcessInstance | None,
                        m: messaging.Stored) -> None: ...
        def _run_and_save(self, s: Session, inst: ProcessInstance, d: ProcessDefinition,
                          wf: BpmnWorkflow, snap: store.Snapshot, actor: Actor,
                          completed_task: HumanTask | None,
                          before: Callable[[], object] | None = None, *,
                          cause: dict | None = None) -> list[str]: ...
        def _save_cancelled(self, s: Session, inst: ProcessInstance, d: ProcessDefinition,
                            wf: BpmnWorkflow, snap: store.Snapshot, actor: Actor,
                            reason: str) -> None: ...
        def _new_instance(self, s: Session, d: ProcessDefinition, case_ref: str | None,
                          actor: Actor) -> tuple[ProcessInstance, BpmnWorkflow]: ...
        def _start_in(self, s: Session, process_id: str, data: dict | None,
                      case_ref: str | None, actor: Actor,
                      version: int | None = None) -> tuple[dict, list[str]]: ...

    # ------------------------------------------------------------------ timers
    def fire_due_timers(self, *, limit: int | None = None) -> int:
        """Fire every timer due at engine time, oldest first, one instance per transaction."""
        fired = 0
        with engine_clock.using(self._tick()):
            while limit is None or fired < limit:
                iid = self._fire_one()
                if iid is None:
                    break
                if iid != _DEFERRED:
                    fired += 1
        return fired

    def _fire_one(self) -> int | None:
        now = self.now()
        iid = None
        try:
            with self.db.unit_of_work() as s:
                q = (select(ProcessInstance)
                     .where(ProcessInstance.status == "running",
                            ProcessInstance.next_timer_at < now)
                     .order_by(ProcessInstance.next_timer_at, ProcessInstance.id).limit(1))
                waiting = self._timer_db_waiting()
                if waiting:
                    q = q.where(ProcessInstance.id.not_in(waiting))
                inst = s.scalar(q.with_for_update(skip_locked=True))
                if inst is None:
                    return None
                iid, due = inst.id, inst.next_timer_at
                assert due is not None  # the query's next_timer_at < now excludes NULL
                d = self._definition(s, inst.definition_id)
                wf, snap = self._load(s, inst, d)
                sent = self._run_and_save(s, inst, d, wf, snap, SYSTEM, None)
                if inst.next_timer_at is not None and inst.next_timer_at <= due:
                    # SpiffWorkflow did not fire it (e.g. an exhausted cycle): do not spin.
                    inst.next_timer_at = now + TIMER_RETRY
                self._audit(s, "timer.fired", SYSTEM, inst,
                            details={"due": due.isoformat(), "fired": now.isoformat()})
        except Exception as exc:  # an unexpected failure becomes a visible incident
            if iid is not None and incidents.is_transient_db_error(exc):
                # rolled back, no incident: the timer stays due; this instance backs off
                self._timer_db_failed(iid)
                return _DEFERRED
            if iid is None or isinstance(exc, LotseError):
                raise  # also a transient database error before any instance was claimed
            self._incident(iid, exc, element=self._due_element(iid))
            return iid
        self._timer_db_backoff().pop(iid, None)
        self.deliver(sent)
        return iid

    def _timer_db_backoff(self) -> dict[int, tuple[float, float]]:
        """instance id -> (monotonic time until which it waits, its last wait in seconds)."""
        return self.__dict__.setdefault("_timer_db_backoff_state", {})

    def _timer_db_waiting(self) -> list[int]:
        now = time.monotonic()
        return [iid for iid, (until, _w) in self._timer_db_backoff().items() if until > now]

    def _timer_db_failed(self, instance_id: int) -> None:
        first, longest = TIMER_DB_BACKOFF
        _until, last = self._timer_db_backoff().get(instance_id, (0.0, 0.0))
        wait = min(longest, last * 2) if last else first
        self._timer_db_backoff()[instance_id] = (time.monotonic() + wait, wait)

    def _incident(self, instance_id: int, exc: Exception, *, element: str | None) -> None:
        """An unexpected failure of a step (rolled back): the instance shows an incident."""
        with self.db.unit_of_work() as s:
            inst = s.get(ProcessInstance, instance_id)
            if inst is None:
                raise InstanceNotFound(f"instance {instance_id} not found",
                                       instance_id=instance_id)
            info = incidents.describe(exc, element=element or inst.process_id)
            inst.status, inst.error, inst.error_at = "error", info["message"], self.now()
            inst.error_element, inst.error_type = info["element"], info["type"]
            inst.error_detail = info["detail"]
            self._audit(s, "instance.incident", SYSTEM, inst, element=info["element"],
                        details={"error": info["message"], "type": info["type"]})

    def _due_element(self, instance_id: int) -> str | None:
        """The element of the timer that was due (the step that failed started there)."""
        from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

        try:
            with self.db.reader() as s:
                inst = s.get(ProcessInstance, instance_id)
                if inst is None:
                    return None
                wf, _snap = store.load(s, inst, self._definition(s, inst.definition_id).spec_hash)
            for _k, w in store.iter_workflows(wf):
                for t in w.tasks.values():
                    ed = getattr(t.task_spec, "event_definition", None)
                    if t.state == TaskState.WAITING and isinstance(ed, TimerEventDefinition):
                        return t.task_spec.bpmn_id or t.task_spec.name
        except Exception:  # noqa: BLE001 - only a better name for the incident; never fatal
            return None
        return None

    def retry(self, instance_id: int, *, actor: Actor = SYSTEM) -> dict:
        """Run an instance with an incident again from its failed tasks."""
        with engine_clock.using(self._tick()):
            with self.db.unit_of_work() as s:
                inst = self._locked_instance(s, instance_id)
                if inst.status != "error":
                    raise InstanceNotRunning(f"instance {instance_id} has no incident "
                                             f"(status {inst.status})", status=inst.status)
                d = self._definition(s, inst.definition_id)
                wf, snap = self._load(s, inst, d)
                again = []  # tasks whose preScript failed: never READY, update them again
                for _k, w in store.iter_workflows(wf):
                    for t in w.tasks.values():
                        if t.state != TaskState.ERROR:
                            continue
                        if t.internal_data.pop(incidents.RETRY_UPDATE, False):
                            t._set_state(TaskState.FUTURE)
                            again.append(t)
                        else:
                            t._set_state(TaskState.READY)
                inst.status, inst.error, inst.error_element, inst.error_at = (
                    "running", None, None, None)
                inst.error_type = inst.error_detail = None
                self._audit(s, "instance.retried", actor, inst)

                def update_again() -> None:
                    for t in again:
                        t.task_spec._update(t)

                sent = self._run_and_save(s, inst, d, wf, snap, actor, None,
                                          before=update_again if again else None)
                out = instance_summary(inst)
            self.deliver(sent)
            return out

    # ------------------------------------------------------------------ messages
    def deliver(self, message_ids: Iterable[str] | None = None) -> int:
        """Deliver the given (or all pending) messages, and the messages that delivery throws."""
        queue = list(message_ids) if message_ids is not None else self._pending_ids()
        delivered = 0
        with engine_clock.using(self.clock):
            while queue:
                mid = queue.pop(0)
                more = self._deliver_one(mid)
                if more is not None:
                    delivered += 1
                    queue.extend(more)
        return delivered

    def _deliver_all_in(self, s: Session, message_ids: Iterable[str]) -> int:
        """``deliver`` inside the caller's unit of work (a compound operation)."""
        queue, delivered = list(message_ids), 0
        while queue:
            more = self._deliver_in(s, queue.pop(0))
            if more is not None:
                delivered += 1
                queue.extend(more)
        return delivered

    def deliver_pending(self) -> int:
        """Deliver every pending message (worker loop)."""
        with engine_clock.using(self._tick()):
            return self.deliver(self._pending_ids())

    def _pending_ids(self) -> list[str]:
        with self.db.reader() as s:
            return list(s.scalars(select(Message.id).where(Message.status == "pending")
                                  .order_by(Message.created_at, Message.id).limit(1000)))

    def _deliver_one(self, message_id: str) -> list[str] | None:
        with self.db.unit_of_work() as s:
            return self._deliver_in(s, message_id)

    def _deliver_in(self, s: Session, message_id: str) -> list[str] | None:
        msg = s.scalar(select(Message).where(Message.id == message_id,
                                             Message.status == "pending")
                       .with_for_update(skip_locked=True))
        if msg is None:
            return None  # consumed already (or being consumed): deliver at most once
        msg.attempts += 1
        event = messaging.restore_event(msg)
        now = self.now()
        subs = messaging.find_subscribers(s, msg)
        facts = messaging.audit_facts(s, msg, event.payload, self.message_listeners)
        cause = {"by_message": msg.name, "message_id": msg.id}
        if subs:
            # referral_id: one receiver; case_id: every instance of the case that waits
            sent: list[str] = []
            targets = []
            held = False
            for sub in subs:
                inst = s.scalar(select(ProcessInstance)
                                .where(ProcessInstance.id == sub.instance_id)
                                .with_for_update())
                # message_subscription.instance_id is a foreign key; instances are never
                # deleted
                assert inst is not None
                if inst.status == "suspended":
                    held = True  # it waits, pending, until the instance is resumed
                    continue
                d = self._definition(s, inst.definition_id)
                wf, snap = self._load(s, inst, d)
                if not messaging.catch_on_task(wf, sub.task_id, event, update=False):
                    continue
                targets.append(inst.id)
                self._audit_received(s, inst, wf, sub.task_id, facts)
                sent += self._run_and_save(
                    s, inst, d, wf, snap, SYSTEM, None,
                    before=functools.partial(messaging.update_task, wf, sub.task_id),
                    cause=cause)
            if not targets and held:
                return None
            if not targets:
                msg.status, msg.reason = "unmatched", "the waiting task no longer waits"
                return []
            msg.status, msg.delivered_at, msg.target_instance_id = (
                "delivered", now, targets[0])
            return sent
        start_def, why = self._start_definition(s, msg)
        if start_def is None:
            msg.status = "unmatched"
            msg.reason = (f"no instance waits for '{msg.name}' with "
                          f"{msg.corr_key or 'a correlation'}={msg.corr_value!r}, and {why}")
            return []
        payload = messaging.payload_of(msg)
        inst, wf = self._new_instance(s, start_def, payload.get("case_id") or None, SYSTEM)
        snap = store.Snapshot()
        wf.do_engine_steps()
        starts = [t for t in messaging.subscriptions(wf, inst.case_ref)
                  if t.name == msg.name]
        if not starts or not messaging.catch_on_task(wf, starts[0].task_id, event,
                                                     update=False):
            raise InvalidInput(f"process {start_def.process_id} does not start on {msg.name}")
        msg.status, msg.delivered_at, msg.target_instance_id = "delivered", now, inst.id
        tid = starts[0].task_id
        self._audit_received(s, inst, wf, tid, facts)
        return self._run_and_save(s, inst, start_def, wf, snap, SYSTEM, None,
                                  before=lambda: messaging.update_task(wf, tid),
                                  cause=cause)

    def _audit_received(self, s: Session, inst: ProcessInstance, wf, task_id: str,
                        facts: dict) -> None:
        """``message.received`` in the receiving instance's stream: the message (name, id),
        sender and recipient office, referral and case, and the element that caught it.
        The recipient office is the catching element's lane when the listeners name none."""
        task = cancellation.find_task(wf, task_id)
        element = task.task_spec.bpmn_id if task is not None else None
        details = {**facts, "to_instance": inst.id, "element": element}
        if details.get("to_office") is None and task is not None:
            details["to_office"] = data_paths.office_of(task)
        if details.get("case_id") is None:
            details["case_id"] = inst.case_ref
        self._audit(s, "message.received", SYSTEM, inst, element=element,
                    office=details.get("to_office"), details=details)

    def cancel(self, instance_id: int, *, reason: str, actor: Actor = SYSTEM) -> bool:
        """Cancel a running instance: its open tasks leave every worklist. False if not running."""
        with engine_clock.using(self._tick()), self.db.unit_of_work() as s:
            return self._cancel_in(s, instance_id, reason, actor)

    def _cancel_in(self, s: Session, instance_id: int, reason: str, actor: Actor) -> bool:
        inst = self._locked_instance(s, instance_id)
        if inst.status not in ("running", "error"):
            return False
        d = self._definition(s, inst.definition_id)
        wf, snap = self._load(s, inst, d)
        wf.cancel()
        self._save_cancelled(s, inst, d, wf, snap, actor, reason)
        return True

    # ------------------------------------------------------------------ operations
    def suspend(self, instance_id: int, *, reason: str, actor: Actor = SYSTEM) -> dict:
        """Hold a running (or failed) instance: it fires no timers, takes no messages (they
        wait, pending) and its tasks can be neither claimed nor completed (409
        ``INSTANCE_SUSPENDED``) until ``resume``. Audited with the reason."""
        reason = _reason(reason)
        with engine_clock.using(self._tick()), self.db.unit_of_work() as s:
            inst = self._locked_instance(s, instance_id)
            if inst.status not in ("running", "error"):
                raise InstanceNotRunning(f"instance {instance_id} is {inst.status}; only a "
                                         "running instance can be suspended",
                                         status=inst.status)
            inst.status, inst.updated_at = "suspended", self.now()
            inst.revision += 1
            self._audit(s, "instance.suspended", actor, inst, details={"reason": reason})
            return instance_summary(inst)

    def resume(self, instance_id: int, *, reason: str, actor: Actor = SYSTEM) -> dict:
        """Let a suspended instance go on (back to running, or to its incident); timers that
        fell due meanwhile fire at the next worker round, waiting messages are delivered."""
        reason = _reason(reason)
        with engine_clock.using(self._tick()):
            with self.db.unit_of_work() as s:
                inst = self._locked_instance(s, instance_id)
                if inst.status != "suspended":
                    raise InstanceNotRunning(f"instance {instance_id} is {inst.status}, not "
                                             "suspended", status=inst.status)
                inst.status = "error" if inst.error_element or inst.error else "running"
                inst.updated_at = self.now()
                inst.revision += 1
                self._audit(s, "instance.resumed", actor, inst, details={"reason": reason})
                out = instance_summary(inst)
                waiting = list(s.scalars(
                    select(Message.id).join(MessageSubscription, (
                        MessageSubscription.name == Message.name))
                    .where(Message.status == "pending",
                           MessageSubscription.instance_id == instance_id)))
            self.deliver(waiting)
            return out

    def terminate(self, instance_id: int, *, reason: str, actor: Actor = SYSTEM) -> dict:
        """End an instance for good (running, failed or suspended), with a reason: its open
        tasks leave every worklist, its timers and subscriptions are gone."""
        reason = _reason(reason)
        with engine_clock.using(self._tick()), self.db.unit_of_work() as s:
            inst = self._locked_instance(s, instance_id)
            if inst.status not in ("running", "error", "suspended"):
                raise InstanceNotRunning(f"instance {instance_id} is {inst.status} already",
                                         status=inst.status)
            d = self._definition(s, inst.definition_id)
            wf, snap = self._load(s, inst, d)
            wf.cancel()
            self._save_cancelled(s, inst, d, wf, snap, actor, f"terminated: {reason}")
            self._audit(s, "instance.terminated", actor, inst, details={"reason": reason})
            return instance_summary(inst)

    def rewrite_data(self, instance_id: int, transform, *, actor: Actor = SYSTEM,
                     event_type: str = "instance.data_rewritten", details: dict | None = None,
                     status: str | None = None) -> None:
        """Rewrite the data of every task, the workflow data and the instance's messages with
        ``transform(dict) -> dict`` (pseudonymisation); old data rows are deleted."""
        with engine_clock.using(self._tick()), self.db.unit_of_work() as s:
            inst = self._locked_instance(s, instance_id)
            d = self._definition(s, inst.definition_id)
            wf, snap = self._load(s, inst, d)
            for _k, w in store.iter_workflows(wf):
                w.data = transform(dict(w.data))
                for t in w.tasks.values():
                    t.data = transform(dict(t.data))
            store.save(s, inst, wf, snap, every_task=True)
            for msg in s.scalars(select(Message).where(
                    (Message.sender_instance_id == inst.id)
                    | (Message.target_instance_id == inst.id))):
                event = messaging.restore_event(msg)
                if isinstance(event.payload, dict):
                    event.payload = transform(dict(event.payload))
                    msg.event = ser_dumps_event(event)
            s.flush()
            store.drop_orphan_data(s)
            inst.error_detail = None  # the exception's text may quote the old values
            inst.revision += 1
            if status is not None:
                inst.status = status
            self._audit(s, event_type, actor, inst, details=details or {})
            s.info.setdefault(("lotse_cache", id(self)), {})[inst.id] = (inst.revision, wf, snap)

    def _locked_instance(self, s: Session, instance_id: int) -> ProcessInstance:
        """The instance row, locked for this unit of work (InstanceNotFound if absent, also
        for an id beyond BIGINT, which the database driver would refuse with an error)."""
        if not isinstance(instance_id, int) or not 0 < instance_id <= 2**63 - 1:
            raise InstanceNotFound(f"instance {instance_id} not found", instance_id=instance_id)
        inst = s.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id)
                        .with_for_update())
        if inst is None:
            raise InstanceNotFound(f"instance {instance_id} not found", instance_id=instance_id)
        audit.hold_stream(s, inst)
        return inst

    def publish(self, name: str, payload: dict, *, actor: Actor = SYSTEM) -> list[str]:
        """Send a message from outside any process (e.g. a consent revocation); delivered now."""
        with engine_clock.using(self._tick()):
            with self.db.unit_of_work() as s:
                ids = self._publish_in(s, name, payload, actor)
            self.deliver(ids)
            return ids

    def _publish_in(self, s: Session, name: str, payload: dict, actor: Actor) -> list[str]:
        stored = messaging.write_message(s, name, payload, None, self.now(),
                                         self.message_listeners)
        for m in stored:
            self._audit_sent(s, actor, None, m)
        return [m.message_id for m in stored]

    def _start_definition(self, s: Session,
                          msg: Message) -> tuple[ProcessDefinition | None, str]:
        """The one process (latest version) that starts on the message, or None and why.
        When several start on it the engine does not pick between them (no routing by the
        payload, issue 13): the message stays ``unmatched`` with a reason naming them."""
        latest = {}
        for d in s.scalars(select(ProcessDefinition).order_by(ProcessDefinition.version)):
            latest[d.process_id] = d
        candidates = [d for d in latest.values() if msg.name in (d.start_messages or [])]
        if len(candidates) > 1:
            names = ", ".join(sorted(d.process_id for d in candidates))
            return None, (f"several processes start on it ({names}); a message start must "
                          "belong to one process, so none was started")
        if not candidates:
            return None, "no process starts on it"
        return candidates[0], ""

    def messages(self, *, status: str | None = None) -> list[dict]:
        """Stored messages (e.g. the unmatched ones), newest first."""
        q = select(Message).order_by(Message.created_at.desc(), Message.id)
        if status is not None:
            q = q.where(Message.status == status)
        with self.db.reader() as s:
            return [{"message_id": m.id, "name": m.name, "status": m.status,
                     "reason": m.reason, "correlation": {m.corr_key: m.corr_value}
                     if m.corr_key else {}, "sender_instance_id": m.sender_instance_id,
                     "target_instance_id": m.target_instance_id,
                     "created_at": m.created_at.isoformat()} for m in s.scalars(q)]



def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("a reason is required (it is audited)", field="reason")
    if len(text) > 500:
        raise InvalidInput("the reason is longer than 500 characters", field="reason")
    return text


class Transaction:
    """The engine calls of one compound operation, all in one unit of work (see
    ``Engine.transaction``). Messages are delivered inside it, so a failure anywhere - a
    held lock, a refused delivery, a crash before the commit - leaves nothing half-done."""

    def __init__(self, engine, session: Session) -> None:
        self.engine, self.session = engine, session

    def now(self):
        return self.engine.now()

    def publish(self, name: str, payload: dict, *, actor: Actor = SYSTEM) -> list[str]:
        """Send a message from outside any process and deliver it in this transaction."""
        ids = self.engine._publish_in(self.session, name, payload, actor)
        self.engine._deliver_all_in(self.session, ids)
        return ids

    def cancel(self, instance_id: int, *, reason: str, actor: Actor = SYSTEM) -> bool:
        """Cancel a running instance in this transaction (False if it is not running)."""
        return self.engine._cancel_in(self.session, instance_id, reason, actor)

    def start(self, process_id: str, data: dict | None = None, case_ref: str | None = None,
              *, actor: Actor = SYSTEM, version: int | None = None) -> dict:
        """Start an instance in this transaction; the messages it throws are delivered too."""
        out, sent = self.engine._start_in(self.session, process_id, data, case_ref, actor,
                                          version)
        self.engine._deliver_all_in(self.session, sent)
        return out
