"""The one rule for posting drafts to a ledger, shared by the in-memory ``Book`` and the SQL
store of ``shopify_app``: both stage, then only assign ids and keep what was staged.

Staging decides, from the records already posted for the drafts' lines:
- identity: a draft whose identity (order, event key, line) is posted with the same
  content is a replay and is skipped; with different content it raises
  ``IdempotencyConflict`` and nothing of the batch is written;
- pairing: one commission per line, every adjustment pairs with its line's commission,
  which may be posted earlier or earlier in the same batch;
- line checks: every touched line still satisfies ``ledger.invariants.check_line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ledger.errors import IdempotencyConflict, InvariantViolation
from ledger.invariants import check_line
from ledger.records import Draft, Kind, Record

Line = tuple[str, str]


@dataclass(frozen=True)
class Posting:
    """A draft to write. It pairs with a posted commission (``pairs_with``), with the
    commission staged at index ``pairs_with_staged`` of the same batch, or with nothing."""

    draft: Draft
    pairs_with: int | None = None
    pairs_with_staged: int | None = None


@dataclass(frozen=True)
class Staged:
    postings: tuple[Posting, ...]

    def pairs_with(self, index: int, ids: Sequence[int]) -> int | None:
        """The commission id posting ``index`` pairs with, given the ids of the postings
        written before it (a store learns ids one insert at a time)."""
        posting = self.postings[index]
        if posting.pairs_with_staged is not None:
            return ids[posting.pairs_with_staged]
        return posting.pairs_with

    def records(self, ids: Sequence[int]) -> list[Record]:
        """The written records, given the id each posting got."""
        if len(ids) != len(self.postings):
            raise InvariantViolation(f"{len(ids)} ids for {len(self.postings)} postings")
        return [
            Record(**{name: getattr(p.draft, name) for name in Draft.__dataclass_fields__}, id=ids[i], pairs_with=self.pairs_with(i, ids))
            for i, p in enumerate(self.postings)
        ]


def stage(posted: Iterable[Record], drafts: Iterable[Draft]) -> Staged:
    """What of ``drafts`` to write, given ``posted``: every record already posted for the
    drafts' lines (more is fine). Raises ``IdempotencyConflict`` or ``InvariantViolation``."""
    by_identity: dict[tuple[str, str, str], Draft] = {}
    commission: dict[Line, int] = {}
    by_line: dict[Line, list[Draft]] = {}
    for record in posted:
        by_identity[record.identity] = record
        by_line.setdefault((record.order_id, record.line_item_id), []).append(record)
        if record.kind is Kind.COMMISSION:
            commission[(record.order_id, record.line_item_id)] = record.id
    staged_commission: dict[Line, int] = {}
    postings: list[Posting] = []
    touched: set[Line] = set()
    for draft in drafts:
        known = by_identity.get(draft.identity)
        if known is not None:
            if not known.same_content(draft):
                raise IdempotencyConflict(":".join(draft.identity), "a posted record differs")
            continue
        by_identity[draft.identity] = draft
        line = (draft.order_id, draft.line_item_id)
        if draft.kind is Kind.COMMISSION:
            if line in commission or line in staged_commission:
                raise InvariantViolation(f"second commission for order {line[0]} line {line[1]}")
            staged_commission[line] = len(postings)
            postings.append(Posting(draft))
        elif line in commission:
            postings.append(Posting(draft, pairs_with=commission[line]))
        elif line in staged_commission:
            postings.append(Posting(draft, pairs_with_staged=staged_commission[line]))
        else:
            raise InvariantViolation(f"adjustment for order {line[0]} line {line[1]} has no commission")
        by_line.setdefault(line, []).append(draft)
        touched.add(line)
    for line in touched:
        check_line(by_line[line])
    return Staged(tuple(postings))
