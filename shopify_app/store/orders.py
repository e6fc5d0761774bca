"""Orders: what policy knows about each one (its ``OrderFacts``) and its latest priced lines,
one row per (shop, order), locked while an event of the order is applied.

Why the lock: two workers applying events of one order must take turns, or each would
recalculate on records the other is about to change. On PostgreSQL ``lock`` and
``lock_in_order`` lock the row until the transaction ends; on SQLite the writer already holds
the database lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from policy.events import SaleLine
from policy.facts import OrderFacts
from shopify_app.store import batch as batches
from shopify_app.store.codec import facts_from_json, facts_to_json, lines_from_json, lines_to_json
from shopify_app.store.engine import insert_on_conflict
from shopify_app.store.tables import OrderRow

_ORDERS = OrderRow.__table__


@dataclass(frozen=True)
class LockedOrder:
    """An order's row, locked for the caller's transaction, as it was when locked (or, in a
    batch, as last saved)."""

    row_id: int
    shop_id: int
    order_id: str
    facts: OrderFacts
    lines: tuple[SaleLine, ...] | None  # the latest priced lines an order payload showed (no customer data)
    saved_at: datetime | None = None  # when saved in a batch, not yet written

    @property
    def key(self) -> batches.OrderKey:
        return self.shop_id, self.order_id


def _row(shop_id: int, order_id: str, now: datetime) -> dict:
    return {"shop_id": shop_id, "order_id": order_id, "facts_json": facts_to_json(OrderFacts(order_id)), "created_at": now, "updated_at": now}


def _locked(shop_id: int, row) -> LockedOrder:
    return LockedOrder(row.id, shop_id, row.order_id, facts_from_json(row.facts_json), lines_from_json(row.lines_json) if row.lines_json else None)


_COLUMNS = (_ORDERS.c.id, _ORDERS.c.order_id, _ORDERS.c.facts_json, _ORDERS.c.lines_json)
_LOCK = select(*_COLUMNS).where(_ORDERS.c.shop_id == bindparam("shop_id"), _ORDERS.c.order_id == bindparam("order_id")).with_for_update()


def lock(session: Session, shop_id: int, order_id: str, now: datetime) -> LockedOrder:
    """The order's row, locked: as the open batch holds it (``lock_in_order``), or read with
    ``SELECT ... FOR UPDATE`` (SQLite's writer lock is already held), or, for an order not
    seen before, created and locked by an upsert that returns it."""
    batch = batches.current(session)
    held = batch.order((shop_id, order_id)) if batch is not None else None
    if held is not None:
        return held
    row = session.connection().execute(_LOCK, {"shop_id": shop_id, "order_id": order_id}).first()
    if row is None:
        row = insert_on_conflict(
            session, OrderRow, _row(shop_id, order_id, now), ["shop_id", "order_id"], assign=["updated_at"],
            returning=["id", "order_id", "facts_json", "lines_json"],
        ).one()
    return _locked(shop_id, row)


def lock_in_order(session: Session, keys: Sequence[batches.OrderKey], now: datetime) -> None:
    """Lock the rows of several orders, created if new, in key order, in one executemany.

    A worker's batch locks every order it will touch before it applies anything: two workers
    whose batches share orders then queue for the first shared one instead of each holding one
    and waiting for the other's (a deadlock)."""
    rows = [_row(shop_id, order_id, now) for shop_id, order_id in sorted(set(keys))]
    if rows:
        insert_on_conflict(session, OrderRow, rows, ["shop_id", "order_id"], assign=["updated_at"])


def hold(session: Session, keys: Sequence[batches.OrderKey]) -> None:
    """Read these (locked) orders, one statement per shop, and hold them in the open batch.
    An order whose stored facts no longer read is left out, so only its own try fails."""
    batch = batches.current(session)
    by_shop: dict[int, list[str]] = {}
    for shop_id, order_id in keys:
        by_shop.setdefault(shop_id, []).append(order_id)
    for shop_id, order_ids in by_shop.items():
        for row in session.connection().execute(select(*_COLUMNS).where(_ORDERS.c.shop_id == shop_id, _ORDERS.c.order_id.in_(order_ids))):
            try:
                batch.orders[(shop_id, row.order_id)] = _locked(shop_id, row)
            except Exception:  # noqa: BLE001 - not held: its own try reads it again (``lock``) and fails alone
                continue


_SAVE = update(_ORDERS).where(_ORDERS.c.id == bindparam("row_id")).values(facts_json=bindparam("facts_json"), updated_at=bindparam("now"))
_SAVE_WITH_LINES = _SAVE.values(lines_json=bindparam("lines_json"))


def save(session: Session, locked: LockedOrder, facts: OrderFacts, lines: tuple[SaleLine, ...] | None, now: datetime) -> None:
    """Save the order's facts (and its latest priced lines, when an order payload gave them):
    into the open batch when it holds the order (written at its end), or now."""
    batch = batches.current(session)
    if batch is not None and batch.order(locked.key) is not None:
        batch.changes.orders[locked.key] = replace(locked, facts=facts, lines=lines if lines is not None else locked.lines, saved_at=now)
        return
    values = {"row_id": locked.row_id, "facts_json": facts_to_json(facts), "now": now}
    if lines is None:
        session.connection().execute(_SAVE, values)
    else:
        session.connection().execute(_SAVE_WITH_LINES, {**values, "lines_json": lines_to_json(lines)})


def write_saved(session: Session, saved: Iterable[LockedOrder]) -> None:
    """Write what a batch saved of its orders: each changed order once, in one executemany."""
    rows = [{"row_id": order.row_id, "facts_json": facts_to_json(order.facts), "now": order.saved_at,
             "lines_json": lines_to_json(order.lines) if order.lines is not None else None} for order in saved]
    if rows:
        session.connection().execute(_SAVE_WITH_LINES, rows)


def facts_of(session: Session, shop_id: int, order_id: str) -> OrderFacts | None:
    """The order's facts as last saved, without a lock (for reports and approvals)."""
    text = session.execute(select(_ORDERS.c.facts_json).where(_ORDERS.c.shop_id == shop_id, _ORDERS.c.order_id == order_id)).scalar()
    return facts_from_json(text) if text is not None else None
