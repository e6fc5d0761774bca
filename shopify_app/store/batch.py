"""A worker batch's writes held in memory until its end, in step with its savepoints.

Why: the worker tries many deliveries in one transaction (``services.process.trying``), and
most of them touch the same few rows: each of a shop's busiest affiliates has one balance
total per status, and an order's sale and refunds often arrive together. Written at once,
each try would send four more statements (read the order's row and records, write its
facts, record how the try settled) and hold the hot total rows from its first record to the commit; two workers holding
them in different orders deadlock (they did, in 2026-11, with batches of 50). Held here,
a batch reads its orders and their records once, up front, and at its end writes each
changed order once and each changed total once, in key order, and how each try settled
(``store.orders.write_saved``, ``store.totals.write``, ``store.inbox.write_finished``).

A failed try leaves nothing behind, in memory either: each try runs in a ``savepoint``, which
opens a frame here. Its changes go to that frame, are merged into the enclosing one when the
savepoint is released, and are dropped with it when it rolls back.

Outside a batch nothing is held: ``store.orders``, ``store.ledger`` and ``store.totals`` read
and write at once, as before.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

_KEY = "clawback.batch"

OrderKey = tuple[int, str]
"""(shop id, order id)."""

TotalKey = tuple[int, str, str, str]
"""(shop id, affiliate, currency, status)."""


@dataclass
class _Frame:
    """What one savepoint (or the batch itself, the outermost frame) changed."""

    totals: dict[TotalKey, tuple[int, int]] = field(default_factory=dict)  # (amount, record count) to add
    orders: dict[OrderKey, Any] = field(default_factory=dict)  # the order as last saved (a ``LockedOrder``)
    records: dict[OrderKey, list] = field(default_factory=dict)  # records posted, in order

    def add_totals(self, changes: dict[TotalKey, tuple[int, int]]) -> None:
        for key, (amount, count) in changes.items():
            had_amount, had_count = self.totals.get(key, (0, 0))
            self.totals[key] = (had_amount + amount, had_count + count)

    def merge(self, inner: _Frame) -> None:
        self.add_totals(inner.totals)
        self.orders.update(inner.orders)
        for key, posted in inner.records.items():
            self.records.setdefault(key, []).extend(posted)


class Batch:
    """The orders and records read up front, and the frames of changes since."""

    def __init__(self) -> None:
        self.orders: dict[OrderKey, Any] = {}  # as locked at the start (``LockedOrder``)
        self.records: dict[OrderKey, list] = {}  # as read at the start
        self.frames = [_Frame()]
        # Tries recorded, not yet written (``store.inbox.finish``): outside any savepoint, so
        # not in a frame. ``parked``: (shop domain, order id) of those recorded as parked.
        self.finished: list[dict] = []
        self.parked: set[tuple[str, str]] = set()
        self.writes: int | None = None  # statements that wrote, counted in an optimistic pass only
        # (shop id, code key) -> the affiliate, or None: read once for the batch's paid orders.
        self.affiliates: dict[tuple[int, str], Any] = {}

    def count_write(self, _connection, _cursor, statement: str, *_rest) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.writes += 1

    @property
    def changes(self) -> _Frame:
        """The innermost frame: where a change goes now."""
        return self.frames[-1]

    @property
    def written(self) -> _Frame:
        """The outermost frame: what the batch writes at its end."""
        return self.frames[0]

    def order(self, key: OrderKey):
        """The order as the batch last saw it (its latest save), or None when not held."""
        for frame in reversed(self.frames):
            if key in frame.orders:
                return frame.orders[key]
        return self.orders.get(key)

    def records_of(self, key: OrderKey) -> list | None:
        """The order's records: read up front plus posted since; None when not held."""
        if key not in self.records:
            return None
        return [*self.records[key], *(record for frame in self.frames for record in frame.records.get(key, ()))]


def current(session: Session) -> Batch | None:
    return session.info.get(_KEY)


class Spoiled(Exception):
    """A try of an optimistic pass failed after it had written to the database: with no
    savepoint to undo just that, the pass must be undone whole and run again carefully."""


@contextmanager
def opened(session: Session, *, careful: bool = True) -> Iterator[Batch]:
    """Hold the session's writes of orders, records' totals and order facts as a batch, and
    write them when the block ends without an error (before the caller's commit).

    ``careful=False`` opens an optimistic pass: a ``savepoint`` inside it opens only a frame,
    no savepoint in the database (two statements per try saved), and a try that fails before
    it wrote anything (a refused event, a conflict, a body too thin: these fail while
    deciding, before any write) just drops its frame. One that fails after writing raises
    ``Spoiled``; the caller undoes the pass (its own savepoint) and runs it again carefully."""
    # Imported here: these modules read this one to find the batch they write into.
    from shopify_app.store import inbox, orders, totals

    if _KEY in session.info:
        raise RuntimeError("a batch is already open in this session")
    batch = session.info[_KEY] = Batch()
    connection = None
    if not careful:
        batch.writes = 0
        connection = session.connection()
        event.listen(connection, "before_cursor_execute", batch.count_write)
    try:
        yield batch
        if len(batch.frames) != 1:  # a savepoint outlived the block: its changes would be lost
            raise RuntimeError("a savepoint is still open at the end of the batch")
        inbox.write_finished(session)
        orders.write_saved(session, batch.written.orders.values())
        totals.write(session, batch.written.totals)
    finally:
        del session.info[_KEY]
        if connection is not None:
            event.remove(connection, "before_cursor_execute", batch.count_write)


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """``session.begin_nested()``, with a frame of the open batch (if any) that counts only
    if the block ends without an error; in an optimistic pass, the frame alone (``opened``)."""
    batch = current(session)
    if batch is None:
        with session.begin_nested():
            yield
        return
    if batch.writes is None:
        batch.frames.append(_Frame())
        try:
            with session.begin_nested():
                yield
        except BaseException:
            batch.frames.pop()
            raise
    else:
        session.flush()  # what the ORM holds is written before, so a failure can tell what the try wrote
        writes = batch.writes
        batch.frames.append(_Frame())
        try:
            yield
        except BaseException as error:
            batch.frames.pop()
            # A database error spoils the pass too: PostgreSQL refuses every later statement
            # of a transaction after one failed, and only a savepoint would have saved it.
            if batch.writes != writes or isinstance(error, DBAPIError) or session.new or session.dirty or session.deleted:
                raise Spoiled(f"{type(error).__name__} after the try wrote, or from the database") from error
            raise
    inner = batch.frames.pop()
    batch.changes.merge(inner)
