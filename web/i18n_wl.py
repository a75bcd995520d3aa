"""UI texts (German, English) of the worklists as people work them (issue 15.4): saved
filters with their counts, states, case-reference search, sorting, rows whose case is not
shared with the office. Merged into ``web.i18n.MESSAGES``."""

from __future__ import annotations

MESSAGES_WL: dict[str, tuple[str, str]] = {
    "wl.state": ("Ansicht", "View"),
    "wl.state_open": ("Alle offenen", "All open"),
    "wl.state_mine": ("Meine", "Mine"),
    "wl.state_overdue": ("Überfällig", "Overdue"),
    "wl.state_due_soon": ("Bald fällig (3 Tage)", "Due soon (3 days)"),
    "wl.case_text": ("Aktenzeichen enthält", "Case reference contains"),
    "wl.sort_overdue_first": ("Überfällige zuerst, dann wartet am längsten",
                              "Overdue first, then waiting longest"),
    "wl.case_not_shared": ("Fall für Ihr Amt nicht freigegeben",
                           "Case not shared with your office"),
    "sf.heading": ("Gespeicherte Filter", "Saved filters"),
    "sf.none": ("Noch keine gespeicherten Filter. Stellen Sie unten einen Filter ein und "
                "speichern Sie ihn unter einem Namen.",
                "No saved filters yet. Set a filter below and save it under a name."),
    "sf.tasks": ("Aufgaben", "tasks"),
    "sf.delete": ("Löschen", "Delete"),
    "sf.delete_named": ("Filter „{name}“ löschen", "Delete filter “{name}”"),
    "sf.save_heading": ("Diesen Filter speichern", "Save this filter"),
    "sf.name": ("Name des Filters", "Filter name"),
    "sf.name_hint": ("z. B. „Überfällig, mein Amt, P4“", "e.g. “Overdue, my office, P4”"),
    "sf.save": ("Filter speichern", "Save filter"),
    "sf.saved": ("Filter „{name}“ gespeichert.", "Filter “{name}” saved."),
    "sf.deleted": ("Filter „{name}“ gelöscht.", "Filter “{name}” deleted."),
    "sf.exists": ("Sie haben bereits einen Filter mit diesem Namen.",
                  "You already have a filter of this name."),
    "sf.invalid": ("Der Filter konnte nicht gespeichert werden: Bitte geben Sie einen Namen "
                   "(höchstens 80 Zeichen) an.",
                   "The filter could not be saved: please give it a name (at most 80 "
                   "characters)."),
}
