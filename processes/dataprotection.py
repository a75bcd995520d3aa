"""Data categories, field categories and the purpose matrix (brief 5.2/5.3), from
``processes/data_protection.toml``; and the filter that cuts data down to categories."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("data_protection.toml")
NEVER_SHARED = "CM_NOTES"
SPECIAL = "HEALTH"
# Envelope keys of a referral payload (brief 4.0): ids and routing, no personal values.
ENVELOPE = frozenset({"referral_id", "case_id", "office", "purpose", "consent_id",
                      "consent_valid_until", "requested_service", "urgency", "due_ack",
                      "due_result", "legal_deadline", "message_uuid", "in_reply_to"})
REFERRAL_VIEWERS = frozenset({"case_manager", "referral_office"})


class DataProtectionConfigError(ValueError):
    """The data-protection file is inconsistent."""


@dataclass(frozen=True)
class Policy:
    categories: dict[str, dict[str, str]]
    fields: dict[str, str]
    purposes: dict[str, frozenset[str]]
    # keys whose object value is classified key by key ([containers] in the TOML file)
    containers: frozenset[str] = frozenset()
    # the category of referral process data and who sees it without a consent category
    # ([referral_data]: "case_manager", "referral_office")
    referral_category: str | None = None
    referral_seen_by: frozenset[str] = frozenset()
    # free-text fields pseudonymisation deletes whatever their category ([free_text])
    free_text: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """Read and check the TOML file."""
        path = path or DEFAULT_PATH
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        cats = raw.get("categories") or {}
        fields = raw.get("fields") or {}
        purposes = {k: frozenset(v) for k, v in (raw.get("purposes") or {}).items()}
        problems = [f"field {f}: unknown category {c}" for f, c in fields.items() if c not in cats]
        problems += [f"purpose {p}: unknown category {c}" for p, cs in purposes.items()
                     for c in cs if c not in cats]
        containers = frozenset((raw.get("containers") or {}).get("keys") or ())
        problems += [f"container {k}: also declared as a field or an envelope key"
                     for k in sorted(containers) if k in fields or k in ENVELOPE]
        ref = raw.get("referral_data") or {}
        ref_cat = ref.get("category")
        seen_by = frozenset(ref.get("seen_by") or ())
        if ref_cat is not None and ref_cat not in cats:
            problems.append(f"referral_data: unknown category {ref_cat}")
        problems += [f"referral_data: unknown viewer {v} (case_manager, referral_office)"
                     for v in sorted(seen_by - REFERRAL_VIEWERS)]
        problems += [f"purpose {p}: lists the referral data category {ref_cat}, which needs "
                     "no consent" for p, cs in purposes.items() if ref_cat and ref_cat in cs]
        free_text = frozenset((raw.get("free_text") or {}).get("fields") or ())
        problems += [f"free_text {f}: not declared under [fields]" for f in sorted(free_text)
                     if f not in fields]
        if problems:
            raise DataProtectionConfigError(f"{path}: " + "; ".join(problems))
        return cls(cats, dict(fields), purposes, containers, ref_cat, seen_by, free_text)

    def referral_data_for(self, viewer: str) -> frozenset[str]:
        """The referral data category for ``viewer`` ("case_manager" or "referral_office"),
        if [referral_data] lets that viewer see it: nothing otherwise."""
        if self.referral_category and viewer in self.referral_seen_by:
            return frozenset({self.referral_category})
        return frozenset()

    def category_of(self, field: str) -> str:
        """A field's category; unknown fields are never shared."""
        return self.fields.get(field, NEVER_SHARED)

    def receivable(self, office: str, purpose: str, consented: set[str],
                   includes_health: bool) -> frozenset[str]:
        """Categories an office may receive for a purpose under a consent (DP-03/05/08)."""
        allowed = set(consented) & set(self.purposes.get(purpose, frozenset()))
        allowed.discard(NEVER_SHARED)
        if not includes_health or office == "ABH":
            allowed.discard(SPECIAL)
        return frozenset(allowed)

    def is_container(self, key: str, value: Any) -> bool:
        """Whether ``value`` under ``key`` is a container: its keys are classified one by one."""
        return key in self.containers and isinstance(value, dict)

    def cut(self, data: dict[str, Any], categories: frozenset[str] | set[str]) -> dict[str, Any]:
        """Keep only fields of the given categories (and envelope keys), inside containers
        too; a container left with nothing is dropped."""
        out: dict[str, Any] = {}
        for k, v in data.items():
            if k in ENVELOPE:
                out[k] = v
            elif self.is_container(k, v):
                inner = self.cut(v, categories)
                if inner:
                    out[k] = inner
            elif self.category_of(k) in categories:
                out[k] = v
        return out

    def leaves(self, data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
        """(path, category, value) of every case-data field of ``data``: containers are
        opened (path ``shared_data.first_name``), envelope keys are no case data."""
        for k, v in data.items():
            if not isinstance(k, str) or k in ENVELOPE:
                continue
            if self.is_container(k, v):
                yield from self.leaves(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", self.category_of(k), v

    def values_of(self, data: dict[str, Any], prefix: str = "",
                  inherited: str | None = None) -> Iterator[tuple[str, str, Any]]:
        """(path, category, value) of every single value of ``data``, nested records
        opened: a container's keys are classified by their own names (as ``leaves``), the
        fields of any other record (a list or object: ``children``, ``goals``, a stored
        referral) keep the category of the key that holds it, at any depth. Paths read
        ``shared_data.first_name``, ``children[0].birth_date``; a list of plain values
        (``documents_missing``) is one value; envelope keys are no case data (inside a
        record they are its fields: a goal's ``office``)."""
        for k, v in data.items():
            if not isinstance(k, str) or (inherited is None and k in ENVELOPE):
                continue
            if inherited is None and self.is_container(k, v):
                yield from self.values_of(v, f"{prefix}{k}.")
                continue
            cat = inherited or self.category_of(k)
            yield from self._values(v, f"{prefix}{k}", cat)

    def _values(self, value: Any, path: str, cat: str) -> Iterator[tuple[str, str, Any]]:
        if isinstance(value, dict) and value:
            yield from self.values_of(value, f"{path}.", cat)
        elif isinstance(value, list) and any(isinstance(x, dict | list) for x in value):
            for i, item in enumerate(value):
                yield from self._values(item, f"{path}[{i}]", cat)
        else:
            yield path, cat, value

    def categories_in(self, data: dict[str, Any]) -> list[str]:
        """The categories the fields of ``data`` belong to (for read logging)."""
        return sorted({cat for _path, cat, _v in self.leaves(data)})

    def label(self, category: str, lang: str = "de") -> str:
        """The category's name in ``lang`` (German if missing)."""
        names = self.categories.get(category) or {}
        return names.get(lang) or names.get("de") or category
