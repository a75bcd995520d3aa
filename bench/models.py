"""The BPMN the benchmarks run. Built with the test suite's tiny BPMN builder."""

from __future__ import annotations

import json

from tests import bpmn_builder as B
from tests import timer_models

# Four offices receive the case in parallel; each has a 14-day deadline timer.
OFFICES = ("ABH", "JC", "WOHN", "JA")
REFERRAL_PID = "bench_referral"
LOOP_PID = "bench_loop"
TIMER_PID = "bench_timer"
COMPLETIONS_PER_CASE = 1 + len(OFFICES) + 1  # intake, four offices, review


def _form(field: str) -> str:
    return json.dumps({
        "type": "object",
        "properties": {field: {"type": "string", "title": field, "maxLength": 200}},
        "required": [field],
        "additionalProperties": False,
    })


def referral_process() -> str:
    """KIM_CM takes the case in, four offices work it in parallel (each with an interrupting
    14-day deadline timer that hands the case to KIM_KO), KIM_CM reviews the results."""
    branches, flows, lanes = "", "", {}
    for o in OFFICES:
        branches += B.user_task(f"Task_{o}", f"Prüfen {o}", form=f"{o.lower()}-schema.json",
                                extra_props={"due": "add_days(today(), 14)"})
        branches += (f'<bpmn:boundaryEvent id="Deadline_{o}" attachedToRef="Task_{o}" '
                     'cancelActivity="true"><bpmn:timerEventDefinition>'
                     '<bpmn:timeDuration>"P14D"</bpmn:timeDuration>'
                     "</bpmn:timerEventDefinition></bpmn:boundaryEvent>")
        branches += B.user_task(f"Task_Late_{o}", f"Frist {o} überschritten")
        branches += f'<bpmn:exclusiveGateway id="Gw_Merge_{o}"/>'
        flows += (B.flow(f"Fa_{o}", "Gw_Split", f"Task_{o}")
                  + B.flow(f"Fb_{o}", f"Task_{o}", f"Gw_Merge_{o}")
                  + B.flow(f"Fc_{o}", f"Deadline_{o}", f"Task_Late_{o}")
                  + B.flow(f"Fd_{o}", f"Task_Late_{o}", f"Gw_Merge_{o}")
                  + B.flow(f"Fe_{o}", f"Gw_Merge_{o}", "Gw_Join"))
        lanes[o] = [f"Task_{o}", f"Deadline_{o}", f"Gw_Merge_{o}"]
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + B.user_task("Task_Intake", "Fall aufnehmen", form="intake-schema.json")
        + '<bpmn:parallelGateway id="Gw_Split"/>'
        + branches
        + '<bpmn:parallelGateway id="Gw_Join"/>'
        + B.user_task("Task_Review", "Ergebnisse auswerten", form="review-schema.json")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F0", "Ev_Start", "Task_Intake") + B.flow("F1", "Task_Intake", "Gw_Split")
        + flows
        + B.flow("F2", "Gw_Join", "Task_Review") + B.flow("F3", "Task_Review", "Ev_End")
    )
    lanes["KIM_CM"] = ["Ev_Start", "Task_Intake", "Gw_Split", "Gw_Join", "Task_Review", "Ev_End"]
    lanes["KIM_KO"] = [f"Task_Late_{o}" for o in OFFICES]
    return B.process(REFERRAL_PID, lanes, body)


def referral_files():
    named = {f"{REFERRAL_PID}__bpmn": referral_process(),
             "intake-schema__json": _form("case_note"),
             "review-schema__json": _form("review_note")}
    for o in OFFICES:
        named[f"{o.lower()}-schema__json"] = _form(f"{o.lower()}_result")
    return B.files(**named)


def form_data(element_id: str) -> dict:
    """Valid form data for a task of the referral process (each branch its own key)."""
    if element_id == "Task_Intake":
        return {"case_note": "Erstgespräch geführt"}
    if element_id == "Task_Review":
        return {"review_note": "alle Ergebnisse liegen vor"}
    office = element_id.removeprefix("Task_")
    return {f"{office.lower()}_result": "erledigt"}


def loop_files():
    return B.files(**{f"{LOOP_PID}__bpmn": B.loop_process(LOOP_PID)})


def timer_files():
    return B.files(**{f"{TIMER_PID}__bpmn": timer_models.intermediate_process(TIMER_PID,
                                                                               '"PT1H"')})


def all_files():
    return [*referral_files(), *loop_files(), *timer_files()]
