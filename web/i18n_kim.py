"""Labels of the KIM rule set's lint rules (processes/kim_rules.py) in the modeler's report."""

from __future__ import annotations

MESSAGES_KIM: dict[str, tuple[str, str]] = {
    "designer.rule.kim/id-unique": ("ID mehrfach vergeben", "Id used twice"),
    "designer.rule.kim/process-id-unique": ("Prozess-ID mehrfach vergeben",
                                            "Process id used twice"),
    "designer.rule.kim/form-name-unique": ("Formularname mehrfach vergeben",
                                           "Form name used twice"),
    "designer.rule.kim/legal-basis": ("Handlungsgrundlage fehlt", "Legal basis missing"),
    "designer.rule.kim/rag": ("Referenzaktivitätengruppe fehlt oder unbekannt",
                              "Reference activity group missing or unknown"),
    "designer.rule.kim/form-present": ("UI-Schema fehlt", "UI schema missing"),
    "designer.rule.kim/lane-office": ("Bahn ohne Stelleneigenschaft",
                                      "Lane without office property"),
    "designer.rule.kim/lane-member": ("Element in keiner Bahn", "Element in no lane"),
    "designer.rule.kim/element-drawn": ("Element nicht gezeichnet", "Element not drawn"),
    "designer.rule.kim/id-convention": ("ID nicht nach Konvention", "Id off convention"),
    "designer.rule.kim/name-present": ("Name fehlt", "Name missing"),
    "designer.rule.kim/documentation": ("Dokumentation fehlt", "Documentation missing"),
    "designer.rule.kim/message-variable": ("Nachrichtenvariable fehlt",
                                           "Message variable missing"),
    "designer.rule.kim/cancel-reason": ("Abbruchgrund ohne Wirkung",
                                        "Cancel reason without effect"),
}
