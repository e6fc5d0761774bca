"""Affiliate risk: refund rate and chargeback count per affiliate, and whether they flag it.

refund rate = refunded value / referred value over the trailing 90 days (bases of refund
records against bases of commission records whose events happened in the window);
chargebacks = the disputes that reversed any of the affiliate's commissions. At or above the
shop's thresholds the affiliate is flagged (a threshold of 0 is off) and its later sales get
``flagged_extra_delay_days``.

A rate over one or two orders is noise (one partial refund of a first order is 100 %), so
the refund rate flags only once the affiliate referred ``refund_rate_minimum_orders`` orders
in the window. Chargebacks need no such floor: each one is a dispute the merchant fought.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Iterable

from ledger.records import Kind, Record
from policy.settings import Settings

WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Risk:
    affiliate: str
    refund_rate_percent: Decimal
    orders: int  # referred orders in the window
    chargebacks: int
    flagged: bool


def _shown(rate: Fraction) -> Decimal:
    """The rate to two decimals, rounded down: the flag compares the exact rate, and a shown
    rate never overstates it (29.995 % shows as 29.99 %, and does not flag at 30 %)."""
    return Decimal(math.floor(rate * 100)).scaleb(-2)


def affiliate_risk(records: Iterable[Record], as_of: datetime, settings: Settings, affiliates: Iterable[str] = ()) -> dict[str, Risk]:
    """Risk of each affiliate with records (and of each of ``affiliates``, with or without).
    Only records whose events fall in the window, and chargebacks, count: a caller may pass
    just those (``store.ledger.LedgerStore.risk_records``) and get the same answer."""
    referred: dict[str, int] = dict.fromkeys(affiliates, 0)
    orders: dict[str, set[str]] = {}
    refunded: dict[str, int] = {}
    disputes: dict[str, set[str]] = {}
    since = as_of - WINDOW
    for record in records:
        referred.setdefault(record.affiliate, 0)
        if record.kind is Kind.CHARGEBACK:
            disputes.setdefault(record.affiliate, set()).add(record.source)
        if not since <= record.occurred_at <= as_of:
            continue
        if record.kind is Kind.COMMISSION:
            referred[record.affiliate] += record.base.minor
            orders.setdefault(record.affiliate, set()).add(record.order_id)
        elif record.kind is Kind.REFUND:
            refunded[record.affiliate] = refunded.get(record.affiliate, 0) - record.base.minor
    result = {}
    for affiliate, value in referred.items():
        exact = Fraction(refunded.get(affiliate, 0) * 100, value) if value else None
        count = len(orders.get(affiliate, ()))
        chargebacks = len(disputes.get(affiliate, ()))
        refund_flag = (
            settings.refund_rate_threshold_percent > 0
            and count >= settings.refund_rate_minimum_orders
            and exact is not None
            and exact >= Fraction(settings.refund_rate_threshold_percent)
        )
        rate = _shown(exact) if exact is not None else Decimal(0)
        chargeback_flag = settings.chargeback_threshold > 0 and chargebacks >= settings.chargeback_threshold
        result[affiliate] = Risk(affiliate, rate, count, chargebacks, refund_flag or chargeback_flag)
    return result
