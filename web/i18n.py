"""UI text in German and English, language choice, and date formatting.

German is the default; ``?lang=en`` switches (and is remembered in a cookie).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LANGS = ("de", "en")
LANG_COOKIE = "lotse_lang"
TZ = ZoneInfo("Europe/Berlin")

# key -> (German, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # layout
    "app.name": ("Lotse", "Lotse"),
    "app.tagline": ("Vermittlungen im Kommunalen Integrationsmanagement",
                    "Referrals in municipal integration management"),
    "skip": ("Zum Inhalt springen", "Skip to content"),
    "nav.label": ("Hauptnavigation", "Main navigation"),
    "nav.board": ("Übersicht", "Overview"),
    "nav.mine": ("Meine Aufgaben", "My tasks"),
    "nav.start": ("Fall starten", "Start a case"),
    "nav.cases": ("Fälle", "Cases"),
    "nav.api": ("API", "API"),
    "nav.logout": ("Abmelden", "Log out"),
    "nav.signed_in": ("Angemeldet als", "Signed in as"),
    "lang.switch": ("English", "Deutsch"),
    "lang.switch_label": ("Switch to English", "Auf Deutsch wechseln"),
    "footer": ("Lotse – Open Source (EUPL-1.2)", "Lotse – open source (EUPL-1.2)"),
    "flash.label": ("Hinweise", "Notices"),
    # login
    "login.title": ("Anmelden", "Log in"),
    "login.name": ("Benutzername", "User name"),
    "login.password": ("Passwort", "Password"),
    "login.submit": ("Anmelden", "Log in"),
    "login.failed": ("Benutzername oder Passwort ist falsch.", "User name or password is wrong."),
    "login.throttled": (("Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie einige "
                        "Minuten und versuchen Sie es dann erneut."),
                        ("Too many failed login attempts. Please wait a few minutes and try "
                        "again.")),
    "login.required": ("Bitte melden Sie sich an.", "Please log in."),
    "login.expired": ("Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
                      "Your session has expired. Please log in again."),
    "logout.done": ("Sie wurden abgemeldet.", "You have been logged out."),
    # errors
    "error.title": ("Fehler", "Error"),
    "error.400": ("Die Anfrage ist ungültig.", "The request is invalid."),
    "error.401": ("Bitte melden Sie sich an.", "Please log in."),
    "error.403": ("Dafür haben Sie keine Berechtigung.", "You are not allowed to do this."),
    "error.404": ("Nicht gefunden – oder nicht für Ihre Stelle sichtbar.",
                  "Not found – or not visible to your office."),
    "error.405": ("Diese Aktion ist hier nicht möglich.", "This action is not possible here."),
    "error.409": ("Das ist nicht mehr möglich: der Stand hat sich geändert.",
                  "This is no longer possible: the state has changed."),
    "error.422": ("Die Eingaben sind ungültig.", "The input is invalid."),
    "error.429": ("Zu viele Anfragen. Bitte warten Sie kurz.",
                  "Too many requests. Please wait a moment."),
    "error.500": ("Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut.",
                  "An internal error occurred. Please try again later."),
    "error.csrf": (("Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und senden Sie "
                   "es erneut."), ("The form has expired. Please reload the page and submit it "
                   "again.")),
    "error.back": ("Zur Übersicht", "Back to the overview"),
    "error.claimed": ("Die Aufgabe wird bereits von {assignee} bearbeitet.",
                      "The task is already claimed by {assignee}."),
    # board
    "board.title": ("Übersicht der Stellen", "Offices overview"),
    "board.intro": ("Offene Aufgaben je Stelle.", "Open tasks per office."),
    "board.waiting": ("Wartend", "Waiting"),
    "board.claimed": ("In Bearbeitung", "Claimed"),
    "board.overdue": ("Überfällig", "Overdue"),
    "board.oldest": ("Älteste wartet seit", "Oldest waiting since"),
    "board.open_worklist": ("Arbeitsliste {office}", "Worklist {office}"),
    "board.none": ("Sie sind keiner Stelle zugeordnet.", "You are not a member of any office."),
    "board.refresh": ("Aktualisieren", "Refresh"),
    "board.nothing": ("–", "–"),
    # worklist
    "wl.title": ("Arbeitsliste: {office}", "Worklist: {office}"),
    "wl.mine": ("Meine Aufgaben", "My tasks"),
    "wl.filter": ("Filtern und sortieren", "Filter and sort"),
    "wl.process": ("Prozess", "Process"),
    "wl.assignee": ("Bearbeitung", "Assignee"),
    "wl.any": ("Alle", "All"),
    "wl.me": ("Ich", "Me"),
    "wl.unassigned": ("Nicht übernommen", "Unclaimed"),
    "wl.overdue_only": ("Nur überfällige", "Overdue only"),
    "wl.sort": ("Sortierung", "Sort by"),
    "wl.sort_created": ("Wartet am längsten", "Waiting longest"),
    "wl.sort_due": ("Frist (nächste zuerst)", "Due date (soonest first)"),
    "wl.apply": ("Anwenden", "Apply"),
    "wl.task": ("Aufgabe", "Task"),
    "wl.case": ("Fall", "Case"),
    "wl.office": ("Stelle", "Office"),
    "wl.waiting_since": ("Wartet seit", "Waiting since"),
    "wl.due": ("Frist", "Due"),
    "wl.actions": ("Aktionen", "Actions"),
    "wl.empty": ("Keine Aufgaben gefunden.", "No tasks found."),
    "wl.next": ("Nächste Seite", "Next page"),
    "wl.first": ("Erste Seite", "First page"),
    "wl.count": ("{n} Aufgaben auf dieser Seite", "{n} tasks on this page"),
    "wl.caption": ("Offene Aufgaben", "Open tasks"),
    "wl.pages": ("Seiten", "Pages"),
    "wl.overdue": ("überfällig", "overdue"),
    "wl.no_due": ("keine", "none"),
    "wl.nobody": ("niemand", "nobody"),
    # task actions
    "task.claim": ("Übernehmen", "Claim"),
    "task.unclaim": ("Freigeben", "Release"),
    "task.reassign": ("Zuweisen an", "Assign to"),
    "task.reassign_submit": ("Zuweisen", "Assign"),
    "task.claimed_ok": ("Aufgabe übernommen.", "Task claimed."),
    "task.unclaimed_ok": ("Aufgabe freigegeben.", "Task released."),
    "task.reassigned_ok": ("Aufgabe an {user} zugewiesen.", "Task assigned to {user}."),
    "task.completed_ok": ("Aufgabe „{name}“ erledigt.", "Task “{name}” completed."),
    "task.already_done": (("Diese Aufgabe ist bereits erledigt{by}{at}. Ihre Eingaben wurden "
                          "nicht noch einmal gespeichert."),
                          ("This task has already been completed{by}{at}. Your input was not "
                          "saved a second time.")),
    "task.already_by": (" von {user}", " by {user}"),
    "task.already_at": (" am {when}", " on {when}"),
    "task.not_open": ("Diese Aufgabe ist nicht mehr offen ({state}).",
                      "This task is no longer open ({state})."),
    "task.instructions": ("Anleitung", "Instructions"),
    "task.documentation": ("Beschreibung im Prozess", "Description in the process"),
    "task.legal_basis": ("Handlungsgrundlage", "Legal basis"),
    "task.details": ("Angaben zur Aufgabe", "Task details"),
    "task.form": ("Formular", "Form"),
    "task.submit": ("Erledigen", "Complete"),
    "task.required_note": ("Pflichtfelder sind mit * markiert.",
                           "Required fields are marked with *."),
    "task.required": ("Pflichtfeld", "required"),
    "task.errors_title": ("Bitte korrigieren Sie {n} Angabe(n):",
                          "Please correct {n} entry/entries:"),
    "task.form_error": ("Das Formular enthält Fehler", "The form has errors"),
    "task.yes": ("Ja", "Yes"),
    "task.no": ("Nein", "No"),
    "task.choose": ("Bitte wählen", "Please choose"),
    "task.no_form": ("Für diese Aufgabe sind keine Angaben nötig.",
                     "This task needs no input."),
    "task.view_case": ("Zum Fall", "View case"),
    "task.not_claimed_by_you": ("Diese Aufgabe wird von {user} bearbeitet.",
                                "This task is claimed by {user}."),
    "task.readonly": ("Nur lesen", "Read only"),
    # case
    "case.title": ("Fall {ref}", "Case {ref}"),
    "case.instance_title": ("Vorgang {id}", "Process instance {id}"),
    "case.search": ("Fall suchen", "Find a case"),
    "case.ref": ("Fallnummer", "Case reference"),
    "case.search_submit": ("Suchen", "Search"),
    "case.instances": ("Vorgänge", "Process instances"),
    "case.status": ("Status", "Status"),
    "case.started": ("Gestartet", "Started"),
    "case.data": ("Falldaten", "Case data"),
    "case.data_masked": ("Werte sind für Ihre Rolle verborgen.",
                         "Values are hidden for your role."),
    "case.data_hidden": ("{n} Angaben sind nicht sichtbar: die Einwilligung deckt sie für "
                         "Ihre Stelle nicht ab.", "{n} entries are not shown: the consent does "
                         "not cover them for your office."),
    "case.no_data": ("Keine Falldaten sichtbar.", "No case data visible."),
    "case.diagram": ("Prozessdiagramm", "Process diagram"),
    "case.diagram_label": (("Prozessdiagramm {process}: erledigte, aktive und wartende Schritte "
                           "sind markiert; die Liste darunter nennt sie."),
                           ("Process diagram {process}: completed, active and waiting steps are "
                           "marked; the list below names them.")),
    "case.legend": ("Legende", "Legend"),
    "case.completed": ("erledigt", "completed"),
    "case.active": ("aktiv", "active"),
    "case.waiting": ("wartet", "waiting"),
    "case.steps": ("Schritte", "Steps"),
    "case.tasks": ("Aufgaben", "Tasks"),
    "case.timeline": ("Verlauf", "Timeline"),
    "case.when": ("Wann", "When"),
    "case.what": ("Was", "What"),
    "case.who": ("Wer", "Who"),
    "case.step": ("Schritt", "Step"),
    "case.none": ("Keine Vorgänge gefunden.", "No process instances found."),
    "case.open_task": ("Bearbeiten", "Work on it"),
    "status.running": ("läuft", "running"),
    "status.completed": ("abgeschlossen", "completed"),
    "status.error": ("Fehler", "error"),
    "status.cancelled": ("abgebrochen", "cancelled"),
    "state.READY": ("offen", "open"),
    "state.COMPLETED": ("erledigt", "completed"),
    "state.CANCELLED": ("abgebrochen", "cancelled"),
    "state.ERROR": ("Fehler", "error"),
    "event.instance.started": ("Vorgang gestartet", "Instance started"),
    "event.instance.completed": ("Vorgang abgeschlossen", "Instance completed"),
    "event.instance.error": ("Fehler im Vorgang", "Instance error"),
    "event.task.claimed": ("Aufgabe übernommen", "Task claimed"),
    "event.task.unclaimed": ("Aufgabe freigegeben", "Task released"),
    "event.task.completed": ("Aufgabe erledigt", "Task completed"),
    # start
    "start.title": ("Fall starten", "Start a case"),
    "start.process": ("Prozess", "Process"),
    "start.case_ref": ("Fallnummer", "Case reference"),
    "start.case_ref_hint": ("Pseudonyme Kennung, z. B. KIM-2026-0001. Keine Namen.",
                            "Pseudonymous identifier, e.g. KIM-2026-0001. No names."),
    "start.choose": ("Weiter", "Continue"),
    "start.submit": ("Fall starten", "Start case"),
    "start.started": ("Vorgang {id} gestartet.", "Instance {id} started."),
    "start.no_processes": ("Es ist noch kein Prozess bereitgestellt.",
                           "No process has been deployed yet."),
    "start.bad_ref": ("Fallnummer: 1–100 Zeichen, Buchstaben, Ziffern und . _ / -",
                      "Case reference: 1–100 characters, letters, digits and . _ / -"),
    "start.version": ("Version {v}", "version {v}"),
    # api docs
    "api.title": ("REST-API", "REST API"),
    "api.intro": (("Alle Aufrufe brauchen ein Bearer-Token (lotse user token NAME). "
                  "Das OpenAPI-Dokument liegt unter"),
                  ("Every call needs a bearer token (lotse user token NAME). The OpenAPI "
                  "document is at")),
    "api.try": ("Ausprobieren", "Try it"),
    "api.token": ("Bearer-Token", "Bearer token"),
    "api.path": ("Pfad", "Path"),
    "api.body": ("JSON-Inhalt", "JSON body"),
    "api.send": ("Senden", "Send"),
    "api.response": ("Antwort", "Response"),
    "api.method": ("Methode", "Method"),
    "api.operations": ("Operationen", "Operations"),
    "api.params": ("Parameter", "Parameters"),
    "api.responses": ("Antworten", "Responses"),
}


def normalize_lang(value: str | None) -> str | None:
    """``"de"`` or ``"en"`` for a known language tag, else None."""
    if not value:
        return None
    value = value.strip().lower()[:2]
    return value if value in LANGS else None


def translate(key: str, lang: str, **params) -> str:
    """The text for ``key`` in ``lang`` (German when unknown), with ``{params}`` filled in."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**params) if params else text


def localized(schema_node: dict, key: str, lang: str) -> str | None:
    """``title``/``description`` of a JSON Schema node in ``lang`` (``x-<key>-en`` for English)."""
    if lang == "en" and schema_node.get(f"x-{key}-en"):
        return schema_node[f"x-{key}-en"]
    return schema_node.get(key)


def local(dt: datetime | None) -> datetime | None:
    return dt.astimezone(TZ) if dt is not None else None


def format_date(dt: datetime | None, lang: str) -> str:
    """A date as TT.MM.JJJJ (German) or YYYY-MM-DD (English), in Europe/Berlin."""
    if dt is None:
        return ""
    d = local(dt) if isinstance(dt, datetime) else dt
    return d.strftime("%Y-%m-%d") if lang == "en" else d.strftime("%d.%m.%Y")


def format_datetime(dt: datetime | None, lang: str) -> str:
    """Date and time (Europe/Berlin)."""
    if dt is None:
        return ""
    d = local(dt)
    return d.strftime("%Y-%m-%d %H:%M") if lang == "en" else d.strftime("%d.%m.%Y, %H:%M Uhr")
