"""Deploy refuses bad input with file, element and problem; stores nothing then."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import DeployError
from engine.models import ProcessDefinition
from tests import bpmn_builder as B


def _refused(engine, **named) -> list[dict]:
    with pytest.raises(DeployError) as exc:
        engine.deploy_files(B.files(**named))
    with engine.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0
    return exc.value.problems


def test_malformed_xml(engine):
    p = _refused(engine, bad__bpmn="<bpmn:definitions><oops></bpmn:definitions>")
    assert p[0]["file"] == "bad.bpmn" and "malformed XML" in p[0]["problem"]


def test_xxe_and_entity_expansion_refused(engine, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        + B.loop_process().split("?>", 1)[1].replace("Runde bearbeiten", "&x;")
    )
    p = _refused(engine, xxe__bpmn=xxe)
    assert "DOCTYPE" in p[0]["problem"]
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>'
    )
    assert "DOCTYPE" in _refused(engine, bomb__bpmn=bomb)[0]["problem"]


def test_no_executable_process(engine):
    p = _refused(
        engine, x__bpmn=B.loop_process().replace('isExecutable="true"', 'isExecutable="false"')
    )
    assert "no executable process" in p[0]["problem"]


def test_lane_without_office(engine):
    p = _refused(engine, x__bpmn=B.loop_process().replace('name="KIM_CM"', 'name="Hausmeister"'))
    assert p[0]["element"] == "Lane_0" and "Hausmeister" in p[0]["problem"]


def test_lane_resolves_by_german_name_and_property(engine):
    by_name = B.loop_process("by_name").replace('name="KIM_CM"', 'name="jobcenter"')
    engine.deploy_files(B.files(a__bpmn=by_name))
    iid = engine.start("by_name", {})["instance_id"]
    assert engine.tasks(instance_id=iid)[0]["office"] == "JC"
    prop = B.loop_process("by_prop").replace(
        '<bpmn:lane id="Lane_0" name="KIM_CM">',
        '<bpmn:lane id="Lane_0" name="Team Nord"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="office" value="ABH"/></spiffworkflow:properties>'
        "</bpmn:extensionElements>",
    )
    engine.deploy_files(B.files(b__bpmn=prop))
    iid = engine.start("by_prop", {})["instance_id"]
    assert engine.tasks(instance_id=iid)[0]["office"] == "ABH"


def test_call_activity_to_unknown_process(engine):
    body = (
        '<bpmn:startEvent id="Ev_Start"/><bpmn:callActivity id="Call_X" calledElement="nowhere"/>'
        '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Call_X")
        + B.flow("F2", "Call_X", "Ev_End")
    )
    p = _refused(
        engine, c__bpmn=B.process("caller", {"KIM_CM": ["Ev_Start", "Call_X", "Ev_End"]}, body)
    )
    assert p[0]["element"] == "Call_X" and "nowhere" in p[0]["problem"]


def test_call_activity_to_deployed_process(engine):
    engine.deploy_files(B.files(callee__bpmn=B.loop_process("callee")))
    body = (
        '<bpmn:startEvent id="Ev_Start"/><bpmn:callActivity id="Call_X" calledElement="callee"/>'
        '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Call_X")
        + B.flow("F2", "Call_X", "Ev_End")
    )
    engine.deploy_files(
        B.files(
            caller__bpmn=B.process("caller", {"KIM_CM": ["Ev_Start", "Call_X", "Ev_End"]}, body)
        )
    )
    iid = engine.start("caller", {})["instance_id"]
    task = engine.tasks(instance_id=iid)[0]
    assert task["element_id"] == "Task_Work" and task["office"] == "KIM_CM"
    engine.complete(task["task_id"], {"done": True})
    assert engine.show(iid)["status"] == "completed"


@pytest.mark.parametrize(
    "what,bad,expect",
    [
        ("condition", ("done == True", "done ==== True"), "condition does not compile"),
        ("condition", ("done == True", "__import__('os').system('id') == 0"), "condition"),
    ],
)
def test_bad_condition(engine, what, bad, expect):
    p = _refused(engine, x__bpmn=B.loop_process().replace(*bad))
    assert p[0]["element"] == "Gw" and expect in p[0]["problem"]


def test_bad_timer_expression(engine):
    from tests.integration.test_engine import _timer_process

    p = _refused(engine, t__bpmn=_timer_process("P5D").replace('"P5D"', "P5D)("))
    assert p[0]["element"] == "Timer_Late" and "timer expression" in p[0]["problem"]


def test_user_task_form_must_exist_and_be_a_schema(engine):
    proc = B.loop_process().replace(
        '<bpmn:userTask id="Task_Work" name="Runde bearbeiten">',
        '<bpmn:userTask id="Task_Work" name="Runde bearbeiten">'
        "<bpmn:extensionElements><spiffworkflow:properties>"
        '<spiffworkflow:property name="formJsonSchemaFilename" '
        'value="work-schema.json"/></spiffworkflow:properties>'
        "</bpmn:extensionElements>",
    )
    p = _refused(engine, x__bpmn=proc)
    assert "work-schema.json" in p[0]["problem"]
    p = _refused(engine, x__bpmn=proc, **{"work-schema__json": '{"type": 12}'})
    assert "not a valid JSON Schema" in p[0]["problem"]
    engine.deploy_files(B.files(x__bpmn=proc, **{"work-schema__json": B.simple_form("note")}))


_BOUNDARY = ('<bpmn:boundaryEvent id="Bnd_Late" attachedToRef="{at}" cancelActivity="false">'
             '<bpmn:timerEventDefinition><bpmn:timeDuration>"P1D"</bpmn:timeDuration>'
             '</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="Ev_Late"/>'
             + B.flow("F_late", "Bnd_Late", "Ev_Late") + "</bpmn:process>")


@pytest.mark.parametrize(
    "bad,element,words",
    [
        (('targetRef="Ev_End"', 'targetRef="Ev_Gone"'), "F_done", ["'Ev_Gone'", "target"]),
        (('sourceRef="Ev_Start"', 'sourceRef="Ev_Gone"'), "F1", ["'Ev_Gone'", "source"]),
        ((' targetRef="Ev_End"', ""), "F_done", ["no target"]),
        (("</bpmn:process>", _BOUNDARY.format(at="Task_Gone")), "Bnd_Late", ["'Task_Gone'"]),
        (("</bpmn:process>", _BOUNDARY.format(at="Gw")), "Bnd_Late",
         ["'Gw'", "exclusiveGateway"]),
    ],
)
def test_dangling_flow_or_boundary_event_refused(engine, bad, element, words):
    """Deploy refuses a flow or boundary event that points at nothing, naming it and the
    missing target, and not with SpiffWorkflow's unrelated message about another element."""
    p = _refused(engine, x__bpmn=B.loop_process().replace(*bad))
    assert [x["element"] for x in p] == [element], p
    assert all(w in p[0]["problem"] for w in words), p


