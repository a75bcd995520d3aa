"""Which case data a viewer may see (pages and API alike).

Workers see the fields their offices' consent scope allows (processes.consent.case_access
and the field categories of processes/data_protection.toml); auditors see field names with
masked values; every other role sees no case data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from processes import consent
from processes.dataprotection import Policy
from web.accounts import Principal
from web.ctx import services

MASK = "•••"


@lru_cache(maxsize=1)
def policy() -> Policy:
    """The shipped data-protection policy (read once)."""
    return Policy.load()


@dataclass(frozen=True)
class Visible:
    data: dict
    masked: bool
    hidden: int  # fields left out because the consent scope does not cover them


def case_data(user: Principal, case_ref: str | None, data: dict) -> Visible:
    """``data`` cut down to what ``user`` may see of the case ``case_ref``."""
    data = {k: v for k, v in data.items() if isinstance(k, str) and not k.startswith("_")}
    if user.is_worker:
        if not case_ref:
            return Visible({}, False, len(data))
        svc = services()
        with svc.db.reader() as s:
            access = consent.case_access(s, policy(), case_ref, user.work_offices,
                                         svc.engine.now(),
                                         case_manager=user.has("case_manager"))
        shown = policy().cut(data, access.categories) if access.visible else {}
        return Visible(shown, False, len(data) - len(shown))
    if user.has("auditor"):
        return Visible({k: MASK for k in data}, True, 0)
    return Visible({}, False, len(data))
