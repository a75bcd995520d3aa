"""KIM field rules (V-02 to V-12) as JSON Schema formats for form definitions."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from engine import clock
from engine.forms import LocalizedFormatChecker
from processes.offices import CODE_RE, OfficeRegistry

# ISO 3166-1 alpha-3 (249 codes, taken from Debian iso-codes 4.15).
_ISO_3166_ALPHA3_TEXT = """
    ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA
    BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN
    CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU
    EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB
    GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL
    ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO
    LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR
    MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER
    PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM
    SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK
    TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB VIR VNM
    VUT WLF WSM YEM ZAF ZMB ZWE
"""
ISO_3166_ALPHA3: frozenset[str] = frozenset(_ISO_3166_ALPHA3_TEXT.split())
# V-08: ICAO XXA stateless (staatenlos), XXX unclarified (ungeklärt); XKX Kosovo is the
# user-assigned code the EU uses, because Kosovo has no ISO code [D].
NATIONALITIES: frozenset[str] = ISO_3166_ALPHA3 | {"XXA", "XXX", "XKX"}
# V-09 [D]: the brief's default list; a municipality passes its own to make_format_checker.
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "ar",
    "fa",
    "prs",
    "ps",
    "ti",
    "kmr",
    "ckb",
    "uk",
    "ru",
    "tr",
    "so",
    "fr",
    "en",
    "de",
)
MIN_PAST_DATE = date(1900, 1, 1)
MAX_EUR = Decimal(1_000_000)

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NAME_LATIN_RE = re.compile(r"[A-Za-z' .-]{1,100}")
_POSTCODE_RE = re.compile(r"[0-9]{5}")
_PHONE_RE = re.compile(r"\+?[0-9][0-9 ()/-]{5,19}")
_EUR_RE = re.compile(r"(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?")
# V-02 punctuation; U+2019 is the apostrophe many keyboards type for "'".
_NAME_PUNCT = frozenset(" '-.\u2019")
# Zero-width (non-)joiners are part of correct Persian, Kurdish and Indic spelling.
_JOINERS = frozenset("\u200c\u200d")

MESSAGES: dict[str, dict[str, str]] = {
    "date": {"de": "Ungültiges Datum (JJJJ-MM-TT)", "en": "Invalid date (YYYY-MM-DD)"},
    "past-date": {
        "de": "Ungültiges Datum (JJJJ-MM-TT, nicht in der Zukunft, nicht vor 1900)",
        "en": "Invalid date (YYYY-MM-DD, not in the future, not before 1900)",
    },
    "person-name": {
        "de": "Ungültiger Name: nur Buchstaben, Leerzeichen und ' - . (1–100 Zeichen)",
        "en": "Invalid name: only letters, spaces and ' - . (1–100 characters)",
    },
    "name-latin": {
        "de": "Nur lateinische Buchstaben ohne Akzente, Leerzeichen und ' - . (1–100 Zeichen)",
        "en": "Only Latin letters without accents, spaces and ' - . (1–100 characters)",
    },
    "postcode-de": {"de": "Postleitzahl: genau 5 Ziffern", "en": "Postcode: exactly 5 digits"},
    "email": {"de": "Ungültige E-Mail-Adresse", "en": "Invalid e-mail address"},
    "phone": {
        "de": "Ungültige Telefonnummer (Ziffern, Leerzeichen, ( ) / -, optional + am Anfang)",
        "en": "Invalid phone number (digits, spaces, ( ) / -, optional leading +)",
    },
    "nationality": {
        "de": "Unbekannter Staatsangehörigkeitscode (ISO 3166-1 alpha-3, z. B. SYR; "
        "XXA staatenlos, XXX ungeklärt)",
        "en": "Unknown nationality code (ISO 3166-1 alpha-3, e.g. SYR; "
        "XXA stateless, XXX unclarified)",
    },
    "language": {
        "de": "Sprache nicht in der Liste (Sprachcode wie ar, fa, uk)",
        "en": "Language not in the list (language code such as ar, fa, uk)",
    },
    "eur": {
        "de": "Ungültiger Betrag (0 bis 1.000.000 €, höchstens 2 Nachkommastellen)",
        "en": "Invalid amount (0 to 1,000,000 €, at most 2 decimal places)",
    },
    "office-code": {"de": "Unbekannte oder inaktive Stelle", "en": "Unknown or inactive office"},
}


def parse_date(value: str) -> date | None:
    """The date of an ISO ``YYYY-MM-DD`` string, or None if it is not a real date."""
    if not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_date(value: object) -> bool:
    """V-03 syntax: ISO ``YYYY-MM-DD`` naming a real calendar date."""
    return not isinstance(value, str) or parse_date(value) is not None


def is_past_date(value: object) -> bool:
    """V-03: a real date between 1900-01-01 and today (engine clock, Europe/Berlin)."""
    if not isinstance(value, str):
        return True
    day = parse_date(value)
    return day is not None and MIN_PAST_DATE <= day <= clock.now_berlin().date()


def is_person_name(value: object) -> bool:
    """V-02: letters of any script with combining marks, space, ' - .; 1-100 characters."""
    if not isinstance(value, str):
        return True
    if not 1 <= len(unicodedata.normalize("NFC", value)) <= 100:
        return False
    has_letter = False
    for index, char in enumerate(value):
        kind = unicodedata.category(char)
        if kind[0] == "L":
            has_letter = True
        elif kind[0] == "M" or char in _JOINERS:
            if index == 0:
                return False
        elif char not in _NAME_PUNCT:
            return False
    return has_letter


