"""UI text in German and English, language choice, and date formatting.

German is the default; ``?lang=en`` switches (and is remembered in a cookie).
"""

from __future__ import annotations

from datetime import date, datetime
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
    "error.503": ("Der Dienst ist vorübergehend nicht verfügbar. Bitte versuchen Sie es in "
                  "Kürze erneut.", "The service is temporarily unavailable. Please try again "
                  "shortly."),
    "error.instance_busy": ("Der Fall wird gerade bearbeitet, bitte gleich noch einmal "
                            "versuchen.", "The case is being worked on right now, please try "
                            "again in a moment."),
    "error.db_unavailable": ("Die Datenbank ist vorübergehend nicht verfügbar. Bitte versuchen "
                             "Sie es in Kürze erneut.", "The database is temporarily "
                             "unavailable. Please try again shortly."),
    "error.form_too_deep": ("Die Eingabe ist zu tief verschachtelt (höchstens 32 Ebenen). Es "
                            "wurde nichts gespeichert.", "The input is nested too deeply (at "
                            "most 32 levels). Nothing was saved."),
    "error.form_bad_text": ("Die Eingabe enthält ein ungültiges Zeichen (kein gültiges UTF-8 "
                            "oder ein einzelnes Surrogat). Es wurde nichts gespeichert.",
                            "The input contains an invalid character (not valid UTF-8 or a "
                            "lone surrogate). Nothing was saved."),
    "error.form_control": ("Die Eingabe enthält Steuerzeichen. Es wurde nichts gespeichert.",
                           "The input contains control characters. Nothing was saved."),
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
    "start.case_forbidden": ("Auf diesen Fall haben Sie keinen Zugriff.",
                             "You have no access to this case."),
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
    # process designer (web/designer)
    "designer.nav_label": ("Prozessdesigner", "Process designer"),
    "designer.catalogue": ("Prozesskatalog", "Process catalogue"),
    "designer.catalogue_title": ("Prozesskatalog und Entwürfe", "Process catalogue and drafts"),
    "designer.catalogue_intro": (("Bereitgestellte Prozesse mit ihren Versionen, laufenden "
                                  "Vorgängen je Version und Ihre Entwürfe."),
                                 ("Deployed processes with their versions, running instances per "
                                  "version, and your drafts.")),
    "designer.processes": ("Bereitgestellte Prozesse", "Deployed processes"),
    "designer.no_processes": ("Es ist noch kein Prozess bereitgestellt.",
                              "No process has been deployed yet."),
    "designer.running_total": ("{n} laufend", "{n} running"),
    "designer.running_n": ("{n} laufend", "{n} running"),
    "designer.versions": ("Versionen", "Versions"),
    "designer.versions_of": ("Versionen von {name}", "Versions of {name}"),
    "designer.version": ("Version", "Version"),
    "designer.latest": ("aktuell", "latest"),
    "designer.deployed_at": ("Bereitgestellt am", "Deployed on"),
    "designer.deployed_by": ("Bereitgestellt von", "Deployed by"),
    "designer.running": ("Laufende Vorgänge", "Running instances"),
    "designer.instances": ("Vorgänge nach Status", "Instances by status"),
    "designer.actions": ("Aktionen", "Actions"),
    "designer.diff_prev": ("Unterschiede zur Vorversion", "Changes since previous version"),
    "designer.drafts": ("Entwürfe", "Drafts"),
    "designer.no_drafts": ("Keine Entwürfe.", "No drafts."),
    "designer.draft_name": ("Entwurf", "Draft"),
    "designer.process_id": ("Prozess-ID", "Process id"),
    "designer.origin": ("Herkunft", "Origin"),
    "designer.origin.new": ("neu", "new"),
    "designer.origin.import": ("Import", "import"),
    "designer.origin.version": ("aus Version", "from version"),
    "designer.status.executable": ("ausführbar", "executable"),
    "designer.status.view_only": ("nur ansehen", "view only"),
    "designer.updated": ("Zuletzt gespeichert", "Last saved"),
    "designer.deployed_as": ("Bereitgestellt als", "Deployed as"),
    "designer.view": ("Ansehen und prüfen", "View and check"),
    "designer.delete": ("Löschen", "Delete"),
    "designer.deleted": ("Entwurf gelöscht.", "Draft deleted."),
    "designer.delete_confirm": ("Entwurf „{name}“ löschen?", "Delete the draft “{name}”?"),
    "designer.new": ("Neuen Prozess modellieren", "Model a new process"),
    "designer.new_name": ("Name des Prozesses", "Process name"),
    "designer.new_pid_hint": (("Technische Kennung, z. B. kim_wohnungssuche: Buchstaben, Ziffern "
                              "und _ . -, am Anfang ein Buchstabe."),
                              ("Technical identifier, e.g. kim_housing_search: letters, digits "
                              "and _ . -, starting with a letter.")),
    "designer.new_submit": ("Modellieren", "Start modelling"),
    "designer.new_name_missing": ("Bitte geben Sie einen Namen an.", "Please enter a name."),
    "designer.new_pid_bad": (("Die Prozess-ID darf nur Buchstaben, Ziffern und _ . - enthalten "
                             "und muss mit einem Buchstaben beginnen."),
                             ("The process id may only contain letters, digits and _ . - and "
                             "must start with a letter.")),
    "designer.import": ("BPMN importieren", "Import BPMN"),
    "designer.import_title": ("BPMN-Datei aus einem anderen Werkzeug importieren",
                              "Import a BPMN file from another tool"),
    "designer.import_intro": (("Signavio, ARIS, ADONIS, Camunda und andere: Lotse prüft die Datei. "
                              "Ausführbare Modelle öffnen im Modeler, gültige aber nicht "
                              "ausführbare Modelle in der Ansicht mit den Gründen; "
                              "Herstellererweiterungen bleiben erhalten."),
                              ("Signavio, ARIS, ADONIS, Camunda and others: Lotse checks the file. "
                              "Executable models open in the modeler, valid but not executable "
                              "ones in the viewer with the reasons; vendor extensions are "
                              "kept.")),
    "designer.import_file": ("BPMN-Datei", "BPMN file"),
    "designer.import_hint": (".bpmn oder .xml, höchstens 2 MB.", ".bpmn or .xml, at most 2 MB."),
    "designer.import_submit": ("Datei prüfen und öffnen", "Check and open the file"),
    "designer.import_no_file": ("Bitte wählen Sie eine Datei aus.", "Please choose a file."),
    "designer.import_too_large": ("Die Datei ist größer als 2 MB.",
                                  "The file is larger than 2 MB."),
    "designer.model_too_large": (
        "Das Modell ist zu groß für eine Prüfung im Browser: {elements} BPMN-Elemente, "
        "erlaubt sind höchstens {limit} (LOTSE_MAX_MODEL_ELEMENTS). Teilen Sie es in "
        "Teilprozesse mit Aufrufaktivitäten auf oder prüfen Sie es auf der Kommandozeile "
        "mit „lotse lint“.",
        "The model is too large to be checked in the browser: {elements} BPMN elements, at "
        "most {limit} are allowed (LOTSE_MAX_MODEL_ELEMENTS). Split it into called processes "
        "(call activities) or check it on the command line with 'lotse lint'."),
    "designer.import_refused": ("Die Datei {name} kann nicht geöffnet werden",
                                "The file {name} cannot be opened"),
    "designer.import_executable": ("„{name}“ ist ausführbar und im Modeler geöffnet.",
                                   "“{name}” is executable and open in the modeler."),
    "designer.import_outcome.executable": ("„{name}“ ist ausführbar.", "“{name}” is executable."),
    "designer.import_outcome.view_only": (
        "„{name}“ ist gültig, aber so nicht ausführbar: nur ansehen",
        "“{name}” is valid but not executable as it is: view only"),
    "designer.import_reasons": ("Gründe:", "Reasons:"),
    "designer.import_howto": (("Um das Modell auszuführen: im Modeler als ausführbar markieren, "
                              "jede Bahn einer Stelle zuordnen, Benutzeraufgaben ein Formular "
                              "geben, Bedingungen und Timer als Python-Ausdrücke schreiben."),
                              ("To run the model: mark it executable in the modeler, bind each "
                              "lane to an office, give user tasks a form, write conditions and "
                              "timers as Python expressions.")),
    "designer.view_title": ("Ansicht", "View"),
    "designer.open_modeler": ("Im Modeler öffnen", "Open in the modeler"),
    "designer.download": ("BPMN herunterladen", "Download BPMN"),
    "designer.diagram": ("Diagramm", "Diagram"),
    "designer.view_diagram_label": ("Prozessdiagramm {name} (nur Ansicht); die Tabellen darunter "
                                    "nennen Bahnen und Aufgaben.",
                                    "Process diagram {name} (view only); the tables below list "
                                    "lanes and tasks."),
    "designer.no_diagram": ("Die Datei enthält kein Diagramm.", "The file has no diagram."),
    "designer.lanes_tasks": ("Bahnen und Aufgaben", "Lanes and tasks"),
    "designer.executable_yes": ("ausführbar markiert", "marked executable"),
    "designer.executable_no": ("nicht ausführbar markiert", "not marked executable"),
    "designer.lanes_of": ("Bahnen von {name}", "Lanes of {name}"),
    "designer.tasks_of": ("Aufgaben von {name}", "Tasks of {name}"),
    "designer.lane": ("Bahn", "Lane"),
    "designer.office": ("Stelle", "Office"),
    "designer.lane_unbound": ("keiner Stelle zugeordnet", "bound to no office"),
    "designer.task": ("Aufgabe", "Task"),
    "designer.task_type": ("Art", "Type"),
    "designer.no_process": ("Die Datei enthält keinen Prozess.", "The file contains no process."),
    "designer.extensions": ("Herstellererweiterungen (bleiben erhalten)",
                            "Vendor extensions (kept as they are)"),
    "designer.report": ("Prüfbericht", "Validation report"),
    "designer.none": ("keine", "none"),
    "designer.edit_version": ("Als Entwurf bearbeiten", "Edit as a draft"),
    "designer.diff": ("Versionen vergleichen", "Compare versions"),
    "designer.diff_from": ("Von Version", "From version"),
    "designer.diff_to": ("Zu Version", "To version"),
    "designer.diff_show": ("Vergleichen", "Compare"),
    "designer.diff_title": ("Unterschiede von Version {v1} zu Version {v2}",
                            "Changes from version {v1} to version {v2}"),
    "designer.diff_same": ("Beide Versionen haben dasselbe ausführbare Modell.",
                           "Both versions have the same executable model."),
    "designer.diff_added": ("Hinzugefügt", "Added"),
    "designer.diff_removed": ("Entfernt", "Removed"),
    "designer.diff_changed": ("Geändert", "Changed"),
    "designer.diff_diagram_label": ("Diagramm der Version {v}; die Listen oben nennen die "
                                    "markierten Elemente.",
                                    "Diagram of version {v}; the lists above name the marked "
                                    "elements."),
    "designer.migrate": ("Laufende Vorgänge migrieren", "Migrate running instances"),
    "designer.migrate_intro": (("Laufende Vorgänge bleiben auf ihrer Version. Hier lassen sie sich "
                               "auf eine andere Version umstellen, wo das sicher ist: kein "
                               "erledigter oder begonnener Schritt darf geändert oder entfernt "
                               "sein. Jeder andere Vorgang bleibt mit Begründung, wie er ist."),
                               ("Running instances stay on their version. Here they can be moved "
                               "to another version where that is safe: no completed or started "
                               "step may be changed or removed. Every other instance stays as it "
                               "is, with the reason.")),
    "designer.migrate_from": ("Vorgänge der Version", "Instances of version"),
    "designer.migrate_to": ("Umstellen auf Version", "Move to version"),
    "designer.migrate_submit": ("Migrieren", "Migrate"),
    "designer.migrate_link": ("Laufende migrieren", "Migrate running ones"),
    "designer.migrate_bad": ("Bitte wählen Sie zwei verschiedene vorhandene Versionen.",
                             "Please choose two different existing versions."),
    "designer.migrated_title": ("Migration von Version {v1} zu Version {v2}",
                                "Migration from version {v1} to version {v2}"),
    "designer.migrated_ids": ("Migriert", "Migrated"),
    "designer.refused_title": ("{n} Vorgang/Vorgänge nicht migriert:",
                               "{n} instance(s) not migrated:"),
    "designer.modeler": ("Modeler", "Modeler"),
    "designer.modeler_intro": (("Palette links im Diagramm: Elemente anlegen; Klick auf ein "
                               "Element: Eigenschaften rechts. Der Prüfbericht unten "
                               "aktualisiert sich bei jeder Änderung."),
                               ("Palette on the left of the diagram: create elements; click an "
                               "element: its properties on the right. The validation report "
                               "below updates with every change.")),
    "designer.toolbar": ("Entwurf", "Draft"),
    "designer.save": ("Entwurf speichern", "Save draft"),
    "designer.check": ("Jetzt prüfen", "Check now"),
    "designer.deploy": ("Bereitstellen", "Deploy"),
    "designer.download_bpmn": ("BPMN herunterladen", "Download BPMN"),
    "designer.canvas_label": ("BPMN-Zeichenfläche", "BPMN canvas"),
    "designer.side_label": ("Eigenschaften des ausgewählten Elements",
                            "Properties of the selected element"),
    "designer.props_panel": ("Alle BPMN-Eigenschaften (bpmn-js, englisch)",
                             "All BPMN properties (bpmn-js)"),
    "designer.form_file_hint": ("Dateiname des Formulars, endet auf .json.",
                                "File name of the form, ending in .json."),
    "designer.form_schema_hint": (("JSON Schema (Draft 2020-12). Titel mit „title“, englisch mit "
                                  "„x-title-en“; Auswahllisten mit „enum“ und „x-enum-labels“."),
                                  ("JSON Schema (draft 2020-12). Titles with “title”, English with "
                                  "“x-title-en”; choices with “enum” and “x-enum-labels”.")),
    "designer.preview_empty": ("Noch kein Formular.", "No form yet."),
    "designer.preview_bad_json": ("Kein gültiges JSON: {detail}", "Not valid JSON: {detail}"),
    "designer.preview_bad_schema": ("Kein gültiges JSON Schema: {detail}",
                                    "Not a valid JSON Schema: {detail}"),
    "designer.preview_no_fields": ("Das Schema hat keine Felder (properties).",
                                   "The schema has no fields (properties)."),
    "designer.js.saved": ("Entwurf gespeichert.", "Draft saved."),
    "designer.js.saving": ("Speichern …", "Saving …"),
    "designer.js.save_failed": ("Speichern fehlgeschlagen:", "Saving failed:"),
    "designer.js.changed_elsewhere": (("Der Entwurf wurde inzwischen anderswo gespeichert. Laden "
                                      "Sie die Seite neu (Ihre Änderungen gehen dabei verloren) "
                                      "oder laden Sie vorher das BPMN herunter."),
                                      ("The draft was saved elsewhere meanwhile. Reload the page "
                                      "(your changes are lost) or download the BPMN first.")),
    "designer.js.session_ended": ("Ihre Sitzung ist abgelaufen. Bitte melden Sie sich neu an.",
                                  "Your session has ended. Please log in again."),
    "designer.js.unsaved": ("Ungespeicherte Änderungen.", "Unsaved changes."),
    "designer.js.lint_clean": ("Keine Befunde: das Modell kann bereitgestellt werden.",
                               "No findings: the model can be deployed."),
    "designer.js.lint_counts": ("Fehler: {errors}, Warnungen: {warnings}",
                                "Errors: {errors}, warnings: {warnings}"),
    "designer.js.lint_failed": ("Die Prüfung ist fehlgeschlagen.", "The check failed."),
    "designer.js.deploying": ("Bereitstellen …", "Deploying …"),
    "designer.js.deployed": ("{process} ist als Version {version} bereitgestellt.",
                             "{process} is deployed as version {version}."),
    "designer.js.deployed_same": (("Unverändert: {process} Version {version} ist bereits "
                                  "bereitgestellt."),
                                  "Unchanged: {process} version {version} is already deployed."),
    "designer.js.deploy_refused": ("Die Bereitstellung wurde abgelehnt:", "Deployment refused:"),
    "designer.js.deploy_lint_errors": ("Nicht bereitgestellt: der Prüfbericht enthält Fehler.",
                                       "Not deployed: the validation report has errors."),
    "designer.js.open_report": ("Zum Prüfbericht", "Go to the validation report"),
    "designer.js.process_versions": ("Versionen von {process}", "Versions of {process}"),
    "designer.js.select_element": ("im Diagramm auswählen", "select in the diagram"),
    "designer.js.severity": ("Schwere", "Severity"),
    "designer.js.severity.error": ("Fehler", "error"),
    "designer.js.severity.warning": ("Warnung", "warning"),
    "designer.js.severity.info": ("Hinweis", "info"),
    "designer.js.bpmnlint.title": ("Empfehlungen von bpmnlint", "bpmnlint recommendations"),
    "designer.bpmnlint_intro": (("Die empfohlenen Regeln von bpmnlint laufen direkt im Editor. "
                                 "Sie sind Hinweise zur Modellierung; ob bereitgestellt werden "
                                 "kann, entscheidet allein der Prüfbericht oben."),
                                ("bpmnlint's recommended rules run right in the editor. They are "
                                 "modelling advice; only the validation report above decides "
                                 "whether the model can be deployed.")),
    "designer.js.bpmnlint.toggle": ("bpmnlint-Hinweise im Diagramm ein- oder ausblenden",
                                    "Show or hide bpmnlint hints in the diagram"),
    "designer.js.bpmnlint.counts": ("bpmnlint: {errors} Fehler, {warnings} Warnungen",
                                    "bpmnlint: {errors} errors, {warnings} warnings"),
    "designer.js.bpmnlint.clean": ("bpmnlint: keine Hinweise", "bpmnlint: no issues"),
    "designer.js.bpmnlint.child_issues": ("Hinweise zu enthaltenen Elementen",
                                          "Issues of contained elements"),
    "designer.js.bpmnlint.report_counts": ("bpmnlint: Fehler: {errors}, Warnungen: {warnings}",
                                           "bpmnlint: errors: {errors}, warnings: {warnings}"),
    "designer.js.bpmnlint.report_clean": ("bpmnlint: keine Hinweise.", "bpmnlint: no issues."),
    "designer.js.timer_kind": ("Art des Zeitgebers", "Timer type"),
    "designer.js.timer.timeDuration": ("Dauer (timeDuration)", "Duration (timeDuration)"),
    "designer.js.timer.timeDate": ("Zeitpunkt (timeDate)", "Date (timeDate)"),
    "designer.js.timer.timeCycle": ("Wiederholung (timeCycle)", "Cycle (timeCycle)"),
    "designer.js.timer_value": ("Wert (Python-Ausdruck)", "Value (Python expression)"),
    "designer.js.timer_hint": (('ISO 8601 in Anführungszeichen, z. B. "P5D", "PT2H", '
                                '"2026-04-01T08:00:00+02:00", "R3/PT1H"; oder ein Ausdruck wie '
                                'iso_at(frist)'),
                               ('ISO 8601 in quotes, e.g. "P5D", "PT2H", '
                                '"2026-04-01T08:00:00+02:00", "R3/PT1H"; or an expression such '
                                'as iso_at(frist)')),
    "designer.js.message_name": ("Name der Nachricht", "Message name"),
    "designer.js.message_hint": (("Sender und Empfänger nutzen denselben Namen; die Nutzdaten "
                                  "enthalten referral_id oder case_id."),
                                 ("Sender and receiver use the same name; the payload carries "
                                  "referral_id or case_id.")),
    "designer.js.message_empty": ("Die Nachricht braucht einen Namen.",
                                  "The message needs a name."),
    "designer.js.bpmnlint.missing": (("bpmnlint ist nicht geladen (make assets ausführen)."),
                                     "bpmnlint is not loaded (run make assets)."),
    "designer.js.rule": ("Regel", "Rule"),
    "designer.js.element": ("Element", "Element"),
    "designer.js.message": ("Befund", "Finding"),
    "designer.js.nothing_selected": ("Kein Element ausgewählt", "No element selected"),
    "designer.js.selected": ("{type}: {name}", "{type}: {name}"),
    "designer.js.el.lane": ("Bahn", "Lane"),
    "designer.js.el.userTask": ("Benutzeraufgabe", "User task"),
    "designer.js.el.flow": ("Sequenzfluss", "Sequence flow"),
    "designer.js.el.gateway": ("Verzweigung", "Gateway"),
    "designer.js.el.scriptTask": ("Skriptaufgabe", "Script task"),
    "designer.js.lane_office": ("Stelle dieser Bahn", "Office of this lane"),
    "designer.js.lane_unbound": ("– keiner Stelle zugeordnet –", "– bound to no office –"),
    "designer.js.lane_by_name": ("Derzeit über den Namen zugeordnet: {office}",
                                 "Currently bound through its name: {office}"),
    "designer.js.form_title": ("Formular", "Form"),
    "designer.js.form_file": ("Formulardatei", "Form file"),
    "designer.js.form_schema": ("JSON Schema des Formulars", "JSON Schema of the form"),
    "designer.js.form_create": ("Formular anlegen", "Create a form"),
    "designer.js.form_preview": ("Vorschau des Formulars", "Form preview"),
    "designer.js.form_none": ("keins", "none"),
    "designer.js.form_file_bad": (("Formulardatei: Buchstaben, Ziffern und . _ -, endet auf "
                                  ".json."),
                                  "Form file: letters, digits and . _ -, ending in .json."),
    "designer.js.preview_failed": ("Die Vorschau ist nicht verfügbar.",
                                   "The preview is not available."),
    "designer.js.condition": ("Bedingung (Python-Ausdruck)", "Condition (Python expression)"),
    "designer.js.condition_hint": ("z. B. ergebnis == \"abgelehnt\"",
                                   "e.g. result == \"rejected\""),
    "designer.js.default_flow": ("Standardfluss", "Default flow"),
    "designer.js.default_none": ("– kein Standardfluss –", "– no default flow –"),
    "designer.js.script": ("Skript (Python)", "Script (Python)"),
    "designer.rule.lane-without-office": ("Bahn ohne Stelle", "Lane without office"),
    "designer.rule.task-without-lane": ("Aufgabe in keiner Bahn", "Task in no lane"),
    "designer.rule.user-task-without-form": ("Benutzeraufgabe ohne Formular",
                                             "User task without form"),
    "designer.rule.expression-does-not-compile": ("Ausdruck nicht übersetzbar",
                                                  "Expression does not compile"),
    "designer.rule.timer-not-iso8601": ("Timer nicht ISO 8601", "Timer not ISO 8601"),
    "designer.rule.exclusive-gateway-without-default": ("Verzweigung ohne Standardfluss",
                                                        "Exclusive gateway without default"),
    "designer.rule.unreachable-element": ("Element unerreichbar", "Unreachable element"),
    "designer.rule.dead-end": ("Sackgasse", "Dead end"),
    "designer.rule.back-edge-loop": ("Rücksprung-Schleife", "Back-edge loop"),
    "designer.rule.message-without-correlation": ("Nachricht ohne Zuordnung",
                                                  "Message without correlation"),
    "designer.rule.reference-missing": ("Verweis ins Leere", "Dangling reference"),
    "designer.rule.message-without-name": ("Nachricht ohne Namen", "Message without name"),
    "designer.rule.decision-missing": ("Entscheidung fehlt", "Decision missing"),
    "designer.rule.unknown-function": ("Unbekannte Funktion", "Unknown function"),
    "designer.rule.unsupported-element": ("Nicht unterstütztes Element", "Unsupported element"),
    "designer.rule.reserved-id": ("Reservierte ID", "Reserved id"),
    "designer.rule.call-target-missing": ("Aufgerufener Prozess fehlt", "Called process missing"),
    "designer.rule.bpmn-invalid": ("BPMN ungültig", "BPMN invalid"),
    "designer.rule.file-unreadable": ("Datei nicht lesbar", "File unreadable"),
    "designer.rule.not-bpmn": ("Kein BPMN", "Not BPMN"),
    "designer.rule.no-executable-process": ("Kein ausführbarer Prozess", "No executable process"),
}

