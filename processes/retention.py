"""Retention (brief 5.6): pseudonymise closed cases after the retention period.

Names become ``P-`` + 8 random hex characters (not derived from the name; one pseudonym
per distinct name within a case, no mapping kept), birth dates keep only the year,
contact data and free text are deleted, ids, codes and consent metadata stay. Audit
entries hold no personal values, so the hash chain is untouched and stays verifiable.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from engine.actor import SYSTEM, Actor
from engine.models import ProcessInstance
from processes.dataprotection import ENVELOPE, NEVER_SHARED, Policy

DEFAULT_MONTHS = 36
ENDED = ("completed", "cancelled")  # a pseudonymised instance is never due again
NAME_FIELDS = frozenset({"first_name", "last_name", "name_latin", "guardian_name", "name"})
YEAR_FIELDS = frozenset({"birth_date"})
DROP_CATEGORIES = frozenset({"CONTACT", NEVER_SHARED})


class Pseudonymiser:
    """Transforms case data as 5.6 demands; consistent within one case."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.names: dict[str, str] = {}

    def __call__(self, data: dict) -> dict:
        return self._dict(data)

    def _dict(self, data: dict) -> dict:
        out = {}
        for key, value in data.items():
            if key in ENVELOPE or key.endswith("_id"):
                out[key] = value
            elif key in NAME_FIELDS and isinstance(value, str):
                out[key] = self._pseudonym(value)
            elif key in YEAR_FIELDS and isinstance(value, str):
                out[key] = value[:4]
            elif isinstance(value, dict):
                out[key] = self._dict(value)
            elif isinstance(value, list):
                out[key] = [self._dict(v) if isinstance(v, dict) else v for v in value
                            if not isinstance(v, str) or self._keeps(key)]
            elif self._keeps(key):
                out[key] = value
        return out

    def _keeps(self, key: str) -> bool:
        # free text goes whatever its category (5.6; [free_text] in data_protection.toml)
        return (key not in self.policy.free_text
                and self.policy.category_of(key) not in DROP_CATEGORIES)

    def _pseudonym(self, name: str) -> str:
        if name not in self.names:
            self.names[name] = "P-" + secrets.token_hex(4)
        return self.names[name]


def closed_cases_due(engine, *, months: int = DEFAULT_MONTHS) -> list[str]:
    """Case references whose instances all ended more than ``months`` ago."""
    cutoff = engine.now() - timedelta(days=round(months * 30.44))
    with engine.db.reader() as s:
        rows = s.execute(
            select(ProcessInstance.case_ref,
                   func.max(ProcessInstance.completed_at),
                   func.sum(case((ProcessInstance.status.in_(ENDED), 0), else_=1)),
                   func.count())
            .where(ProcessInstance.case_ref.is_not(None))
            .group_by(ProcessInstance.case_ref)).all()
    return sorted(ref for ref, closed, still_open, _n in rows
                  if not still_open and closed is not None and closed < cutoff)


def pseudonymise_case(engine, case_ref: str, *, policy: Policy | None = None,
                      actor: Actor = SYSTEM) -> list[int]:
    """Pseudonymise every instance of a case; returns the instance ids."""
    policy = policy or Policy.load()
    transform = Pseudonymiser(policy)
    with engine.db.reader() as s:
        ids = list(s.scalars(select(ProcessInstance.id)
                             .where(ProcessInstance.case_ref == case_ref)
                             .order_by(ProcessInstance.id)))
    for iid in ids:
        engine.rewrite_data(iid, transform, actor=actor, event_type="case.pseudonymised",
                            details={"case_id": case_ref}, status="pseudonymised")
    return ids


def run_retention(engine, *, months: int = DEFAULT_MONTHS, now: datetime | None = None) -> dict:
    """Pseudonymise every closed case past its retention period."""
    done = {}
    for ref in closed_cases_due(engine, months=months):
        done[ref] = pseudonymise_case(engine, ref)
    return {"pseudonymised": done, "months": months}
