"""An in-memory ledger for one shop: the reference model of what the database store does.

Records are appended, never changed; statuses move forward through transitions. The SQL
store in ``shopify_app`` posts by the same staging rule (``ledger.staging``) and one
contract test battery runs both; the property tests use this one as their model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from ledger.records import Draft, Record, Status, check_transition
from ledger.staging import stage


class Book:
    def __init__(self) -> None:
        self._records: list[Record] = []
        self._status: dict[int, Status] = {}

    # -- reading ---------------------------------------------------------------------------
    def records(self, order_id: str | None = None) -> list[Record]:
        """Records in creation order, each with its current status."""
        return [
            replace(r, status=self._status[r.id])
            for r in self._records
            if order_id is None or r.order_id == order_id
        ]

    def get(self, record_id: int) -> Record:
        record = self._records[record_id - 1]
        return replace(record, status=self._status[record_id])

    # -- appending -------------------------------------------------------------------------
    def post(self, drafts: Iterable[Draft]) -> list[Record]:
        """Append drafts by the staging rule (``ledger.staging``); returns the records written.

        A replayed draft is skipped; a conflicting one raises ``IdempotencyConflict`` and
        nothing of the batch is written.
        """
        staged = stage(self._records, drafts)
        first = len(self._records) + 1
        written = staged.records(range(first, first + len(staged.postings)))
        for record in written:
            self._records.append(record)
            self._status[record.id] = record.status
        return written

    # -- status transitions ----------------------------------------------------------------
    def move(self, record_ids: Iterable[int], status: Status) -> None:
        """Move records forward to ``status`` (all or nothing)."""
        record_ids = list(record_ids)
        for record_id in record_ids:
            check_transition(self._status[record_id], status)
        for record_id in record_ids:
            self._status[record_id] = status
