"""Payout selection: which approved, unpaid records a payout run pays, per affiliate.

A run takes, per affiliate and currency, every approved unpaid record, negative ones
included (clawbacks are netted here). When their sum is above zero and at least the
minimum payout, it proposes one payout of exactly that sum; otherwise nothing is paid and
the records stay approved, so a negative sum is carried forward as "clawback owed".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from ledger.money import Money
from ledger.records import Record, Status


@dataclass(frozen=True)
class PayoutPlan:
    affiliate: str
    currency: str
    record_ids: tuple[int, ...]
    total: Money


def plan_payouts(records: Iterable[Record], minimum: Mapping[str, Money] | None = None) -> list[PayoutPlan]:
    """Payouts to create from ``records``; ``minimum`` maps currency -> minimum payout."""
    minimum = minimum or {}
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        if record.status is Status.APPROVED:
            groups.setdefault((record.affiliate, record.currency), []).append(record)
    plans = []
    for (affiliate, currency), group in groups.items():
        total = sum((r.amount.minor for r in group), 0)
        floor = minimum.get(currency, Money.zero(currency)).minor
        if total > 0 and total >= floor:
            plans.append(PayoutPlan(affiliate, currency, tuple(r.id for r in group), Money(total, currency)))
    return plans
