"""Balances are a pure fold over records; no stored total is ever trusted.

Per affiliate and currency:
- ``pending``: sum of records in status pending;
- ``payable``: the approved-but-unpaid sum when it is positive;
- ``owed``: its size when it is negative ("clawback owed", netted against later payouts);
- ``paid``: sum of records in status paid.
Rejected records count nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ledger.money import Money
from ledger.records import Record, Status


@dataclass(frozen=True)
class Balance:
    affiliate: str
    currency: str
    pending: Money
    approved: Money  # approved, unpaid, signed
    paid: Money

    @property
    def payable(self) -> Money:
        return self.approved if self.approved.minor > 0 else Money.zero(self.currency)

    @property
    def owed(self) -> Money:
        return -self.approved if self.approved.minor < 0 else Money.zero(self.currency)


def fold_balances(records: Iterable[Record]) -> dict[tuple[str, str], Balance]:
    """Balances keyed by ``(affiliate, currency)``, in first-seen order."""
    sums: dict[tuple[str, str], dict[Status, int]] = {}
    for record in records:
        key = (record.affiliate, record.currency)
        by_status = sums.setdefault(key, {status: 0 for status in Status})
        by_status[record.status] += record.amount.minor
    return {
        (affiliate, currency): Balance(
            affiliate=affiliate,
            currency=currency,
            pending=Money(by_status[Status.PENDING], currency),
            approved=Money(by_status[Status.APPROVED], currency),
            paid=Money(by_status[Status.PAID], currency),
        )
        for (affiliate, currency), by_status in sums.items()
    }
