"""KIM field formats (V-02 to V-12) as a jsonschema FormatChecker."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path

import pytest

from engine import clock
from engine.forms import validate_form
from processes.offices import OfficeRegistry
from processes.validators import (
    FORMAT_CHECKER,
    ISO_3166_ALPHA3,
    NATIONALITIES,
    make_format_checker,
)


def ok(value: object, fmt: str) -> bool:
    return FORMAT_CHECKER.conforms(value, fmt)


@pytest.fixture
def today_is_2025_05_14():
    with clock.using(clock.SettableClock(datetime(2025, 5, 14, 12, 0, tzinfo=clock.BERLIN))):
        yield


@pytest.mark.parametrize(
    "name",
    [
        "Anna",
        "Jean-Luc O'Neill",
        "Dr. Müller",
        "محمد عبد الله",  # Arabic
        "مُحَمَّد",  # Arabic with harakat (combining marks)
        "Олександр Шевченко",  # Cyrillic
        "ተስፋይ ገብረመድህን",  # Tigrinya, Ge'ez script
        "王小明",  # Chinese
        unicodedata.normalize("NFD", "Nguyễn Văn Anh"),  # Vietnamese, decomposed
        "زهرا\u200cسادات",  # Persian with zero-width non-joiner
        "O\u2019Brien",  # typographic apostrophe
        "A" * 100,
        "Ş",
    ],
)
def test_person_name_accepts_all_scripts(name):
    assert ok(name, "person-name")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "R2D2",
        "Ali ٣",  # Arabic-Indic digit
        "<script>alert(1)</script>",
        "Anna\x00",
        "Anna\nMaria",
        "Anna\tMaria",
        "Anna\u202eMaria",  # bidi override (format control)
        "Anna_Maria",
        "Anna@home",
        "---",
        "\u0301Anna",  # starts with a combining mark
        "A" * 101,
    ],
)
def test_person_name_rejects(name):
    assert not ok(name, "person-name")


def test_person_name_length_counts_composed_characters():
    decomposed = unicodedata.normalize("NFD", "é" * 100)
    assert len(decomposed) == 200
    assert ok(decomposed, "person-name")


@pytest.mark.parametrize("value,valid", [
    ("NGUYEN VAN ANH", True), ("O'Neill-Smith Jr.", True), ("A" * 100, True),
    ("Müller", False), ("", False), ("A" * 101, False), ("Anna2", False), ("محمد", False),
])  # fmt: skip
def test_name_latin(value, valid):
    assert ok(value, "name-latin") is valid


@pytest.mark.parametrize("value,valid", [
    ("2024-02-29", True), ("1899-12-31", True), ("2023-02-29", False), ("2024-13-01", False),
    ("24-01-01", False), ("2024-1-1", False), ("01.01.2024", False), ("20240101", False),
    ("2024-01-01T00:00", False), ("２０２４-01-01", False), ("", False),
])  # fmt: skip
def test_date(value, valid):
    assert ok(value, "date") is valid


@pytest.mark.parametrize("value,valid", [
    ("2025-05-14", True), ("2025-05-15", False), ("1900-01-01", True), ("1899-12-31", False),
    ("2000-02-30", False), ("14.05.2025", False),
])  # fmt: skip
def test_past_date_uses_engine_clock(today_is_2025_05_14, value, valid):
    assert ok(value, "past-date") is valid


def test_past_date_uses_berlin_day():
    # 23:30 UTC on 13 May is already 14 May in Berlin (CEST).
    with clock.using(clock.SettableClock(datetime.fromisoformat("2025-05-13T23:30:00+00:00"))):
        assert ok("2025-05-14", "past-date")


@pytest.mark.parametrize("value,valid", [
    ("33602", True), ("01067", True), ("3360", False), ("336021", False), ("3360a", False),
    (" 33602", False), ("３３６０２", False),
])  # fmt: skip
def test_postcode_de(value, valid):
    assert ok(value, "postcode-de") is valid


@pytest.mark.parametrize("value,valid", [
    ("a@b.de", True), ("first.last@stadt-bielefeld.de", True),
    ("a" * 64 + "@" + "b" * 186 + ".de", True),  # 254 characters
    ("a" * 64 + "@" + "b" * 187 + ".de", False),  # 255 characters
    ("ab.de", False), ("a@@b.de", False), ("a@b@c.de", False), ("a@localhost", False),
    ("@b.de", False), ("a@.de", False), ("a@b.", False), ("a b@c.de", False),
])  # fmt: skip
def test_email(value, valid):
    assert ok(value, "email") is valid


@pytest.mark.parametrize("value,valid", [
    ("+49 521 51-0", True), ("0521/512345", True), ("0521 (51) 23", True), ("123456", True),
    ("(0521) 51 23", False),  # V-07 as written: the first character is a digit (after "+")
    ("+4915112345678901234", True), ("12345", False), ("+491511234567890123456", False),
    ("0521 abc", False), ("++49521", False), ("-0521123", False), ("", False),
])  # fmt: skip
def test_phone(value, valid):
    assert ok(value, "phone") is valid


def test_nationality():
    assert len(ISO_3166_ALPHA3) == 249
    for code in ("SYR", "AFG", "UKR", "ERI", "DEU", "XXA", "XXX"):
        assert ok(code, "nationality"), code
    for code in ("syr", "SY", "Syrien", "ZZZ", "", "D"):
        assert not ok(code, "nationality"), code
    assert {"XXA", "XXX"} <= NATIONALITIES


def test_language_default_list_and_configured_list():
    for code in ("ar", "fa", "prs", "ps", "ti", "kmr", "ckb", "uk", "ru", "tr", "so", "de"):
        assert ok(code, "language"), code
    for code in ("arabic", "AR", "ar-SY", "", "xx"):
        assert not ok(code, "language"), code
    custom = make_format_checker(languages=["sq", "ro"])
    assert custom.conforms("sq", "language")
    assert not custom.conforms("ar", "language")


@pytest.mark.parametrize("value,valid", [
    (0, True), (0.0, True), ("0", True), ("12.50", True), (12.5, True), ("12.5", True),
    (1_000_000, True), ("1000000.00", True), (999999.99, True),
    (-1, False), ("-1", False), (1_000_000.01, False), ("1000000.01", False), (12.345, False),
    ("12.345", False), ("12,50", False), ("1e3", False), ("", False), (" 1", False),
    (float("nan"), False), (float("inf"), False), (True, False),
])  # fmt: skip
def test_eur(value, valid):
    assert ok(value, "eur") is valid


def test_office_code_checks_active_registry_codes(tmp_path: Path):
    shipped = OfficeRegistry.load()
    checker = make_format_checker(shipped)
    assert checker.conforms("JC", "office-code")
    assert not checker.conforms("XY", "office-code")
    assert not checker.conforms("jc", "office-code")

    text = OfficeRegistry.load().path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    marker = 'code = "JC"'
    start = text.index(marker)
    block_end = text.index("[[office]]", start)
    block = text[start:block_end].replace("active = true", "active = false")
    path = tmp_path / "offices.toml"
    path.write_text(text[:start] + block + text[block_end:], encoding="utf-8")
    inactive = make_format_checker(OfficeRegistry.load(path))
    assert not inactive.conforms("JC", "office-code")
    assert inactive.conforms("ABH", "office-code")


def test_office_code_without_registry_checks_syntax_only():
    assert ok("JC", "office-code")
    assert ok("ANY_CODE", "office-code")
    assert not ok("jc", "office-code")


def test_formats_in_a_form_schema_give_readable_messages(today_is_2025_05_14):
    schema = {
        "type": "object",
        "required": ["first_name", "birth_date"],
        "properties": {
            "first_name": {"type": "string", "format": "person-name"},
            "birth_date": {"type": "string", "format": "past-date"},
            "nationality": {"type": "string", "format": "nationality"},
            "rent_arrears": {"type": ["number", "string"], "format": "eur"},
        },
    }
    data = {
        "first_name": "<b>",
        "birth_date": "2030-01-01",
        "nationality": "Syrien",
        "rent_arrears": "12,50",
    }
    errors = validate_form(schema, data, format_checker=FORMAT_CHECKER)
    assert set(errors) == set(data)
    assert errors["birth_date"][0].startswith("Ungültiges Datum")
    english = validate_form(schema, data, format_checker=FORMAT_CHECKER, lang="en")
    assert english["rent_arrears"][0].startswith("Invalid amount")
    ok_data = {"first_name": "ተስፋይ", "birth_date": "1990-01-01", "rent_arrears": 1200}
    assert validate_form(schema, ok_data, format_checker=FORMAT_CHECKER) == {}
