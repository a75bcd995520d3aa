"""Case data as people read it (issue 15.0e): a field's title from the form schemas
(``title`` / ``x-title-en``), else the name of a known process variable, never the
snake_case key; values as words (Ja/Nein, enum labels from ``x-enum-labels``, dates
TT.MM.JJJJ, office names, lists and records in a line), never JSON or ``True``."""

from __future__ import annotations

import re
from datetime import date, datetime

from web import form_codes
from web.forms_ui import DATE_FORMATS
from web.i18n import format_date, format_datetime, localized, translate

# process variables that no form asks for but the case page shows: (German, English)
VARIABLES: dict[str, tuple[str, str]] = {
    "case_id": ("Fallnummer", "Case reference"),
    "case_status": ("Fallstatus", "Case status"),
    "case_opened": ("Fall eröffnet am", "Case opened on"),
    "case_summary": ("Fallzusammenfassung", "Case summary"),
    "walk_in": ("Offene Sprechstunde", "Walk-in"),
    "intake_id": ("Anfragenummer", "Inquiry number"),
    "inquiry_date": ("Anfragedatum", "Inquiry date"),
    "consents": ("Einwilligungen", "Consents"),
    "person": ("Person", "Person"),
    "referrals": ("Vermittlungen", "Referrals"),
    "referral": ("Vermittlung", "Referral"),
    "office": ("Stelle", "Office"),
    "purpose": ("Zweck", "Purpose"),
    "recipient_office": ("Empfangende Stelle", "Receiving office"),
    "requested_service": ("Gewünschte Leistung", "Requested service"),
    "status": ("Status", "Status"),
    "state": ("Status", "Status"),
    "base": ("Einwilligung Case Management", "Consent to case management"),
    "consent_id": ("Einwilligungsnummer", "Consent number"),
    "referral_id": ("Vermittlungsnummer", "Referral number"),
    "recorded_at": ("Erfasst am", "Recorded on"),
    "form": ("Form", "Form"),
    "data_categories": ("Datenkategorien", "Data categories"),
    "includes_health": ("Einschließlich Gesundheitsdaten (Art. 9 DSGVO)",
                        "Including health data (Art. 9 GDPR)"),
    "valid_from": ("Gültig ab", "Valid from"),
    "valid_until": ("Gültig bis", "Valid until"),
    "result": ("Angaben der Stelle", "Details from the office"),
    "outcome": ("Ergebnis", "Outcome"),
    "decision_date": ("Entscheidungsdatum", "Decision date"),
    "office_reference": ("Aktenzeichen der Stelle", "Office's file reference"),
    "closed_at": ("Abgeschlossen am", "Closed on"),
    "notes_for_cm": ("Hinweise an das Fallmanagement", "Notes for the case manager"),
    "original_receipt_date": ("Ursprünglich eingegangen am", "Originally received on"),
    "assessed_on": ("Assessment am", "Assessed on"),
    "suggested_referrals": ("Vorgeschlagene Vermittlungen", "Suggested referrals"),
    "sent_at": ("Gesendet am", "Sent on"),
    "due_ack": ("Eingang zu bestätigen bis", "Acknowledgement due"),
    "due_result": ("Ergebnis fällig am", "Result due"),
}

# process values that no form offers as a choice: the key(s) holding them -> (German, English)
_CASE_STATUS = {
    "inquiry": ("Anfrage", "inquiry"), "intake": ("Fallaufnahme", "intake"),
    "active": ("aktiv", "active"), "closed": ("abgeschlossen", "closed"),
    "handed_over": ("übergeben", "handed over"), "short_advice": ("Kurzberatung", "short advice"),
    "pseudonymised": ("pseudonymisiert", "pseudonymised"),
    "reopened": ("wieder aufgenommen", "reopened"),
}
# a referral record's outcome (the answer of the referral protocol's result form)
_OUTCOME = {
    "granted": ("Bewilligt / erledigt", "Granted / done"),
    "partially_granted": ("Teilweise bewilligt", "Partially granted"),
    "rejected": ("Abgelehnt", "Rejected"),
    "info_needed": ("Unterlagen fehlen", "Documents missing"),
    "appointment_scheduled": ("Termin vereinbart", "Appointment scheduled"),
    "no_action_needed": ("Kein Handlungsbedarf", "No action needed"),
}
_CONSENT_FORM = {"schriftlich": ("schriftlich", "written"),
                 "elektronisch": ("elektronisch", "electronic")}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")


