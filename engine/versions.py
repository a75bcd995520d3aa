"""Process versions: list, diff and migrate running instances between deployed versions.

Running cases stay on the version they started with. ``migrate_instances`` moves the running
instances of one version to another where it is safe, with SpiffWorkflow's own tools
(``diff_workflow``/``migrate_workflow``) and spiff-arena's rule: no task that is COMPLETED or
STARTED may have been changed or removed in the new version (its history would no longer
match the model). Every other instance is refused with a reason.

Each instance is its own unit of work: the instance row is locked, the workflow is loaded,
migrated, run to its next wait and saved through the engine (so the task rows, the worklist
projection, message subscriptions, the timer column and the cached copy all follow), and
an ``instance.migrated`` audit entry joins the hash chain in the same transaction.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.util.diff import (
    SpecDiff,
    diff_dependencies,
    diff_workflow,
    filter_tasks,
    migrate_workflow,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import clock as engine_clock
from engine import data_paths, store
from engine.actor import SYSTEM, Actor
from engine.deploy import FORM_PROPERTY
from engine.errors import InvalidInput, LotseError, ProcessNotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, SpecBlob
from engine.progress import Progress, no_progress
from engine.serialization import REGISTRY, SPEC_CACHE

UNSAFE_STATES = TaskState.COMPLETED | TaskState.STARTED
RESET_MASK = TaskState.READY | TaskState.WAITING | TaskState.STARTED


# ---------------------------------------------------------------------------------- reading
def _definition(s: Session, process_id: str, version: int) -> ProcessDefinition:
    d = s.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
        )
    )
    if d is None:
        raise ProcessNotFound(
            f"process '{process_id}' has no version {version}",
            process_id=process_id,
            version=version,
        )
    return d


def _specs(s: Session, d: ProcessDefinition):
    return SPEC_CACHE.get(
        d.spec_hash, lambda: s.scalar(select(SpecBlob.body).where(SpecBlob.hash == d.spec_hash))
    )


def list_versions(db, process_id: str) -> list[dict]:
    """Every deployed version with who deployed it when and its instances by status."""
    with db.reader() as s:
        defs = s.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version)
        ).all()
        if not defs:
            raise ProcessNotFound(f"process '{process_id}' is not deployed", process_id=process_id)
        counts: dict[int, dict[str, int]] = {}
        rows = s.execute(
            select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
            .where(ProcessInstance.definition_id.in_([d.id for d in defs]))
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)
        )
        for def_id, status, n in rows:
            counts.setdefault(def_id, {})[status] = n
        latest = defs[-1].version
        return [
            {
                "process_id": d.process_id,
                "version": d.version,
                "definition_id": d.id,
                "name": d.name,
                "deployed_at": d.deployed_at.isoformat(),
                "deployed_by": d.deployed_by,
                "content_hash": d.content_hash,
                "latest": d.version == latest,
                "running": counts.get(d.id, {}).get("running", 0),
                "instances": dict(sorted(counts.get(d.id, {}).items())),
            }
            for d in defs
        ]


# ---------------------------------------------------------------------------------- diff
def _element(ts) -> str:
    return getattr(ts, "bpmn_id", None) or ts.name


def _is_element(ts) -> bool:
    return getattr(ts, "bpmn_id", None) is not None


def _spec_changes(diff: SpecDiff) -> dict:
    added = sorted({_element(ts) for ts in diff.added if _is_element(ts)})
    removed = sorted({_element(ts) for ts in diff.removed if _is_element(ts)})
    changed: dict[str, list[str]] = {}
    for ts, attrs in diff.changed.items():
        if _is_element(ts):
            changed.setdefault(_element(ts), [])
            changed[_element(ts)] = sorted(set(changed[_element(ts)]) | set(attrs))
    return {"added": added, "removed": removed, "changed": dict(sorted(changed.items()))}


def diff_definitions(db, process_id: str, from_version: int, to_version: int) -> dict:
    """Elements added, removed and changed (with the changed attributes) between two versions.

    ``added``/``removed``/``changed`` cover the process and every subprocess or called process
    it contains; ``processes`` gives the same per (sub)process spec, and names the specs
    that only exist in one of the versions.
    """
    with db.reader() as s:
        old_d = _definition(s, process_id, from_version)
        new_d = _definition(s, process_id, to_version)
        old_spec, old_subs = _specs(s, old_d)
        new_spec, new_subs = _specs(s, new_d)
    parts = {old_spec.name: _spec_changes(SpecDiff(REGISTRY, old_spec, new_spec))}
    dep_diffs, new_only = diff_dependencies(REGISTRY, old_subs, new_subs)
    only_old = []
    for name, dd in sorted(dep_diffs.items()):
        if dd is None:
            only_old.append(name)
            parts[name] = {
                "added": [],
                "changed": {},
                "removed": sorted(
                    {_element(t) for t in old_subs[name].task_specs.values() if _is_element(t)}
                ),
            }
        else:
            parts[name] = _spec_changes(dd)
    for name in sorted(new_only):
        parts[name] = {
            "added": sorted(
                {_element(t) for t in new_subs[name].task_specs.values() if _is_element(t)}
            ),
            "removed": [],
            "changed": {},
        }
    added = sorted({e for p in parts.values() for e in p["added"]})
    removed = sorted({e for p in parts.values() for e in p["removed"]} - set(added))
    changed: dict[str, list[str]] = {}
    for p in parts.values():
        for e, attrs in p["changed"].items():
            changed[e] = sorted(set(changed.get(e, [])) | set(attrs))
    return {
        "process_id": process_id,
        "from_version": from_version,
        "to_version": to_version,
        "same_spec": old_d.spec_hash == new_d.spec_hash,
        "added": added,
        "removed": removed,
        "changed": dict(sorted(changed.items())),
        "processes": parts,
        "subprocesses_added": sorted(new_only),
        "subprocesses_removed": only_old,
    }


# ---------------------------------------------------------------------------------- migrate
def _describe(task) -> str:
    ts = task.task_spec
    label = getattr(ts, "bpmn_name", None)
    ident = _element(ts)
    state = TaskState.get_name(task.state).lower()
    return f"{state} task '{label}' ({ident})" if label else f"{state} task {ident}"


def _diff_workflow(wf, new_spec, new_subs):
    """diff_workflow plus, per (sub)workflow, the changed attributes of each changed spec."""
    top_diff, sp_diffs = diff_workflow(REGISTRY, wf, new_spec, new_subs)
    changes = {None: SpecDiff(REGISTRY, wf.spec, new_spec).changed}
    for sp_id, d in sp_diffs.items():
        if d is not None:
            sp = wf.subprocesses[sp_id]
            changes[sp_id] = SpecDiff(REGISTRY, sp.spec, new_subs[sp.spec.name]).changed
    return top_diff, sp_diffs, changes


def _unsafe_reasons(wf, top_diff, sp_diffs, changes, to_version: int) -> list[str]:
    """spiff-arena's rule: no COMPLETED or STARTED task may be changed or removed."""
    reasons: list[str] = []
    for key, diff in [(None, top_diff), *sp_diffs.items()]:
        if diff is None:
            sub = wf.subprocesses[key]
            if not sub.is_completed():
                reasons.append(
                    f"running subprocess '{sub.spec.name}' does not exist in version {to_version}"
                )
            continue
        for task in filter_tasks(diff.changed, state=UNSAFE_STATES):
            attrs = ", ".join(sorted(changes.get(key, {}).get(task.task_spec, [])))
            reasons.append(
                f"{_describe(task)} was changed in version {to_version}"
                + (f" ({attrs})" if attrs else "")
            )
        for task in filter_tasks(diff.removed, state=UNSAFE_STATES):
            reasons.append(f"{_describe(task)} was removed in version {to_version}")
    return reasons


