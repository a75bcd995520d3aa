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


class DataProtectionConfigError(ValueError):
    """The data-protection file is inconsistent."""


@dataclass(frozen=True)
class Policy:
    categories: dict[str, dict[str, str]]
    fields: dict[str, str]
    purposes: dict[str, frozenset[str]]
    # keys whose object value is classified key by key ([containers] in the TOML file)
    containers: frozenset[str] = frozenset()

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
        if problems:
            raise DataProtectionConfigError(f"{path}: " + "; ".join(problems))
        return cls(cats, dict(fields), purposes, containers)

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

    def categories_in(self, data: dict[str, Any]) -> list[str]:
        """The categories the fields of ``data`` belong to (for read logging)."""
        return sorted({cat for _path, cat, _v in self.leaves(data)})

    def label(self, category: str, lang: str = "de") -> str:
        """The category's name in ``lang`` (German if missing)."""
        names = self.categories.get(category) or {}
        return names.get(lang) or names.get("de") or category
