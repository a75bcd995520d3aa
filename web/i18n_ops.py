"""UI texts (German, English) of the operations console for administrators (issue 15.2):
incidents, instance search and actions, user and token administration. Merged into
``web.i18n.MESSAGES``."""

from __future__ import annotations

MESSAGES_OPS: dict[str, tuple[str, str]] = {
    "nav.ops": ("Betrieb", "Operations"),
    "ops.title": ("Betrieb", "Operations"),
    "ops.intro": (("Störungen beheben und Vorgänge anhalten, fortsetzen oder beenden. Jede "
                   "Aktion wird mit Ihrem Namen und der Begründung im Prüfprotokoll "
                   "festgehalten."),
                  ("Resolve incidents and suspend, resume or terminate instances. Every action "
                   "is recorded in the audit log with your name and the reason.")),
    "ops.subnav": ("Bereiche des Betriebs", "Operations sections"),
    "ops.nav_instances": ("Vorgänge und Störungen", "Instances and incidents"),
    "ops.nav_users": ("Benutzer und Tokens", "Users and tokens"),
    "status.suspended": ("angehalten", "suspended"),
    # incidents
    "ops.incidents": ("Störungen", "Incidents"),
    "ops.incidents_none": ("Keine Störungen.", "No incidents."),
    "ops.instance": ("Vorgang", "Instance"),
    "ops.process": ("Prozess", "Process"),
    "ops.version": ("Version", "Version"),
    "ops.case": ("Fall", "Case"),
    "ops.element": ("Element", "Element"),
    "ops.error_type": ("Fehlerart", "Error type"),
    "ops.message": ("Meldung", "Message"),
    "ops.time": ("Zeitpunkt", "Time"),
    "ops.status": ("Status", "Status"),
    "ops.updated": ("Zuletzt geändert", "Last changed"),
    "ops.actions": ("Aktionen", "Actions"),
    "ops.retry": ("Erneut ausführen", "Retry"),
    "ops.open": ("Öffnen", "Open"),
    "ops.message_hint": (("Die Meldung nennt keine Werte aus dem Vorgang; den vollständigen "
                          "Fehlertext zeigt nur „lotse incident ID“ auf dem Server."),
                         ("The message quotes no values of the instance; the full error text "
                          "is shown only by 'lotse incident ID' on the server.")),
    # search
    "ops.search": ("Vorgänge suchen", "Search instances"),
    "ops.any": ("alle", "any"),
    "ops.search_submit": ("Suchen", "Search"),
    "ops.results": ("Ergebnis: {n} Vorgänge (neueste zuerst, höchstens {limit})",
                    "Result: {n} instances (newest first, at most {limit})"),
    "ops.results_none": ("Keine Vorgänge gefunden.", "No instances found."),
    "ops.bad_version": ("Die Version muss eine ganze Zahl ab 1 sein.",
                        "The version must be a whole number from 1."),
    "ops.bad_status": ("Unbekannter Status.", "Unknown status."),
    "ops.bad_case": ("Die Fallnummer darf höchstens 200 Zeichen haben.",
                     "The case reference may have at most 200 characters."),
    "ops.bad_process": ("Unbekannter Prozess.", "Unknown process."),
    # one instance
    "ops.instance_title": ("Vorgang #{id}", "Instance #{id}"),
    "ops.back": ("Zurück zum Betrieb", "Back to operations"),
    "ops.incident": ("Störung", "Incident"),
    "ops.no_actions": ("Der Vorgang ist beendet; es sind keine Aktionen mehr möglich.",
                       "The instance has ended; no actions are possible any more."),
    "ops.reason": ("Begründung", "Reason"),
    "ops.reason_hint": (("1 bis 500 Zeichen, ohne personenbezogene Daten; wird im "
                         "Prüfprotokoll gespeichert."),
                        "1 to 500 characters, no personal data; stored in the audit log."),
    "ops.reason_missing": ("Bitte geben Sie eine Begründung an.", "Please give a reason."),
    "ops.reason_long": ("Die Begründung darf höchstens 500 Zeichen haben (jetzt {n}).",
                        "The reason may have at most 500 characters (now {n})."),
    "ops.suspend": ("Anhalten", "Suspend"),
    "ops.suspend_title": ("Vorgang anhalten", "Suspend the instance"),
    "ops.suspend_hint": (("Keine Frist löst aus, Nachrichten warten, Aufgaben können weder "
                          "übernommen noch abgeschlossen werden, bis der Vorgang fortgesetzt "
                          "wird."),
                         ("No timer fires, messages wait, tasks can be neither claimed nor "
                          "completed until the instance is resumed.")),
    "ops.resume": ("Fortsetzen", "Resume"),
    "ops.resume_title": ("Vorgang fortsetzen", "Resume the instance"),
    "ops.resume_hint": (("Inzwischen fällige Fristen lösen beim nächsten Lauf des Workers "
                         "aus, wartende Nachrichten werden sofort zugestellt."),
                        ("Timers that fell due meanwhile fire at the next worker round, "
                         "waiting messages are delivered at once.")),
    "ops.terminate": ("Endgültig beenden", "Terminate for good"),
    "ops.terminate_title": ("Vorgang beenden", "Terminate the instance"),
    "ops.terminate_hint": (("Der Vorgang endet (abgebrochen), seine offenen Aufgaben "
                            "verschwinden aus allen Arbeitslisten. Das lässt sich nicht "
                            "rückgängig machen."),
                           ("The instance ends (cancelled), its open tasks leave every "
                            "worklist. This cannot be undone.")),
    "ops.confirm_terminate": ("Ich bestätige: dieser Vorgang wird endgültig beendet.",
                              "I confirm: this instance will be terminated for good."),
    "ops.confirm_missing": ("Bitte bestätigen Sie das Beenden.",
                            "Please confirm the termination."),
    "ops.retry_title": ("Schritt erneut ausführen", "Run the step again"),
    "ops.retry_hint": (("Führt den fehlgeschlagenen Schritt noch einmal aus, z. B. nachdem "
                        "eine Störung außerhalb von Lotse behoben wurde."),
                       ("Runs the failed step once more, e.g. after a fault outside Lotse "
                        "was fixed.")),
    "ops.history": ("Störungen und Eingriffe", "Incidents and interventions"),
    "ops.history_none": ("Noch keine.", "None yet."),
    "ops.who": ("Wer", "Who"),
    "ops.event": ("Ereignis", "Event"),
    "ops.system": ("System", "system"),
    "ops.errors_title": ("Bitte korrigieren Sie {n} Angabe(n):",
                         "Please correct {n} entry/entries:"),
    "ops.failed_title": ("Die Aktion wurde nicht ausgeführt", "The action was not carried out"),
    "ops.not_allowed": (("„{action}“ ist im Status „{status}“ nicht möglich. Die Seite zeigt "
                         "jetzt den aktuellen Stand."),
                        ("'{action}' is not possible in the status '{status}'. The page now "
                         "shows the current state.")),
    "ops.suspended_ok": ("Vorgang #{id} ist angehalten.", "Instance #{id} is suspended."),
    "ops.resumed_ok": ("Vorgang #{id} wird fortgesetzt (Status: {status}).",
                       "Instance #{id} is resumed (status: {status})."),
    "ops.terminated_ok": ("Vorgang #{id} ist endgültig beendet.",
                          "Instance #{id} is terminated."),
    "ops.retried_ok": ("Vorgang #{id} wurde erneut ausgeführt und läuft weiter (Status: "
                       "{status}).",
                       "Instance #{id} was run again and goes on (status: {status})."),
    "ops.retried_still": (("Vorgang #{id} wurde erneut ausgeführt, der Schritt ist wieder "
                           "fehlgeschlagen: {message}"),
                          "Instance #{id} was run again; the step failed again: {message}"),
    "event.instance.suspended": ("Vorgang angehalten", "Instance suspended"),
    "event.instance.resumed": ("Vorgang fortgesetzt", "Instance resumed"),
    "event.instance.terminated": ("Vorgang beendet", "Instance terminated"),
    # users
    "ops.users": ("Benutzer", "Users"),
    "ops.users_intro": (("Konten anlegen, sperren und entsperren, Rollen und Stellen ändern, "
                         "Passwörter zurücksetzen und API-Tokens widerrufen. Passwörter und "
                         "Token-Geheimnisse werden nie angezeigt."),
                        ("Create, disable and enable accounts, change roles and offices, reset "
                         "passwords and revoke API tokens. Passwords and token secrets are "
                         "never shown.")),
    "ops.user_name": ("Benutzername", "User name"),
    "ops.user_name_hint": (("2 bis 100 Zeichen: Kleinbuchstaben a–z, Ziffern, Punkt, "
                            "Unterstrich, Bindestrich."),
                           ("2 to 100 characters: lower-case a-z, digits, dot, underscore, "
                            "hyphen.")),
    "ops.display_name": ("Anzeigename", "Display name"),
    "ops.roles": ("Rollen", "Roles"),
    "ops.offices": ("Stellen", "Offices"),
    "ops.offices_hint": (("Sachbearbeitung, Fallmanagement und Teamleitung brauchen "
                          "mindestens eine Stelle."),
                         "Caseworkers, case managers and team leads need at least one office."),
    "ops.account": ("Konto", "Account"),
    "ops.active": ("aktiv", "active"),
    "ops.disabled": ("gesperrt", "disabled"),
    "ops.none": ("–", "–"),
    "ops.create_user": ("Benutzer anlegen", "Create a user"),
    "ops.create_submit": ("Benutzer anlegen", "Create user"),
    "ops.password": ("Erstes Passwort", "Initial password"),
    "ops.new_password": ("Neues Passwort", "New password"),
    "ops.password_hint": (("Mindestens 10 Zeichen. Geben Sie es der Person auf sicherem Weg "
                           "weiter."),
                          "At least 10 characters. Hand it over to the person securely."),
    "ops.password_short": ("Das Passwort muss mindestens 10 Zeichen haben.",
                           "The password must have at least 10 characters."),
    "ops.password_long": ("Das Passwort darf höchstens 200 Zeichen haben.",
                          "The password may have at most 200 characters."),
    "ops.name_invalid": (("Der Benutzername muss 2 bis 100 Zeichen lang sein (a–z, 0–9, "
                          "Punkt, Unterstrich, Bindestrich; am Anfang ein Buchstabe oder eine "
                          "Ziffer)."),
                         ("The user name must have 2 to 100 characters (a-z, 0-9, dot, "
                          "underscore, hyphen; starting with a letter or digit).")),
    "ops.name_taken": ("Den Benutzernamen „{name}“ gibt es schon.",
                       "The user name '{name}' exists already."),
    "ops.display_long": ("Der Anzeigename darf höchstens 200 Zeichen haben.",
                         "The display name may have at most 200 characters."),
    "ops.roles_missing": ("Bitte wählen Sie mindestens eine Rolle.",
                          "Please choose at least one role."),
    "ops.roles_unknown": ("Unbekannte Rolle.", "Unknown role."),
    "ops.offices_unknown": ("Unbekannte Stelle.", "Unknown office."),
    "ops.offices_missing": (("Sachbearbeitung, Fallmanagement und Teamleitung brauchen "
                             "mindestens eine Stelle."),
                            ("Caseworkers, case managers and team leads need at least one "
                             "office.")),
    "ops.user_created": ("Benutzer {name} ist angelegt.", "User {name} has been created."),
    "ops.user_title": ("Benutzer {name}", "User {name}"),
    "ops.back_users": ("Zurück zur Benutzerliste", "Back to the user list"),
    "ops.created_at": ("Angelegt", "Created"),
    "ops.password_changed": ("Passwort geändert", "Password changed"),
    "ops.access": ("Rollen und Stellen", "Roles and offices"),
    "ops.access_submit": ("Rollen und Stellen speichern", "Save roles and offices"),
    "ops.access_ok": ("Rollen und Stellen von {name} sind gespeichert.",
                      "The roles and offices of {name} are saved."),
    "ops.disable": ("Konto sperren", "Disable account"),
    "ops.disable_hint": (("Beendet alle Sitzungen und widerruft alle API-Tokens des Kontos."),
                         "Ends every session and revokes every API token of the account."),
    "ops.enable": ("Konto entsperren", "Enable account"),
    "ops.disabled_ok": ("Das Konto {name} ist gesperrt.", "The account {name} is disabled."),
    "ops.enabled_ok": ("Das Konto {name} ist entsperrt.", "The account {name} is enabled."),
    "ops.reset_password": ("Passwort zurücksetzen", "Reset password"),
    "ops.reset_hint": ("Beendet alle Browser-Sitzungen des Kontos.",
                       "Ends every browser session of the account."),
    "ops.password_ok": ("Das Passwort von {name} ist neu gesetzt.",
                        "The password of {name} has been reset."),
    "ops.self_lockout": (("Das geht nicht mit dem eigenen Konto: Sie würden sich selbst die "
                          "Verwaltung nehmen."),
                         ("Not possible with your own account: you would lock yourself out "
                          "of the administration.")),
    "ops.tokens": ("API-Tokens", "API tokens"),
    "ops.tokens_none": ("Keine API-Tokens.", "No API tokens."),
    "ops.token_id": ("Nr.", "No."),
    "ops.token_label": ("Bezeichnung", "Label"),
    "ops.token_created": ("Ausgestellt", "Issued"),
    "ops.token_expires": ("Läuft ab", "Expires"),
    "ops.token_used": ("Zuletzt benutzt", "Last used"),
    "ops.token_state": ("Zustand", "State"),
    "ops.token_valid": ("gültig", "valid"),
    "ops.token_expired": ("abgelaufen", "expired"),
    "ops.token_revoked": ("widerrufen am {at}", "revoked on {at}"),
    "ops.revoke": ("Widerrufen", "Revoke"),
    "ops.revoked_ok": ("Token Nr. {id} von {name} ist widerrufen.",
                       "Token no. {id} of {name} is revoked."),
    "role.caseworker": ("Sachbearbeitung", "Caseworker"),
    "role.case_manager": ("Fallmanagement", "Case manager"),
    "role.team_lead": ("Teamleitung", "Team lead"),
    "role.process_designer": ("Prozessgestaltung", "Process designer"),
    "role.auditor": ("Prüfung", "Auditor"),
    "role.dpo": ("Datenschutz", "Data-protection officer"),
    "role.admin": ("Administration", "Administrator"),
    "event.auth.user_created": ("Benutzer angelegt", "User created"),
    "event.auth.user_changed": ("Rollen/Stellen geändert", "Roles/offices changed"),
    "event.auth.user_disabled": ("Konto gesperrt", "Account disabled"),
    "event.auth.user_enabled": ("Konto entsperrt", "Account enabled"),
    "event.auth.password_reset": ("Passwort zurückgesetzt", "Password reset"),
}
