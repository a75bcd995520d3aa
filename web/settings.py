"""Settings: ``LOTSE_*`` environment variables, read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.db import Timeouts, default_url
from engine.sandbox import Budget

DEV_ENVS = ("development", "test")


class SettingsError(ValueError):
    """A LOTSE_* variable has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    env: str
    offices_file: Path | None
    secret_key: str | None
    # Cookies only over HTTPS. Defaults to on outside development/test.
    secure_cookies: bool | None = None
    idle_timeout_minutes: int = 30
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # Failed logins from one address (all names) within the window before the address as a
    # whole waits (against password spraying; a municipal NAT has many users).
    login_address_max_failures: int = 200
    # Days a bearer token is valid after it was issued (expired: 401).
    token_days: int = 90
    # Hours a browser session lives at most, however active (besides the idle timeout).
    session_max_hours: int = 12
    instance_dir: Path = Path("instance")
    # Trust X-Forwarded-For from this many proxies (0: use the socket address).
    proxy_count: int = 0
    # /metrics: bearer token (>= 16 chars); unset means loopback only (web/ops.py).
    metrics_token: str | None = None
    # /readyz: at least this many deployed process definitions (0: do not check).
    ready_min_definitions: int = 1
    # Largest accepted upload of a file form field (V-14), bytes.
    max_upload_bytes: int = 10 * 1024 * 1024
    # Most BPMN elements (with an id: tasks, events, gateways, flows, lanes ...) a model may
    # have for the designer's requests (import, lint, save, deploy, view): 413 beyond, before
    # any check runs. ``lotse lint`` / ``lotse import-check`` have no limit.
    max_model_elements: int = 5000
    # Seconds between checks whether another process deployed a process definition
    # (web/queries.DefinitionsCache; 0: check on every request).
    definitions_cache_seconds: int = 5
    # Seconds a resolved session / bearer token answers from this process's memory; bounds
    # how late a revocation made by another process takes effect here (web/auth.py).
    auth_cache_seconds: int = 5
    # What one step's scripts and expressions may spend (engine/sandbox.py Budget): seconds of
    # wall clock and MB of resident-memory growth (0: memory unchecked).
    script_timeout_seconds: int = 5
    script_memory_mb: int = 256
    # Database waits, at most (engine/db.py Timeouts; 0 switches one off). PostgreSQL: a row
    # lock (then 503 INSTANCE_BUSY), one statement, a transaction left idle, connecting.
    # SQLite: another writer.
    db_lock_timeout_ms: int = 5000
    db_statement_timeout_ms: int = 30000
    db_idle_tx_timeout_ms: int = 60000
    db_connect_timeout_seconds: int = 5
    db_busy_timeout_ms: int = 30000

    @property
    def db_timeouts(self) -> Timeouts:
        return Timeouts(lock_ms=self.db_lock_timeout_ms, statement_ms=self.db_statement_timeout_ms,
                        idle_tx_ms=self.db_idle_tx_timeout_ms,
                        connect_seconds=self.db_connect_timeout_seconds,
                        busy_ms=self.db_busy_timeout_ms)

    @property
    def script_budget(self) -> Budget:
        return Budget(float(self.script_timeout_seconds), self.script_memory_mb)

    @property
    def is_production(self) -> bool:
        return self.env not in DEV_ENVS

    @property
    def cookies_secure(self) -> bool:
        return self.is_production if self.secure_cookies is None else self.secure_cookies


def _int(env, key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{key} must be between {low} and {high}, got {value}")
    return value


def _bool(env, key: str) -> bool | None:
    raw = env.get(key)
    if raw in (None, ""):
        return None
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key} must be true or false, got {raw!r}")


def from_env(environ: dict | None = None) -> Settings:
    """Read the settings from the environment (once, by the caller at start-up)."""
    env = os.environ if environ is None else environ
    offices = env.get("LOTSE_OFFICES_FILE")
    return Settings(
        database_url=env.get("LOTSE_DATABASE_URL") or default_url(),
        env=env.get("LOTSE_ENV", "production"),
        offices_file=Path(offices) if offices else None,
        secret_key=env.get("LOTSE_SECRET_KEY") or None,
        secure_cookies=_bool(env, "LOTSE_SECURE_COOKIES"),
        idle_timeout_minutes=_int(env, "LOTSE_IDLE_TIMEOUT_MINUTES", 30, 1, 24 * 60),
        login_max_failures=_int(env, "LOTSE_LOGIN_MAX_FAILURES", 5, 1, 1000),
        login_window_minutes=_int(env, "LOTSE_LOGIN_WINDOW_MINUTES", 15, 1, 24 * 60),
        login_address_max_failures=_int(env, "LOTSE_LOGIN_ADDRESS_MAX_FAILURES", 200, 1,
                                        1_000_000),
        token_days=_int(env, "LOTSE_TOKEN_DAYS", 90, 1, 3650),
        session_max_hours=_int(env, "LOTSE_SESSION_MAX_HOURS", 12, 1, 24 * 30),
        instance_dir=Path(env.get("LOTSE_INSTANCE_DIR") or "instance"),
        proxy_count=_int(env, "LOTSE_PROXY_COUNT", 0, 0, 5),
        metrics_token=_metrics_token(env),
        ready_min_definitions=_int(env, "LOTSE_READY_MIN_DEFINITIONS", 1, 0, 100_000),
        max_model_elements=_int(env, "LOTSE_MAX_MODEL_ELEMENTS", 5000, 10, 10_000_000),
        max_upload_bytes=_int(env, "LOTSE_MAX_UPLOAD_BYTES", 10 * 1024 * 1024, 1024,
                              100 * 1024 * 1024),
        definitions_cache_seconds=_int(env, "LOTSE_DEFINITIONS_CACHE_SECONDS", 5, 0, 300),
        auth_cache_seconds=_int(env, "LOTSE_AUTH_CACHE_SECONDS", 5, 0, 60),
        script_timeout_seconds=_int(env, "LOTSE_SCRIPT_TIMEOUT_SECONDS", 5, 1, 300),
        script_memory_mb=_int(env, "LOTSE_SCRIPT_MEMORY_MB", 256, 0, 16 * 1024),
        db_lock_timeout_ms=_int(env, "LOTSE_DB_LOCK_TIMEOUT_MS", 5000, 0, 600_000),
        db_statement_timeout_ms=_int(env, "LOTSE_DB_STATEMENT_TIMEOUT_MS", 30000, 0,
                                     3_600_000),
        db_idle_tx_timeout_ms=_int(env, "LOTSE_DB_IDLE_TX_TIMEOUT_MS", 60000, 0, 3_600_000),
        db_connect_timeout_seconds=_int(env, "LOTSE_DB_CONNECT_TIMEOUT_SECONDS", 5, 0, 300),
        db_busy_timeout_ms=_int(env, "LOTSE_DB_BUSY_TIMEOUT_MS", 30000, 0, 600_000),
    )


def _metrics_token(env) -> str | None:
    raw = (env.get("LOTSE_METRICS_TOKEN") or "").strip()
    if not raw:
        return None
    if len(raw) < 16:
        raise SettingsError("LOTSE_METRICS_TOKEN must be at least 16 characters long")
    return raw
