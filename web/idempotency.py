"""``Idempotency-Key`` for creating POSTs (issue 16.7): a client that did not get an answer
(a timeout, a cut connection, a 503) sends the same request again with the same key and
gets the first answer instead of a second case.

* Per user and route (``scope``), a key names one request for 24 hours (``TTL``). The row
  holds the key, an HMAC-SHA256 of the request body under the app's secret key (never the
  body: it carries personal data) and the first answer (status and JSON body: ids and
  states only).
* The key is claimed and the creation runs in **one** transaction (``Engine.transaction``),
  so either both commit or neither: an error answer (403, 422, a 503 from a held lock or an
  unreachable database) stores nothing, and sending the same request again runs it again.
* The same key with the same body returns the stored answer (same status and body,
  header ``Idempotent-Replayed: true``); with another body 422 ``IDEMPOTENCY_KEY_REUSED``.
* Concurrent duplicates: the unique constraint on ``(actor, scope, key)`` makes the second
  ``INSERT ... ON CONFLICT DO NOTHING`` wait for the first transaction on PostgreSQL, then
  read and replay its answer (or, past ``LOTSE_DB_LOCK_TIMEOUT_MS``, answer 503
  ``INSTANCE_BUSY``); SQLite serialises writers anyway. Never two creations.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from engine.errors import InvalidInput, LotseError
from web.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, e.g. a UUID


class IdempotencyKeyReused(LotseError):
    """The key was used in the last 24 h for a request with another body (422)."""

    code = "IDEMPOTENCY_KEY_REUSED"


def request_key() -> str | None:
    """The request's ``Idempotency-Key`` (None without one); 400 when it is malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not _KEY.fullmatch(key):
        raise InvalidInput(f"{HEADER}: 1-200 sichtbare ASCII-Zeichen / 1-200 visible ASCII "
                           "characters", field=HEADER)
    return key


def body_hash(scope: str) -> str:
    """HMAC of the request body (canonical JSON when it is JSON), keyed with the secret."""
    parsed = request.get_json(silent=True)
    if parsed is not None:
        raw = json.dumps(parsed, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8", "surrogatepass")
    else:
        raw = request.get_data(cache=True)
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, scope.encode() + b"\n" + raw, hashlib.sha256).hexdigest()


def _insert_claim(session, values: dict):
    dialect = session.get_bind().dialect.name
    mod = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if mod is None:
        raise RuntimeError(f"unsupported database dialect {dialect}")
    stmt = (mod.insert(IdempotencyKey).values(**values)
            .on_conflict_do_nothing(index_elements=["actor", "scope", "key"])
            .returning(IdempotencyKey.id))
    return session.execute(stmt).scalar()


def run(engine, *, key: str, actor: str, scope: str, request_hash: str,
        create: Callable[[object], tuple[int, dict]]) -> tuple[int, dict, bool]:
    """(status, body, replayed): the stored answer of ``key``, or ``create(tx)`` run in the
    transaction that claims the key. ``create`` gets the ``engine.Transaction``."""
    now = engine.now()
    with engine.transaction() as tx:
        s = tx.session
        # expired keys (this one too, if it is older than the TTL) are gone
        s.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - TTL))
        claimed = _insert_claim(s, {"actor": actor, "scope": scope, "key": key,
                                    "request_hash": request_hash, "status": 0,
                                    "response": {}, "created_at": now})
        if claimed is None:  # the key was used (a committed request; we waited for it)
            row = s.scalar(select(IdempotencyKey).where(
                IdempotencyKey.actor == actor, IdempotencyKey.scope == scope,
                IdempotencyKey.key == key))
            if row is None:  # pragma: no cover - expired and deleted between the statements
                raise InvalidInput(f"{HEADER} gerade abgelaufen, bitte erneut senden / just "
                                   "expired, send again", field=HEADER)
            if not hmac.compare_digest(row.request_hash, request_hash):
                raise IdempotencyKeyReused(
                    f"{HEADER} wurde für eine Anfrage mit anderem Inhalt verwendet / "
                    f"{HEADER} was used for a request with another body", field=HEADER)
            return row.status, dict(row.response), True
        status, body = create(tx)
        row = s.get(IdempotencyKey, claimed)
        row.status, row.response = status, body
    return status, body, False