def _process_value(value: str, key: str | None, lang: str) -> str | None:
    """A status the processes set (case, consent, referral) in words, or None."""
    if key == "case_status" and value in _CASE_STATUS:
        return _CASE_STATUS[value][lang == "en"]
    if key == "form" and value in _CONSENT_FORM:  # a consent record's form
        return _CONSENT_FORM[value][lang == "en"]
    if key == "outcome" and value in _OUTCOME:
        return _OUTCOME[value][lang == "en"]
    if key in ("status", "state"):
        for prefix in ("consent.status.", "referral.state."):
            text = translate(prefix + value, lang)
            if text != prefix + value:
                return text
    return None


def _iso_in_words(value: str, lang: str) -> str | None:
    """An ISO date or date-time the processes wrote (no form names its format) as
    TT.MM.JJJJ, or None."""
    try:
        if _ISO_DATE.fullmatch(value):
            return format_date(date.fromisoformat(value), lang)
        if _ISO_DATETIME.fullmatch(value):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                return format_datetime(moment.replace(tzinfo=_berlin()), lang)
            return format_datetime(moment, lang)
    except ValueError:
        return None
    return None


def _berlin():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def has_label(key: str, node: dict | None) -> bool:
    """Whether a form or the list of process variables names ``key`` (else it is one of a
    process's working variables: ``cycle``, ``round_records`` ...)."""
    return bool(node and node.get("title")) or key in VARIABLES


def field_label(key: str, node: dict | None, lang: str) -> str:
    """The field's title (form schema), a known variable's name, or the key in words."""
    title = localized(node, "title", lang) if node else None
    if title:
        return title
    known = VARIABLES.get(key)
    if known:
        return known[1] if lang == "en" else known[0]
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else key


def _office(code: str, lang: str) -> str:
    from web.ctx import services

    reg = services().offices
    if code not in reg:
        return code
    o = reg.get(code)
    return o.name_en if lang == "en" else o.name_de


def display_value(value, node: dict | None, lang: str, *, key: str | None = None,
                  labels: dict[str, dict] | None = None) -> str:
    """``value`` in words; ``node`` is the field's JSON Schema node (enum labels, date
    format), ``labels`` the deployment's field nodes (for the keys of a record)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return translate("task.yes" if value else "task.no", lang)
    if isinstance(value, str):
        if node:
            enum_labels = (node.get("x-enum-labels") or {}).get(lang) or {}
            if isinstance(enum_labels, dict) and value in enum_labels:
                return str(enum_labels[value])
            if node.get("format") in DATE_FORMATS:
                try:
                    return format_date(date.fromisoformat(value), lang)
                except ValueError:
                    return value
            if node.get("format") == "language":
                return form_codes.language_name(value, lang) or value
            if node.get("format") == "nationality":
                return form_codes.state_name(value, lang) or value
        if key and (key in ("office", "recipient_office") or key.endswith("_office")):
            return _office(value, lang)
        if key and (key == "language" or key.endswith("_language")):
            return form_codes.language_name(value, lang) or value
        return _process_value(value, key, lang) or _iso_in_words(value, lang) or value
    if isinstance(value, list):
        if not value:
            return "keine" if lang != "en" else "none"
        item = (node or {}).get("items") if isinstance((node or {}).get("items"), dict) \
            else None
        if node and item is not None and "x-enum-labels" not in item \
                and "x-enum-labels" in node:
            item = {**item, "x-enum-labels": node["x-enum-labels"]}  # labels on the array
        sep = "; " if any(isinstance(v, dict) for v in value) else ", "
        return sep.join(display_value(v, item, lang, key=key, labels=labels) for v in value)
    if isinstance(value, dict):
        props = (node or {}).get("properties") or {}
        parts = []
        for k, v in value.items():
            if v in (None, "", [], {}):
                continue
            # the record's own schema first; what it lacks (labels, format) from the forms
            sub = {**((labels or {}).get(k) or {}), **(props.get(k) or {})} or None
            parts.append(f"{field_label(str(k), sub, lang)}: "
                         f"{display_value(v, sub, lang, key=str(k), labels=labels)}")
        return ", ".join(parts) if parts else "–"
    return str(value)
