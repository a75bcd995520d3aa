"""A minimal referral round trip for engine tests: a case manager process sends a referral,
chases it with a reminder and an escalation, and an office process answers."""

from __future__ import annotations

from tests import bpmn_builder as B

MSG = (
    '<bpmn:message id="M_sent" name="referral_sent"/>'
    '<bpmn:message id="M_ack" name="referral_acknowledged"/>'
    '<bpmn:message id="M_result" name="referral_result"/>'
)


def _throw(eid: str, msg: str, payload: str) -> str:
    return (
        f'<bpmn:intermediateThrowEvent id="{eid}"><bpmn:messageEventDefinition messageRef="{msg}">'
        f"<spiffworkflow:messagePayload>{payload}</spiffworkflow:messagePayload>"
        "</bpmn:messageEventDefinition></bpmn:intermediateThrowEvent>"
    )


def _catch(eid: str, msg: str, var: str) -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{eid}"><bpmn:messageEventDefinition messageRef="{msg}">'
        f"<spiffworkflow:messageVariable>{var}</spiffworkflow:messageVariable>"
        "</bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>"
    )


def _timer(eid: str, expr: str) -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{eid}"><bpmn:timerEventDefinition>'
        f"<bpmn:timeDate>{expr}</bpmn:timeDate></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )


def cm_process(office: str = "JC", purpose: str = "JC:SGB2") -> str:
    """KIM_CM sends a referral to ``office``; reminder at due_ack, escalation to KIM_KO."""
    prepare = (
        f'referral_id = case_id + "-R1"\noffice = "{office}"\npurpose = "{purpose}"\n'
        'due_ack = sla_due(office, "ack")\ndue_escalate = escalation_due(office)'
    )
    sub = (
        '<bpmn:subProcess id="Sub_AwaitAck" name="Eingangsbestätigung abwarten">'
        '<bpmn:startEvent id="Ev_SubStart"/><bpmn:parallelGateway id="Gw_Wait"/>'
        + _catch("Msg_Ack", "M_ack", "ack")
        + '<bpmn:endEvent id="Ev_Acked"><bpmn:terminateEventDefinition/></bpmn:endEvent>'
        + _timer("Timer_Remind", 'iso_at(due_ack, "08:00")')
        + B.user_task("Task_Remind", "Erinnerung senden")
        + '<bpmn:endEvent id="Ev_Reminded"/>'
        + _timer("Timer_Escalate", 'iso_at(due_escalate, "08:00")')
        + B.user_task("Task_Escalate", "Unbeantwortete Vermittlung klären")
        + '<bpmn:endEvent id="Ev_Escalated"/>'
        + B.flow("S1", "Ev_SubStart", "Gw_Wait")
        + B.flow("S2", "Gw_Wait", "Msg_Ack")
        + B.flow("S3", "Msg_Ack", "Ev_Acked")
        + B.flow("S4", "Gw_Wait", "Timer_Remind")
        + B.flow("S5", "Timer_Remind", "Task_Remind")
        + B.flow("S6", "Task_Remind", "Ev_Reminded")
        + B.flow("S7", "Gw_Wait", "Timer_Escalate")
        + B.flow("S8", "Timer_Escalate", "Task_Escalate")
        + B.flow("S9", "Task_Escalate", "Ev_Escalated")
        + "</bpmn:subProcess>"
    )
    payload = (
        '{"referral_id": referral_id, "case_id": case_id, "office": office, '
        '"purpose": purpose, "data": {"first_name": first_name, "notes": notes, '
        '"health_needs": health_needs, "income": income}}'
    )
    body = (
        '<bpmn:startEvent id="Ev_Start"/>'
        + B.script_task("Task_Prepare", prepare)
        + _throw("Msg_Send", "M_sent", payload)
        + sub
        + _catch("Msg_Result", "M_result", "result")
        + B.user_task("Task_Review", "Ergebnis auswerten")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Task_Prepare")
        + B.flow("F2", "Task_Prepare", "Msg_Send")
        + B.flow("F3", "Msg_Send", "Sub_AwaitAck")
        + B.flow("F4", "Sub_AwaitAck", "Msg_Result")
        + B.flow("F5", "Msg_Result", "Task_Review")
        + B.flow("F6", "Task_Review", "Ev_End")
    )
    lanes = {
        "KIM_CM": [
            "Ev_Start",
            "Task_Prepare",
            "Msg_Send",
            "Sub_AwaitAck",
            "Ev_SubStart",
            "Gw_Wait",
            "Msg_Ack",
            "Ev_Acked",
            "Timer_Remind",
            "Task_Remind",
            "Ev_Reminded",
            "Msg_Result",
            "Task_Review",
            "Ev_End",
        ],
        "KIM_KO": ["Timer_Escalate", "Task_Escalate", "Ev_Escalated"],
    }
    doc = B.process("test_cm_referral", lanes, body)
    return doc.replace("</bpmn:process>", "</bpmn:process>" + MSG)


def office_process(office: str = "JC") -> str:
    """The receiving office: acknowledge, then return a result."""
    code = office.lower()
    body = (
        '<bpmn:startEvent id="Ev_Start"><bpmn:messageEventDefinition messageRef="M_sent">'
        "<spiffworkflow:messageVariable>referral</spiffworkflow:messageVariable>"
        "</bpmn:messageEventDefinition></bpmn:startEvent>"
        + B.script_task(
            "Task_Take", 'referral_id = referral["referral_id"]\ncase_id = referral["case_id"]'
        )
        + B.user_task("Task_Ack", "Eingang bestätigen")
        + _throw("Msg_Ack", "M_ack", '{"referral_id": referral_id}')
        + B.user_task("Task_Process", "Anliegen bearbeiten")
        + _throw("Msg_Result", "M_result", '{"referral_id": referral_id, "outcome": outcome}')
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Task_Take")
        + B.flow("F2", "Task_Take", "Task_Ack")
        + B.flow("F3", "Task_Ack", "Msg_Ack")
        + B.flow("F4", "Msg_Ack", "Task_Process")
        + B.flow("F5", "Task_Process", "Msg_Result")
        + B.flow("F6", "Msg_Result", "Ev_End")
    )
    doc = B.process(
        f"test_office_referral_{code}",
        {
            office: [
                "Ev_Start",
                "Task_Take",
                "Task_Ack",
                "Msg_Ack",
                "Task_Process",
                "Msg_Result",
                "Ev_End",
            ]
        },
        body,
    )
    return doc.replace("</bpmn:process>", "</bpmn:process>" + MSG)
