"""The office registry: offices, their SLAs and referral purposes, read from a TOML file."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("offices.toml")
CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,15}")
PURPOSE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,15}:[A-Z][A-Z0-9_]{0,63}")

# key -> accepted Python type, in the order the dataclass declares them
_FIELDS: dict[str, type] = {
    "code": str,
    "name_de": str,
    "name_en": str,
    "legal_domain": str,
    "external": bool,
    "active": bool,
    "sla_ack_days": int,
    "sla_result_days": int,
    "purposes": list,
}
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "a whole number", list: "a list"}
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212"})


class OfficeConfigError(ValueError):
    """The office configuration file is unreadable or invalid; ``problems`` lists each finding."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class UnknownOffice(LookupError):
    """No office with this code is configured."""

    def __init__(self, code: object, known: list[str] | None = None) -> None:
        self.code = code
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"unknown office code {code!r}{hint}")


@dataclass(frozen=True)
class Office:
    """One office (Stelle) that takes part in referrals."""

    code: str
    name_de: str
    name_en: str
    legal_domain: str
    external: bool
    active: bool
    sla_ack_days: int
    sla_result_days: int
    purposes: tuple[str, ...]


def _name_key(name: str) -> str:
    """Comparison key for office names: NFKC, casefolded, one space, one kind of dash."""
    text = unicodedata.normalize("NFKC", name).translate(_DASHES).casefold()
    return " ".join(text.split())


