"""An in-memory ledger for one shop: the reference model of what the database store does.

Records are appended, never changed; statuses move forward through transitions. The SQL
store in ``shopify_app`` implements the same operations with the same rules (unique
identity per record, conflicts on different content, pairing by line); the property tests
use this one as their model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from ledger.errors import IdempotencyConflict, InvariantViolation
from ledger.invariants import check_line
from ledger.records import Draft, Kind, Record, Status, check_transition


class Book:
    def __init__(self) -> None:
        self._records: list[Record] = []
        self._status: dict[int, Status] = {}
        self._by_identity: dict[tuple[str, str, str], Record] = {}
        self._commission: dict[tuple[str, str], int] = {}

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
        """Append drafts; returns the records actually written.

        A draft whose identity is already posted with the same content is skipped (a
        replay); with different content it raises ``IdempotencyConflict`` and nothing of the
        batch is written. Every touched line is checked before the batch is kept.
        """
        drafts = list(drafts)
        staged: list[Record] = []
        commission = dict(self._commission)
        seen: dict[tuple[str, str, str], Draft] = {}
        for draft in drafts:
            existing = self._by_identity.get(draft.identity) or seen.get(draft.identity)
            if existing is not None:
                if not existing.same_content(draft):
                    raise IdempotencyConflict(":".join(draft.identity), "a posted record differs")
                continue
            seen[draft.identity] = draft
            record_id = len(self._records) + len(staged) + 1
            line = (draft.order_id, draft.line_item_id)
            if draft.kind is Kind.COMMISSION:
                if line in commission:
                    raise InvariantViolation(f"second commission for order {line[0]} line {line[1]}")
                commission[line] = record_id
                pairs_with = None
            else:
                if line not in commission:
                    raise InvariantViolation(f"adjustment for order {line[0]} line {line[1]} has no commission")
                pairs_with = commission[line]
            fields = {name: getattr(draft, name) for name in Draft.__dataclass_fields__}
            staged.append(Record(**fields, id=record_id, pairs_with=pairs_with))
        touched = {(r.order_id, r.line_item_id) for r in staged}
        for line in touched:
            check_line([r for r in self._records + staged if (r.order_id, r.line_item_id) == line])
        for record in staged:
            self._records.append(record)
            self._status[record.id] = record.status
            self._by_identity[record.identity] = record
        self._commission = commission
        return staged

    # -- status transitions ----------------------------------------------------------------
    def move(self, record_ids: Iterable[int], status: Status) -> None:
        """Move records forward to ``status`` (all or nothing)."""
        record_ids = list(record_ids)
        for record_id in record_ids:
            check_transition(self._status[record_id], status)
        for record_id in record_ids:
            self._status[record_id] = status