def is_name_latin(value: object) -> bool:
    """V-02: passport/MRZ spelling, ``^[A-Za-z' .-]{1,100}$``."""
    return not isinstance(value, str) or bool(_NAME_LATIN_RE.fullmatch(value))


def is_postcode_de(value: object) -> bool:
    """V-05: German postcode, exactly five digits."""
    return not isinstance(value, str) or bool(_POSTCODE_RE.fullmatch(value))


def is_email(value: object) -> bool:
    """V-06: one ``@``, a dotted domain without empty labels, at most 254 characters."""
    if not isinstance(value, str):
        return True
    if len(value) > 254 or value.count("@") != 1:
        return False
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in value):
        return False
    local, domain = value.split("@")
    labels = domain.split(".")
    return bool(local) and len(labels) >= 2 and all(labels)


def is_phone(value: object) -> bool:
    """V-07: ``^\\+?[0-9][0-9 ()/-]{5,19}$``."""
    return not isinstance(value, str) or bool(_PHONE_RE.fullmatch(value))


def is_nationality(value: object) -> bool:
    """V-08: ISO 3166-1 alpha-3 code (upper case), XXA or XXX."""
    return not isinstance(value, str) or value in NATIONALITIES


def is_eur(value: object) -> bool:
    """V-10: amount 0 to 1 000 000 with at most two decimals, as a number or a string."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        if not _EUR_RE.fullmatch(value):
            return False
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return False
        amount = Decimal(repr(value))  # the shortest decimal form: 12.5, not 12.4999...
    else:
        return True
    exponent = amount.as_tuple().exponent
    return 0 <= amount <= MAX_EUR and isinstance(exponent, int) and exponent >= -2


def is_office_code_syntax(value: object) -> bool:
    """V-12 without a registry: the string has the form of an office code."""
    return not isinstance(value, str) or bool(CODE_RE.fullmatch(value))


def _member_of(allowed: Iterable[str]) -> Callable[[object], bool]:
    """A check that a string is exactly one of ``allowed``."""
    codes = frozenset(allowed)
    return lambda value: not isinstance(value, str) or value in codes


def make_format_checker(
    registry: OfficeRegistry | None = None, *, languages: Iterable[str] | None = None
) -> LocalizedFormatChecker:
    """A FormatChecker with the KIM formats; "office-code" checks the registry's active offices."""
    checker = LocalizedFormatChecker(messages=MESSAGES)
    # Without a registry only the code syntax can be checked.
    office = is_office_code_syntax if registry is None else _member_of(registry.active_codes())
    checks: dict[str, Callable[[object], bool]] = {
        "date": is_date,
        "past-date": is_past_date,
        "person-name": is_person_name,
        "name-latin": is_name_latin,
        "postcode-de": is_postcode_de,
        "email": is_email,
        "phone": is_phone,
        "nationality": is_nationality,
        "language": _member_of(DEFAULT_LANGUAGES if languages is None else languages),
        "eur": is_eur,
        "office-code": office,
    }
    for name, func in checks.items():
        checker.checks(name)(func)
    return checker


FORMAT_CHECKER = make_format_checker()
