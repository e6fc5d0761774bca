"""Base and rate at sale time, frozen into the order's commission lines.

base(line) = unit price x quantity - discount allocations - tax (when prices include tax),
in shop money; gift cards are not commissionable (shipping, duties and tips never reach
here: they are not line items). rate: affiliate override > product rate > shop default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from ledger.money import Money, percent_of
from policy.events import OrderPaid, SaleLine
from policy.settings import DelayStarts, Settings


@dataclass(frozen=True)
class CommissionLine:
    line_item_id: str
    title: str
    quantity: int
    base: Money
    rate: Decimal

    @property
    def amount(self) -> Money:
        return percent_of(self.rate, self.base.minor, self.base.currency)


@dataclass(frozen=True)
class Sale:
    """What was sold and on which terms; fixed once recorded."""

    order_id: str
    order_name: str
    currency: str
    taxes_included: bool
    affiliate: str | None
    lines: tuple[CommissionLine, ...]
    processed_at: datetime
    delay_days: int
    delay_starts: DelayStarts
    other_lines: tuple[str, ...] = ()  # line ids sold that earn no commission (gift cards)

    def line(self, line_item_id: str) -> CommissionLine | None:
        return next((line for line in self.lines if line.line_item_id == line_item_id), None)

    def approves_at(self, fulfilled_at: datetime | None) -> datetime | None:
        """When this sale's commissions become payable (None: waiting for fulfilment)."""
        start = self.processed_at if self.delay_starts is DelayStarts.ORDER else fulfilled_at
        return None if start is None else start + timedelta(days=self.delay_days)


def _exact_base(line: SaleLine, taxes_included: bool) -> Fraction:
    """``unit price x quantity - discounts - tax (when included)``, exact, never below zero."""
    tax = Fraction(line.tax) if taxes_included else Fraction(0)
    return max(Fraction(line.unit_price) * line.quantity - Fraction(line.discount) - tax, Fraction(0))


def line_base(line: SaleLine, currency: str, taxes_included: bool) -> Money:
    """Commissionable value of one sold line, never below zero, rounded once."""
    return Money.rounded(_exact_base(line, taxes_included), currency)


def part_value(line: SaleLine, quantity: int, currency: str, taxes_included: bool) -> Money:
    """Commissionable value of ``quantity`` units of a line (an exchange's or an edit's new
    line): the sale's base formula, prorated exactly by quantity and rounded once. Gift cards
    are worth nothing."""
    if line.gift_card or not line.quantity:
        return Money.zero(currency)
    return Money.rounded(_exact_base(line, taxes_included) * quantity / line.quantity, currency)


def line_rate(line: SaleLine, event: OrderPaid, settings: Settings) -> Decimal:
    referral = event.referral
    if referral is not None and referral.rate_percent is not None:
        return referral.rate_percent
    product_rates = dict(event.product_rates)
    if line.product_id is not None and line.product_id in product_rates:
        return product_rates[line.product_id]
    return settings.default_rate_percent


def record_sale(event: OrderPaid, settings: Settings) -> Sale:
    """Freeze base and rate of every commissionable line, and the approval terms."""
    referral = event.referral
    delay = settings.approval_delay_days
    if referral is not None and referral.approval_delay_days is not None:
        delay = referral.approval_delay_days
    if referral is not None and referral.flagged:
        delay += settings.flagged_extra_delay_days
    lines = tuple(
        CommissionLine(
            line_item_id=line.line_item_id,
            title=line.title,
            quantity=line.quantity,
            base=line_base(line, event.currency, event.taxes_included),
            rate=line_rate(line, event, settings),
        )
        for line in event.lines
        if not line.gift_card and referral is not None
    )
    return Sale(
        order_id=event.order_id,
        order_name=event.order_name,
        currency=event.currency,
        taxes_included=event.taxes_included,
        affiliate=referral.code if referral else None,
        lines=lines,
        processed_at=event.processed_at,
        delay_days=delay,
        delay_starts=settings.delay_starts,
        other_lines=tuple(line.line_item_id for line in event.lines if line.gift_card and referral is not None),
    )
