"""The seven worked examples of docs/policy.md, amount for amount."""

from __future__ import annotations

from decimal import Decimal

from ledger.records import Kind, Status
from policy.engine import Effect
from policy.settings import Settings
from tests.support.builders import days, line, order, refund
from tests.support.model import ShopModel


def shop(rate: str) -> ShopModel:
    return ShopModel(Settings(default_rate_percent=Decimal(rate)))


def summary(model: ShopModel, order_id: str | None = None) -> list[tuple]:
    return [(r.kind, str(r.amount), r.status, r.clawback) for r in model.records(order_id)]


def test_1_full_refund_inside_the_delay_nets_to_zero_and_is_never_payable() -> None:
    model = shop("20")
    model.deliver(order("1", line("a", "200.00"), currency="EUR"))
    assert summary(model) == [(Kind.COMMISSION, "40.00", Status.PENDING, False)]

    model.deliver(refund("r1", "1", ("a", 1, "200.00")), now=days(5))
    assert summary(model) == [
        (Kind.COMMISSION, "40.00", Status.PENDING, False),
        (Kind.REFUND, "-40.00", Status.PENDING, False),
    ]
    assert model.net("1", "a") == "0.00"

    assert len(model.approve_due(days(31))) == 2
    assert model.run_payouts() == []
    balance = model.balance(currency="EUR")
    assert (str(balance.pending), str(balance.payable), str(balance.paid)) == ("0.00", "0.00", "0.00")


def test_2_refund_after_payment_is_a_clawback_and_the_next_payout_is_smaller() -> None:
    model = shop("20")
    model.deliver(order("1", line("a", "200.00"), currency="EUR"))
    model.approve_due(days(30))
    [first] = model.run_payouts()
    assert str(first.total) == "40.00"

    model.deliver(refund("r1", "1", ("a", 1, "100.00")), now=days(40))
    assert summary(model) == [
        (Kind.COMMISSION, "40.00", Status.PAID, False),
        (Kind.REFUND, "-20.00", Status.APPROVED, True),
    ]
    assert model.records()[1].pairs_with == 1
    assert model.net("1", "a") == "20.00"
    assert str(model.balance(currency="EUR").owed) == "20.00"

    model.deliver(order("2", line("a", "150.00"), currency="EUR", at=days(41)), now=days(41))
    model.approve_due(days(71))
    [second] = model.run_payouts()
    assert str(second.total) == "10.00"  # 30.00 earned on order 2, less the 20.00 clawback
    balance = model.balance(currency="EUR")
    assert (str(balance.paid), str(balance.owed), str(balance.payable)) == ("50.00", "0.00", "0.00")


def test_3_returning_one_of_two_items_reverses_its_commission_only() -> None:
    model = shop("15")
    model.deliver(order("1", line("a", "80.00"), line("b", "40.00")))
    assert [str(r.amount) for r in model.records()] == ["12.00", "6.00"]
    assert model.net("1") == "18.00"

    model.deliver(refund("r1", "1", ("b", 1, "40.00")))
    [reversal] = model.records()[2:]
    assert (reversal.line_item_id, reversal.kind, str(reversal.amount), str(reversal.base), reversal.pairs_with) == (
        "b", Kind.REFUND, "-6.00", "-40.00", 2,
    )
    assert (model.net("1"), model.net("1", "a"), model.net("1", "b")) == ("12.00", "12.00", "0.00")


def test_4_full_refund_after_two_weeks_leaves_nothing_payable_after_thirty_days() -> None:
    model = shop("15")
    model.deliver(order("1", line("a", "80.00")))
    assert str(model.balance().pending) == "12.00"

    model.deliver(refund("r1", "1", ("a", 1, "80.00")), now=days(14))
    assert str(model.balance().pending) == "0.00"
    assert model.approve_due(days(29)) == []

    assert model.approve_due(days(30)) == [1, 2]
    balance = model.balance()
    assert (str(balance.pending), str(balance.payable), str(balance.owed)) == ("0.00", "0.00", "0.00")
    assert model.run_payouts() == []


def test_5_partial_refund_recalculates_on_what_was_kept() -> None:
    model = shop("10")
    model.deliver(order("1", line("a", "100.00")))
    model.deliver(refund("r1", "1", ("a", 1, "30.00")))
    assert summary(model) == [
        (Kind.COMMISSION, "10.00", Status.PENDING, False),
        (Kind.REFUND, "-3.00", Status.PENDING, False),
    ]
    assert model.net("1", "a") == "7.00"


def test_6_the_same_refund_three_times_is_one_adjustment() -> None:
    model = shop("10")
    model.deliver(order("1", line("a", "100.00")))
    effects = [model.deliver(refund("r1", "1", ("a", 1, "30.00")), now=days(n)).effect for n in (1, 2, 3)]
    assert effects == [Effect.APPLIED, Effect.DUPLICATE, Effect.DUPLICATE]
    assert len(model.records()) == 2
    assert model.net("1", "a") == "7.00"


def fingerprint(model: ShopModel) -> list[tuple]:
    return [(r.line_item_id, r.kind, str(r.amount), str(r.base), r.status, r.pairs_with, r.source) for r in model.records()]


def test_7_refund_before_its_order_ends_in_the_same_records() -> None:
    sale = order("1", line("a", "100.00"), line("b", "50.00"))
    first_refund = refund("r1", "1", ("a", 1, "30.00"))
    second_refund = refund("r2", "1", ("b", 1, "50.00"))

    normal = shop("10")
    for event in (sale, first_refund, second_refund):
        normal.deliver(event)

    early = shop("10")
    assert early.deliver(first_refund).effect is Effect.PARKED
    assert early.deliver(first_refund).effect is Effect.DUPLICATE  # parked once
    assert early.deliver(second_refund).effect is Effect.PARKED
    assert early.records() == []
    assert early.deliver(sale).effect is Effect.APPLIED
    assert early.deliver(second_refund).effect is Effect.DUPLICATE

    assert fingerprint(early) == fingerprint(normal)
    assert fingerprint(normal) == [
        ("a", Kind.COMMISSION, "10.00", "100.00", Status.PENDING, None, "order:1"),
        ("b", Kind.COMMISSION, "5.00", "50.00", Status.PENDING, None, "order:1"),
        ("a", Kind.REFUND, "-3.00", "-30.00", Status.PENDING, 1, "refund:r1"),
        ("b", Kind.REFUND, "-5.00", "-50.00", Status.PENDING, 2, "refund:r2"),
    ]