from web.i18n_dp import MESSAGES_DP  # noqa: E402 - the data-protection and audit pages

MESSAGES.update(MESSAGES_DP)

from web.i18n_forms import MESSAGES_FORMS  # noqa: E402 - task-form widgets (issue 15)

MESSAGES.update(MESSAGES_FORMS)

from web.i18n_kim import MESSAGES_KIM  # noqa: E402 - the KIM lint rules' labels (issue 13)

MESSAGES.update(MESSAGES_KIM)

from web.i18n_ops import MESSAGES_OPS  # noqa: E402 - the operations console

MESSAGES.update(MESSAGES_OPS)

from web.i18n_feedback import MESSAGES_FEEDBACK  # noqa: E402 - action notices, progress

MESSAGES.update(MESSAGES_FEEDBACK)

from web.i18n_task import MESSAGES_TASK_CASE  # noqa: E402 - whose case a task is (issue 15.0)

MESSAGES.update(MESSAGES_TASK_CASE)


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


def format_date(dt: date | None, lang: str) -> str:
    """A date (or a datetime, in Europe/Berlin) as TT.MM.JJJJ (German) or YYYY-MM-DD
    (English)."""
    if dt is None:
        return ""
    d = dt.astimezone(TZ) if isinstance(dt, datetime) else dt  # local(dt)
    return d.strftime("%Y-%m-%d") if lang == "en" else d.strftime("%d.%m.%Y")


def format_datetime(dt: datetime | None, lang: str) -> str:
    """Date and time (Europe/Berlin)."""
    if dt is None:
        return ""
    d = dt.astimezone(TZ)  # local(dt)
    return d.strftime("%Y-%m-%d %H:%M") if lang == "en" else d.strftime("%d.%m.%Y, %H:%M Uhr")


from web.i18n_wl import MESSAGES_WL  # noqa: E402 - worklists: saved filters, rows (issue 15.4)

MESSAGES.update(MESSAGES_WL)