class OfficeRegistry:
    """The configured offices, looked up by code or by lane name."""

    def __init__(self, offices: list[Office], path: Path | None = None) -> None:
        self.path = path
        self._offices = {o.code: o for o in sorted(offices, key=lambda o: o.code)}
        self._by_name: dict[str, str] = {}
        for office in self._offices.values():
            self._by_name.setdefault(_name_key(office.name_en), office.code)
        for office in self._offices.values():  # German names win over English ones
            self._by_name[_name_key(office.name_de)] = office.code

    @classmethod
    def load(cls, path: Path | None = None) -> OfficeRegistry:
        """Read and validate an office file (default: the shipped ``offices.toml``)."""
        path = Path(path) if path is not None else DEFAULT_PATH
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise OfficeConfigError(path, [f"cannot read file: {exc.strerror or exc}"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise OfficeConfigError(path, [f"not valid TOML: {exc}"]) from exc
        except UnicodeDecodeError as exc:
            raise OfficeConfigError(path, [f"not UTF-8 text: {exc}"]) from exc
        return cls(_parse(raw, path), path)

    def get(self, code: str) -> Office:
        """Return the office with ``code``; raise ``UnknownOffice`` if there is none."""
        try:
            return self._offices[code]
        except (KeyError, TypeError):
            raise UnknownOffice(code, self.codes()) from None

    def __contains__(self, code: object) -> bool:
        """Whether an office with this code is configured (active or not)."""
        return isinstance(code, str) and code in self._offices

    def __iter__(self) -> Iterator[Office]:
        """All offices, sorted by code."""
        return iter(self._offices.values())

    def __len__(self) -> int:
        """Number of configured offices."""
        return len(self._offices)

    def codes(self) -> list[str]:
        """All office codes, sorted."""
        return list(self._offices)

    def active_codes(self) -> list[str]:
        """Codes of active offices, sorted."""
        return [o.code for o in self._offices.values() if o.active]

    def resolve_lane(self, lane_name: str | None, office_property: str | None = None) -> str | None:
        """Map a BPMN lane to an office code (property, then code, then name), or None.

        Inactive offices resolve too; whether a lane may use them is the caller's decision.
        """
        explicit = (office_property or "").strip()
        if explicit:
            # An explicit but unknown office is a modelling error; never guess from the name.
            return explicit if explicit in self._offices else None
        name = (lane_name or "").strip()
        if not name:
            return None
        if name in self._offices:
            return name
        return self._by_name.get(_name_key(name))


def _parse(raw: dict[str, Any], path: Path) -> list[Office]:
    """Turn the decoded TOML document into offices, collecting every problem found."""
    problems: list[str] = []
    extra = sorted(set(raw) - {"office"})
    if extra:
        problems.append(f"unknown top-level key(s) {', '.join(extra)}; expected [[office]] tables")
    tables = raw.get("office")
    if not isinstance(tables, list) or not tables:
        problems.append("no offices defined; add at least one [[office]] table")
        raise OfficeConfigError(path, problems)
    offices: list[Office] = []
    for index, table in enumerate(tables, start=1):
        office = _parse_office(index, table, problems)
        if office is not None:
            offices.append(office)
    _check_unique(offices, problems)
    if problems:
        raise OfficeConfigError(path, problems)
    return offices


def _parse_office(index: int, table: Any, problems: list[str]) -> Office | None:
    """Validate one [[office]] table; append problems and return None when it is invalid."""
    if not isinstance(table, dict):
        problems.append(f"office #{index}: expected a table")
        return None
    label = f"office #{index}"
    if isinstance(table.get("code"), str):
        label = f"office #{index} ({table['code']})"
    before = len(problems)
    for key in sorted(set(table) - set(_FIELDS)):
        problems.append(f"{label}: unknown key {key!r} (allowed: {', '.join(_FIELDS)})")
    for key, kind in _FIELDS.items():
        if key not in table:
            problems.append(f"{label}: missing key {key!r}")
            continue
        value = table[key]
        # bool is a subclass of int; an SLA of `true` is a typo, not 1 day.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"{label}: key {key!r} must be {_TYPE_NAMES[kind]}, got {value!r}")
            continue
        problems.extend(f"{label}: {p}" for p in _check_value(key, value))
    if len(problems) > before:
        return None
    return Office(**{**table, "purposes": tuple(table["purposes"])})


def _check_value(key: str, value: Any) -> list[str]:
    """Problems with the value of one well-typed key."""
    if key == "code" and not CODE_RE.fullmatch(value):
        return [f"code {value!r} must match ^[A-Z][A-Z0-9_]{{1,15}}$ (e.g. 'JC', 'KI_SEB')"]
    if key in ("name_de", "name_en", "legal_domain") and not value.strip():
        return [f"key {key!r} must not be empty"]
    if key in ("sla_ack_days", "sla_result_days") and not 1 <= value <= 3650:
        return [f"key {key!r} must be between 1 and 3650 days, got {value}"]
    if key == "purposes":
        found = []
        for purpose in value:
            if not isinstance(purpose, str) or not PURPOSE_RE.fullmatch(purpose):
                found.append(
                    f"purpose {purpose!r} must have the form OFFICE:PURPOSE (e.g. 'JC:SGB2')"
                )
        dupes = sorted({p for p in value if isinstance(p, str) and value.count(p) > 1})
        found.extend(f"purpose {p!r} listed twice" for p in dupes)
        return found
    return []


def _check_unique(offices: list[Office], problems: list[str]) -> None:
    """Codes, names and purposes must each identify exactly one office."""
    seen_code: dict[str, int] = {}
    seen_name: dict[str, str] = {}
    seen_purpose: dict[str, str] = {}
    for office in offices:
        seen_code[office.code] = seen_code.get(office.code, 0) + 1
        if seen_code[office.code] == 2:
            problems.append(f"duplicate office code {office.code!r}")
            continue
        names = {_name_key(office.name_de), _name_key(office.name_en)}
        for key in sorted(names):
            other = seen_name.setdefault(key, office.code)
            if other != office.code:
                problems.append(f"office {office.code!r}: name {key!r} is also used by {other!r}")
        for purpose in office.purposes:
            other = seen_purpose.setdefault(purpose, office.code)
            if other != office.code:
                problems.append(
                    f"office {office.code!r}: purpose {purpose!r} also belongs to {other!r}"
                )
