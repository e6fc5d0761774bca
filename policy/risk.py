"""Affiliate risk: refund rate and chargeback count per affiliate, and whether they flag it.

refund rate = refunded value / referred value over the trailing 90 days (bases of refund
records against bases of commission records created in the window); chargebacks = the
disputes that reversed any of the affiliate's commissions. At or above the shop's
thresholds the affiliate is flagged (a threshold of 0 is off) and its later sales get
``flagged_extra_delay_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable

from ledger.records import Kind, Record
from policy.settings import Settings

WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Risk:
    affiliate: str
    refund_rate_percent: Decimal
    chargebacks: int
    flagged: bool


def affiliate_risk(records: Iterable[Record], as_of: datetime, settings: Settings) -> dict[str, Risk]:
    referred: dict[str, int] = {}
    refunded: dict[str, int] = {}
    disputes: dict[str, set[str]] = {}
    since = as_of - WINDOW
    for record in records:
        referred.setdefault(record.affiliate, 0)
        if record.kind is Kind.CHARGEBACK:
            disputes.setdefault(record.affiliate, set()).add(record.source)
        if not since <= record.created_at <= as_of:
            continue
        if record.kind is Kind.COMMISSION:
            referred[record.affiliate] += record.base.minor
        elif record.kind is Kind.REFUND:
            refunded[record.affiliate] = refunded.get(record.affiliate, 0) - record.base.minor
    result = {}
    for affiliate, value in referred.items():
        rate = (Decimal(refunded.get(affiliate, 0) * 100) / value).quantize(Decimal("0.01")) if value else Decimal(0)
        chargebacks = len(disputes.get(affiliate, ()))
        flagged = (settings.refund_rate_threshold_percent > 0 and rate >= settings.refund_rate_threshold_percent) or (
            settings.chargeback_threshold > 0 and chargebacks >= settings.chargeback_threshold
        )
        result[affiliate] = Risk(affiliate, rate, chargebacks, flagged)
    return result
