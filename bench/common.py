"""Shared pieces: backends, fresh databases, statistics, the SQL counter, figures."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from engine.db import Database
from engine.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"


# ---------------------------------------------------------------- backends
@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" | "postgresql"
    url: str

    @property
    def label(self) -> str:
        return "SQLite" if self.name == "sqlite" else "PostgreSQL"


def sqlite_backend(workdir: Path) -> Backend:
    return Backend("sqlite", f"sqlite:///{workdir / 'bench.db'}")


def fresh_database(backend: Backend) -> Database:
    """An empty, migrated database of ``backend`` (drops whatever the last workload left)."""
    if backend.name == "sqlite":
        path = Path(Database(backend.url).url.database)
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(path) + suffix)
            if p.exists():
                p.unlink()
        db = Database(backend.url)
    else:
        db = Database(backend.url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(db)
    db.dispose()
    return Database(backend.url)


def pg_reachable(url: str) -> str | None:
    """None when the PostgreSQL at ``url`` answers, else why not."""
    try:
        db = Database(url)
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - reported in the report
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"


# ---------------------------------------------------------------- statistics
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-interpolated percentile (q in 0..100)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


# ---------------------------------------------------------------- SQL counter
_TABLE_RE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)\"?", re.IGNORECASE)


@dataclass
class SqlCounter:
    """Counts statements (before_cursor_execute) and commits (commit event) on one engine."""

    statements: int = 0
    commits: int = 0
    rollbacks: int = 0
    begins: int = 0  # explicit BEGIN (SQLite), not counted as statements
    checkouts: int = 0  # pool checkouts: each is a pre-ping round trip when pool_pre_ping
    log: list[tuple[str, Any]] = field(default_factory=list)
    keep_log: bool = False

    def reset(self) -> None:
        self.statements = self.commits = self.rollbacks = self.checkouts = self.begins = 0
        self.log.clear()

    @contextlib.contextmanager
    def attached(self, db: Database):
        def _stmt(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip()[:5].upper() == "BEGIN":
                # transaction control, like COMMIT: SQLite's explicit BEGIN IMMEDIATE is seen
                # here, psycopg's implicit BEGIN on PostgreSQL is not; neither is counted
                self.begins += 1
                return
            self.statements += 1
            if self.keep_log:
                self.log.append((statement, parameters))

        def _commit(conn):
            self.commits += 1

        def _rollback(conn):
            self.rollbacks += 1

        def _checkout(dbapi_conn, record, proxy):
            self.checkouts += 1

        eng = db.engine
        event.listen(eng, "before_cursor_execute", _stmt)
        event.listen(eng, "commit", _commit)
        event.listen(eng, "rollback", _rollback)
        event.listen(eng.pool, "checkout", _checkout)
        try:
            yield self
        finally:
            event.remove(eng, "before_cursor_execute", _stmt)
            event.remove(eng, "commit", _commit)
            event.remove(eng, "rollback", _rollback)
            event.remove(eng.pool, "checkout", _checkout)


def describe_statement(sql: str) -> str:
    """'SELECT process_instance' style label of a statement."""
    s = " ".join(sql.split())
    verb = s.split(" ", 1)[0].upper()
    m = _TABLE_RE.search(s)
    table = m.group(1) if m else ""
    suffix = " FOR UPDATE" if "FOR UPDATE" in s.upper() else ""
    return f"{verb} {table}{suffix}".strip()


# ---------------------------------------------------------------- figures
@dataclass
class Figure:
    """One reported number: median/min/max of several runs, its limit, ratio and target."""

    db: str
    workload: str
    name: str
    unit: str
    median: float | None
    min: float | None = None
    max: float | None = None
    runs: int = 0
    limit_name: str | None = None
    limit: float | None = None
    ratio: float | None = None
    ratio_text: str | None = None
    target: str | None = None
    met: bool | None = None
    note: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class Recorder:
    """Collects figures, notes and failures of a whole run."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.notes: dict[tuple[str, str], list[str]] = {}
        self.failures: list[str] = []
        self.extra: dict[str, Any] = {}
        self.durations: dict[str, float] = {}
        self.loads: dict[str, tuple[float, float]] = {}

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        return fig

    def note(self, db: str, workload: str, text_: str) -> None:
        self.notes.setdefault((db, workload), []).append(text_)

    def fail(self, text_: str) -> None:
        self.failures.append(text_)


def fig_from(db: str, workload: str, name: str, unit: str, values: list[float],
             **kw) -> Figure:
    s = summary(values)
    return Figure(db=db, workload=workload, name=name, unit=unit, median=s["median"],
                  min=s["min"], max=s["max"], runs=s["n"], **kw)


# ---------------------------------------------------------------- machine
def machine_info(pg_url: str | None) -> dict:
    info = {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": None,
        "commit": os.environ.get("LOTSE_BENCH_COMMIT") or _git("rev-parse", "--short=12", "HEAD"),
        "source": os.environ.get("LOTSE_BENCH_SOURCE") or _source(),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "loadavg_start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    try:
        from importlib.metadata import version

        import SpiffWorkflow  # noqa: F401
        import sqlalchemy

        info["spiffworkflow"] = version("SpiffWorkflow")
        info["sqlalchemy"] = sqlalchemy.__version__
        info["psycopg"] = version("psycopg")
        info["gunicorn"] = version("gunicorn")
    except Exception:  # noqa: BLE001
        pass
    if pg_url:
        try:
            db = Database(pg_url)
            with db.engine.connect() as conn:
                info["postgresql"] = conn.scalar(text("SHOW server_version"))
                info["pg_fsync"] = conn.scalar(text("SHOW fsync"))
                info["pg_synchronous_commit"] = conn.scalar(text("SHOW synchronous_commit"))
            db.dispose()
        except Exception:  # noqa: BLE001
            pass
    return info


def _source() -> str:
    dirty = _git("status", "--porcelain", "--", "engine", "processes", "web", "bpmn")
    where = str(ROOT)
    if dirty:
        n = len(dirty.splitlines())
        return f"working tree {where} with {n} uncommitted changes in engine/ processes/ web/ bpmn/"
    return f"working tree {where} (clean)"


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def lotse_command() -> list[str]:
    """How to run the ``lotse`` CLI with this interpreter."""
    exe = Path(sys.executable).parent / "lotse"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "web.cli"]


def subprocess_env(url: str, workdir: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "LOTSE_DATABASE_URL": url,
        "LOTSE_ENV": "test",
        "LOTSE_SECRET_KEY": "bench-secret-" + "x" * 40,
        "LOTSE_INSTANCE_DIR": str(workdir / "instance"),
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    env.update(extra)
    return env


def rmtree_quiet(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
