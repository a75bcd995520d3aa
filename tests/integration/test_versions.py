"""Versions: list, diff and migrate running instances (SpiffWorkflow diff/migrate, spiff-arena's
safety rule), with worklists, timers and the audit chain kept right."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import pairwise

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import audit, versions
from engine.errors import InvalidInput, ProcessNotFound
from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance
from tests import bpmn_builder as B
from tests.conftest import START

FORM = B.simple_form("note")


def _model(
    *,
    new_task: bool = False,
    a_name: str = "Antrag prüfen",
    drop_a: bool = False,
    b_office: str = "KIM_CM",
    inner_new: bool = False,
) -> str:
    """Start -> A (5-day timer -> Late) -> B -> Sub(Inner [-> InnerNew]) [-> New] -> End."""
    inner = (
        '<bpmn:startEvent id="S_Start"/>'
        + B.user_task("S_Inner", "Innen", form="f.json")
        + (B.user_task("S_New", "Innen neu", form="f.json") if inner_new else "")
        + '<bpmn:endEvent id="S_End"/>'
        + B.flow("SF1", "S_Start", "S_Inner")
        + (
            B.flow("SF2", "S_Inner", "S_New") + B.flow("SF3", "S_New", "S_End")
            if inner_new
            else B.flow("SF2", "S_Inner", "S_End")
        )
    )
    body = '<bpmn:startEvent id="Ev_Start"/>'
    if not drop_a:
        body += (
            B.user_task("Task_A", a_name, form="f.json")
            + '<bpmn:boundaryEvent id="Bnd_Late" attachedToRef="Task_A">'
            '<bpmn:timerEventDefinition><bpmn:timeDuration>"P5D"</bpmn:timeDuration>'
            "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
            + B.user_task("Task_Late", "Frist verpasst", form="f.json")
            + '<bpmn:endEvent id="Ev_Late"/>'
            + B.flow("F_late", "Bnd_Late", "Task_Late")
            + B.flow("F_late2", "Task_Late", "Ev_Late")
        )
    body += (
        B.user_task("Task_B", "Bescheid", form="f.json")
        + f'<bpmn:subProcess id="Sub">{inner}</bpmn:subProcess>'
        + (B.user_task("Task_New", "Neue Prüfung", form="f.json") if new_task else "")
        + '<bpmn:endEvent id="Ev_End"/>'
    )
    chain = ["Ev_Start"] + ([] if drop_a else ["Task_A"]) + ["Task_B", "Sub"]
    chain += (["Task_New"] if new_task else []) + ["Ev_End"]
    body += "".join(B.flow(f"F{i}", a, b) for i, (a, b) in enumerate(pairwise(chain)))
    own = [] if drop_a else ["Task_A", "Bnd_Late", "Task_Late", "Ev_Late"]
    lanes = {"KIM_CM": ["Ev_Start", *own, "Sub", "Ev_End"]}
    lanes.setdefault(b_office, []).append("Task_B")
    if new_task:
        lanes.setdefault("JC", []).append("Task_New")
    return B.process("proc", lanes, body)


def _deploy(engine, **kw):
    return engine.deploy_files(B.files(proc__bpmn=_model(**kw), f__json=FORM), actor="designer")


def _open(engine, iid) -> list[tuple[str, str]]:
    return [(t["element_id"], t["office"]) for t in engine.tasks(instance_id=iid)]


def _complete_open(engine, iid, element):
    (t,) = [t for t in engine.tasks(instance_id=iid) if t["element_id"] == element]
    engine.complete(t["task_id"], {"note": "ok"})


def _definition_of(engine, iid) -> int:
    with engine.db.reader() as s:
        inst = s.get(ProcessInstance, iid)
        return s.get(ProcessDefinition, inst.definition_id).version


# ------------------------------------------------------------------------------ list, diff
def test_versions_list_and_diff(engine):
    _deploy(engine)
    iid = engine.start("proc", {}, "C-1")["instance_id"]
    _deploy(engine, new_task=True, b_office="JC", inner_new=True)
    rows = versions.list_versions(engine.db, "proc")
    assert [(r["version"], r["running"], r["deployed_by"], r["latest"]) for r in rows] == [
        (1, 1, "designer", False),
        (2, 0, "designer", True),
    ]
    assert rows[0]["deployed_at"].startswith("2026-03-02")
    d = versions.diff_definitions(engine.db, "proc", 1, 2)
    assert d["added"] == ["S_New", "Task_New"]
    assert d["removed"] == []
    assert d["changed"]["Task_B"] == ["lane"]
    assert d["changed"]["Sub"] == ["outputs"]
    assert "outputs" in d["changed"]["S_Inner"]
    assert d["processes"]["Sub"]["added"] == ["S_New"]
    back = versions.diff_definitions(engine.db, "proc", 2, 1)
    assert back["removed"] == ["S_New", "Task_New"] and back["added"] == []
    assert _definition_of(engine, iid) == 1  # deploying does not move running cases
    with pytest.raises(ProcessNotFound):
        versions.diff_definitions(engine.db, "proc", 1, 9)


# ------------------------------------------------------------------------------ migrate
def test_migrate_running_instance_reaches_the_new_element(engine, clock):
    _deploy(engine)
    iid = engine.start("proc", {}, "C-1")["instance_id"]
    _complete_open(engine, iid, "Task_A")
    _complete_open(engine, iid, "Task_B")
    assert _open(engine, iid) == [("S_Inner", "KIM_CM")]
    _deploy(engine, new_task=True)  # Sub (started) unchanged; Task_New added after it
    # the sub-process task is STARTED and its outputs changed: spiff-arena's rule refuses
    out = versions.migrate_instances(engine, "proc", 1, 2, actor="admin")
    assert out["migrated"] == [] and "Sub" in out["refused"][iid]
    # a version that changes only what lies ahead of the case is safe
    _deploy(engine, inner_new=True)
    out = versions.migrate_instances(engine, "proc", 1, 3, actor="admin")
    assert out == {
        "process_id": "proc",
        "from_version": 1,
        "to_version": 3,
        "migrated": [iid],
        "refused": {},
    }
    assert _definition_of(engine, iid) == 3
    _complete_open(engine, iid, "S_Inner")
    assert _open(engine, iid) == [("S_New", "KIM_CM")]  # the element only version 3 has
    _complete_open(engine, iid, "S_New")
    assert engine.show(iid)["status"] == "completed"


def test_migrate_moves_worklist_entries_and_keeps_timers(engine, clock):
    _deploy(engine)
    waiting_a = engine.start("proc", {}, "C-A")["instance_id"]
    at_b = engine.start("proc", {}, "C-B")["instance_id"]
    _complete_open(engine, at_b, "Task_A")
    clock.set(START + timedelta(days=2))
    with engine.db.reader() as s:
        due_before = s.get(ProcessInstance, waiting_a).next_timer_at
    assert due_before == START + timedelta(days=5)
    _deploy(engine, new_task=True, b_office="JC")  # Task_B moves from KIM_CM to JC
    out = versions.migrate_instances(engine, "proc", 1, 2, actor="admin")
    assert sorted(out["migrated"]) == [waiting_a, at_b] and out["refused"] == {}
    # worklists follow: B is now in the job centre's queue, not in KIM_CM's
    assert _open(engine, at_b) == [("Task_B", "JC")]
    assert [t["instance_id"] for t in engine.tasks(office="JC")] == [at_b]
    assert at_b not in [t["instance_id"] for t in engine.tasks(office="KIM_CM")]
    # the armed 5-day timer keeps its due time (not re-armed at the migration)
    with engine.db.reader() as s:
        assert s.get(ProcessInstance, waiting_a).next_timer_at == due_before
    clock.set(START + timedelta(days=5, minutes=1))
    engine.fire_due_timers()
    assert _open(engine, waiting_a) == [("Task_Late", "KIM_CM")]
    # and the migrated case runs into the new element after the sub-process
    _complete_open(engine, at_b, "Task_B")
    _complete_open(engine, at_b, "S_Inner")
    assert _open(engine, at_b) == [("Task_New", "JC")]
    with engine.db.reader() as s:
        rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == at_b)).all()
        assert sorted((r.element_id, r.state) for r in rows) == [
            ("S_Inner", "COMPLETED"),
            ("Task_A", "COMPLETED"),
            ("Task_B", "COMPLETED"),
            ("Task_New", "READY"),
        ]


def test_refused_where_a_completed_task_changed_or_was_removed(engine):
    _deploy(engine)
    fresh = engine.start("proc", {}, "C-1")["instance_id"]
    done_a = engine.start("proc", {}, "C-2")["instance_id"]
    _complete_open(engine, done_a, "Task_A")
    _deploy(engine, a_name="Antrag prüfen (neu)")  # Task_A changed
    out = versions.migrate_instances(engine, "proc", 1, 2, actor="admin")
    assert out["migrated"] == [fresh]
    assert set(out["refused"]) == {done_a}
    reason = out["refused"][done_a]
    assert "completed task 'Antrag prüfen' (Task_A) was changed in version 2" in reason
    assert "bpmn_name" in reason
    assert _definition_of(engine, done_a) == 1 and _definition_of(engine, fresh) == 2
    # the refused case is untouched and still runs on its version
    assert _open(engine, done_a) == [("Task_B", "KIM_CM")]
    assert engine.tasks(instance_id=fresh)[0]["name"] == "Antrag prüfen (neu)"
    _deploy(engine, drop_a=True)  # version 3: Task_A removed
    out = versions.migrate_instances(engine, "proc", 1, 3, actor="admin")
    assert out["migrated"] == []
    assert "(Task_A) was removed in version 3" in out["refused"][done_a]
    _complete_open(engine, done_a, "Task_B")
    assert _open(engine, done_a) == [("S_Inner", "KIM_CM")]


def test_migration_is_audited_and_the_chain_verifies(engine):
    _deploy(engine)
    ok = engine.start("proc", {}, "C-1")["instance_id"]
    no = engine.start("proc", {}, "C-2")["instance_id"]
    _complete_open(engine, no, "Task_A")
    _deploy(engine, a_name="Anders")
    versions.migrate_instances(engine, "proc", 1, 2, actor="admin")
    with engine.db.reader() as s:
        events = {
            e.instance_id: e
            for e in s.scalars(
                select(AuditEvent).where(
                    AuditEvent.event_type.in_(("instance.migrated", "instance.migration_refused"))
                )
            )
        }
        deploys = s.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "process.deployed")
        ).all()
    assert events[ok].event_type == "instance.migrated" and events[ok].actor == "admin"
    assert events[ok].details["from_version"] == 1 and events[ok].details["to_version"] == 2
    assert events[no].event_type == "instance.migration_refused"
    assert "Task_A" in events[no].details["reason"]
    assert len(deploys) == 2
    assert audit.verify(engine.db)["ok"]


def test_only_running_instances_and_bad_arguments(engine):
    _deploy(engine)
    iid = engine.start("proc", {}, "C-1")["instance_id"]
    engine.cancel(iid, reason="test")
    _deploy(engine, new_task=True)
    assert versions.migrate_instances(engine, "proc", 1, 2, actor=None) == {
        "process_id": "proc",
        "from_version": 1,
        "to_version": 2,
        "migrated": [],
        "refused": {},
    }
    with pytest.raises(InvalidInput):
        versions.migrate_instances(engine, "proc", 2, 2, actor=None)
    with pytest.raises(ProcessNotFound):
        versions.migrate_instances(engine, "proc", 1, 7, actor=None)


def test_cached_workflow_follows_the_migration(engine):
    """The in-process cache is keyed by revision: the next step sees the migrated workflow."""
    _deploy(engine)
    iid = engine.start("proc", {}, "C-1")["instance_id"]
    _complete_open(engine, iid, "Task_A")  # leaves the workflow in the cache
    with engine.db.reader() as s:
        rev = s.get(ProcessInstance, iid).revision
    _deploy(engine, new_task=True, b_office="JC")
    assert versions.migrate_instances(engine, "proc", 1, 2, actor="x")["migrated"] == [iid]
    with engine.db.reader() as s:
        assert s.get(ProcessInstance, iid).revision > rev
    _complete_open(engine, iid, "Task_B")
    _complete_open(engine, iid, "S_Inner")
    assert _open(engine, iid) == [("Task_New", "JC")]


# ------------------------------------------------------------------------------ CLI
def test_versions_diff_migrate_cli(engine, monkeypatch):
    from web.cli import Context
    from web.cli_design import diff_command, migrate_command, versions_command

    _deploy(engine)
    iid = engine.start("proc", {}, "C-1")["instance_id"]
    _deploy(engine, new_task=True)

    @click.group()
    @click.pass_context
    def root(ctx):
        ctx.obj = Context()

    for c in (versions_command, diff_command, migrate_command):
        root.add_command(c)
    env = {
        "LOTSE_DATABASE_URL": engine.db.url.render_as_string(hide_password=False),
        "LOTSE_ENV": "test",
    }
    runner = CliRunner()
    listed = runner.invoke(root, ["versions", "proc", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [(r["version"], r["running"]) for r in json.loads(listed.output)] == [(1, 1), (2, 0)]
    diff = runner.invoke(root, ["diff", "proc", "1", "2", "--json"], env=env)
    assert json.loads(diff.output)["added"] == ["Task_New"]
    moved = runner.invoke(
        root, ["migrate", "proc", "--from", "1", "--to", "2", "--user", "a", "--json"], env=env
    )
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.output)["migrated"] == [iid]
    missing = runner.invoke(root, ["versions", "nope", "--json"], env=env)
    assert missing.exit_code == 2
