"""Small processes with every timer kind, for engine tests."""

from __future__ import annotations

from tests import bpmn_builder as B


def boundary_process(
    pid: str, *, interrupting: bool, timer: str, kind: str = "timeDuration"
) -> str:
    """A waiting task with a boundary timer leading to a follow-up task."""
    cancel = "true" if interrupting else "false"
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + B.user_task("Task_Wait", "Antwort bearbeiten")
        + f'<bpmn:boundaryEvent id="Timer_B" attachedToRef="Task_Wait" cancelActivity="{cancel}">'
        f"<bpmn:timerEventDefinition><bpmn:{kind}>{timer}</bpmn:{kind}>"
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        + B.user_task("Task_Late", "Frist überschritten")
        + '<bpmn:endEvent id="Ev_End1"/><bpmn:endEvent id="Ev_End2"/>'
        + B.flow("F1", "Ev_Start", "Task_Wait")
        + B.flow("F2", "Task_Wait", "Ev_End1")
        + B.flow("F3", "Timer_B", "Task_Late")
        + B.flow("F4", "Task_Late", "Ev_End2")
    )
    return B.process(
        pid,
        {"KIM_CM": ["Ev_Start", "Task_Wait", "Timer_B", "Task_Late", "Ev_End1", "Ev_End2"]},
        body,
    )


def intermediate_process(pid: str, timer: str, after_script: str = "fired = True") -> str:
    """Start, wait on an intermediate timer, run a script, then a user task."""
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        '<bpmn:intermediateCatchEvent id="Timer_I"><bpmn:timerEventDefinition>'
        f"<bpmn:timeDuration>{timer}</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
        + B.script_task("Task_After", after_script)
        + B.user_task("Task_Next", "Weiter bearbeiten")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Timer_I")
        + B.flow("F2", "Timer_I", "Task_After")
        + B.flow("F3", "Task_After", "Task_Next")
        + B.flow("F4", "Task_Next", "Ev_End")
    )
    return B.process(
        pid, {"KIM_CM": ["Ev_Start", "Timer_I", "Task_After", "Task_Next", "Ev_End"]}, body
    )


def event_subprocess_process(pid: str, timer: str) -> str:
    """A main task plus a non-interrupting timer event subprocess with its own task."""
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + B.user_task("Task_Main", "Hauptaufgabe bearbeiten")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Task_Main")
        + B.flow("F2", "Task_Main", "Ev_End")
        + '<bpmn:subProcess id="Sub_Event" triggeredByEvent="true">'
        '<bpmn:startEvent id="Ev_TimerStart" isInterrupting="false"><bpmn:timerEventDefinition>'
        f"<bpmn:timeDuration>{timer}</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:startEvent>"
        + B.user_task("Task_Check", "Zwischenstand prüfen")
        + '<bpmn:endEvent id="Ev_SubEnd"/>'
        + B.flow("S1", "Ev_TimerStart", "Task_Check")
        + B.flow("S2", "Task_Check", "Ev_SubEnd")
        + "</bpmn:subProcess>"
    )
    return B.process(
        pid,
        {
            "KIM_CM": [
                "Ev_Start",
                "Task_Main",
                "Ev_End",
                "Sub_Event",
                "Ev_TimerStart",
                "Task_Check",
                "Ev_SubEnd",
            ]
        },
        body,
    )