def _waiting_timers(wf) -> dict:
    """internal data of waiting tasks, to keep armed timers' due times through the reset."""
    out = {}
    for _key, w in store.iter_workflows(wf):
        for t in w.tasks.values():
            if t.state == TaskState.WAITING and t.internal_data:
                out[t.id] = (t.task_spec.name, dict(t.internal_data))
    return out


def _migrate(wf, top_diff, sp_diffs, changes, new_spec, new_subs) -> None:
    kept = _waiting_timers(wf)
    changed_names = {ts.name for c in changes.values() for ts in c}
    migrate_workflow(top_diff, wf, new_spec, reset_mask=RESET_MASK)
    for sp_id, sp in list(wf.subprocesses.items()):
        migrate_workflow(sp_diffs[sp_id], sp, new_subs[sp.spec.name], reset_mask=RESET_MASK)
        if not sp.is_completed():  # the reset set the subprocess's task back; it is running
            owner = wf.get_task_from_id(sp_id)
            if owner is not None:
                owner._set_state(TaskState.STARTED)
    wf.subprocess_specs = new_subs
    # an unchanged timer keeps its due time (the reset would arm it again from now)
    for _key, w in store.iter_workflows(wf):
        for t in w.tasks.values():
            old = kept.get(t.id)
            if (
                old is not None
                and t.state == TaskState.WAITING
                and old[0] == t.task_spec.name
                and old[0] not in changed_names
            ):
                t.internal_data.update(old[1])


def _refresh_worklist(s: Session, inst: ProcessInstance, wf, files: dict) -> None:
    """Open human tasks whose element changed keep their row: bring name, office, form along
    (run-time lanes, name prefixes and form templates resolved as in the projection)."""
    rows = {
        r.id: r
        for r in s.scalars(
            select(HumanTask).where(HumanTask.instance_id == inst.id, HumanTask.state == "READY")
        )
    }
    for _key, w in store.iter_workflows(wf):
        for t in w.tasks.values():
            row = rows.get(str(t.id))
            if row is None or t.state != TaskState.READY:
                continue
            ts = t.task_spec
            props = (getattr(ts, "extensions", None) or {}).get("properties") or {}
            values = {
                "element_id": ts.bpmn_id,
                "name": data_paths.name_of(t),
                "office": data_paths.office_of(t),
                "form": data_paths.resolve(props.get(FORM_PROPERTY), t.data, files),
            }
            if values["office"] != row.office:
                values["assignee"] = None  # a claim by another office's clerk does not move
            if any(getattr(row, k) != v for k, v in values.items()):
                s.execute(update(HumanTask).where(HumanTask.id == row.id).values(**values))


