"""Engine and units of work: SQLite (embedded default) or PostgreSQL (production).

SQLite: WAL journal, ``synchronous=FULL`` (an acknowledged webhook is the only copy once
Shopify has its 200, so every commit is fsynced), a busy timeout, foreign keys on, and
``BEGIN IMMEDIATE`` for every transaction so writers queue for the lock at the start
instead of failing with "database is locked" halfway through. PostgreSQL: psycopg 3,
row locks per order (``store.orders``) and ``FOR UPDATE SKIP LOCKED`` claims (``store.inbox``).
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - exercised by every SQLite test
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:
            # Readers (reports, health checks) take no write lock: in WAL mode they never
            # block the writer, and a reader polling in a loop must not starve it.
            reading = connection.get_execution_options().get("clawback_reading", False)
            connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


@lru_cache(maxsize=None)
def _on_conflict(
    table, columns: tuple[str, ...], keys: tuple[str, ...], add: tuple[str, ...], assign: tuple[str, ...], returning: tuple[str, ...]
):
    # Plain SQL that SQLite and PostgreSQL both accept, typed through the table's columns.
    # SQLAlchemy's dialect inserts recompile on every call (their ON CONFLICT clause defeats
    # the statement cache), and this runs on every webhook ack and every ledger write.
    changes = [f"{c} = {table.name}.{c} + excluded.{c}" for c in add] + [f"{c} = excluded.{c}" for c in assign]
    action = f"DO UPDATE SET {', '.join(changes)}" if changes else "DO NOTHING"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(keys)}) {action}" + (f" RETURNING {', '.join(returning)}" if returning else "")
    )
    statement = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
    return statement.columns(*(table.c[c] for c in returning)) if returning else statement


def insert_on_conflict(
    session: Session | Connection, model, values: dict | list[dict], keys: Sequence[str], add: Sequence[str] = (),
    assign: Sequence[str] = (), returning: Sequence[str] = (),
):
    """``INSERT ... ON CONFLICT (keys)``: do nothing, or add to the ``add`` columns and
    overwrite the ``assign`` columns; ``RETURNING`` the ``returning`` columns, typed. Returns
    the result (``rowcount`` 0 when nothing changed). On PostgreSQL a ``DO UPDATE`` locks the
    row it updates until the transaction ends, like ``SELECT ... FOR UPDATE``. A list of
    rows (same columns, no ``returning``) is sent as one executemany, row by row in order."""
    columns = tuple(values[0] if isinstance(values, list) else values)
    statement = _on_conflict(model.__table__, columns, tuple(keys), tuple(add), tuple(assign), tuple(returning))
    return session.execute(statement, values)


class StorageUnavailable(RuntimeError):
    """The database did not take a write (unreachable, locked too long, out of space)."""


class Database:
    """The engine plus a session factory; one per app or CLI process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, class_=Session, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self._sessions() as session:
            with session.begin():
                yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core-only unit of work (no ORM session): the webhook ack's one INSERT. Any
        database failure comes out as ``StorageUnavailable``, so callers outside this room
        need not know SQLAlchemy's errors."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StorageUnavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc

    def ping(self) -> str | None:
        """None when the database answers a trivial query; otherwise the error's name."""
        try:
            with self.reading() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means the database is not reachable
            return type(exc).__name__
        return None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: no write lock on SQLite; rolled back at the end."""
        with self._sessions() as session:
            session.connection(execution_options={"clawback_reading": True})
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
