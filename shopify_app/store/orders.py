"""Orders: what policy knows about each one (its ``OrderFacts``) and its latest priced lines,
one row per (shop, order), locked while an event of the order is applied.

Why the lock: two workers applying events of one order must take turns, or each would
recalculate on records the other is about to change. On PostgreSQL the upsert below locks
the row until the transaction ends; on SQLite the writer already holds the database lock
(``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from policy.events import SaleLine
from policy.facts import OrderFacts
from shopify_app.store.codec import facts_from_json, facts_to_json, lines_from_json, lines_to_json
from shopify_app.store.engine import insert_on_conflict
from shopify_app.store.tables import OrderRow

_ORDERS = OrderRow.__table__


@dataclass(frozen=True)
class LockedOrder:
    """An order's row, locked for the caller's transaction, as it was when locked."""

    row_id: int
    order_id: str
    facts: OrderFacts
    lines: tuple[SaleLine, ...] | None  # the latest priced lines an order payload showed (no customer data)


def lock(session: Session, shop_id: int, order_id: str, now: datetime) -> LockedOrder:
    """The order's row, created if new and locked: ONE statement (an upsert that returns the
    row; its ``DO UPDATE`` takes the lock)."""
    row = insert_on_conflict(
        session, OrderRow,
        {"shop_id": shop_id, "order_id": order_id, "facts_json": facts_to_json(OrderFacts(order_id)),
         "created_at": now, "updated_at": now},
        ["shop_id", "order_id"], assign=["updated_at"], returning=["id", "facts_json", "lines_json"],
    ).one()
    return LockedOrder(row.id, order_id, facts_from_json(row.facts_json), lines_from_json(row.lines_json) if row.lines_json else None)


def save(session: Session, locked: LockedOrder, facts: OrderFacts, lines: tuple[SaleLine, ...] | None, now: datetime) -> None:
    """Write the order's facts (and its latest priced lines, when an order payload gave them)."""
    values = {"facts_json": facts_to_json(facts), "updated_at": now}
    if lines is not None:
        values["lines_json"] = lines_to_json(lines)
    session.execute(update(_ORDERS).where(_ORDERS.c.id == locked.row_id).values(**values))


def facts_of(session: Session, shop_id: int, order_id: str) -> OrderFacts | None:
    """The order's facts as last saved, without a lock (for reports and approvals)."""
    text = session.execute(select(_ORDERS.c.facts_json).where(_ORDERS.c.shop_id == shop_id, _ORDERS.c.order_id == order_id)).scalar()
    return facts_from_json(text) if text is not None else None
