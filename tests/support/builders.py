"""Short builders for events, so tests read like the worked examples they prove."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from ledger.money import Money
from ledger.records import Draft, Kind, Record, Status
from policy.events import (
    AddedLine,
    DisputeChanged,
    ExchangeProcessed,
    OrderCancelled,
    OrderEdited,
    OrderFulfilled,
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
    product_rates: dict[str, str] | None = None,
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
        product_rates=tuple((pid, D(r)) for pid, r in (product_rates or {}).items()),
    )


def refund(
    refund_id: str, order_id: str = "1001", *lines: tuple, discrepancy: str = "0", shipping: str = "0", at: datetime = T0,
    currency: str | None = None, return_id: str | None = None,
) -> RefundCreated:
    """``lines`` are ``(line_id, quantity, subtotal[, tax])``; subtotal None pro-rates;
    ``return_id`` names the return the refund settles."""
    return RefundCreated(
        refund_id=refund_id,
        order_id=order_id,
        lines=tuple(
            RefundLine(l[0], l[1], None if l[2] is None else D(l[2]), D(l[3]) if len(l) > 3 else Decimal(0)) for l in lines
        ),
        created_at=at,
        discrepancy=D(discrepancy),
        shipping=D(shipping),
        currency=currency,
        return_id=return_id,
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


def fulfil(order_id: str, at: datetime = T0) -> OrderFulfilled:
    return OrderFulfilled(order_id=order_id, fulfilled_at=at)


# -- ledger records, for the ledger tests that need no policy --------------------------------


def draft(
    amount: str,
    *,
    order_id: str = "1001",
    line_id: str = "a",
    kind: Kind = Kind.COMMISSION,
    base: str | None = None,
    rate: str = "10",
    status: Status = Status.PENDING,
    currency: str = "USD",
    affiliate: str = "ANNA",
    event_key: str | None = None,
    clawback: bool = False,
) -> Draft:
    """A draft of ``amount``; ``base`` defaults to what ``rate`` % of it implies."""
    money = Money.of(amount, currency)
    if base is None:
        base = str(money.amount * 100 / D(rate))
    return Draft(
        order_id=order_id,
        line_item_id=line_id,
        affiliate=affiliate,
        kind=kind,
        status=status,
        amount=money,
        base=Money.of(base, currency),
        rate=D(rate),
        clawback=clawback,
        reason=f"test {kind}",
        source=event_key or f"order:{order_id}",
        event_key=event_key or f"order:{order_id}",
        occurred_at=T0,
        created_at=T0,
        approves_at=days(30) if status is Status.PENDING else None,
    )


def record(record_id: int, amount: str, *, pairs_with: int | None = None, **kw) -> Record:
    """A posted record, for folds and payout plans that take records directly."""
    d = draft(amount, **kw)
    fields = {name: getattr(d, name) for name in Draft.__dataclass_fields__}
    return Record(**fields, id=record_id, pairs_with=pairs_with)
