"""UI texts (German, English) of the data-protection and audit pages: consents, the Art. 15
report, the auditor views. Merged into ``web.i18n.MESSAGES``."""

from __future__ import annotations

MESSAGES_DP: dict[str, tuple[str, str]] = {
    "nav.audit": ("Prüfprotokoll", "Audit log"),
    "nav.verify": ("Integrität", "Integrity"),
    "nav.access_report": ("Auskunft", "Access report"),
    "dp.not_shared": ("nicht freigegeben", "not shared"),
    "dp.not_shared_intro": (("Diese Datenkategorien sind nicht sichtbar, denn die "
                             "Einwilligung deckt sie für Ihre Stelle nicht ab:"),
                            "Not shown are these data categories, since the consent does not "
                            "cover them for your office:"),
    "dp.task_data": ("Freigegebene Falldaten", "Shared case data"),
    "status.pseudonymised": ("pseudonymisiert", "pseudonymised"),
    # consents
    "consent.title": ("Einwilligungen", "Consents"),
    "consent.none": ("Keine Einwilligungen erfasst.", "No consents recorded."),
    "consent.new": ("Einwilligung erfassen", "Record a consent"),
    "consent.purpose": ("Zweck", "Purpose"),
    "consent.validity": ("Gültig", "Valid"),
    "consent.valid_from": ("Gültig ab", "Valid from"),
    "consent.valid_until": ("Gültig bis", "Valid until"),
    "consent.categories": ("Datenkategorien", "Data categories"),
    "consent.categories_hint": (("Nur Kategorien, die für den Zweck zulässig sind. "
                                 "Notizen des Fallmanagements werden nie weitergegeben."),
                                ("Only categories the purpose allows. Case-manager notes are "
                                 "never shared.")),
    "consent.health": (("Gesundheitsdaten ausdrücklich eingewilligt (Art. 9 Abs. 2 lit. a "
                        "DSGVO)"), "Explicit consent to health data (Art. 9(2)(a) GDPR)"),
    "consent.health_short": ("inkl. Gesundheit", "incl. health"),
    "consent.record": ("Einwilligung speichern", "Save consent"),
    "consent.recorded_ok": ("Einwilligung für {office} ({purpose}) gespeichert.",
                            "Consent for {office} ({purpose}) saved."),
    "consent.invalid": ("Die Einwilligung wurde nicht gespeichert: {detail}",
                        "The consent was not saved: {detail}"),
    "consent.revoke": ("Widerruf erfassen", "Record revocation"),
    "consent.channel": ("Widerruf erhalten", "Revocation received"),
    "consent.channel.written": ("schriftlich", "in writing"),
    "consent.channel.oral": ("mündlich", "orally"),
    "consent.channel.electronic": ("elektronisch", "electronically"),
    "consent.revoked_ok": (("Widerruf für {office} ({purpose}) erfasst: {n} offene "
                            "Vermittlung(en) ausgesetzt; die Aufgaben der Stelle sind aus "
                            "ihrer Arbeitsliste entfernt."),
                           ("Revocation for {office} ({purpose}) recorded: {n} open "
                            "referral(s) suspended; the office's tasks have left its "
                            "worklist.")),
    "consent.revoke_failed": ("Der Widerruf wurde nicht erfasst: {detail}",
                              "The revocation was not recorded: {detail}"),
    "consent.revoke_note": (("Ein Widerruf wirkt sofort und nur für die Zukunft: die Stelle "
                             "sieht den Fall nicht mehr, offene Vermittlungen werden "
                             "ausgesetzt. Kopien in den eigenen Akten der Stelle liegen in "
                             "deren Verantwortung."),
                            ("A revocation takes effect at once and only for the future: "
                             "the office no longer sees the case, open referrals are "
                             "suspended. Copies in the office's own files are the office's "
                             "responsibility.")),
    "consent.missing": (("Keine gültige Einwilligung für die Vermittlung an {office} "
                         "({purpose}). Es wurde nichts gespeichert."),
                        ("No valid consent for the referral to {office} ({purpose}). "
                         "Nothing was saved.")),
    "consent.status.active": ("aktiv", "active"),
    "consent.status.revoked": ("widerrufen", "revoked"),
    "consent.status.expired": ("abgelaufen", "expired"),
    # Art. 15 report
    "report.title": ("Auskunft nach Art. 15 DSGVO – Fall {ref}",
                     "Access report (Art. 15 GDPR) – case {ref}"),
    "report.intro": (("Diese Auskunft listet die gespeicherten Daten nach Kategorie, die "
                      "Zwecke, die Empfänger und die Einwilligungen. Ihre Erstellung wird "
                      "protokolliert."),
                     ("This report lists the stored data by category, the purposes, the "
                      "recipients and the consents. Generating it is logged.")),
    "report.print": ("Drucken", "Print"),
    "report.generated": ("Erstellt", "Generated"),
    "report.due": ("Antwort fällig bis", "Answer due by"),
    "report.pseudonymisation": ("Geplante Pseudonymisierung", "Planned pseudonymisation"),
    "report.case_open": ("Fall noch offen", "case still open"),
    "report.sources": ("Herkunft der Daten", "Sources of the data"),
    "report.data": ("Gespeicherte Daten", "Stored data"),
    "report.no_data": ("Keine Daten gespeichert.", "No data stored."),
    "report.purposes": ("Zwecke", "Purposes"),
    "report.recipients": ("Empfänger", "Recipients"),
    "report.no_recipients": ("Keine Daten übermittelt.", "No data transmitted."),
    "report.first": ("Erste Übermittlung", "First transmission"),
    "report.last": ("Letzte Übermittlung", "Last transmission"),
    "report.rights": ("Ihre Rechte", "Your rights"),
    "report.start_title": ("Auskunft nach Art. 15 DSGVO", "Access report (Art. 15 GDPR)"),
    "report.start_intro": (("Fallnummer der Person eingeben, die Auskunft verlangt. Die "
                            "Auskunft enthält personenbezogene Daten; jede Erstellung wird "
                            "protokolliert."),
                           ("Enter the case reference of the person asking for access. The "
                            "report contains personal data; every report is logged.")),
    "report.create": ("Auskunft erstellen", "Create report"),
    "report.link": ("Auskunft nach Art. 15 DSGVO erstellen",
                    "Create the access report (Art. 15 GDPR)"),
    # audit
    "audit.title": ("Prüfprotokoll", "Audit log"),
    "audit.intro": (("Alle Einträge des manipulationssicheren Protokolls. Es enthält Kennungen, "
                     "Feldnamen und Kategorien, keine personenbezogenen Werte. Ihre Abfragen "
                     "werden selbst protokolliert."),
                    ("Every entry of the tamper-evident log. It holds ids, field names and "
                     "categories, no personal values. Your queries are logged too.")),
    "audit.filter": ("Filtern", "Filter"),
    "audit.user": ("Benutzer", "User"),
    "audit.from": ("Von (Datum)", "From (date)"),
    "audit.to": ("Bis (Datum)", "To (date)"),
    "audit.event_type": ("Ereignis", "Event"),
    "audit.export": ("Export der gefilterten Einträge", "Export the filtered entries"),
    "audit.verify_link": ("Integrität der Kette prüfen", "Verify the chain"),
    "audit.entries": ("Protokolleinträge", "Audit entries"),
    "audit.seq": ("Nr.", "No."),
    "audit.stream": ("Kette (Instanz)", "Chain (instance)"),
    "audit.stream_global": ("globale Kette", "global chain"),
    "audit.instance": ("Vorgang", "Instance"),
    "audit.details": ("Angaben", "Details"),
    "audit.system": ("System", "system"),
    "audit.none": ("Keine Einträge gefunden.", "No entries found."),
    "audit.case_title": ("Prüfverlauf Fall {ref}", "Audit trail of case {ref}"),
    "audit.case_intro": (("Alle Vorgänge des Falls in allen Stellen, wer welche Daten gesehen "
                          "hat, und der vollständige Verlauf."),
                         ("Every instance of the case in every office, who saw which data, "
                          "and the complete history.")),
    "audit.offices": ("Stellen", "Offices"),
    "audit.replay": ("Ablauf im Diagramm", "Replay on the diagram"),
    "audit.reads": ("Wer hat Daten gesehen?", "Who saw the data?"),
    "audit.categories": ("Kategorien", "Categories"),
    "audit.fields": ("Felder", "Fields"),
    "audit.no_reads": ("Keine Lesezugriffe protokolliert.", "No reads logged."),
    "audit.replay_title": ("Ablauf von Vorgang {id}", "Replay of instance {id}"),
    "audit.path": ("Genommener Weg", "Path taken"),
    "audit.diagram_label": (("Prozessdiagramm {process}: der genommene Weg ist markiert und "
                             "nummeriert; die Tabelle darunter nennt jeden Schritt."),
                            ("Process diagram {process}: the path taken is marked and "
                             "numbered; the table below names every step.")),
    "audit.taken": ("durchlaufen", "taken"),
    "audit.order_hint": ("Zahlen: Reihenfolge", "Numbers: order"),
    "audit.path_steps": ("Schritte in Reihenfolge", "Steps in order"),
    "audit.path_note": (("Bei Aufgaben: wer sie erledigt hat. Automatische Schritte tragen "
                         "Auslöser und Zeit des Verarbeitungsschritts, der sie ausgeführt hat."),
                        ("For tasks: who completed them. Automatic steps show the trigger "
                         "and time of the processing step that ran them.")),
    "audit.kind": ("Art", "Kind"),
    "audit.via": ("Ausgelöst durch", "Triggered by"),
    "audit.verify_title": ("Integrität des Prüfprotokolls", "Integrity of the audit log"),
    "audit.verify_intro": (("Die Hash-Kette wird ab der letzten intakten Prüfung neu "
                            "berechnet; die vollständige Prüfung berechnet alle Einträge. Ein "
                            "geänderter, gelöschter oder eingefügter Eintrag wird benannt."),
                           ("The hash chain is recomputed from the last intact verification "
                            "on; the full verification recomputes every entry. A changed, "
                            "removed or inserted entry is named.")),
    "audit.verify_mode_full": ("Vollständige Prüfung: alle Einträge neu berechnet.",
                               "Full verification: every entry recomputed."),
    "audit.verify_mode_incremental": (("Prüfung ab der letzten intakten Prüfung (globale Kette "
                                       "ab Eintrag {since}). Änderungen an älteren Einträgen "
                                       "findet die vollständige Prüfung."),
                                      ("Verified from the last intact verification on "
                                       "(global chain from entry {since}). Changes to older "
                                       "entries are found by the full verification.")),
    "audit.verify_full_link": ("Vollständig prüfen", "Verify in full"),
    "audit.verify_ok": ("Die Kette ist intakt: {n} Einträge geprüft.",
                        "The chain is intact: {n} entries verified."),
    "audit.verify_head": ("Letzter Hash", "Head hash"),
    "audit.verify_bad": ("Die Kette ist verletzt. Erster fehlerhafter Eintrag:",
                         "The chain is broken. First bad entry:"),
    "audit.entry_id": ("Eintrag (id)", "Entry (id)"),
    "audit.problem": ("Befund", "Finding"),
    "audit.verified_before": ("Davor intakte Einträge", "Intact entries before it"),
    # event types
    "event.data.read": ("Daten gelesen", "Data read"),
    "event.data.read_denied": ("Lesezugriff verweigert", "Read refused"),
    "event.data.export": ("Daten exportiert", "Data exported"),
    "event.audit.read": ("Protokoll gelesen", "Audit log read"),
    "event.consent.recorded": ("Einwilligung erfasst", "Consent recorded"),
    "event.consent.revoked": ("Einwilligung widerrufen", "Consent revoked"),
    "event.consent.expired": ("Einwilligung abgelaufen", "Consent expired"),
    "event.timer.fired": ("Frist ausgelöst", "Timer fired"),
    "event.message.sent": ("Nachricht gesendet", "Message sent"),
    "event.message.delivered": ("Nachricht zugestellt", "Message delivered"),
    "event.instance.cancelled": ("Vorgang abgebrochen", "Instance cancelled"),
    "event.instance.incident": ("Störung im Vorgang", "Instance incident"),
    "event.instance.retried": ("Vorgang erneut versucht", "Instance retried"),
    "event.instance.migrated": ("Vorgang migriert", "Instance migrated"),
    "event.instance.data_rewritten": ("Vorgangsdaten umgeschrieben", "Instance data rewritten"),
    "event.case.pseudonymised": ("Fall pseudonymisiert", "Case pseudonymised"),
    "event.task.assigned": ("Aufgabe zugewiesen", "Task assigned"),
    "event.process.deployed": ("Prozess bereitgestellt", "Process deployed"),
    # issue 14.3: who was sent what, and why a task disappeared
    "event.message.received": ("Nachricht empfangen", "Message received"),
    "event.task.cancelled": ("Aufgabe abgebrochen", "Task cancelled"),
    "event.task.created": ("Aufgabe angelegt", "Task created"),
    "event.referral.status_changed": ("Vermittlungsstatus geändert", "Referral status changed"),
    "audit.f.name": ("Nachricht", "Message"),
    "audit.f.message_id": ("Nachrichten-ID", "Message id"),
    "audit.f.from_office": ("Von Stelle", "From office"),
    "audit.f.to_office": ("An Stelle", "To office"),
    "audit.f.referral_id": ("Vermittlung", "Referral"),
    "audit.f.from_instance": ("Von Vorgang", "From instance"),
    "audit.f.to_instance": ("An Vorgang", "To instance"),
    "audit.f.element": ("Element", "Element"),
    "audit.f.task_id": ("Aufgabe (ID)", "Task (id)"),
    "audit.f.state_from": ("Status vorher", "State before"),
    "audit.f.state_to": ("Status nachher", "State after"),
    "audit.f.reason": ("Grund", "Reason"),
    "audit.f.cause": ("Ursache", "Cause"),
    "audit.f.trigger": ("Ausgelöst durch", "Triggered by"),
    "audit.f.trigger_kind": ("Art des Auslösers", "Kind of trigger"),
    "audit.f.by_message": ("Durch Nachricht", "By message"),
    "audit.f.outcome": ("Ergebnis", "Outcome"),
    "audit.reason.boundary_event": ("Unterbrechendes Randereignis", "Interrupting boundary event"),
    "audit.reason.terminate_end_event": ("Beendendes Endereignis", "Terminate end event"),
    "audit.reason.instance_cancelled": ("Vorgang abgebrochen", "Instance cancelled"),
    "audit.reason.path_closed": ("Pfad geschlossen", "Path closed"),
    "audit.reason.consent_revoked": ("Einwilligung widerrufen", "Consent revoked"),
    "audit.reason.case_closed": ("Fall abgeschlossen", "Case closed"),
    "audit.reason.client_request": ("Wunsch der Person", "Client's request"),
    "audit.reason.duplicate": ("Doppelte Vermittlung", "Duplicate"),
    "audit.reason.no_ack": ("Eingang nicht bestätigt", "Not acknowledged"),
    "audit.kind.message": ("Nachricht", "Message"),
    "audit.kind.timer": ("Frist", "Timer"),
    "audit.kind.signal": ("Signal", "Signal"),
    "audit.kind.error": ("Fehler", "Error"),
    "audit.kind.escalation": ("Eskalation", "Escalation"),
    "audit.kind.conditional": ("Bedingung", "Condition"),
    "audit.kind.terminate": ("Beenden", "Terminate"),
    "audit.outcome.granted": ("bewilligt", "granted"),
    "audit.outcome.partially_granted": ("teilweise bewilligt", "partially granted"),
    "audit.outcome.rejected": ("abgelehnt", "rejected"),
    "audit.outcome.appointment_scheduled": ("Termin vereinbart", "appointment scheduled"),
    "audit.outcome.no_action_needed": ("nichts zu tun", "no action needed"),
    "audit.outcome.withdrawn": ("zurückgenommen", "withdrawn"),
    "audit.outcome.forwarded": ("weitergeleitet", "forwarded"),
    "referral.state.sent": ("gesendet", "sent"),
    "referral.state.acknowledged": ("Eingang bestätigt", "acknowledged"),
    "referral.state.in_progress": ("in Bearbeitung", "in progress"),
    "referral.state.info_requested": ("Unterlagen angefordert", "information requested"),
    "referral.state.completed": ("abgeschlossen", "completed"),
    "referral.state.forwarded": ("weitergeleitet", "forwarded"),
    "referral.state.withdrawn": ("zurückgenommen", "withdrawn"),
    "referral.state.suspended_consent_revoked": ("ausgesetzt: Einwilligung widerrufen",
                                                 "suspended: consent revoked"),
}
