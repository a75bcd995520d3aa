"""The office registry: the shipped file, lane resolution and configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from processes.offices import (
    DEFAULT_PATH,
    Office,
    OfficeConfigError,
    OfficeRegistry,
    UnknownOffice,
)

REQUIRED = {
    "KIM_CM", "KIM_KO", "ABH", "JC", "AA", "JA", "SOZ", "WOHN", "KI_SEB", "SCHUL", "GA", "FK",
    "ANERK", "MBE", "JMD",
}  # fmt: skip

GOOD = """
[[office]]
code = "JC"
name_de = "Jobcenter"
name_en = "Job centre"
legal_domain = "SGB II"
external = false
active = true
sla_ack_days = 5
sla_result_days = 21
purposes = ["JC:SGB2"]
"""


@pytest.fixture(scope="module")
def registry() -> OfficeRegistry:
    return OfficeRegistry.load()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "offices.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(OfficeConfigError) as info:
        OfficeRegistry.load(write(tmp_path, text))
    message = str(info.value)
    assert str(tmp_path / "offices.toml") in message  # every error names the file
    return message


def test_shipped_file_loads_with_the_brief_offices(registry):
    assert REQUIRED <= set(registry.codes())
    assert {"SCHULE", "MELDE", "ORD", "FWT", "BAMF", "IKT"} <= set(registry.codes())
    assert registry.path == DEFAULT_PATH
    assert DEFAULT_PATH.name == "offices.toml" and DEFAULT_PATH.parent.name == "processes"


def test_office_values_and_sla_defaults(registry):
    jc = registry.get("JC")
    assert jc == Office(
        code="JC",
        name_de="Jobcenter",
        name_en="Job centre",
        legal_domain="SGB II",
        external=False,
        active=True,
        sla_ack_days=5,
        sla_result_days=21,
        purposes=("JC:SGB2",),
    )
    results = {o.code: o.sla_result_days for o in registry}
    assert results["ABH"] == 28 and results["FK"] == 42 and results["ANERK"] == 90
    assert results["WOHN"] == 7 and results["AA"] == 14
    assert all(o.sla_ack_days == 5 for o in registry)
    assert registry.get("BAMF").external and registry.get("FK").external
    assert "KIM_CM:CASE_MANAGEMENT" in registry.get("KIM_CM").purposes


def test_office_is_frozen(registry):
    with pytest.raises(AttributeError):
        registry.get("JC").active = False  # type: ignore[misc]


def test_iteration_is_sorted_and_membership(registry):
    codes = [o.code for o in registry]
    assert codes == sorted(codes) == registry.codes()
    assert "JC" in registry and "XY" not in registry and 5 not in registry
    assert len(registry) == len(codes)
    assert registry.active_codes() == codes  # everything active in the shipped file


def test_unknown_office_is_a_lookup_error_with_a_clear_message(registry):
    with pytest.raises(UnknownOffice, match="unknown office code 'XY'") as info:
        registry.get("XY")
    assert isinstance(info.value, LookupError) and not isinstance(info.value, KeyError)
    assert info.value.code == "XY"


@pytest.mark.parametrize(
    "lane,prop,expected",
    [
        ("Irgendwas", "JC", "JC"),  # (1) the property wins
        ("Ausländerbehörde", "JC", "JC"),  # ... even over a matching name
        ("JC", None, "JC"),  # (2) code
        ("  KI_SEB ", None, "KI_SEB"),
        ("Jobcenter", None, "JC"),  # (3) German name
        ("jobcenter", None, "JC"),
        ("AUSLÄNDERBEHÖRDE", None, "ABH"),
        ("  agentur   für\tarbeit ", None, "AA"),
        ("Kommunales Integrationszentrum - Seiteneinsteigerberatung", None, "KI_SEB"),
        ("job centre", None, "JC"),  # English name
        ("Foreigners' Authority", None, "ABH"),
        ("Landratsamt", None, None),
        ("jc", None, None),  # codes are exact
        ("", None, None),
        (None, None, None),
        (None, "  GA ", "GA"),
        ("Jobcenter", "JCC", None),  # an explicit unknown office is never guessed away
        ("Jobcenter", "  ", "JC"),  # a blank property counts as absent
    ],
)
def test_resolve_lane(registry, lane, prop, expected):
    assert registry.resolve_lane(lane, prop) == expected


def test_minimal_file_loads(tmp_path):
    registry = OfficeRegistry.load(write(tmp_path, GOOD))
    assert registry.codes() == ["JC"]
    assert registry.get("JC").purposes == ("JC:SGB2",)


def test_missing_file(tmp_path):
    with pytest.raises(OfficeConfigError, match="cannot read file"):
        OfficeRegistry.load(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path):
    assert "not valid TOML" in load_error(tmp_path, "[[office]\ncode = ")


def test_no_offices(tmp_path):
    assert "no offices defined" in load_error(tmp_path, "# empty\n")


def test_duplicate_codes(tmp_path):
    text = GOOD + GOOD.replace('"Jobcenter"', '"Jobcenter Nord"').replace("Job centre", "JC N")
    assert "duplicate office code 'JC'" in load_error(tmp_path, text)


def test_duplicate_names_and_purposes(tmp_path):
    other = GOOD.replace('code = "JC"', 'code = "JC2"').replace("Job centre", "Job centre 2")
    message = load_error(tmp_path, GOOD + other)
    assert "name 'jobcenter' is also used by 'JC'" in message
    assert "purpose 'JC:SGB2' also belongs to 'JC'" in message


def test_missing_key(tmp_path):
    message = load_error(tmp_path, GOOD.replace("sla_ack_days = 5\n", ""))
    assert "office #1 (JC): missing key 'sla_ack_days'" in message


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("external = false", 'external = "no"', "key 'external' must be true or false"),
        ("sla_ack_days = 5", 'sla_ack_days = "P5D"', "key 'sla_ack_days' must be a whole number"),
        ("sla_ack_days = 5", "sla_ack_days = true", "key 'sla_ack_days' must be a whole number"),
        ("sla_ack_days = 5", "sla_ack_days = 0", "between 1 and 3650"),
        ('purposes = ["JC:SGB2"]', 'purposes = "JC:SGB2"', "key 'purposes' must be a list"),
        ('name_de = "Jobcenter"', "name_de = 3", "key 'name_de' must be a string"),
        ('name_de = "Jobcenter"', 'name_de = "  "', "key 'name_de' must not be empty"),
    ],
)
def test_wrong_types(tmp_path, old, new, expected):
    message = load_error(tmp_path, GOOD.replace(old, new))
    assert "office #1 (JC)" in message and expected in message


@pytest.mark.parametrize("code", ["jc", "J", "1JC", "JC-NORD", "ABCDEFGHIJKLMNOPQ", "JÖ"])
def test_bad_code(tmp_path, code):
    message = load_error(tmp_path, GOOD.replace('code = "JC"', f'code = "{code}"'))
    assert f"code {code!r} must match" in message


@pytest.mark.parametrize("purpose", ["SGB2", "jc:sgb2", "JC:", ":SGB2", "JC:SGB2:X", 7])
def test_bad_purpose(tmp_path, purpose):
    value = f'"{purpose}"' if isinstance(purpose, str) else str(purpose)
    message = load_error(tmp_path, GOOD.replace('["JC:SGB2"]', f"[{value}]"))
    assert "must have the form OFFICE:PURPOSE" in message


def test_purpose_listed_twice(tmp_path):
    message = load_error(tmp_path, GOOD.replace('["JC:SGB2"]', '["JC:SGB2", "JC:SGB2"]'))
    assert "purpose 'JC:SGB2' listed twice" in message


def test_unknown_keys(tmp_path):
    message = load_error(tmp_path, GOOD.replace("active = true", "active = true\nemail = 'x'"))
    assert "office #1 (JC): unknown key 'email'" in message
    message = load_error(tmp_path, "version = 2\n" + GOOD)
    assert "unknown top-level key(s) version" in message


def test_all_problems_are_reported_together(tmp_path):
    text = GOOD.replace("sla_ack_days = 5\n", "").replace('code = "JC"', 'code = "jc"')
    with pytest.raises(OfficeConfigError) as info:
        OfficeRegistry.load(write(tmp_path, text))
    assert len(info.value.problems) == 2
    assert isinstance(info.value, ValueError)
