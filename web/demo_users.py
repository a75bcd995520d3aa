"""Demo accounts for ``lotse demo seed`` (idempotent)."""

from __future__ import annotations

from engine.db import Database
from web import accounts

DEMO_PASSWORD = "lotse-demo"
DEMO_USERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("cm.demo", ("case_manager",), ("KIM_CM",)),
    # KIM coordination: records and allocates inquiries, the first tasks of the intake (P1)
    ("ko.demo", ("caseworker",), ("KIM_KO",)),
    ("lead.ko", ("team_lead",), ("KIM_KO",)),  # allocation and first-contact reminders
    ("abh.demo", ("caseworker",), ("ABH",)),
    ("jc.demo", ("caseworker",), ("JC",)),
    ("lead.jc", ("team_lead",), ("JC",)),
    ("designer.demo", ("process_designer",), ()),
    ("auditor.demo", ("auditor",), ()),
    ("dpo.demo", ("dpo",), ()),
    ("admin.demo", ("admin",), ()),
)


def seed_users(db: Database, *, env: str, known_offices=None) -> dict:
    """Create the demo accounts that do not exist yet. Only in development/test, where
    they get the password "lotse-demo"; anywhere else this refuses."""
    if env not in ("development", "test"):
        raise accounts.InvalidInput("demo accounts exist only with LOTSE_ENV=development or test")
    created = []
    pw_hash = accounts.hash_password(DEMO_PASSWORD)  # once: argon2 is slow on purpose
    for name, roles, offices in DEMO_USERS:
        try:
            accounts.create_user(db, name, roles=roles, offices=offices, password_hash=pw_hash,
                                 known_offices=known_offices)
        except accounts.UserExists:
            continue
        created.append(name)
    return {"created": created, "password": DEMO_PASSWORD,
            "users": [{"name": n, "roles": list(r), "offices": list(o)}
                      for n, r, o in DEMO_USERS]}
