"""The webhook ack's write: a new delivery is one INSERT, on a DBAPI connection kept for it.

``store.inbox.store_delivery`` is the one definition of how a delivery is stored (a retry is a
duplicate, a reused id with other content is kept as a conflict), and it runs whenever the
INSERT below inserted nothing. Nearly every delivery is new, though, and for those the
write is one ``INSERT ... ON CONFLICT (webhook_id) DO NOTHING``. Through SQLAlchemy's engine
that INSERT cost more server CPU than verifying the delivery (``bench/ingest.py``): a pool
checkout (with a pre-ping round trip on PostgreSQL), ``BEGIN`` and ``COMMIT`` as statements
of their own, an execution context per statement. So SQLAlchemy compiles it once per
database (its SQL, paramstyle and bind processors: rows are exactly what Core would write)
and it runs on a DBAPI connection this writer keeps outside the engine's pool (at most one
per concurrent request; closed when the engine is disposed), in autocommit mode: the
statement is its own transaction, durable once it returns (SQLite: WAL, synchronous=FULL).
A kept connection that the server dropped meanwhile is replaced and the INSERT tried once
more: the INSERT is idempotent, and a row the first try did store is then found by
``store_delivery`` as the duplicate it is.

SQLite has one writer at a time for the whole file. With an INSERT per request the server's
threads queued for it (one that finds it taken sleeps in SQLite's busy handler, in growing
steps; the one holding it waits for Python's GIL before it can go on), and the intake
acknowledged a third fewer deliveries than it does now. So on SQLite the threads of a
process take turns, and the thread whose turn it is writes every delivery waiting in that
process in one transaction (group commit): each is still committed before its 200 is sent.
If that transaction fails, every delivery in it is answered 503 and retried by Shopify.
PostgreSQL takes concurrent writers as they come, and each thread writes its own delivery.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from shopify_app.store.engine import Database, StorageUnavailable
from shopify_app.store.inbox import Stored, new_row, store_delivery
from shopify_app.store.tables import WebhookDelivery

__all__ = ["InboxWriter"]

_COLUMNS = ("webhook_id", "shop_domain", "topic", "event_id", "api_version", "triggered_at", "received_at", "headers_json",
            "body", "status", "attempts", "next_attempt_at")


@dataclass
class _Waiting:
    """One delivery's row, waiting to be written, and then how that went."""

    parameters: Any
    inserted: bool | None = None
    error: str | None = None


class InboxWriter:
    """Stores verified deliveries in one database; built once per app, shared by its threads."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._dialect = dialect = database.engine.dialect
        self._postgres = database.is_postgres
        insert = (postgresql.insert if self._postgres else sqlite.insert)(WebhookDelivery.__table__)
        compiled = insert.on_conflict_do_nothing(index_elements=["webhook_id"]).compile(dialect=dialect, column_keys=list(_COLUMNS))
        self._sql = compiled.string
        self._positions = compiled.positiontup  # SQLite's paramstyle is positional, psycopg's by name
        self._processors = {name: processor for name, bind in compiled.binds.items()
                            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        self._errors = (SQLAlchemyError, dialect.loaded_dbapi.Error)
        self._lock = threading.Lock()  # guards _idle and _waiting
        self._idle: list[Any] = []  # kept connections not in use
        self._waiting: list[_Waiting] = []
        self._turn = None if self._postgres else threading.Lock()
        event.listen(database.engine, "engine_disposed", lambda _engine: self.close())

    def store(self, *, webhook_id: str, shop_domain: str, topic: str, api_version: str | None, event_id: str | None,
              triggered_at: str | None, headers: Mapping[str, str], body: bytes, now: datetime) -> Stored:
        """What ``store_delivery`` answers, committed before it returns; ``StorageUnavailable``
        when the database does not take the write."""
        row = new_row(webhook_id=webhook_id, shop_domain=shop_domain, topic=topic, api_version=api_version, event_id=event_id,
                      triggered_at=triggered_at, headers=headers, body=body, now=now)
        values = {name: self._processors[name](value) if name in self._processors else value for name, value in row.items()}
        mine = _Waiting([values[name] for name in self._positions] if self._positions else values)
        if self._turn is None:
            self._write([mine])
        else:
            with self._lock:
                self._waiting.append(mine)
            with self._turn:
                if mine.inserted is None and mine.error is None:  # no earlier turn wrote it: write all that wait
                    with self._lock:
                        batch, self._waiting = self._waiting, []
                    self._write(batch)
        if mine.error is not None:
            raise StorageUnavailable(mine.error)
        if mine.inserted:
            return Stored.NEW
        with self._database.connection() as connection:
            return store_delivery(connection, webhook_id=webhook_id, shop_domain=shop_domain, topic=topic, api_version=api_version,
                                  event_id=event_id, triggered_at=triggered_at, headers=headers, body=body, now=now)

    def close(self) -> None:
        """Close the kept connections not in use (the engine was disposed); new ones open as needed."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _write(self, batch: list[_Waiting]) -> None:
        """Insert ``batch`` in one transaction, noting for each whether it was new, or the error."""
        with self._lock:
            kept = self._idle.pop() if self._idle else None
        connection = kept
        try:
            try:
                if connection is None:
                    connection = self._connect()
                self._execute(connection, batch)
            except self._dialect.loaded_dbapi.Error as exc:
                if connection is not kept or not self._dialect.is_disconnect(exc, connection, None):
                    raise
                connection.close()  # the server dropped it meanwhile: once more on a new one
                connection = self._connect()
                self._execute(connection, batch)
        except BaseException as exc:
            if connection is not None:
                connection.close()  # which also rolls back what it began
            if not isinstance(exc, self._errors):
                raise
            for waiting in batch:
                waiting.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return
        with self._lock:
            self._idle.append(connection)

    def _execute(self, connection: Any, batch: list[_Waiting]) -> None:
        cursor = connection.cursor()
        if len(batch) > 1:
            cursor.execute("BEGIN IMMEDIATE")  # only SQLite batches
        for waiting in batch:
            cursor.execute(self._sql, waiting.parameters)
            waiting.inserted = cursor.rowcount == 1
        if len(batch) > 1:
            cursor.execute("COMMIT")

    def _connect(self) -> Any:
        proxy = self._database.engine.raw_connection()  # runs the engine's connect hooks (SQLite's pragmas)
        connection = proxy.dbapi_connection
        if self._postgres:
            connection.autocommit = True  # SQLite's connections already are (engine.make_engine)
        proxy.detach()
        return connection