def _as_actor(actor) -> Actor:
    if isinstance(actor, Actor):
        return actor
    return Actor(user=actor) if actor else SYSTEM


def migrate_instances(
    engine,
    process_id: str,
    from_version: int,
    to_version: int,
    *,
    actor,
    instance_ids: list[int] | None = None,
    progress: Progress | None = None,
) -> dict:
    """Move the running instances of ``from_version`` to ``to_version`` where it is safe.

    Returns ``{"migrated": [instance ids], "refused": {instance id: reason}}``; an instance
    that cannot be migrated is left exactly as it was. ``instance_ids`` limits the run.
    ``progress(step, done, total, "#id")`` hears each instance once its own transaction
    ended, ``step`` being ``migrated`` or ``refused``.
    """
    tell = progress or no_progress
    if from_version == to_version:
        raise InvalidInput("from and to version are the same")
    who = _as_actor(actor)
    with engine.db.reader() as s:
        old_d = _definition(s, process_id, from_version)
        new_d = _definition(s, process_id, to_version)
        old_id, new_id = old_d.id, new_d.id
        q = (
            select(ProcessInstance.id)
            .where(
                ProcessInstance.definition_id == old_id,
                ProcessInstance.status.in_(("running", "error")),
            )
            .order_by(ProcessInstance.id)
        )
        if instance_ids is not None:
            q = q.where(ProcessInstance.id.in_(list(instance_ids)))
        ids = list(s.scalars(q))
    migrated: list[int] = []
    refused: dict[int, str] = {}
    for iid in ids:
        try:
            with engine_clock.using(engine._tick()):
                outcome, sent = _migrate_one(
                    engine, iid, old_id, new_id, from_version, to_version, who
                )
                if outcome is None:
                    migrated.append(iid)
                    engine.deliver(sent)
                else:
                    refused[iid] = outcome
        except LotseError as exc:
            refused[iid] = f"migration failed and was undone: {exc.message}"
        except Exception as exc:  # noqa: BLE001 - one broken instance must not stop the others
            refused[iid] = (
                f"migration failed and was undone: {exc.__class__.__name__}: "
                f"{' '.join(str(exc).split())[:300]}"
            )
        tell("refused" if iid in refused else "migrated", len(migrated) + len(refused),
             len(ids), f"#{iid}")
    return {
        "process_id": process_id,
        "from_version": from_version,
        "to_version": to_version,
        "migrated": migrated,
        "refused": refused,
    }


def _migrate_one(
    engine, iid: int, old_id: int, new_id: int, from_version: int, to_version: int, actor: Actor
) -> tuple[str | None, list[str]]:
    """One instance in one transaction; (None, sent messages) or (reason, [])."""
    with engine.db.unit_of_work() as s:
        inst = s.scalar(select(ProcessInstance).where(ProcessInstance.id == iid).with_for_update())
        if inst is None or inst.definition_id != old_id:
            return f"instance is no longer on version {from_version}", []
        if inst.status != "running":
            reason = (
                f"instance has an incident ({inst.error or inst.status}); retry or cancel it first"
                if inst.status == "error"
                else f"instance is {inst.status}"
            )
            _audit_refusal(engine, s, inst, actor, from_version, to_version, reason)
            return reason, []
        old_d = s.get(ProcessDefinition, old_id)
        new_d = s.get(ProcessDefinition, new_id)
        new_spec, new_subs = _specs(s, new_d)
        wf, snap = engine._load(s, inst, old_d)
        top_diff, sp_diffs, changes = _diff_workflow(wf, new_spec, new_subs)
        reasons = _unsafe_reasons(wf, top_diff, sp_diffs, changes, to_version)
        if reasons:
            reason = "not safe: " + "; ".join(reasons)
            _audit_refusal(engine, s, inst, actor, from_version, to_version, reason)
            return reason, []
        _migrate(wf, top_diff, sp_diffs, changes, new_spec, new_subs)
        inst.definition_id = new_d.id
        engine._audit(
            s,
            "instance.migrated",
            actor,
            inst,
            details={
                "process_id": inst.process_id,
                "from_version": from_version,
                "to_version": to_version,
                "from_definition_id": old_id,
                "to_definition_id": new_id,
            },
        )
        sent = engine._run_and_save(s, inst, new_d, wf, snap, actor, None)
        _refresh_worklist(s, inst, wf, new_d.source_files)
        return None, sent


def _audit_refusal(engine, s, inst, actor, from_version, to_version, reason) -> None:
    engine._audit(
        s,
        "instance.migration_refused",
        actor,
        inst,
        details={
            "process_id": inst.process_id,
            "from_version": from_version,
            "to_version": to_version,
            "reason": reason[:1000],
        },
    )


__all__ = ["diff_definitions", "list_versions", "migrate_instances"]
