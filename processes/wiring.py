"""Builds an Engine configured with the KIM domain: offices, helpers, form formats."""

from __future__ import annotations

from pathlib import Path

from engine.clock import Clock
from engine.db import Database
from engine.runtime import Engine
from engine.sandbox import Budget
from processes import consent, dates, referrals
from processes import helpers as catalogue_helpers
from processes.dataprotection import Policy
from processes.kim_rules import kim_rules
from processes.offices import OfficeRegistry
from processes.validators import make_format_checker


def script_helpers(registry: OfficeRegistry | None = None) -> dict:
    """Every function BPMN scripts and expressions may call (deny by default)."""
    helpers = dict(dates.HELPERS)
    helpers.update(catalogue_helpers.make_helpers(registry))
    if registry is not None:
        helpers.update(referrals.make_helpers(registry))
    return helpers


def lint_rules(registry: OfficeRegistry | None = None) -> tuple:
    """The rule sets ``lotse lint`` runs besides the engine's own (the KIM rule set); the
    engine built by ``build_engine`` runs the same ones at deploy."""
    return kim_rules(registry)


def build_engine(
    db: Database,
    *,
    offices_file: Path | None = None,
    clock: Clock | None = None,
    movable_clock: bool = False,
    script_budget: Budget | None = None,
) -> tuple[Engine, OfficeRegistry]:
    """An Engine wired to the office registry, the script helpers and the KIM field formats.

    ``movable_clock`` (development and test only) uses the clock offset stored in the
    database, which ``lotse clock set/advance`` moves for every process at once.
    """
    registry = OfficeRegistry.load(offices_file)
    if clock is None and movable_clock:
        from engine.stored_clock import StoredOffsetClock

        clock = StoredOffsetClock(db)
    engine = Engine(
        db,
        resolve_lane=registry.resolve_lane,
        helpers=script_helpers(registry),
        format_checker=make_format_checker(registry),
        clock=clock,
        script_budget=script_budget,
        # the catalogue's consistency rules: every lint and deploy of this engine runs them
        lint_rules=lint_rules(registry),
        # order matters: consents announced in the same step are registered first, then the
        # gate refuses or cuts a referral's payload, then the referral record is written
        message_listeners=[catalogue_helpers.consent_recorder,
                           consent.ConsentGate(Policy.load()),
                           referrals.ReferralListener(registry)],
    )
    return engine, registry
