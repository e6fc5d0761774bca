"""Approval: which pending records become approved at a given time.

A commission becomes payable ``delay`` days after its order (or its fulfilment, by
setting); the delay is the affiliate's override or the shop's, plus extra days for a
flagged affiliate, frozen at sale time into ``approves_at``. Pending adjustments approve
together with their commission, so a line refunded inside the delay nets to zero and is
never payable. Time is passed in; nothing here reads a clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

from ledger.records import Kind, Record, Status


def due_for_approval(
    records: Sequence[Record],
    as_of: datetime,
    approves_at_by_order: Mapping[str, datetime | None] | None = None,
) -> list[int]:
    """Ids of the pending records to approve at ``as_of``, commissions with their adjustments.

    ``approves_at_by_order`` supplies the time for commissions written before their
    fulfilment was known (``delay_starts = fulfillment``).
    """
    approves_at_by_order = approves_at_by_order or {}
    due_commissions = set()
    for record in records:
        if record.kind is not Kind.COMMISSION or record.status is not Status.PENDING:
            continue
        at = record.approves_at or approves_at_by_order.get(record.order_id)
        if at is not None and at <= as_of:
            due_commissions.add(record.id)
    return [
        r.id
        for r in records
        if r.status is Status.PENDING and (r.id in due_commissions or r.pairs_with in due_commissions)
    ]
