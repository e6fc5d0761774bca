"""Refund rate and chargeback count flag an affiliate at the shop's thresholds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from policy.settings import Settings
from policy.risk import affiliate_risk
from tests.support.builders import days, dispute, line, order, refund
from tests.support.model import ShopModel


def _shop(settings: Settings) -> ShopModel:
    shop = ShopModel(settings)
    shop.deliver(order("1", line("a", "100.00"), rate="10"), days(0))
    shop.deliver(order("2", line("a", "100.00"), rate="10"), days(0))
    shop.deliver(refund("r1", "1", ("a", 1, "60.00")), days(5))
    return shop


@pytest.mark.parametrize(
    "threshold, flagged",
    [("30", True), ("31", False), ("0", False)],
    ids=["at threshold", "below threshold", "threshold off"],
)
def test_refund_rate_flags_at_the_threshold(threshold: str, flagged: bool) -> None:
    settings = Settings(refund_rate_threshold_percent=Decimal(threshold), refund_rate_minimum_orders=2, chargeback_threshold=0)
    [signal] = affiliate_risk(_shop(settings).records(), days(10), settings).values()
    assert signal.refund_rate_percent == Decimal("30.00")  # 60 refunded of 200 referred
    assert signal.flagged is flagged


def test_refunds_outside_the_trailing_window_do_not_count() -> None:
    settings = Settings(refund_rate_threshold_percent=Decimal(30), chargeback_threshold=0)
    [signal] = affiliate_risk(_shop(settings).records(), days(120), settings).values()
    assert signal.refund_rate_percent == Decimal("0")
    assert signal.flagged is False


def test_chargebacks_count_disputes_not_records() -> None:
    settings = Settings(refund_rate_threshold_percent=Decimal(0), chargeback_threshold=2)
    shop = _shop(settings)
    shop.deliver(dispute("d1", "1", "needs_response"), days(6))
    shop.deliver(dispute("d1", "1", "under_review"), days(7))
    [one] = affiliate_risk(shop.records(), days(10), settings).values()
    assert (one.chargebacks, one.flagged) == (1, False)
    shop.deliver(dispute("d2", "2", "needs_response"), days(8))
    [two] = affiliate_risk(shop.records(), days(10), settings).values()
    assert (two.chargebacks, two.flagged) == (2, True)


@pytest.mark.parametrize(("minimum", "flagged"), [(3, False), (2, True), (0, True)])
def test_the_refund_rate_flags_only_after_enough_referred_orders(minimum: int, flagged: bool) -> None:
    """One partial refund of a first order is a 100 % rate over nothing: noise, not risk."""
    settings = Settings(refund_rate_threshold_percent=Decimal(30), refund_rate_minimum_orders=minimum, chargeback_threshold=0)
    [risk] = affiliate_risk(_shop(settings).records(), days(10), settings).values()
    assert (risk.orders, risk.refund_rate_percent, risk.flagged) == (2, Decimal("30.00"), flagged)


def test_a_first_refund_does_not_flag_with_the_default_minimum() -> None:
    settings = Settings()
    shop = ShopModel(settings)
    shop.deliver(order("1", line("a", "100.00")), days(0))
    shop.deliver(refund("r1", "1", ("a", 1, "50.00")), days(1))
    [risk] = affiliate_risk(shop.records(), days(2), settings).values()
    assert (risk.refund_rate_percent, risk.flagged) == (Decimal("50.00"), False)


def test_the_flag_compares_the_exact_rate_and_the_shown_rate_never_overstates_it() -> None:
    """5,999 refunded of 20,000 is 29.995 %: below a 30 % threshold, shown as 29.99 %."""
    settings = Settings(refund_rate_threshold_percent=Decimal(30), refund_rate_minimum_orders=2, chargeback_threshold=0)
    shop = ShopModel(settings)
    shop.deliver(order("1", line("a", "100.00"), rate="10"), days(0))
    shop.deliver(order("2", line("a", "100.00"), rate="10"), days(0))
    shop.deliver(refund("r1", "1", ("a", 1, "59.99")), days(5))
    [signal] = affiliate_risk(shop.records(), days(10), settings).values()
    assert (signal.refund_rate_percent, signal.flagged) == (Decimal("29.99"), False)
