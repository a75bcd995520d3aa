"""The "Fristen / Deadlines" section of the case page: every deadline the case's processes
computed, with its legal basis, at the minute its timer fires (Berlin time).

* the armed timers of each instance the viewer sees in full (read from the workflow, the
  values the timers fire on: ``engine.deadlines``);
* the referral records' ``due_ack`` / ``due_result`` (the same values the chase timers use,
  ``processes.dates.due_in``), for KIM all referrals of the case, for an office its own;
* the permit watch's case flags ``deadline_critical`` and ``fiktion_status`` (§ 81 Abs. 4
  AufenthG) with a warning for a late renewal, cut to the viewer's consent scope like all
  case data.
"""

from __future__ import annotations

from datetime import datetime

from flask import g

from engine.deadlines import instance_deadlines
from processes.referrals import list_referrals
from web import visibility
from web.ctx import lang, services

FLAG_KEYS = ("deadline_critical", "fiktion_status", "fiktion_warning", "permit_valid_until")
KIM_OFFICES = frozenset({"KIM_CM", "KIM_KO"})
TINTG = "§ 9 TIntG NRW"

TEXT = {
    "de": {
        "ack": "Eingangsbestätigung {office}", "result": "Ergebnis {office}",
        "ack_basis": "{tintg}; Bearbeitungsfrist der Stelle: Eingang {n} Tage (offices.toml)",
        "result_basis": "{tintg}; Bearbeitungsfrist der Stelle: Ergebnis {n} Tage "
                        "(offices.toml)",
        "critical": "Fall fristkritisch: kein Verlängerungsantrag vier Wochen vor Ablauf des "
                    "Aufenthaltstitels (§ 81 Abs. 4 S. 1 AufenthG).",
        "fortgeltung_81_4_s1": "Fortgeltungsfiktion: Antrag vor Ablauf gestellt, der "
                               "bisherige Titel gilt fort (§ 81 Abs. 4 S. 1 AufenthG).",
        "keine_fiktion_verspaetet": "Keine Fortgeltungsfiktion: der Verlängerungsantrag ist "
                                    "verspätet. Nur eine Anordnung der Ausländerbehörde hilft "
                                    "(§ 81 Abs. 4 S. 3 AufenthG).",
        "overdue": "überfällig", "open": "offen", "title": "Fristen",
        "intro": "Jede Frist, die die Vorgänge dieses Falls berechnet haben, mit dem Zeitpunkt, "
                 "zu dem ihr Timer auslöst (deutsche Zeit).",
        "deadline": "Frist", "due": "Fällig am", "basis": "Rechtsgrundlage",
        "where": "Vorgang / Vermittlung", "status": "Stand",
    },
    "en": {
        "ack": "Acknowledgement {office}", "result": "Result {office}",
        "ack_basis": "{tintg}; office's processing time: acknowledgement {n} days "
                     "(offices.toml)",
        "result_basis": "{tintg}; office's processing time: result {n} days (offices.toml)",
        "critical": "Deadline critical: no renewal application four weeks before the "
                    "residence title expires (§ 81 (4) sentence 1 AufenthG).",
        "fortgeltung_81_4_s1": "Continued validity: applied before expiry, the title "
                               "continues (§ 81 (4) sentence 1 AufenthG).",
        "keine_fiktion_verspaetet": "No continued validity: the renewal application is late; "
                                    "only an order of the foreigners' authority helps "
                                    "(§ 81 (4) sentence 3 AufenthG).",
        "overdue": "overdue", "open": "open", "title": "Deadlines",
        "intro": "Every deadline the processes of this case computed, at the time its timer "
                 "fires (German time).",
        "deadline": "Deadline", "due": "Due", "basis": "Legal basis",
        "where": "Process / referral", "status": "Status",
    },
}


def _t(key: str, **kw) -> str:
    return TEXT.get(lang(), TEXT["de"])[key].format(**kw)


def for_case(case_ref: str | None, views: list[dict]) -> dict | None:
    """What the section shows, or None when there is nothing (or no worker looks)."""
    user = g.user
    if not case_ref or not user.is_worker or not visibility.access(user, case_ref).visible:
        return None
    svc = services()
    now = svc.engine.now()
    cm = visibility.is_case_manager(user)
    rows, flags = [], {}
    for v in views:
        if v.get("masked"):
            continue
        found = instance_deadlines(svc.db, v["instance_id"], FLAG_KEYS)
        seen = visibility.case_data(user, case_ref, found["values"],
                                    instance_id=v["instance_id"]).data
        for k, val in seen.items():
            if val not in (None, "", False) or k not in flags:
                flags[k] = val
        if not (cm or any(t.get("office") in user.work_offices for t in v.get("tasks") or [])):
            continue  # another office's process: its dates derive from data not shared
        for tm in found["timers"]:
            rows.append({"due": tm["due"], "name": tm["name"], "basis": tm["basis"] or "",
                         "where": v["process_name"], "element_id": tm["element_id"],
                         "instance_id": v["instance_id"], "kind": "timer",
                         "overdue": tm["due"] <= now})
    offices = None if user.work_offices & KIM_OFFICES else set(user.work_offices)
    for r in list_referrals(svc.db, now=now, case_id=case_ref):
        if offices is not None and r["office"] not in offices:
            continue
        try:
            office = svc.offices.get(r["office"])
        except Exception:  # noqa: BLE001 - an office taken out of the registry still shows
            office = None
        for kind, key, days, open_ in (
                ("ack", "due_ack", office.sla_ack_days if office else "?",
                 r["state"] == "sent"),
                ("result", "due_result", office.sla_result_days if office else "?",
                 r["state"] in ("sent", "acknowledged", "in_progress", "info_requested"))):
            if not open_:
                continue
            due = datetime.fromisoformat(r[key])
            rows.append({"due": due, "name": _t(kind, office=r["office"]),
                         "basis": _t(f"{kind}_basis", tintg=TINTG, n=days),
                         "where": r["referral_id"], "element_id": None, "instance_id": None,
                         "kind": key, "overdue": due <= now})
    rows.sort(key=lambda x: (x["due"], x["name"]))
    alerts = []
    if flags.get("deadline_critical") is True:
        alerts.append(("warning", "deadline_critical", _t("critical")))
    status = flags.get("fiktion_status")
    if status in ("fortgeltung_81_4_s1", "keine_fiktion_verspaetet"):
        alerts.append(("danger" if status == "keine_fiktion_verspaetet" else "info",
                       f"fiktion_{status}", _t(status)))
    if not rows and not alerts:
        return None
    return {"rows": rows, "alerts": alerts, "flags": flags,
            "labels": {k: _t(k) for k in ("overdue", "open", "title", "intro", "deadline",
                                          "due", "basis", "where", "status")}}
