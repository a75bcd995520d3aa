"""The engine facade: deploy, start, list, claim, complete, show.

Each state-changing call is one unit of work: lock the instance, load the workflow,
run it to the next wait, write changed task rows, the worklist projection and audit
events, and commit - or change nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, insert, select, tuple_
from sqlalchemy.orm import Session

from engine import (
    audit,
    cancellation,
    data_paths,
    files,
    forms,
    messaging,
    multiinstance,
    sandbox,
    step_context,
    store,
)
from engine import clock as engine_clock
from engine import deploy as deploy_mod
from engine.actor import SYSTEM, Actor
from engine.cache import WorkflowCache
from engine.db import Database, where_equal
from engine.errors import (
    FormInvalid,
    InstanceNotFound,
    InstanceNotRunning,
    InstanceSuspended,
    InvalidInput,
    ProcessNotFound,
    TaskClaimedByOther,
    TaskNotFound,
    TaskNotOpen,
    WorkflowDepthExceeded,
)
from engine.logs import guard_spiff_logging
from engine.models import (
    AuditEvent,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    core_table,
)
from engine.progress import Progress
from engine.progress import no_progress as _no_progress
from engine.scheduling import SchedulingMixin, Transaction
from engine.steps import advance, current_data, is_finished, next_timer_at
from engine.views import human_task_dict, instance_summary

HUMAN_STATES = {
    TaskState.READY: "READY",
    TaskState.COMPLETED: "COMPLETED",
    TaskState.CANCELLED: "CANCELLED",
    TaskState.ERROR: "ERROR",
}


class Engine(SchedulingMixin):
    """Runs BPMN cases on SpiffWorkflow with SQL persistence."""

    def __init__(
        self,
        db: Database,
        *,
        resolve_lane: deploy_mod.LaneResolver,
        helpers: Mapping[str, Callable] | None = None,
        format_checker: Any = None,
        clock: engine_clock.Clock | None = None,
        message_listeners: Iterable[messaging.MessageListener] = (),
        cache_size: int = 256,
        script_budget: sandbox.Budget | None = None,
        lint_rules: Iterable[Any] = (),
    ) -> None:
        self.db = db
        self.resolve_lane = resolve_lane
        # rule sets (engine.lint.RuleSet) every lint and deploy of this engine runs too
        self.lint_rules: tuple = tuple(lint_rules)
        self.helpers = dict(helpers or {})
        self.format_checker = format_checker
        self.clock = clock or engine_clock.SystemClock()
        self.message_listeners = list(message_listeners)
        self.cache = WorkflowCache(cache_size)
        self._definitions: dict[int, ProcessDefinition] = {}
        event.listen(db.write_sessions, "after_commit", self._after_commit)
        self.script_engine = sandbox.make_script_engine(self.helpers, script_budget)
        engine_clock.install_timer_clock()
        multiinstance.install()  # MI outputs by instance index, not completion order
        guard_spiff_logging()

    # ------------------------------------------------------------------ deploy
    def deploy(self, paths: Iterable[str | Path], *, actor: str | None = None,
               force: bool = False, progress: Progress | None = None):
        """Deploy files/folders; returns a DeployOutcome per executable process."""
        files = deploy_mod.collect_files(paths)
        return self.deploy_files(files, actor=actor, force=force, progress=progress)

    def deploy_files(self, files: list[deploy_mod.SourceFile], *, actor: str | None = None,
                     force: bool = False, progress: Progress | None = None):
        """Deploy in-memory files (used by the CLI, the API and the modeler). A file that is
        an earlier version of a process with a newer version is not deployed unless
        ``force`` (see ``deploy.store_prepared``).

        ``progress(step, done, total, name)`` hears how far it got: ``check`` (0 of the files)
        before the files are checked and ``checked`` after, ``stored`` (a new version) or
        ``unchanged`` after each process (``name``: its id and version), ``committed``
        once the one transaction of the whole deployment committed."""
        tell = progress or _no_progress
        with engine_clock.using(self.clock):
            tell("check", 0, len(files), "")
            prepared = deploy_mod.prepare(
                files,
                resolve_lane=self.resolve_lane,
                catalogue_sources=self._catalogue_sources,
                check_expression=sandbox.check_expression,
                check_script=sandbox.check_script,
                check_form=lambda schema: forms.check_schema(
                    schema, format_checker=self.format_checker
                ),
                rules=self.lint_rules,
            )
            tell("checked", len(files), len(files), "")
            out: list[deploy_mod.DeployOutcome] = []
            with self.db.unit_of_work() as s:
                for i, p in enumerate(prepared, 1):  # one by one: the same as all at once
                    done = deploy_mod.store_prepared(s, [p], actor=actor, now=self.now(),
                                                     force=force)
                    out.extend(done)
                    for o in done:
                        tell("stored" if o.changed else "unchanged", i, len(prepared),
                             f"{o.process_id} v{o.version}")
            tell("committed", len(prepared), len(prepared), "")
            return out

    def _catalogue_sources(self, process_id: str) -> dict[str, str] | None:
        with self.db.reader() as s:
            d = self._latest_definition(s, process_id)
            return dict(d.source_files) if d else None

    @staticmethod
    def _latest_definition(s: Session, process_id: str) -> ProcessDefinition | None:
        return s.scalar(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        )

    def now(self) -> datetime:
        """Engine time."""
        return self.clock.now()

    # ------------------------------------------------------------------ start
    def start(
        self,
        process_id: str,
        data: dict | None = None,
        case_ref: str | None = None,
        *,
        actor: Actor = SYSTEM,
        version: int | None = None,
    ) -> dict:
        """Start an instance of the latest (or given) version with initial data."""
        if data is not None and not isinstance(data, dict):
            raise InvalidInput("initial data must be a JSON object")
        with engine_clock.using(self._tick()):
            with self.db.unit_of_work() as s:
                out, sent = self._start_in(s, process_id, data, case_ref, actor, version)
            self.deliver(sent)
            return out

    def _start_in(self, s: Session, process_id: str, data: dict | None, case_ref: str | None,
                  actor: Actor, version: int | None = None) -> tuple[dict, list[str]]:
        """``start`` inside the caller's unit of work: the summary and the messages thrown."""
        data = _with_case_id(data, case_ref)
        q = select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
        if version is not None:
            q = q.where(ProcessDefinition.version == version)
        d = s.scalar(q.order_by(ProcessDefinition.version.desc()).limit(1))
        if d is None:
            raise ProcessNotFound(f"process '{process_id}' is not deployed",
                                  process_id=process_id)
        inst, wf = self._new_instance(s, d, case_ref, actor)
        start = wf.get_next_task(spec_name="Start")
        if start is not None and data:
            start.data.update(store.ser.restore(store.ser.convert(data)))
        sent = self._run_and_save(s, inst, d, wf, store.Snapshot(), actor, None)
        return instance_summary(inst), sent

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One unit of work for a compound operation (e.g. a consent revocation with its
        withdrawals, cancellations and follow-up start): every engine call made through the
        yielded ``Transaction`` shares the caller's transaction, messages are delivered inside
        it, and nothing is visible - or left half-done - unless all of it commits."""
        with engine_clock.using(self._tick()):
            with self.db.unit_of_work() as s:
                yield Transaction(self, s)

    def _new_instance(
        self, s: Session, d: ProcessDefinition, case_ref: str | None, actor: Actor
    ) -> tuple[ProcessInstance, BpmnWorkflow]:
        now = self.now()
        inst = ProcessInstance(
            definition_id=d.id,
            process_id=d.process_id,
            case_ref=case_ref,
            status="running",
            created_at=now,
            updated_at=now,
            created_by=actor.user,
            revision=0,
            next_seq=0,
        )
        s.add(inst)
        s.flush()
        spec, subs = store.ser.SPEC_CACHE.get(d.spec_hash, lambda: _spec_body(s, d.spec_hash))
        wf = BpmnWorkflow(spec, subs, script_engine=self.script_engine)
        self._audit(
            s,
            "instance.started",
            actor,
            inst,
            details={"process_id": d.process_id, "version": d.version},
        )
        return inst, wf

    def _tick(self) -> engine_clock.Clock:
        """The clock for this call (a stored, movable clock re-reads its offset)."""
        refresh = getattr(self.clock, "refresh", None)
        if refresh is not None:
            refresh()
        return self.clock

    # ------------------------------------------------------------------ worklists
    def tasks(
        self,
        *,
        office: str | None = None,
        instance_id: int | None = None,
        assignee: str | None = None,
        state: str | None = "READY",
        limit: int | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[dict]:
        """Human tasks from the projection alone (no workflow is loaded)."""
        q = where_equal(select(HumanTask), (HumanTask.office, office),
                        (HumanTask.instance_id, instance_id), (HumanTask.assignee, assignee),
                        (HumanTask.state, state))
        if after is not None:
            q = q.where(tuple_(HumanTask.created_at, HumanTask.id) > tuple_(*after))
        q = q.order_by(HumanTask.created_at, HumanTask.id)
        if limit is not None:
            q = q.limit(limit)
        with self.db.reader() as s:
            return [human_task_dict(t) for t in s.scalars(q)]

    def get_task(self, task_id: str, *, actor: Actor = SYSTEM) -> dict:
        """A human task with its form schema, UI schema and instructions."""
        with self.db.reader() as s:
            ht = self._visible_task(s, task_id, actor)
            inst = s.get(ProcessInstance, ht.instance_id)
            assert inst is not None  # human_task.instance_id is a foreign key; never deleted
            d = self._definition(s, inst.definition_id)
            spec, subs = store.ser.SPEC_CACHE.get(d.spec_hash, lambda: _spec_body(s, d.spec_hash))
            out = human_task_dict(ht)
            ts = _find_task_spec(spec, subs, ht.element_id)
            props = (getattr(ts, "extensions", None) or {}).get("properties") or {}
            out["documentation"] = getattr(ts, "documentation", None)
            out["instructions"] = (getattr(ts, "extensions", None) or {}).get(
                "instructionsForEndUser"
            )
            # the row holds the form resolved when the task became ready (data_paths)
            form = ht.form or props.get(deploy_mod.FORM_PROPERTY)
            out["form_schema"] = _form_file(d, form)
            out["ui_schema"] = _form_file(d, data_paths.resolve_like(
                props.get(deploy_mod.UI_PROPERTY), props.get(deploy_mod.FORM_PROPERTY), form))
            out["process_version"] = d.version
            basis = props.get("handlungsgrundlage")
            if data_paths.is_template(basis):  # {legal_basis}: the task's own data
                wf, _snap = store.load(s, inst, d.spec_hash)  # read only: the cache stays
                task = wf.get_task_from_id(UUID(ht.id))
                basis = data_paths.render_text(basis, task.data if task is not None else {})
            out["legal_basis"] = basis
            return out

    def _visible_task(self, s: Session, task_id: str, actor: Actor) -> HumanTask:
        ht = s.get(HumanTask, _task_key(task_id))
        if ht is None or (actor.offices is not None and ht.office not in actor.offices):
            raise TaskNotFound(f"task '{task_id}' not found", task_id=task_id)
        return ht

    # ------------------------------------------------------------------ claim
    def claim(self, task_id: str, *, actor: Actor) -> dict:
        """Assign an open task to ``actor.user``."""
        if not actor.user:
            raise InvalidInput("claiming needs a user")
        with engine_clock.using(self._tick()), self.db.unit_of_work() as s:
            ht = self._open_task_for_update(s, task_id, actor)
            if ht.assignee not in (None, actor.user):
                raise TaskClaimedByOther(f"task is claimed by {ht.assignee}", assignee=ht.assignee)
            ht.assignee = actor.user
            self._audit(s, "task.claimed", actor, None, task=ht)
            return human_task_dict(ht)

    def unclaim(self, task_id: str, *, actor: Actor, force: bool = False) -> dict:
        """Return a claimed task to the office queue (own claim, or ``force`` for team leads)."""
        with engine_clock.using(self._tick()), self.db.unit_of_work() as s:
            ht = self._open_task_for_update(s, task_id, actor)
            if ht.assignee is not None and ht.assignee != actor.user and not force:
                raise TaskClaimedByOther(f"task is claimed by {ht.assignee}", assignee=ht.assignee)
            ht.assignee = None
            self._audit(s, "task.unclaimed", actor, None, task=ht)
            return human_task_dict(ht)

    def assign(self, task_id: str, assignee: str, *, actor: Actor) -> dict:
        """Give an open task to ``assignee`` (a team lead's reassignment), in one step."""
        if not assignee:
            raise InvalidInput("assigning needs a user")
        with engine_clock.using(self._tick()), self.db.unit_of_work() as s:
            ht = self._open_task_for_update(s, task_id, actor)
            previous = ht.assignee
            ht.assignee = assignee
            self._audit(s, "task.assigned", actor, None, task=ht,
                        details={"assignee": assignee, "previous": previous})
            return human_task_dict(ht)

    def _open_task_for_update(self, s: Session, task_id: str, actor: Actor) -> HumanTask:
        ht, inst = self._lock_task(s, task_id, actor)
        _refuse_suspended(inst)
        if ht.state != "READY":
            raise TaskNotOpen(
                _not_open_message(ht), task_id=task_id, state=ht.state, completed_by=ht.completed_by
            )
        return ht

    def _lock_task(
        self, s: Session, task_id: str, actor: Actor
    ) -> tuple[HumanTask, ProcessInstance]:
        """The task and its instance, both rows locked and read fresh, in one statement.

        Locking the task row as well (not only the instance) makes PostgreSQL re-read it
        after waiting for a concurrent step, so a second completion sees the first one.
        """
        row = s.execute(
            select(HumanTask, ProcessInstance)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(HumanTask.id == _task_key(task_id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if row is None or (actor.offices is not None and row[0].office not in actor.offices):
            raise TaskNotFound(f"task '{task_id}' not found", task_id=task_id)
        audit.hold_stream(s, row[1])
        return row[0], row[1]

    def _definition(self, s: Session, definition_id: int) -> ProcessDefinition:
        """A deployed definition; rows never change, so each process reads it once."""
        d = self._definitions.get(definition_id)
        if d is None:
            d = s.get(ProcessDefinition, definition_id)
            if d is None:
                raise ProcessNotFound(f"definition {definition_id} is gone")
            # detached, so that no rollback of this session expires the cached copy
            s.expunge(d)
            if len(self._definitions) >= 512:
                self._definitions.clear()
            self._definitions[definition_id] = d
        return d

    # ------------------------------------------------------------------ complete
    def complete(self, task_id: str, data: dict | None = None, *, actor: Actor = SYSTEM,
                 uploads: Iterable[files.Upload] = ()) -> dict:
        """Complete a human task with form data and run the case to its next wait.

        ``uploads`` (checked file bytes of the form's file fields, e.g. an HTML form post)
        are stored in the completion's own transaction and their references put into the
        data: a refused or failed completion keeps no file, a crash leaves no orphan."""
        if data is not None and not isinstance(data, dict):
            raise InvalidInput("task data must be a JSON object")
        with engine_clock.using(self._tick()):
            return self._complete(task_id, data, actor, list(uploads))

    def _complete(self, task_id: str, data: dict | None, actor: Actor,
                  uploads: list[files.Upload] | None = None) -> dict:
        """The completion itself, one unit of work (see ``complete``). A refused form
        commits only its ``task.validation_failed`` entry (field names), in the same
        transaction; the attempt's file bindings roll back to a savepoint."""
        refused: FormInvalid | None = None
        with self.db.unit_of_work() as s:
            ht, inst = self._lock_task(s, task_id, actor)
            if ht.state != "READY":
                raise TaskNotOpen(
                    _not_open_message(ht),
                    task_id=task_id,
                    state=ht.state,
                    completed_by=ht.completed_by,
                )
            if actor.user and ht.assignee not in (None, actor.user):
                raise TaskClaimedByOther(
                    f"task is claimed by {ht.assignee}", assignee=ht.assignee
                )
            _refuse_suspended(inst)
            if inst.status != "running":
                raise InstanceNotRunning(
                    f"instance {inst.id} is {inst.status}", status=inst.status
                )
            d = self._definition(s, inst.definition_id)
            wf, snap = self._load(s, inst, d)
            task = wf.get_task_from_id(UUID(ht.id))
            if task is None or task.state != TaskState.READY:
                raise TaskNotOpen("task is no longer open", task_id=task_id)
            cleaned = dict(data or {})
            schema = _form_file(d, ht.form)
            if uploads and schema is None:
                raise InvalidInput("this task's form has no file fields", task_id=task_id)
            if schema is not None:  # $$key date rules read the task's data (form_dates)
                # only a form with file fields writes while it is checked (the bindings):
                # then a savepoint takes them back on refusal; otherwise nothing to undo and
                # a completion stays at its statement count (bench: statements/completion)
                guard = (s.begin_nested() if uploads or forms.file_fields(schema)
                         else contextlib.nullcontext())
                try:
                    with guard:
                        for up in uploads or ():
                            cleaned[up.field] = files.store(
                                s, instance_id=inst.id, case_ref=inst.case_ref,
                                task_id=ht.id, field=up.field, filename=up.filename,
                                content=up.content, media_type=up.media_type,
                                uploaded_by=actor.user, now=self.now())
                        cleaned, errors = forms.clean_and_validate(
                            schema, cleaned, format_checker=self.format_checker,
                            context=task.data)
                        files.bind(s, schema, cleaned, errors, instance_id=inst.id,  # V-14
                                   case_ref=inst.case_ref, task_id=ht.id, now=self.now())
                        if errors:
                            raise FormInvalid(errors)
                except FormInvalid as exc:
                    refused = exc
                    self._audit(s, "task.validation_failed", actor, None, task=ht,
                                details={"fields": sorted(exc.errors)})
            if refused is None:
                sent, out = self._apply(s, inst, d, wf, snap, ht, task, cleaned, schema, actor)
        if refused is not None:
            raise refused
        self.deliver(sent)
        return out

    def _apply(self, s: Session, inst: ProcessInstance, d: ProcessDefinition, wf: BpmnWorkflow,
               snap: store.Snapshot, ht: HumanTask, task, cleaned: dict, schema: dict | None,
               actor: Actor) -> tuple[list[str], dict]:
        """The accepted form's data into the task, and the case run to its next wait."""
        # a field left empty becomes None instead of keeping its old value (only where
        # the case holds one: a never-filled field is not added, nor read-logged later)
        submitted = {k: v for k, v in forms.with_cleared(schema, cleaned).items()
                     if k in cleaned or task.data.get(k) is not None}
        task.data.update(store.ser.restore(store.ser.convert(submitted)))
        self._audit(
            s, "task.completed", actor, inst, task=ht, details={"fields": sorted(cleaned)}
        )
        # task.run() updates the next task, which runs its preScript: a failure there is
        # an incident on that element, the completion itself stands (steps.advance)
        sent = self._run_and_save(s, inst, d, wf, snap, actor, completed_task=ht,
                                  before=task.run)
        return sent, instance_summary(inst)

    def _load(self, s: Session, inst: ProcessInstance,
              d: ProcessDefinition) -> tuple[BpmnWorkflow, store.Snapshot]:
        # saved earlier in this same unit of work (a compound operation): that object is
        # the instance's state, rows included
        pending = s.info.get(("lotse_cache", id(self)), {}).get(inst.id)
        if pending is not None and pending[0] == inst.revision:
            return pending[1], pending[2]
        cached = self.cache.take(inst.id, inst.revision)
        if cached is not None:
            return cached
        wf, snap = store.load(s, inst, d.spec_hash)
        wf.script_engine = self.script_engine  # never serialized: re-attach on every load
        snap.subscriptions = messaging.subscriptions(wf, inst.case_ref)
        return wf, snap

    def _after_commit(self, session: Session) -> None:
        for iid, (revision, wf, snap) in session.info.pop(("lotse_cache", id(self)), {}).items():
            self.cache.put(iid, revision, wf, snap)

    # ------------------------------------------------------------------ internals
    def _run_and_save(
        self,
        s: Session,
        inst: ProcessInstance,
        d: ProcessDefinition,
        wf: BpmnWorkflow,
        snap: store.Snapshot,
        actor: Actor,
        completed_task: HumanTask | None,
        before: Callable[[], object] | None = None,
        *,
        cause: dict | None = None,
    ) -> list[str]:
        """Run to the next wait and write everything; returns ids of messages thrown.

        ``before`` runs first under the step's error handling (``steps.advance``);
        ``cause`` (ids and codes, e.g. the message being delivered) is added to the
        ``task.cancelled`` entries of this step."""
        audit.hold_stream(s, inst)
        with s.no_autoflush:  # the instance row is written once, at commit, with the audit
            return self._run_and_save_inner(s, inst, d, wf, snap, actor, completed_task,
                                            before, cause)

    def _run_and_save_inner(self, s, inst, d, wf, snap, actor, completed_task,
                            before=None, cause=None) -> list[str]:
        started = time.time()  # SpiffWorkflow stamps state changes with time.time()
        # helpers that read or write the database (the consent register) do so in this
        # step's transaction, for this instance's case (engine.step_context)
        with step_context.running(step_context.Step(s, inst, self.now())):
            error = advance(wf, before)
        now = self.now()
        # take thrown events out of the workflow before it is saved, so none is sent twice
        stored = messaging.write_outbox(s, wf, inst.id, now, self.message_listeners)
        for m in stored:
            self._audit_sent(s, actor, inst, m)
        sent = [m.message_id for m in stored]
        result = store.save(s, inst, wf, snap)
        self._project(s, inst, d, wf, result, actor, completed_task, now, cause=cause,
                      since=started)
        subs = messaging.subscriptions(wf, inst.case_ref)
        messaging.sync_subscriptions(s, inst.id, snap.subscriptions, subs)
        snap.subscriptions = subs
        inst.updated_at = now
        inst.revision += 1
        due = next_timer_at(wf)
        if due is not None and due != inst.next_timer_at:
            self._audit(s, "timer.scheduled", actor, inst, details={"due": due.isoformat()})
        inst.next_timer_at = due
        if error is not None:
            # error: Lotse's message without values (audit, auditors); error_detail: the
            # exception's own text, which may quote task data (administrators only)
            inst.status, inst.error = "error", error["message"]
            inst.error_element, inst.error_at = error["element"], now
            inst.error_type, inst.error_detail = error["type"], error["detail"]
            self._audit(
                s,
                "instance.error",
                actor,
                inst,
                element=error["element"],
                details={"error": error["message"], "type": error["type"]},
            )
        elif is_finished(wf):
            inst.status = "completed"
            inst.completed_at = now
            inst.next_timer_at = None
            self._audit(s, "instance.completed", actor, inst)
        self.last_save = result
        s.info.setdefault(("lotse_cache", id(self)), {})[inst.id] = (inst.revision, wf, snap)
        return sent

    def _save_cancelled(self, s: Session, inst: ProcessInstance, d: ProcessDefinition,
                        wf: BpmnWorkflow, snap: store.Snapshot, actor: Actor,
                        reason: str) -> None:
        audit.hold_stream(s, inst)
        with s.no_autoflush:
            self._save_cancelled_inner(s, inst, d, wf, snap, actor, reason)

    def _save_cancelled_inner(self, s, inst, d, wf, snap, actor, reason: str) -> None:
        now = self.now()
        result = store.save(s, inst, wf, snap)
        self._project(s, inst, d, wf, result, actor, None, now,
                      cause={"reason": "instance_cancelled", "cause": reason})
        messaging.sync_subscriptions(s, inst.id, snap.subscriptions, frozenset())
        snap.subscriptions = frozenset()
        inst.status, inst.updated_at, inst.next_timer_at = "cancelled", now, None
        inst.revision += 1
        self._audit(s, "instance.cancelled", actor, inst, details={"reason": reason})
        s.info.setdefault(("lotse_cache", id(self)), {})[inst.id] = (inst.revision, wf, snap)

    def _project(self, s, inst, d, wf, res: store.SaveResult, actor, completed_task, now,
                 *, cause: dict | None = None, since: float | None = None) -> None:
        new_rows, changes = [], []
        for task in [*res.inserted, *res.updated]:
            ts = task.task_spec
            if not ts.manual or ts.bpmn_id is None:
                continue
            before = res.previous_states.get(task.id)
            state = HUMAN_STATES.get(task.state)
            if task.state == TaskState.READY and before != TaskState.READY:
                props = (getattr(ts, "extensions", None) or {}).get("properties") or {}
                # run-time lanes, name prefixes and form templates (engine.data_paths)
                new_rows.append(
                    {
                        "id": str(task.id),
                        "instance_id": inst.id,
                        "process_id": inst.process_id,
                        "case_ref": inst.case_ref,
                        "element_id": ts.bpmn_id,
                        "name": data_paths.name_of(task),
                        "office": data_paths.office_of(task),
                        "state": "READY",
                        "assignee": None,
                        "form": data_paths.resolve(props.get(deploy_mod.FORM_PROPERTY),
                                                   task.data, d.source_files),
                        "created_at": now,
                        "due_at": self._due(wf, task, props.get("due")),
                    }
                )
            elif before == TaskState.READY and state is not None and state != "READY":
                is_done = completed_task is not None and completed_task.id == str(task.id)
                changes.append(
                    {
                        "id": str(task.id),
                        "state": state,
                        "completed_at": now,
                        "completed_by": actor.user if is_done else None,
                    }
                )
        for guid, before in res.deleted.items():
            if before == TaskState.READY:
                changes.append(
                    {
                        "id": str(guid),
                        "state": "CANCELLED",
                        "completed_at": now,
                        "completed_by": None,
                    }
                )
        if len(new_rows) > 1:
            _order_siblings(wf, new_rows, now)
        if new_rows and changes:
            # one statement: changed rows exist, so their insert-path values are placeholders
            blank = {"instance_id": inst.id, "process_id": inst.process_id,
                     "case_ref": inst.case_ref, "element_id": "", "name": None,
                     "office": None, "assignee": None, "form": None, "created_at": now,
                     "due_at": None}
            rows = [{**r, "completed_at": None, "completed_by": None} for r in new_rows]
            rows += [{**blank, **c} for c in changes]
            s.execute(store.upsert(s, HumanTask, ("id",),
                                    ("state", "completed_at", "completed_by")), rows)
        elif new_rows:
            s.execute(insert(core_table(HumanTask)), new_rows)
        elif changes:
            store.update_by_key(s, HumanTask, "id", changes)
        self._audit_steps(s, inst, wf, res, new_rows, changes, actor, cause, since)

    def _audit_steps(self, s, inst, wf, res: store.SaveResult, new_rows, changes, actor,
                     cause: dict | None = None, since: float | None = None) -> None:
        """Audit what the engine did in this step: tasks created/cancelled (with element,
        office and reason), gateway decisions."""
        for row in new_rows:
            self._audit(s, "task.created", actor, inst, element=row["element_id"],
                        details={"task_id": row["id"], "office": row["office"]})
        for row in changes:
            if row["state"] not in ("CANCELLED", "ERROR"):
                continue
            element, office, task = self._task_element(s, wf, row["id"])
            details = {"task_id": row["id"], "element": element, "office": office}
            if row["state"] == "CANCELLED":
                if cause is not None and cause.get("reason") == "instance_cancelled":
                    details.update(reason="instance_cancelled",
                                   cause=cancellation.code(cause.get("cause")))
                else:
                    details.update(cancellation.cause(task, since) if task is not None
                                   else {"reason": "path_closed"})
                    details.update({k: v for k, v in (cause or {}).items()
                                    if k not in details})
            self._audit(s, f"task.{row['state'].lower()}", actor, inst, element=element,
                        office=office, details=details)
        for task in [*res.inserted, *res.updated]:
            ts = task.task_spec
            if (task.state == TaskState.COMPLETED and getattr(ts, "cond_task_specs", None)
                    and res.previous_states.get(task.id) != TaskState.COMPLETED):
                taken = sorted(c.task_spec.bpmn_id or c.task_spec.name for c in task.children)
                default = getattr(ts, "default_task_spec", None)
                self._audit(s, "gateway.evaluated", actor, inst, element=ts.bpmn_id,
                            details={"taken": taken, "default_taken": bool(
                                default and any(c.task_spec.name == default
                                                for c in task.children))})

    @staticmethod
    def _task_element(s, wf, task_id: str):
        """(element id, office, task or None) of a human task that left READY."""
        task = cancellation.find_task(wf, task_id)
        if task is not None:
            return task.task_spec.bpmn_id, data_paths.office_of(task), task
        ht = s.get(HumanTask, task_id)  # dropped from the tree: the projection still has it
        return (ht.element_id, ht.office, None) if ht is not None else (None, None, None)

    def _audit_sent(self, s: Session, actor: Actor, inst: ProcessInstance | None,
                    m: messaging.Stored) -> None:
        """``message.sent``: which message (name, id) went from which office to which, for
        which referral and case (the sender's case when the payload names none)."""
        details = dict(m.details)
        if details.get("case_id") is None and inst is not None:
            details["case_id"] = inst.case_ref
        self._audit(s, "message.sent", actor, inst, office=details.get("from_office"),
                    details=details)

    def _due(self, wf, task, expression: str | None) -> datetime | None:
        if not expression:
            return None
        try:
            value = wf.script_engine.evaluate(task, expression)
            return engine_clock._aware(datetime.fromisoformat(str(value)))
        except (SpiffWorkflowException, ValueError, TypeError):
            return None

    def _audit(
        self,
        s: Session,
        event_type: str,
        actor: Actor,
        inst: ProcessInstance | None,
        *,
        task: HumanTask | None = None,
        element: str | None = None,
        office: str | None = None,
        details: dict | None = None,
    ) -> None:
        audit.add_at_commit(
            s,
            AuditEvent(
                at=self.now(),
                event_type=event_type,
                actor=actor.user,
                office=task.office if task is not None else office,
                instance_id=inst.id if inst is not None else (task.instance_id if task else None),
                definition_id=inst.definition_id if inst is not None else None,
                task_id=task.id if task is not None else None,
                element_id=task.element_id if task is not None else element,
                details=details or {},
            ),
        )

    # ------------------------------------------------------------------ show
    def show(self, instance_id: int, *, actor: Actor = SYSTEM) -> dict:
        """Instance status, current data and its human tasks."""
        with self.db.reader() as s:
            inst = s.get(ProcessInstance, instance_id)
            if inst is None:
                raise InstanceNotFound(f"instance {instance_id} not found", instance_id=instance_id)
            d = s.get(ProcessDefinition, inst.definition_id)
            assert d is not None  # a foreign key; deployed definitions are never deleted
            wf, _ = store.load(s, inst, d.spec_hash)
            tasks = s.scalars(
                select(HumanTask)
                .where(HumanTask.instance_id == inst.id)
                .order_by(HumanTask.created_at, HumanTask.id)
            ).all()
            if actor.offices is not None and not any(t.office in actor.offices for t in tasks):
                raise InstanceNotFound(f"instance {instance_id} not found", instance_id=instance_id)
            out = instance_summary(inst)
            out.update(
                process_id=inst.process_id,
                version=d.version,
                case_ref=inst.case_ref,
                data=store.ser.to_json(current_data(wf)),
                error=inst.error,
                error_element=inst.error_element,
                error_type=inst.error_type,
                next_timer_at=inst.next_timer_at.isoformat() if inst.next_timer_at else None,
                tasks=[human_task_dict(t) for t in tasks],
            )
            return out


    def incident(self, instance_id: int) -> dict:
        """The instance's incident with the exception's full text, which may quote task data:
        for administrators only (CLI ``lotse incident``), never for auditor pages or audit."""
        with self.db.reader() as s:
            inst = s.get(ProcessInstance, instance_id)
            if inst is None:
                raise InstanceNotFound(f"instance {instance_id} not found", instance_id=instance_id)
            return {"instance_id": inst.id, "status": inst.status, "element": inst.error_element,
                    "type": inst.error_type, "message": inst.error, "detail": inst.error_detail,
                    "at": inst.error_at.isoformat() if inst.error_at else None}


def _order_siblings(wf: BpmnWorkflow, rows: list[dict], now: datetime) -> None:
    """Tasks that became READY in one step, in the order SpiffWorkflow created them:
    multi-instance children by instance index, parallel branches in the order of the
    outgoing flows in the diagram. The worklist orders by (created_at, id) and the id is a
    random UUID, so each row after the first gets ``now`` plus its position in
    microseconds (keyset paging and the index stay as they are)."""
    position = {str(t.id): i for i, t in enumerate(
        t for _k, w in store.iter_workflows(wf) for t in w.tasks.values())}
    rows.sort(key=lambda r: position.get(r["id"], len(position)))
    for i, row in enumerate(rows):
        row["created_at"] = now + timedelta(microseconds=i)


def _with_case_id(data: dict | None, case_ref: str | None) -> dict | None:
    """A case has one id from its first step: the case reference given at the start is the
    data's ``case_id`` (the name messages correlate by, ``engine.messaging``). Start data
    naming another ``case_id`` is refused, nothing is started."""
    if not case_ref:
        return data
    given = (data or {}).get("case_id")
    if given not in (None, "") and given != case_ref:
        raise InvalidInput(
            f"case_id in den Startdaten ({given}) weicht von der Fallnummer {case_ref} ab / "
            f"case_id in the start data ({given}) differs from the case reference {case_ref}",
            field="case_id")
    return {**(data or {}), "case_id": case_ref}


def _refuse_suspended(inst: ProcessInstance) -> None:
    if inst.status == "suspended":
        raise InstanceSuspended(f"instance {inst.id} is suspended: its tasks can be neither "
                                "claimed nor completed until it is resumed",
                                instance_id=inst.id)


def _spec_body(s: Session, spec_hash: str) -> str:
    from engine.models import SpecBlob

    body = s.scalar(select(SpecBlob.body).where(SpecBlob.hash == spec_hash))
    assert body is not None  # process_definition.spec_hash is a foreign key to spec_blob
    return body


def _task_key(task_id: str) -> str:
    try:
        return str(UUID(str(task_id)))
    except ValueError:
        raise TaskNotFound(f"task '{task_id}' not found (not a task id)", task_id=task_id) from None


def _not_open_message(ht: HumanTask) -> str:
    if ht.state == "COMPLETED":
        who = f" by {ht.completed_by}" if ht.completed_by else ""
        when = f" at {ht.completed_at.isoformat()}" if ht.completed_at else ""
        return f"task already completed{who}{when}"
    return f"task is {ht.state.lower()}, not open"


def _find_task_spec(spec, subs, element_id: str):
    for sp in [spec, *subs.values()]:
        for ts in sp.task_specs.values():
            if getattr(ts, "bpmn_id", None) == element_id:
                return ts
    return None


def _form_file(d: ProcessDefinition, name: str | None) -> dict | None:
    if not name:
        return None
    text = d.source_files.get(PurePosixPath(name).name)
    return json.loads(text) if text else None


__all__ = ["SYSTEM", "Actor", "Engine", "WorkflowDepthExceeded"]
