"""Settings: ``LOTSE_*`` environment variables, read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.db import default_url


@dataclass(frozen=True)
class Settings:
    database_url: str
    env: str
    offices_file: Path | None
    secret_key: str | None

    @property
    def is_production(self) -> bool:
        return self.env not in ("development", "test")


def from_env(environ: dict | None = None) -> Settings:
    """Read the settings from the environment (once, by the caller at start-up)."""
    env = os.environ if environ is None else environ
    offices = env.get("LOTSE_OFFICES_FILE")
    return Settings(
        database_url=env.get("LOTSE_DATABASE_URL") or default_url(),
        env=env.get("LOTSE_ENV", "production"),
        offices_file=Path(offices) if offices else None,
        secret_key=env.get("LOTSE_SECRET_KEY"),
    )
