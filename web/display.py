"""Case data as people read it (issue 15.0e): a field's title from the form schemas
(``title`` / ``x-title-en``), else the name of a known process variable, never the
snake_case key; values as words (Ja/Nein, enum labels from ``x-enum-labels``, dates
TT.MM.JJJJ, office names, lists and records in a line), never JSON or ``True``."""

from __future__ import annotations

from datetime import date

from web.forms_ui import DATE_FORMATS
from web.i18n import format_date, localized, translate

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
}


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
        if key and (key in ("office", "recipient_office") or key.endswith("_office")):
            return _office(value, lang)
        return value
    if isinstance(value, list):
        if not value:
            return "keine" if lang != "en" else "none"
        item = (node or {}).get("items") if isinstance((node or {}).get("items"), dict) \
            else None
        if item is not None and "x-enum-labels" not in item and "x-enum-labels" in node:
            item = {**item, "x-enum-labels": node["x-enum-labels"]}  # labels on the array
        sep = "; " if any(isinstance(v, dict) for v in value) else ", "
        return sep.join(display_value(v, item, lang, key=key, labels=labels) for v in value)
    if isinstance(value, dict):
        props = (node or {}).get("properties") or {}
        parts = []
        for k, v in value.items():
            if v in (None, "", [], {}):
                continue
            sub = props.get(k) or (labels or {}).get(k)
            parts.append(f"{field_label(str(k), sub, lang)}: "
                         f"{display_value(v, sub, lang, key=str(k), labels=labels)}")
        return ", ".join(parts) if parts else "–"
    return str(value)