def test_reserved_ids_refused(engine):
    p = _refused(engine, x__bpmn=B.loop_process().replace("Ev_Start", "Start"))
    assert p[0]["element"] == "Start"


def test_every_problem_reported_at_once(engine):
    broken = (
        B.loop_process()
        .replace("done == True", "done ==== True")
        .replace('name="KIM_CM"', 'name="Nirgendwo"')
    )
    problems = _refused(engine, x__bpmn=broken, y__bpmn="<not-closed>")
    assert len(problems) >= 2


def test_unchanged_content_is_not_a_new_version(engine):
    first = engine.deploy_files(B.files(x__bpmn=B.loop_process()))
    again = engine.deploy_files(B.files(x__bpmn=B.loop_process()))
    assert (first[0].version, first[0].changed) == (1, True)
    assert (again[0].version, again[0].changed) == (1, False)


def test_latin1_bpmn_is_read_in_its_declared_encoding(engine):
    text = B.loop_process("latin").replace("Runde bearbeiten", "Prüfung durchführen")
    text = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    from engine.deploy import SourceFile

    engine.deploy_files([SourceFile("latin.bpmn", text.encode("latin-1"))])
    iid = engine.start("latin", {})["instance_id"]
    assert engine.tasks(instance_id=iid)[0]["name"] == "Prüfung durchführen"


def test_form_that_is_not_utf8_is_refused(engine):
    from engine.deploy import SourceFile

    with pytest.raises(DeployError) as exc:
        engine.deploy_files([SourceFile("x.bpmn", B.loop_process().encode()),
                             SourceFile("f.json", '{"title": "Prüfung"}'.encode("latin-1"))])
    assert "UTF-8" in exc.value.problems[0]["problem"]
