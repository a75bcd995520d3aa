"""UI text of the task-form widgets (issue 15): groups with "add entry", coded fields,
dates as TT.MM.JJJJ, amounts as German decimals. key -> (German, English)."""

from __future__ import annotations

MESSAGES_FORMS: dict[str, tuple[str, str]] = {
    "form.add_entry": ("Eintrag hinzufügen", "Add entry"),
    "form.remove_entry": ("Eintrag {n} entfernen", "Remove entry {n}"),
    "form.entry": ("Eintrag {n}", "Entry {n}"),
    "form.entry_n": ("Eintrag {n}", "Entry {n}"),
    "form.no_entries": ("Noch keine Einträge. Mit „Eintrag hinzufügen“ legen Sie einen an.",
                        "No entries yet. Use “Add entry” to add one."),
    "form.date_hint": ("Format: TT.MM.JJJJ", "Format: DD.MM.YYYY"),
    "form.date_placeholder": ("TT.MM.JJJJ", "DD.MM.YYYY"),
    "form.date_min": ("Frühestens {date}", "Not before {date}"),
    "form.date_max": ("Spätestens {date}", "Not after {date}"),
    "form.money_hint": ("Betrag in Euro, z. B. 1.850,00", "Amount in euros, e.g. 1.850,00"),
    "form.language_hint": ("Sprache eingeben und aus der Liste wählen, z. B. Arabisch.",
                           "Type the language and choose it from the list, e.g. Arabic."),
    "form.state_hint": ("Namen eingeben und aus der Liste wählen, z. B. Syrien; "
                        "auch „staatenlos“ oder „ungeklärt“.",
                        "Type the name and choose it from the list, e.g. Syria; "
                        "also “stateless” or “unclarified”."),
}
