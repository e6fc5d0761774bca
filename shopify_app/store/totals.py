"""The balance totals (``BalanceTotal``): changed with every append and status move, in the
same transaction; at once, or, inside a worker batch (``store.batch``), summed and written
once per row at the batch's end, in key order."""

from __future__ import annotations

from sqlmodel import Session

from shopify_app.store import batch as batches
from shopify_app.store.engine import insert_on_conflict
from shopify_app.store.tables import BalanceTotal

Changes = dict[tuple[str, str, str], tuple[int, int]]
"""Changes of one shop's totals: (affiliate, currency, status) -> (amount, record count)."""


def add(session: Session, shop_id: int, changes: Changes) -> None:
    """Add ``(amount, count)`` to the shop's totals: into the open batch, or now."""
    keyed = {(shop_id, *key): change for key, change in changes.items()}
    batch = batches.current(session)
    if batch is not None:
        batch.changes.add_totals(keyed)
    else:
        write(session, keyed)


def write(session: Session, changes: dict[batches.TotalKey, tuple[int, int]]) -> None:
    """One upsert per changed row, in key order (two writers never wait on each other's rows
    in opposite orders); rows whose changes cancel out are skipped."""
    for (shop_id, affiliate, currency, status), (amount, count) in sorted(changes.items()):
        if amount == 0 and count == 0:
            continue
        insert_on_conflict(
            session, BalanceTotal,
            {"shop_id": shop_id, "affiliate": affiliate, "currency": currency, "status": status, "amount_minor": amount, "record_count": count},
            ["shop_id", "affiliate", "currency", "status"], add=["amount_minor", "record_count"],
        )
