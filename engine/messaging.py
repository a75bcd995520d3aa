"""Durable messages between instances: outbox, subscriptions and routing.

A thrown message that nothing in its own workflow catches is written to the ``message``
table in the same transaction as the step that threw it. Delivery routes it by name and
correlation value (``referral_id`` if the payload has one, else ``case_id``) to one waiting
catch event of another instance, or starts a process with a message start event. A message
is consumed once: its row is locked and its status checked in the delivering transaction.
Messages that find no receiver are kept as ``unmatched`` with the reason, and are queued
again when a matching catch event starts waiting.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import (
    MessageEventDefinition as SpiffMessageEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from engine import serialization as ser
from engine import store
from engine.models import Message, MessageSubscription

CORRELATION_KEYS = ("referral_id", "case_id")

# Called for every message as it is written, in the same transaction; may return a new
# payload (e.g. cut down to what the recipient may receive) or raise to refuse the step.
# A listener may also have ``audit_facts(session, msg, payload) -> dict | None``: the facts
# the audit entries of the message name (sender and recipient office, the referral, the
# case, a reason code), which only the domain knows. Called when the message is written
# (``message.sent``) and when it is caught (``message.received``); ids and codes only.
MessageListener = Callable[[Session, Message, dict, datetime], "dict | None"]

# every message audit entry names these (None where a fact does not apply)
AUDIT_FACTS = ("from_office", "to_office", "referral_id", "case_id")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,199}$")


@dataclass(frozen=True)
class Stored:
    """A message just written to the outbox, with the details of its ``message.sent``."""

    message_id: str
    details: dict


@dataclass(frozen=True)
class Subscription:
    task_id: str
    name: str
    referral_id: str | None
    case_id: str | None


def correlation(payload: Any) -> tuple[str | None, str | None]:
    """The (key, value) a message routes by: referral_id first, then case_id."""
    if isinstance(payload, dict):
        for key in CORRELATION_KEYS:
            value = payload.get(key)
            if value not in (None, ""):
                return key, str(value)
    return None, None


def subscriptions(wf: BpmnWorkflow, case_ref: str | None) -> frozenset[Subscription]:
    """The message catch events ``wf`` waits on, with the correlation values it holds."""
    subs = set()
    for _key, w in store.iter_workflows(wf):
        for task in w.tasks.values():
            if task.state != TaskState.WAITING or not isinstance(task.task_spec, CatchingEvent):
                continue
            ed = getattr(task.task_spec, "event_definition", None)
            if not isinstance(ed, MessageEventDefinition):
                continue
            ref = task.data.get("referral_id")
            case = task.data.get("case_id") or case_ref
            subs.add(
                Subscription(
                    str(task.id),
                    ed.name,
                    None if ref is None else str(ref),
                    None if case is None else str(case),
                )
            )
    return frozenset(subs)


def sync_subscriptions(
    session: Session,
    instance_id: int,
    before: frozenset[Subscription],
    after: frozenset[Subscription],
) -> None:
    """Rewrite the instance's subscription rows when they changed; requeue matching strays."""
    if before == after:
        return
    session.execute(
        delete(MessageSubscription).where(MessageSubscription.instance_id == instance_id)
    )
    if after:
        session.execute(
            insert(MessageSubscription),
            [
                {
                    "task_id": s.task_id,
                    "instance_id": instance_id,
                    "name": s.name,
                    "referral_id": s.referral_id,
                    "case_id": s.case_id,
                }
                for s in after
            ],
        )
        new = after - before
        for s in new:
            values = [v for v in (s.referral_id, s.case_id) if v is not None]
            if values:
                session.execute(
                    update(Message)
                    .where(
                        Message.status == "unmatched",
                        Message.name == s.name,
                        Message.corr_value.in_(values),
                    )
                    .values(status="pending", reason=None)
                )


def write_outbox(
    session: Session,
    wf: BpmnWorkflow,
    sender_id: int | None,
    now: datetime,
    listeners: Iterable[MessageListener],
) -> list[Stored]:
    """Move the workflow's uncaught thrown events into the message table."""
    listeners = list(listeners)
    stored = []
    for event in wf.get_events():
        if not isinstance(event.event_definition, MessageEventDefinition):
            continue  # signals/escalations leaving the instance are not routed
        stored.append(_store(session, event, sender_id, now, listeners))
    if stored:
        session.flush()
    return stored


