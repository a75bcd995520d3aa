"""German and English texts of the notices that say what an action did (issue 15.5) and of
the progress of long operations; merged into ``web.i18n.MESSAGES``."""

from __future__ import annotations

# key -> (German, English)
MESSAGES_FEEDBACK: dict[str, tuple[str, str]] = {
    "flash.list_sep": ("; ", "; "),
    "flash.task_at": ("„{name}“ bei {office}", "“{name}” at {office}"),
    "flash.and_more": ("und {n} weitere", "and {n} more"),
    "task.completed_next": ("Aufgabe „{name}“ erledigt; nächste Aufgabe: {next}.",
                            "Task “{name}” completed; next task: {next}."),
    "task.completed_none": ("Aufgabe „{name}“ erledigt; keine neue Aufgabe ist entstanden, "
                            "der Vorgang wartet (z. B. auf eine Frist oder eine Nachricht).",
                            "Task “{name}” completed; no new task was created, the instance "
                            "is waiting (e.g. for a deadline or a message)."),
    "task.completed_end": ("Aufgabe „{name}“ erledigt; der Vorgang ist damit abgeschlossen.",
                           "Task “{name}” completed; this completes the instance."),
    "task.completed_error": ("Aufgabe „{name}“ erledigt, aber der nächste Schritt ist "
                             "fehlgeschlagen; der Betrieb ist informiert (Störung).",
                             "Task “{name}” completed, but the next step failed; operations "
                             "can see it as an incident."),
    "task.files_uploaded": ("{n} Datei(en) hochgeladen und dem Fall beigefügt.",
                            "{n} file(s) uploaded and attached to the case."),
    "task.claimed_named": ("Aufgabe übernommen: „{name}“ – sie steht jetzt unter „Meine "
                           "Aufgaben“.", "Task claimed: “{name}” – it is now under “My tasks”."),
    "task.unclaimed_named": ("Aufgabe freigegeben: „{name}“ – sie steht wieder allen bei "
                             "{office} zur Verfügung.",
                             "Task released: “{name}” – it is open again to everyone at "
                             "{office}."),
    "task.reassigned_named": ("Aufgabe „{name}“ an {user} zugewiesen.",
                              "Task “{name}” assigned to {user}."),
    "start.started_next": ("Fall {ref} gestartet (Vorgang {id}); erste Aufgabe: {next}.",
                           "Case {ref} started (instance {id}); first task: {next}."),
    "start.started_none": ("Fall {ref} gestartet (Vorgang {id}); es ist keine Aufgabe offen.",
                           "Case {ref} started (instance {id}); no task is open."),
    # case page: the office badge of the diagram and the step list
    "case.office_badge": ("Kürzel am Schritt: die zuständige Stelle (in der Liste ausgeschrieben)",
                         "Code on a step: the office in charge (in full in the list)"),
    "case.no_steps": ("Noch kein Schritt erreicht.", "No step reached yet."),
}
