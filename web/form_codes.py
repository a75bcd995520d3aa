"""Names for coded form fields: states (ISO 3166-1 alpha-3, as processes.validators checks
them) and languages (the codes the "language" format allows), in German or English.

The names come from maintained data, not hand-written lists: CLDR through Babel (the names
people use: "Syrien", "Arabisch") and, where CLDR has no entry (alpha-3 <-> alpha-2, some
ISO 639-3 languages such as prs Dari or kmr Nordkurdisch), pycountry's ISO data and its
translations. A form shows the names and stores the codes; a submitted name is mapped back
to its code here (a code typed as such is accepted too)."""

from __future__ import annotations

import gettext
import unicodedata
from functools import lru_cache

import pycountry
from babel import Locale

from processes.validators import DEFAULT_LANGUAGES, NATIONALITIES

# ICAO codes of travel documents that are no ISO 3166 states (processes.validators, V-08)
_SPECIAL_STATES = {
    "XXA": ("staatenlos", "stateless"),
    "XXX": ("ungeklärt", "unclarified"),
}
_KOSOVO = ("XKX", "XK")  # user-assigned code; CLDR names it under XK


def _sort_key(text: str) -> str:
    """Alphabetical as a German reader expects it (Ä with A, Ö with O)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=4)
def _iso_translation(domain: str, lang: str) -> gettext.NullTranslations:
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang], fallback=True)


def state_name(code: str, lang: str) -> str | None:
    """The name of the state (or XXA/XXX) with alpha-3 ``code`` in ``lang``."""
    lang = "en" if lang == "en" else "de"
    if code in _SPECIAL_STATES:
        return _SPECIAL_STATES[code][lang == "en"]
    if code == _KOSOVO[0]:
        alpha2: str | None = _KOSOVO[1]
    else:
        country = pycountry.countries.get(alpha_3=code)
        alpha2 = country.alpha_2 if country else None
    if alpha2 is None:
        return None
    name = Locale(lang).territories.get(alpha2)
    if name:
        return str(name)
    country = pycountry.countries.get(alpha_3=code)
    return _iso_translation("iso3166-1", lang).gettext(country.name) if country else None


def language_name(code: str, lang: str) -> str | None:
    """The name of the language with (BCP 47 / ISO 639) ``code`` in ``lang``."""
    lang = "en" if lang == "en" else "de"
    name = Locale(lang).languages.get(code)
    if name:
        return str(name)
    found = pycountry.languages.get(alpha_3=code) if len(code) == 3 else None
    if found is None and len(code) == 2:
        found = pycountry.languages.get(alpha_2=code)
    if found is None:
        return None
    return _iso_translation("iso639-3", lang).gettext(found.name)


@lru_cache(maxsize=4)
def state_options(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of every nationality the validator accepts, sorted by name."""
    pairs = [(code, state_name(code, lang) or code) for code in NATIONALITIES]
    return tuple(sorted(pairs, key=lambda p: _sort_key(p[1])))


@lru_cache(maxsize=4)
def language_options(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of every language the "language" format accepts, sorted by name."""
    pairs = [(code, language_name(code, lang) or code) for code in DEFAULT_LANGUAGES]
    return tuple(sorted(pairs, key=lambda p: _sort_key(p[1])))


@lru_cache(maxsize=2)
def _lookup(kind: str) -> dict[str, str]:
    """Name (either language, case-insensitive) or code -> code."""
    options = state_options if kind == "state" else language_options
    out: dict[str, str] = {}
    for lang in ("en", "de"):  # German names win where the two languages collide
        for code, name in options(lang):
            out[_sort_key(name)] = code
    for code, _ in options("de"):
        out[_sort_key(code)] = code
    return out


def state_code(text: str) -> str | None:
    """The alpha-3 code of a typed state name or code, or None."""
    return _lookup("state").get(_sort_key(text.strip())) if text.strip() else None


def language_code(text: str) -> str | None:
    """The code of a typed language name or code, or None."""
    return _lookup("language").get(_sort_key(text.strip())) if text.strip() else None