def write_message(
    session: Session,
    name: str,
    payload: dict,
    sender_id: int | None,
    now: datetime,
    listeners: Iterable[MessageListener],
) -> list[Stored]:
    """Store a message that no process threw (sent by the application)."""
    listeners = list(listeners)
    event = BpmnEvent(SpiffMessageEventDefinition(name), payload=payload)
    stored = [_store(session, event, sender_id, now, listeners)]
    session.flush()
    return stored


def _store(
    session: Session,
    event,
    sender_id: int | None,
    now: datetime,
    listeners: list[MessageListener],
) -> Stored:
    ed = event.event_definition
    payload = event.payload if isinstance(event.payload, dict) else {"value": event.payload}
    msg = Message(
        id=str(uuid.uuid4()),
        name=ed.name,
        event="",
        sender_instance_id=sender_id,
        status="pending",
        created_at=now,
        attempts=0,
    )
    for listener in listeners:
        replaced = listener(session, msg, payload, now)
        if replaced is not None:  # e.g. the payload cut down to the consented categories
            payload = replaced
    event.payload = payload
    msg.corr_key, msg.corr_value = correlation(payload)
    msg.event = ser.dumps(ser.REGISTRY.convert(event))
    session.add(msg)
    return Stored(msg.id, audit_facts(session, msg, payload, listeners))


def audit_facts(session: Session, msg: Message, payload: Any,
                listeners: Iterable[MessageListener]) -> dict:
    """What the audit entries of ``msg`` name: the message (name and id), the sending
    instance, and the facts the listeners know (``AUDIT_FACTS``, a reason code). Only ids
    and codes: a value that is not one (free text, a personal value) is left out, so no
    listener can bring a payload value into the audit by mistake."""
    payload = payload if isinstance(payload, dict) else {}
    facts: dict[str, Any] = {k: None for k in AUDIT_FACTS}
    for key in CORRELATION_KEYS:
        facts[key] = payload.get(key)
    for listener in listeners:
        describe = getattr(listener, "audit_facts", None)
        if describe is not None:
            facts.update(describe(session, msg, payload) or {})
    out: dict[str, Any] = {"name": msg.name, "message_id": msg.id,
                           "from_instance": msg.sender_instance_id}
    for key, value in facts.items():
        if value is None or isinstance(value, bool | int):
            out[key] = value
        elif isinstance(value, str) and _CODE.match(value):
            out[key] = value
        elif key in AUDIT_FACTS:
            out[key] = None
    return out


def restore_event(msg: Message):
    """The SpiffWorkflow event of a stored message (right event-definition class)."""
    return ser.REGISTRY.restore(json.loads(msg.event))


def payload_of(msg: Message) -> dict:
    """The message payload as stored."""
    payload = restore_event(msg).payload
    return payload if isinstance(payload, dict) else {"value": payload}


def find_subscribers(session: Session, msg: Message) -> list[MessageSubscription]:
    """Waiting catch events of other instances this message correlates with.

    By ``referral_id``: the first one (a referral has one receiver). By ``case_id``: one
    per instance of the case (case-wide messages such as ``consent_revoked``), in id order.
    """
    if msg.corr_value is None:
        return []
    column = (
        MessageSubscription.referral_id
        if msg.corr_key == "referral_id"
        else MessageSubscription.case_id
    )
    q = select(MessageSubscription).where(
        MessageSubscription.name == msg.name, column == msg.corr_value
    )
    if msg.sender_instance_id is not None:
        q = q.where(MessageSubscription.instance_id != msg.sender_instance_id)
    rows = session.scalars(
        q.order_by(MessageSubscription.instance_id, MessageSubscription.task_id)
    ).all()
    if msg.corr_key == "referral_id":
        return list(rows[:1])
    seen, out = set(), []
    for r in rows:
        if r.instance_id not in seen:
            seen.add(r.instance_id)
            out.append(r)
    return out


def catch_on_task(wf: BpmnWorkflow, task_id: str, event, *, update: bool = True) -> bool:
    """Let exactly one waiting task catch ``event`` (not every task waiting on the name).

    With ``update=False`` the task only takes the event; ``update_task`` then moves it on
    (that runs the next tasks' preScripts, so callers run it under the step's error
    handling, ``steps.advance(wf, before=...)``)."""
    task = wf.get_task_from_id(uuid.UUID(task_id))
    if task is None or task.state != TaskState.WAITING:
        return False
    if not task.task_spec.catches(task, event):
        return False
    task.task_spec.catch(task, event)
    if update:
        task.task_spec._update(task)
    return True


def update_task(wf: BpmnWorkflow, task_id: str) -> None:
    """Move a task on after it caught an event (see ``catch_on_task``)."""
    task = wf.get_task_from_id(uuid.UUID(task_id))
    task.task_spec._update(task)
