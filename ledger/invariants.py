"""Ledger invariants as checks that raise ``InvariantViolation``.

They run before anything is appended (the store rolls back on a violation) and after
every step of the property tests.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from ledger.errors import InvariantViolation
from ledger.money import percent_of
from ledger.records import Draft, Kind, Record


def check_line(records: Sequence[Draft]) -> None:
    """One line's records must explain themselves.

    - exactly one commission, every other record pairs with it, one currency;
    - no zero adjustment is ever written;
    - the net is never negative;
    - the net equals the rate applied to the recorded value: ``net == round(rate x sum(base))``.
      Each adjustment's ``base`` is the change of the line's commissionable value, so the
      records alone show what the line is worth now and that nothing was clawed back
      beyond it (manual merchant records are outside this rule).
    """
    if not records:
        return
    commissions = [r for r in records if r.kind is Kind.COMMISSION]
    where = f"order {records[0].order_id} line {records[0].line_item_id}"
    if len(commissions) != 1:
        raise InvariantViolation(f"{where}: expected exactly one commission record, found {len(commissions)}")
    commission = commissions[0]
    currency = commission.amount.currency
    for record in records:
        if record.amount.currency != currency:
            raise InvariantViolation(f"{where}: currency {record.amount.currency} differs from the commission's")
        if isinstance(record, Record) and isinstance(commission, Record) and record is not commission:
            if record.pairs_with != commission.id:
                raise InvariantViolation(f"{where}: record {record.id} does not pair with commission {commission.id}")
        if record.kind is not Kind.COMMISSION and record.amount.minor == 0:
            raise InvariantViolation(f"{where}: zero adjustment written")
    net = sum(r.amount.minor for r in records)
    if net < 0:
        raise InvariantViolation(f"{where}: net commission {net} is negative")
    if any(r.kind is Kind.MANUAL for r in records):
        return
    value = sum(r.base.minor for r in records)
    expected = percent_of(commission.rate, value, currency).minor
    if value < 0 or net != expected:
        raise InvariantViolation(f"{where}: net {net} is not {commission.rate}% of the recorded value {value} ({expected})")


def check_lines(records: Iterable[Draft]) -> None:
    """``check_line`` for every line present in ``records``."""
    by_line: dict[tuple[str, str], list[Draft]] = defaultdict(list)
    for record in records:
        by_line[(record.order_id, record.line_item_id)].append(record)
    for line_records in by_line.values():
        check_line(line_records)


def check_append_only(before: Sequence[Record], after: Sequence[Record]) -> None:
    """``after`` must be ``before`` plus new records: nothing changed, nothing removed.

    Statuses are compared separately by callers: they move forward through transitions,
    which is not an edit of the record's content.
    """
    if len(after) < len(before):
        raise InvariantViolation(f"records were removed: {len(before)} -> {len(after)}")
    for old, new in zip(before, after):
        if old.id != new.id or not old.same_content(new) or old.pairs_with != new.pairs_with or old.event_key != new.event_key:
            raise InvariantViolation(f"record {old.id} was changed")
