"""Short builders for notices, so tests read like the worked examples they prove."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from policy.notices import (
    AddedLine,
    DisputeChanged,
    ExchangeProcessed,
    OrderCancelled,
    OrderEdited,
    OrderPaid,
    Referral,
    RefundCreated,
    RefundLine,
    ReturnedLine,
    SaleLine,
)

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def line(line_id: str, price: str, quantity: int = 1, discount: str = "0", tax: str = "0", **kw) -> SaleLine:
    return SaleLine(line_item_id=line_id, quantity=quantity, unit_price=D(price), discount=D(discount), tax=D(tax), **kw)


def order(
    order_id: str = "1001",
    *lines: SaleLine,
    currency: str = "USD",
    rate: str | None = None,
    affiliate: str | None = "ANNA",
    taxes_included: bool = False,
    at: datetime = T0,
    delay_days: int | None = None,
    flagged: bool = False,
) -> OrderPaid:
    referral = None
    if affiliate is not None:
        referral = Referral(affiliate, D(rate) if rate is not None else None, delay_days, flagged)
    return OrderPaid(
        order_id=order_id,
        order_name=f"#{order_id}",
        currency=currency,
        taxes_included=taxes_included,
        lines=tuple(lines),
        referral=referral,
        processed_at=at,
    )


def refund(refund_id: str, order_id: str = "1001", *lines: tuple, discrepancy: str = "0", shipping: str = "0", at: datetime = T0) -> RefundCreated:
    """``lines`` are ``(line_id, quantity, subtotal[, tax])``; subtotal None pro-rates."""
    return RefundCreated(
        refund_id=refund_id,
        order_id=order_id,
        lines=tuple(
            RefundLine(l[0], l[1], None if l[2] is None else D(l[2]), D(l[3]) if len(l) > 3 else Decimal(0)) for l in lines
        ),
        created_at=at,
        discrepancy=D(discrepancy),
        shipping=D(shipping),
    )


def exchange(return_id: str, order_id: str, returned: list[tuple], added: list[tuple], at: datetime = T0) -> ExchangeProcessed:
    """``returned``: ``(line_id, quantity[, value])``; ``added``: ``(line_id, quantity, value)``."""
    return ExchangeProcessed(
        return_id=return_id,
        order_id=order_id,
        returned=tuple(ReturnedLine(r[0], r[1], D(r[2]) if len(r) > 2 else None) for r in returned),
        added=tuple(AddedLine(a[0], a[1], D(a[2])) for a in added),
        occurred_at=at,
    )


def edit(edit_id: str, order_id: str, added: list[tuple], at: datetime = T0) -> OrderEdited:
    return OrderEdited(edit_id=edit_id, order_id=order_id, added=tuple(AddedLine(a[0], a[1], D(a[2])) for a in added), occurred_at=at)


def dispute(dispute_id: str, order_id: str, status: str, kind: str = "chargeback", at: datetime = T0) -> DisputeChanged:
    return DisputeChanged(dispute_id=dispute_id, order_id=order_id, kind=kind, status=status, occurred_at=at)


def cancel(order_id: str, at: datetime = T0) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, cancelled_at=at)
