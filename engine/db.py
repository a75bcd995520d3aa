"""Database access: engine creation, sessions and the unit of work.

SQLite runs in WAL mode; a write unit of work starts with ``BEGIN IMMEDIATE`` so
that two writers never interleave a load and a save of the same instance. On
PostgreSQL the instance row is locked with ``SELECT ... FOR UPDATE`` instead.

Nothing waits without bound (:class:`Timeouts`): every PostgreSQL connection gets
``lock_timeout``, ``statement_timeout`` and ``idle_in_transaction_session_timeout`` when it
is opened, plus a connect timeout and TCP keepalives; SQLite waits ``busy_timeout`` for a
writer. :func:`classify` tells a caller whether a database error means "the instance is
busy, try again at once" or "the database is unavailable" (the web layer answers 503).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_PATH = Path("instance") / "lotse.db"


def where_equal(query, *pairs):
    """``query`` narrowed by ``column == value`` for each (column, value) pair whose value
    is not None: the optional filters of a list query."""
    for column, value in pairs:
        if value is not None:
            query = query.where(column == value)
    return query


def default_url() -> str:
    """The SQLite default at ``instance/lotse.db`` (relative to the working directory)."""
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


@dataclass(frozen=True)
class Timeouts:
    """How long a connection waits, at most (``LOTSE_DB_*`` settings; 0 switches one off).

    PostgreSQL: ``lock_ms`` for a row or table lock (a held instance answers
    ``INSTANCE_BUSY``), ``statement_ms`` for any one statement, ``idle_tx_ms`` for a
    transaction left open without a statement (the server ends the session), and
    ``connect_seconds`` to open a connection. SQLite: ``busy_ms`` for another writer.
    """

    lock_ms: int = 5000
    statement_ms: int = 30000
    idle_tx_ms: int = 60000
    connect_seconds: int = 5
    busy_ms: int = 30000


# A dead peer (a cut network, a server that vanished) is noticed after about
# idle + interval * count seconds on an idle connection; tcp_user_timeout bounds how long
# sent data may stay unacknowledged.
TCP_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                 "keepalives_count": 3, "tcp_user_timeout": 30000}


def postgres_connect_args(timeouts: Timeouts) -> dict:
    """libpq connection parameters: connect timeout and TCP keepalives."""
    args: dict = dict(TCP_KEEPALIVE)
    if timeouts.connect_seconds:
        args["connect_timeout"] = timeouts.connect_seconds
    return args


class Database:
    """Owns the SQLAlchemy engine and hands out sessions and units of work."""

    def __init__(self, url: str, *, echo: bool = False,
                 timeouts: Timeouts | None = None) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.timeouts = timeouts or Timeouts()
        kwargs: dict = {"echo": echo, "future": True}
        if self.is_sqlite:
            db_path = self.url.database
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": self.timeouts.busy_ms / 1000,
                                      "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            if self.url.get_backend_name() == "postgresql":
                kwargs["connect_args"] = postgres_connect_args(self.timeouts)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, self.timeouts)
        elif self.url.get_backend_name() == "postgresql":
            _configure_postgres(self.engine, self.timeouts)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(lotse_write=True), expire_on_commit=False
        )
        self.write_sessions = self._write  # for after-commit hooks
        from engine import audit

        audit.install(self._write)  # every audit entry is hash-chained in its transaction

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A write transaction: commits when the block ends, rolls back on any exception."""
        session = self._write()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session; closing it ends (rolls back) its transaction."""
        session = self._read()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()


def _configure_postgres(engine: Engine, timeouts: Timeouts) -> None:
    settings = (("lock_timeout", timeouts.lock_ms),
                ("statement_timeout", timeouts.statement_ms),
                ("idle_in_transaction_session_timeout", timeouts.idle_tx_ms))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # session-wide (not SET LOCAL), outside any transaction, once per new connection
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        try:
            cur = dbapi_conn.cursor()
            for name, ms in settings:
                cur.execute(f"SET {name} = {int(ms)}")
            cur.close()
        finally:
            dbapi_conn.autocommit = autocommit


# SQLSTATEs: another transaction holds the lock, or a deadlock / serialization conflict
# was resolved against us; retrying at once is right.
_BUSY_SQLSTATES = {"55P03", "40P01", "40001"}
# connection exceptions, insufficient resources, operator intervention (shutdown, the
# server not accepting connections yet, statement timeout), system errors
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58")


def classify(exc: BaseException) -> str | None:
    """``"busy"`` (a lock is held: retry soon), ``"unavailable"`` (the database cannot be
    reached or does not answer in time) or None (any other error) for ``exc`` or an error
    it was raised from."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 8:
        kind = _classify_one(cur)
        if kind:
            return kind
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def _classify_one(exc: BaseException) -> str | None:
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return "unavailable"  # the pool had no connection for us in time / a dead one
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return "unavailable"
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state:
        if state in _BUSY_SQLSTATES:
            return "busy"
        if state[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return "unavailable"
        return None
    if type(orig).__module__.startswith("sqlite3"):
        text = str(orig).lower()  # read, never logged (it may quote values)
        if "database is locked" in text or "database table is locked" in text:
            return "busy"  # another writer beyond busy_timeout
        if "unable to open database" in text or "disk i/o error" in text:
            return "unavailable"
        return None  # "no such table" and the like are bugs, not outages
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return "unavailable"  # no SQLSTATE: the connection failed or could not be made
    return None


def _configure_sqlite(engine: Engine, timeouts: Timeouts) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(timeouts.busy_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("lotse_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
