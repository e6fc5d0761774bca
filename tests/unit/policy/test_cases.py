"""docs/policy.md "What happens, by case", one labelled row per case, exact amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import IdempotencyConflict
from ledger.money import Money, allocate, percent_of
from ledger.records import Kind, Status
from policy.attribution import Candidate, Clues, attribute, code_keys
from policy.engine import Effect
from policy.errors import EventRefused
from policy.settings import AmountOnlyRefunds, DelayStarts, Settings, SettingError, parse
from tests.support.builders import (
    cancel,
    days,
    dispute,
    edit,
    exchange,
    fulfil,
    line,
    order,
    refund,
)
from tests.support.model import ShopModel

# Order 1: a = 100.00 (one unit), b = 2 x 25.00 = 50.00; the shop's default rate is 10 %.
SALE = order("1", line("a", "100.00"), line("b", "25.00", quantity=2))


def shop(**settings: str) -> ShopModel:
    """A shop whose settings are typed in as strings, the way a merchant sets them."""
    return ShopModel(Settings().updated({"default_rate_percent": "10", **settings}))


def play(*events, sale=SALE, **settings: str) -> tuple[ShopModel, list[tuple[str, str, str]]]:
    """Deliver the sale then ``events``; returns the model and the records written after the sale."""
    model = shop(**settings)
    model.deliver(sale)
    start = len(model.records())
    for event in events:
        model.deliver(event)
    return model, [(r.line_item_id, r.kind.value, str(r.amount)) for r in model.records()[start:]]


def nets(model: ShopModel, order_id: str = "1") -> dict[str, str]:
    lines = dict.fromkeys(r.line_item_id for r in model.records(order_id))
    return {line_id: model.net(order_id, line_id) for line_id in lines}


def row(case: str, events: list, records: list, net_a: str, net_b: str, **settings: str):
    return pytest.param(events, records, {"a": net_a, "b": net_b}, settings, id=case)


# -- refunds ------------------------------------------------------------------------------

REFUNDS = [
    row("full refund of a line", [refund("r1", "1", ("a", 1, "100.00"))], [("a", "refund", "-10.00")], "0.00", "5.00"),
    row("partial refund", [refund("r1", "1", ("a", 1, "30.00"))], [("a", "refund", "-3.00")], "7.00", "5.00"),
    row("refund by quantity, no subtotal", [refund("r1", "1", ("b", 1, None))], [("b", "refund", "-2.50")], "10.00", "2.50"),
    row(
        "two lines in one refund",
        [refund("r1", "1", ("a", 1, "100.00"), ("b", 2, "50.00"))],
        [("a", "refund", "-10.00"), ("b", "refund", "-5.00")], "0.00", "0.00",
    ),
    row("two partial refunds", [refund("r1", "1", ("a", 1, "30.00")), refund("r2", "1", ("a", 1, "30.00"))],
        [("a", "refund", "-3.00"), ("a", "refund", "-3.00")], "4.00", "5.00"),
    row("over-refund claws back no more than earned", [refund("r1", "1", ("a", 1, "150.00"))], [("a", "refund", "-10.00")], "0.00", "5.00"),
    row(
        "amount-only, prorate over remaining value",
        [refund("r1", "1", discrepancy="-15.00")],
        [("a", "refund", "-1.00"), ("b", "refund", "-0.50")], "9.00", "4.50",
    ),
    row(
        "amount-only spreads over what is left after line refunds",
        [refund("r1", "1", ("b", 2, "50.00"), discrepancy="-10.00")],
        [("a", "refund", "-1.00"), ("b", "refund", "-5.00")], "9.00", "0.00",
    ),
    row(
        "amount-only above what is left zeroes the order, no more",
        [refund("r1", "1", discrepancy="-500.00")],
        [("a", "refund", "-10.00"), ("b", "refund", "-5.00")], "0.00", "0.00",
    ),
    row("amount-only, ignore", [refund("r1", "1", discrepancy="-15.00")], [], "10.00", "5.00", amount_only_refunds="ignore"),
    row("amount-only, review", [refund("r1", "1", discrepancy="-15.00")], [], "10.00", "5.00", amount_only_refunds="review"),
    row("shipping-only refund", [refund("r1", "1", shipping="15.00")], [], "10.00", "5.00"),
    row("shipping with a line refund", [refund("r1", "1", ("a", 1, "30.00"), shipping="9.99")], [("a", "refund", "-3.00")], "7.00", "5.00"),
    row(
        "positive discrepancy lowers the refunded value",
        [refund("r1", "1", ("a", 1, "30.00"), discrepancy="10.00")],
        [("a", "refund", "-2.00")], "8.00", "5.00",
    ),
    row(
        "positive discrepancy split over the refunded lines",
        [refund("r1", "1", ("a", 1, "40.00"), ("b", 1, "20.00"), discrepancy="6.00")],
        [("a", "refund", "-3.60"), ("b", "refund", "-1.80")], "6.40", "3.20",
    ),
]


@pytest.mark.parametrize(("events", "records", "expected_nets", "settings"), REFUNDS)
def test_refunds(events, records, expected_nets, settings) -> None:
    model, written = play(*events, **settings)
    assert written == records
    assert nets(model) == expected_nets


def test_a_refund_of_a_line_not_on_the_order_is_refused_and_writes_nothing() -> None:
    model = shop()
    model.deliver(SALE)
    before = model.records()
    with pytest.raises(EventRefused, match="refund:r1 refused: line zz is not on order #1") as refused:
        model.deliver(refund("r1", "1", ("a", 1, "10.00"), ("zz", 1, "10.00")))
    assert refused.value.final is False  # its exchange may be late: the worker retries, then fails it visibly
    assert model.records() == before
    assert model.facts["1"].fingerprint_of("refund:r1") is None  # not even remembered


def test_a_refund_in_another_currency_is_refused_and_writes_nothing() -> None:
    model = shop()
    model.deliver(SALE)
    with pytest.raises(EventRefused, match="its amounts are in EUR but order #1 was sold in USD") as refused:
        model.deliver(refund("r1", "1", ("a", 1, "10.00"), currency="EUR"))
    assert refused.value.final is True
    assert [r.kind for r in model.records()] == [Kind.COMMISSION, Kind.COMMISSION]
    model.deliver(refund("r2", "1", ("a", 1, "10.00"), currency="USD"))
    assert nets(model)["a"] == "9.00"


def test_a_refund_of_a_gift_card_line_is_accepted_and_moves_nothing() -> None:
    sale = order("1", line("a", "100.00"), line("g", "50.00", gift_card=True))
    model, written = play(refund("r1", "1", ("g", 1, "50.00")), sale=sale)
    assert written == [] and nets(model) == {"a": "10.00"}


def test_a_refund_of_a_line_added_by_an_exchange_is_accepted() -> None:
    model, written = play(exchange("x1", "1", [("a", 1)], [("n", 1, "120.00")]), refund("r1", "1", ("n", 1, "120.00")))
    assert nets(model)["a"] == "0.00"


def test_a_parked_refund_of_an_exchanged_item_is_judged_after_its_parked_exchange() -> None:
    model = shop()
    model.deliver(refund("r1", "1", ("n", 1, "120.00")))
    model.deliver(exchange("x1", "1", [("a", 1)], [("n", 1, "120.00")]))
    outcome = model.deliver(SALE)
    assert [(r.key, r.effect) for r in outcome.replayed] == [("refund:r1", Effect.APPLIED), ("return:x1", Effect.APPLIED)]
    assert nets(model)["a"] == "0.00"


def test_an_exchange_returning_a_line_not_on_the_order_is_refused() -> None:
    model = shop()
    model.deliver(SALE)
    with pytest.raises(EventRefused, match="line zz is not on order #1"):
        model.deliver(exchange("x1", "1", [("zz", 1)], [("n", 1, "120.00")]))


def test_a_parked_refund_that_contradicts_the_sale_is_reported_on_replay_and_moves_nothing() -> None:
    model = shop()
    assert model.deliver(refund("r1", "1", ("zz", 1, "10.00"))).effect is Effect.PARKED
    assert model.deliver(refund("r2", "1", ("a", 1, "50.00"))).effect is Effect.PARKED
    outcome = model.deliver(SALE)
    assert [(r.key, r.effect) for r in outcome.replayed] == [("refund:r1", Effect.REFUSED), ("refund:r2", Effect.APPLIED)]
    assert "line zz is not on order #1" in outcome.replayed[0].problem
    assert nets(model) == {"a": "5.00", "b": "5.00"}


def test_an_unknown_event_type_fails_loudly_and_writes_nothing() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Unheard:
        order_id: str = "1"
        key: str = "unheard:1"
        occurred_at: object = days(1)

    model = shop()
    model.deliver(SALE)
    before = model.records()
    with pytest.raises(TypeError):
        model.deliver(Unheard())
    assert model.records() == before


def test_records_carry_the_time_their_event_happened() -> None:
    sale = order("1", line("a", "100.00"), at=days(0))
    model = shop()
    model.deliver(sale, now=days(40))
    model.deliver(refund("r1", "1", ("a", 1, "10.00"), at=days(3)), now=days(41))
    model.deliver(dispute("d1", "1", "needs_response", at=days(5)), now=days(42))
    model.deliver(dispute("d1", "1", "won", at=days(9)), now=days(43))
    model.deliver(cancel("1", at=days(12)), now=days(44))
    got = [(r.kind.value, r.occurred_at, r.created_at) for r in model.records()]
    assert got == [
        ("commission", days(0), days(40)), ("refund", days(3), days(41)), ("chargeback", days(5), days(42)),
        ("reinstatement", days(9), days(43)), ("cancellation", days(12), days(44)),
    ]


def test_a_held_amount_only_refund_accepted_by_the_merchant_is_spread_as_prorate_would() -> None:
    from policy.events import ReviewDecided

    model = shop(amount_only_refunds="review")
    model.deliver(SALE)
    model.deliver(refund("r1", "1", discrepancy="-15.00"))
    assert nets(model) == {"a": "10.00", "b": "5.00"}  # held: nothing moved yet
    decided = model.deliver(ReviewDecided("1", "r1", True, "74512", days(3)), now=days(3))
    assert [(d.line_item_id, d.kind.value, str(d.amount), d.occurred_at) for d in decided.drafts] == [
        ("a", "refund", "-1.00", days(3)), ("b", "refund", "-0.50", days(3))]
    assert "accepted by the merchant (user 74512)" in decided.drafts[0].reason
    assert nets(model) == {"a": "9.00", "b": "4.50"}  # as prorate: 15.00 over 150.00 of value
    assert model.deliver(ReviewDecided("1", "r1", True, "74512", days(4))).effect is Effect.DUPLICATE
    with pytest.raises(IdempotencyConflict):
        model.deliver(ReviewDecided("1", "r1", False, "99", days(5)))  # a second, different decision


def test_a_held_amount_only_refund_rejected_by_the_merchant_moves_nothing() -> None:
    from policy.events import ReviewDecided

    model = shop(amount_only_refunds="review")
    model.deliver(SALE)
    model.deliver(refund("r1", "1", discrepancy="-15.00"))
    assert model.deliver(ReviewDecided("1", "r1", False, "74512", days(3))).drafts == ()
    assert nets(model) == {"a": "10.00", "b": "5.00"}
    with pytest.raises(EventRefused, match="refund r2 of order 1 is not held for review"):
        model.deliver(ReviewDecided("1", "r2", True, "74512", days(3)))


def test_an_amount_only_refund_held_for_review_says_so() -> None:
    model = shop(amount_only_refunds="review")
    model.deliver(SALE)
    outcome = model.deliver(refund("r1", "1", discrepancy="-15.00"))
    assert outcome.drafts == ()
    assert outcome.review == ("refund r1: 15.00 refunded beyond its line items, held for review",)


PRORATE = [
    # rate 100 %, so every commission shows its line's value to the cent
    pytest.param(["1.00", "1.00"], "-0.01", ["-0.01", None], id="a tie goes to the line listed first"),
    pytest.param(["1.00", "2.00", "1.00"], "-0.05", ["-0.01", "-0.03", "-0.01"], id="largest remainder"),
    pytest.param(["0.10", "0.20", "0.70"], "-0.03", [None, "-0.01", "-0.02"], id="proportional, sums exactly"),
]


@pytest.mark.parametrize(("prices", "discrepancy", "adjustments"), PRORATE)
def test_amount_only_refunds_are_spread_by_largest_remainder(prices, discrepancy, adjustments) -> None:
    sale = order("1", *(line(chr(ord("a") + i), p) for i, p in enumerate(prices)), rate="100")
    model, written = play(refund("r1", "1", discrepancy=discrepancy), sale=sale)
    expected = [(chr(ord("a") + i), "refund", amount) for i, amount in enumerate(adjustments) if amount]
    assert written == expected
    assert sum(Money.of(a, "USD").minor for _, _, a in written) == Money.of(discrepancy, "USD").minor


# -- the commission's state -------------------------------------------------------------------


STATES = [
    # state when refunded, refunded value, the adjustment (amount, status, clawback), net, balances after
    # (pending, payable, owed, paid)
    pytest.param("pending", "100.00", ("-10.00", Status.PENDING, False), "0.00", ("0.00", "0.00", "0.00", "0.00"), id="pending, full"),
    pytest.param("pending", "30.00", ("-3.00", Status.PENDING, False), "7.00", ("7.00", "0.00", "0.00", "0.00"), id="pending, partial"),
    pytest.param("approved", "100.00", ("-10.00", Status.APPROVED, False), "0.00", ("0.00", "0.00", "0.00", "0.00"), id="approved, full"),
    pytest.param("approved", "30.00", ("-3.00", Status.APPROVED, False), "7.00", ("0.00", "7.00", "0.00", "0.00"), id="approved, partial"),
    pytest.param("paid", "100.00", ("-10.00", Status.APPROVED, True), "0.00", ("0.00", "0.00", "10.00", "10.00"), id="paid, full"),
    pytest.param("paid", "30.00", ("-3.00", Status.APPROVED, True), "7.00", ("0.00", "0.00", "3.00", "10.00"), id="paid, partial"),
]


@pytest.mark.parametrize(("state", "refunded", "adjustment", "net", "balances"), STATES)
def test_a_refund_follows_the_commission_state(state, refunded, adjustment, net, balances) -> None:
    model = shop()
    model.deliver(order("1", line("a", "100.00")))
    if state in {"approved", "paid"}:
        model.approve_due(days(30))
        assert str(model.balance().payable) == "10.00"
    if state == "paid":
        assert [str(p.total) for p in model.run_payouts()] == ["10.00"]
    model.deliver(refund("r1", "1", ("a", 1, refunded)), now=days(31))
    [adjusting] = model.records()[1:]
    assert (adjusting.kind, adjusting.pairs_with) == (Kind.REFUND, 1)
    assert (str(adjusting.amount), adjusting.status, adjusting.clawback) == adjustment
    assert model.net("1") == net
    b = model.balance()
    assert (str(b.pending), str(b.payable), str(b.owed), str(b.paid)) == balances


def test_pending_adjustments_approve_with_their_commission() -> None:
    model = shop()
    model.deliver(order("1", line("a", "100.00")))
    model.deliver(refund("r1", "1", ("a", 1, "30.00")), now=days(3))
    assert model.approve_due(days(29)) == []
    assert model.approve_due(days(30)) == [1, 2]
    assert (str(model.balance().payable), str(model.balance().pending)) == ("7.00", "0.00")
    assert [str(p.total) for p in model.run_payouts()] == ["7.00"]


def test_a_chargeback_then_reinstatement_on_a_paid_line_nets_back_in_the_next_payout() -> None:
    model = shop()
    model.deliver(order("1", line("a", "100.00")))
    model.approve_due(days(30))
    model.run_payouts()
    model.deliver(dispute("d1", "1", "needs_response"), now=days(31))
    model.deliver(dispute("d1", "1", "won"), now=days(40))
    assert [(r.kind, str(r.amount), r.status, r.clawback) for r in model.records()[1:]] == [
        (Kind.CHARGEBACK, "-10.00", Status.APPROVED, True),
        (Kind.REINSTATEMENT, "10.00", Status.APPROVED, True),  # written after payout: added to the next one
    ]
    assert "deducted" not in model.records()[2].reason
    assert model.run_payouts() == []  # -10.00 + 10.00


# -- exchanges and edits --------------------------------------------------------------------

EXCHANGES = [
    row("even exchange: no record", [exchange("x1", "1", [("a", 1)], [("n", 1, "100.00")])], [], "10.00", "5.00"),
    row("upgrade, setting commission", [exchange("x1", "1", [("a", 1)], [("n", 1, "150.00")])], [("a", "exchange", "5.00")], "15.00", "5.00"),
    row("upgrade, setting ignore", [exchange("x1", "1", [("a", 1)], [("n", 1, "150.00")])], [], "10.00", "5.00", exchange_upgrades="ignore"),
    row("downgrade", [exchange("x1", "1", [("a", 1)], [("n", 1, "60.00")])], [("a", "exchange", "-4.00")], "6.00", "5.00"),
    row("downgrade, setting ignore", [exchange("x1", "1", [("a", 1)], [("n", 1, "60.00")])], [("a", "exchange", "-4.00")], "6.00", "5.00",
        exchange_upgrades="ignore"),
    row("one of two units exchanged up", [exchange("x1", "1", [("b", 1)], [("n", 1, "35.00")])], [("b", "exchange", "1.00")], "10.00", "6.00"),
    row("returned value given", [exchange("x1", "1", [("b", 1, "20.00")], [("n", 1, "20.00")])], [], "10.00", "5.00"),
    row("two lines for one item, even", [exchange("x1", "1", [("a", 1), ("b", 2)], [("n", 1, "150.00")])], [], "10.00", "5.00"),
    row(
        "upgrade, then the new item refunded",
        [exchange("x1", "1", [("a", 1)], [("n", 1, "150.00")]), refund("r1", "1", ("n", 1, "150.00"))],
        [("a", "exchange", "5.00"), ("a", "refund", "-15.00")], "0.00", "5.00",
    ),
    row("edit adding items is an upgrade", [edit("e1", "1", [("y", 1, "40.00")])], [("a", "exchange", "4.00")], "14.00", "5.00"),
    row("edit adding items, setting ignore", [edit("e1", "1", [("y", 1, "40.00")])], [], "10.00", "5.00", exchange_upgrades="ignore"),
    row(
        "edit, then the added item refunded",
        [edit("e1", "1", [("y", 1, "40.00")]), refund("r1", "1", ("y", 1, None))],
        [("a", "exchange", "4.00"), ("a", "refund", "-4.00")], "10.00", "5.00",
    ),
]


@pytest.mark.parametrize(("events", "records", "expected_nets", "settings"), EXCHANGES)
def test_exchanges_and_edits(events, records, expected_nets, settings) -> None:
    model, written = play(*events, **settings)
    assert written == records
    assert nets(model) == expected_nets
    assert [r.line_item_id for r in model.records() if r.kind is Kind.COMMISSION] == ["a", "b"]  # never a second referral


def test_an_even_exchange_is_kept_in_the_order_history() -> None:
    model, _ = play(exchange("x1", "1", [("a", 1)], [("n", 1, "100.00")]))
    assert [e.return_id for e, _ in model.facts["1"].exchanges] == ["x1"]


def test_a_later_paid_payload_is_never_a_second_sale() -> None:
    model, written = play(order("1", line("a", "100.00"), line("b", "25.00", quantity=2), line("c", "80.00")))
    assert written == []
    assert len(model.records()) == 2


def test_an_even_exchange_of_two_lines_for_two_items_moves_nothing_between_them() -> None:
    sale = order("1", line("a", "50.00"), line("b", "50.00"), rate="100")
    model, written = play(exchange("x1", "1", [("a", 1), ("b", 1)], [("n1", 1, "33.33"), ("n2", 1, "66.67")]), sale=sale)
    assert written == []
    assert nets(model) == {"a": "50.00", "b": "50.00"}


def test_a_refunded_exchange_credit_never_drifts_up() -> None:
    """Three 0.01 lines exchanged for one 0.03 item, then 0.01 of it refunded: 0.02 is kept."""
    sale = order("1", line("a", "0.01"), line("b", "0.01"), line("c", "0.01"), rate="100")
    model, written = play(
        exchange("x1", "1", [("a", 1), ("b", 1), ("c", 1)], [("n", 1, "0.03")]),
        refund("r1", "1", ("n", 1, "0.01")),
        sale=sale,
    )
    assert written == [("c", "refund", "-0.01")]
    assert model.net("1") == "0.02"


# -- disputes and cancellations ---------------------------------------------------------------

ZEROED = [("a", "chargeback", "-10.00"), ("b", "chargeback", "-5.00")]
RESTORED = [("a", "reinstatement", "10.00"), ("b", "reinstatement", "5.00")]
CANCELLED = [("a", "cancellation", "-10.00"), ("b", "cancellation", "-5.00")]

ORDER_EVENTS = [
    row("chargeback opened", [dispute("d1", "1", "needs_response")], ZEROED, "0.00", "0.00"),
    row("chargeback won", [dispute("d1", "1", "needs_response"), dispute("d1", "1", "won")], ZEROED + RESTORED, "10.00", "5.00"),
    row("chargeback lost", [dispute("d1", "1", "needs_response"), dispute("d1", "1", "lost")], ZEROED, "0.00", "0.00"),
    row("won, then an older status", [dispute("d1", "1", "needs_response"), dispute("d1", "1", "won"), dispute("d1", "1", "under_review")],
        ZEROED + RESTORED, "10.00", "5.00"),
    row("won delivered first", [dispute("d1", "1", "won"), dispute("d1", "1", "needs_response")], [], "10.00", "5.00"),
    row("lost delivered first", [dispute("d1", "1", "lost"), dispute("d1", "1", "needs_response")], ZEROED, "0.00", "0.00"),
    row("inquiry moves nothing", [dispute("q1", "1", "needs_response", kind="inquiry"), dispute("q1", "1", "lost", kind="inquiry")],
        [], "10.00", "5.00"),
    row(
        "chargeback won restores what was reversed, not more",
        [refund("r1", "1", ("a", 1, "30.00")), dispute("d1", "1", "under_review"), dispute("d1", "1", "won")],
        [("a", "refund", "-3.00"), ("a", "chargeback", "-7.00"), ("b", "chargeback", "-5.00"),
         ("a", "reinstatement", "7.00"), ("b", "reinstatement", "5.00")],
        "7.00", "5.00",
    ),
    row("cancelled", [cancel("1")], CANCELLED, "0.00", "0.00"),
    row("cancel, then a refund adds nothing", [cancel("1"), refund("r1", "1", ("a", 1, "100.00"))], CANCELLED, "0.00", "0.00"),
    row(
        "refund, then cancel",
        [refund("r1", "1", ("a", 1, "30.00")), cancel("1")],
        [("a", "refund", "-3.00"), ("a", "cancellation", "-7.00"), ("b", "cancellation", "-5.00")], "0.00", "0.00",
    ),
    row("cancelled, then a chargeback won", [cancel("1"), dispute("d1", "1", "needs_response"), dispute("d1", "1", "won")],
        CANCELLED, "0.00", "0.00"),
]


@pytest.mark.parametrize(("events", "records", "expected_nets", "settings"), ORDER_EVENTS)
def test_disputes_and_cancellations(events, records, expected_nets, settings) -> None:
    model, written = play(*events, **settings)
    assert written == records
    assert nets(model) == expected_nets


@pytest.mark.parametrize("status", ["needs_response", "under_review", "accepted", "charge_refunded", "lost"])
def test_every_standing_chargeback_status_zeroes_the_order(status: str) -> None:
    model, written = play(dispute("d1", "1", status))
    assert written == ZEROED
    assert model.facts["1"].chargebacks == 1


def test_effects_of_dispute_deliveries() -> None:
    model = shop()
    model.deliver(SALE)
    deliveries = [("needs_response", Effect.APPLIED), ("won", Effect.APPLIED), ("under_review", Effect.IGNORED), ("won", Effect.DUPLICATE)]
    assert [model.deliver(dispute("d1", "1", s)).effect for s, _ in deliveries] == [e for _, e in deliveries]
    assert model.facts["1"].chargebacks == 1
    with pytest.raises(IdempotencyConflict):
        model.deliver(dispute("d1", "1", "lost"))  # a dispute is never both won and lost


def test_a_second_cancellation_is_a_duplicate() -> None:
    model, _ = play(cancel("1"))
    assert model.deliver(cancel("1", at=days(2))).effect is Effect.DUPLICATE
    assert len(model.records()) == 4


# -- partial refunds never drift --------------------------------------------------------------

DRIFT = [
    pytest.param("USD", "33.33", 3, "0", "15", id="USD 3 x 33.33 at 15%"),
    pytest.param("USD", "10.00", 10, "0.96", "15", id="USD 10 x 10.00 less 0.96 at 15%"),
    pytest.param("USD", "33.34", 3, "0.02", "50", id="USD 3 x 33.34 less 0.02 at 50%"),
    pytest.param("JPY", "999", 7, "5", "7", id="JPY 7 x 999 less 5 at 7%"),
    pytest.param("KWD", "1.333", 3, "0.001", "12.5", id="KWD 3 x 1.333 less 0.001 at 12.5%"),
    pytest.param("EUR", "0.99", 9, "0.05", "33.3", id="EUR 9 x 0.99 less 0.05 at 33.3%"),
]


@pytest.mark.parametrize(("currency", "price", "quantity", "discount", "rate"), DRIFT)
@pytest.mark.parametrize("with_subtotal", [True, False], ids=["subtotals", "by quantity"])
def test_refunding_every_unit_one_at_a_time_ends_at_exactly_zero(currency, price, quantity, discount, rate, with_subtotal) -> None:
    model = shop()
    model.deliver(order("1", line("a", price, quantity=quantity, discount=discount), currency=currency, rate=rate))
    base = model.records()[0].base.minor
    units = allocate(base, [1] * quantity)  # what each unit was really sold for
    for n, unit in enumerate(units, 1):
        model.deliver(refund(f"r{n}", "1", ("a", 1, str(Money(unit, currency)) if with_subtotal else None)))
        if with_subtotal:
            assert model.net("1") == str(percent_of(Decimal(rate), base - sum(units[:n]), currency))
    assert model.net("1") == str(Money.zero(currency))
    assert all(r.amount.minor < 0 for r in model.records()[1:])


@given(
    currency=st.sampled_from(["USD", "JPY", "KWD", "EUR"]),
    base=st.integers(1, 10**7),
    rate=st.sampled_from(["1", "7.5", "10", "15", "33.3", "50", "100"]),
    cuts=st.lists(st.integers(1, 10**6), min_size=1, max_size=8),
)
def test_several_partial_refunds_track_rate_times_what_was_kept(currency, base, rate, cuts) -> None:
    price = str(Money(base, currency))
    model = shop()
    model.deliver(order("1", line("a", price), currency=currency, rate=rate))
    earned = model.records()[0].amount.minor
    refunded = 0
    for n, cut in enumerate(cuts):
        model.deliver(refund(f"r{n}", "1", ("a", 1, str(Money(cut, currency)))))
        refunded += cut
        expected = percent_of(Decimal(rate), max(0, base - refunded), currency)
        assert model.net("1") == str(expected)
        assert 0 <= expected.minor <= earned


# -- tax, currencies, discounts --------------------------------------------------------------

AMOUNTS = [
    # (sale, refund lines, commission, adjustment)
    pytest.param(order("1", line("a", "120.00", tax="20.00"), taxes_included=True), [("a", 1, "60.00", "10.00")], "10.00", "-5.00",
                 id="taxes included: tax leaves base and refund"),
    pytest.param(order("1", line("a", "100.00", tax="20.00")), [("a", 1, "50.00", "10.00")], "10.00", "-5.00",
                 id="taxes on top: tax never in base"),
    pytest.param(order("1", line("a", "100.00", discount="20.00")), [("a", 1, "40.00")], "8.00", "-4.00", id="discount leaves base"),
    pytest.param(order("1", line("a", "1999"), currency="JPY", rate="15"), [("a", 1, "999")], "300", "-150", id="JPY: 299.85 -> 300"),
    pytest.param(order("1", line("a", "12.345"), currency="KWD"), [("a", 1, "2.345")], "1.235", "-0.235", id="KWD: 1.2345 -> 1.235"),
    pytest.param(order("1", line("a", "19.99"), currency="EUR", rate="12.5"), [("a", 1, "9.99")], "2.50", "-1.25",
                 id="EUR: 2.49875 -> 2.50"),
]


@pytest.mark.parametrize(("sale", "lines", "commission", "adjustment"), AMOUNTS)
def test_amounts_in_shop_money(sale, lines, commission, adjustment) -> None:
    model, written = play(refund("r1", "1", *lines), sale=sale)
    assert str(model.records()[0].amount) == commission
    assert written == [("a", "refund", adjustment)]


def test_gift_cards_and_unreferred_orders_earn_nothing() -> None:
    model = shop()
    model.deliver(order("1", line("a", "50.00"), line("g", "100.00", gift_card=True)))
    model.deliver(order("2", line("a", "50.00"), affiliate=None))
    model.deliver(refund("r1", "2", ("a", 1, "50.00")))
    assert [(r.order_id, r.line_item_id, str(r.amount)) for r in model.records()] == [("1", "a", "5.00")]


# -- idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize("parked", [False, True], ids=["after the sale", "while parked"])
def test_same_refund_id_with_different_content_is_a_conflict(parked: bool) -> None:
    model = shop()
    if not parked:
        model.deliver(SALE)
    model.deliver(refund("r1", "1", ("a", 1, "30.00")))
    before = (model.records(), model.facts["1"])
    for changed in (
        refund("r1", "1", ("a", 1, "31.00")),
        refund("r1", "1", ("b", 1, "30.00")),
        refund("r1", "1", ("a", 1, "30.00"), shipping="5.00"),
    ):
        with pytest.raises(IdempotencyConflict, match="refund:r1"):
            model.deliver(changed)
    assert (model.records(), model.facts["1"]) == before
    model.deliver(SALE)
    assert nets(model) == {"a": "7.00", "b": "5.00"}


def test_a_redelivery_with_a_new_timestamp_is_still_a_duplicate() -> None:
    model, _ = play(refund("r1", "1", ("a", 1, "30.00"), at=days(1)))
    assert model.deliver(refund("r1", "1", ("a", 1, "30.00"), at=days(9))).effect is Effect.DUPLICATE
    assert len(model.records()) == 3


# -- rates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "rates"),
    [(None, ["20.00", "10.00"]), ("5", ["5.00", "5.00"])],
    ids=["product rate over the shop default", "affiliate override over everything"],
)
def test_rate_priority(override, rates) -> None:
    sale = order("1", line("a", "100.00", product_id="p1"), line("b", "100.00", product_id="p2"), rate=override, product_rates={"p1": "20"})
    model, _ = play(sale=sale)
    assert [str(r.amount) for r in model.records()] == rates


def test_a_rate_change_never_changes_past_orders() -> None:
    model = shop()
    model.deliver(SALE)
    model.settings = model.settings.updated({"default_rate_percent": "50"})
    model.deliver(refund("r1", "1", ("a", 1, "30.00")))
    assert [str(r.amount) for r in model.records()] == ["10.00", "5.00", "-3.00"]
    assert {r.rate for r in model.records()} == {Decimal("10")}


# -- approval -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay_days", "flagged", "settings", "payable_on"),
    [
        (None, False, {}, 30),
        (None, False, {"approval_delay_days": "14"}, 14),
        (7, False, {}, 7),
        (None, True, {}, 60),
        (7, True, {"flagged_extra_delay_days": "10"}, 17),
        (0, False, {}, 0),
    ],
    ids=["shop default", "shop setting", "affiliate override", "flagged: extra days", "override plus flagged", "no delay"],
)
def test_approval_delay(delay_days, flagged, settings, payable_on) -> None:
    model = shop(**settings)
    model.deliver(order("1", line("a", "100.00"), delay_days=delay_days, flagged=flagged))
    if payable_on:
        assert model.approve_due(days(payable_on - 0.01)) == []
    assert model.approve_due(days(payable_on)) == [1]
    assert str(model.balance().payable) == "10.00"


def test_delay_from_fulfilment() -> None:
    model = shop(delay_starts="fulfillment")
    model.deliver(order("1", line("a", "100.00")))
    assert model.records()[0].approves_at is None
    assert model.approve_due(days(400)) == []
    assert model.deliver(fulfil("1", at=days(10)), now=days(10)).drafts == ()
    assert model.deliver(fulfil("1", at=days(12))).effect is Effect.DUPLICATE
    assert model.approve_due(days(39.9)) == []
    assert model.approve_due(days(40)) == [1]


# -- attribution ------------------------------------------------------------------------------

AFFILIATES = [Candidate("ANNA", "anna@example.com"), Candidate("BEN", "ben@example.com")]


@pytest.mark.parametrize(
    ("signals", "code", "why"),
    [
        (Clues(discount_codes=["anna"]), "ANNA", "attributed to ANNA by discount code"),
        (Clues(discount_codes=[" Ben "]), "BEN", "attributed to BEN by discount code"),
        (Clues(discount_codes=["SUMMER10", "BEN"]), "BEN", "attributed to BEN by discount code"),
        (Clues(discount_codes=["BEN"], ref_attribute="ANNA", landing_site="/?ref=ANNA"), "BEN", "attributed to BEN by discount code"),
        (Clues(discount_codes=["SUMMER10"], ref_attribute="ben"), "BEN", "attributed to BEN by ref attribute"),
        (Clues(ref_attribute="ANNA", landing_site="/?ref=BEN"), "ANNA", "attributed to ANNA by ref attribute"),
        (Clues(landing_site="/products/hat?utm_source=x&ref=Anna"), "ANNA", "attributed to ANNA by landing site ref"),
        (Clues(discount_codes=["SUMMER10"], ref_attribute="ZED", landing_site="/products/hat"), None, "no affiliate code on the order"),
        (Clues(), None, "no affiliate code on the order"),
        (Clues(discount_codes=["ANNA"], buyer_emails=[" Anna@Example.COM"]), None,
         "self-referral by ANNA (discount code): no commission"),
        (Clues(discount_codes=["ANNA"], buyer_emails=["ben@example.com"]), "ANNA", "attributed to ANNA by discount code"),
    ],
)
def test_attribution(signals: Clues, code: str | None, why: str) -> None:
    found, reason = attribute(signals, AFFILIATES)
    assert (found.code if found else None, reason) == (code, why)
    # The affiliates the order's codes name are all attribution needs (the store loads only those).
    named = [a for a in AFFILIATES if a.code.casefold() in code_keys(signals)]
    assert attribute(signals, named) == (found, reason)


def test_the_code_keys_of_an_order_are_its_codes_case_folded() -> None:
    clues = Clues(discount_codes=[" Summer10 ", ""], ref_attribute="Ben", landing_site="/x?ref=ANNA&utm=1")
    assert code_keys(clues) == {"summer10", "ben", "anna"}
    assert code_keys(Clues(landing_site="/products/hat")) == set()


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("approval_days", "30", "unknown setting 'approval_days'"),
        ("approval_delay_days", "thirty", "approval_delay_days must be a whole number from 0 to 3650"),
        ("approval_delay_days", "1.5", "approval_delay_days takes amounts with no decimals"),
        ("approval_delay_days", "-1", "must be a whole number from 0 to 3650"),
        ("approval_delay_days", "100000000", "approval_delay_days must be from 0 to 3650"),
        ("approval_delay_days", "1_000", "must be a whole number"),
        ("flagged_extra_delay_days", "3651", "must be from 0 to 3650"),
        ("default_rate_percent", "ten", "default_rate_percent must be a number from 0 to 100"),
        ("default_rate_percent", "100.01", "must be from 0 to 100"),
        ("default_rate_percent", "-5", "must be a number from 0 to 100"),
        ("default_rate_percent", "NaN", "must be a number"),
        ("default_rate_percent", "1E-999999999", "must be a number"),
        ("default_rate_percent", "0.00001", "takes amounts with at most 4 decimals"),
        ("refund_rate_threshold_percent", "30.001", "at most 2 decimals"),
        ("refund_rate_minimum_orders", "2.5", "no decimals"),
        ("chargeback_threshold", "1001", "must be from 0 to 1000"),
        ("minimum_payout", "Infinity", "minimum_payout must be a number"),
        ("minimum_payout", "1E+999999999", "minimum_payout must be a number"),
        ("minimum_payout", "1000000000.01", "must be from 0 to 1000000000"),
        ("minimum_payout", "10.5555", "takes amounts with at most 3 decimals"),
        ("minimum_payout", "9" * 5000, "must be a number"),
        ("amount_only_refunds", "sometimes", "must be one of prorate, ignore, review"),
        ("exchange_upgrades", "", "must be one of commission, ignore"),
        ("delay_starts", "shipping", "must be one of order, fulfillment"),
        ("notify_affiliates", "maybe", "notify_affiliates must be true or false"),
    ],
)
@pytest.mark.timeout(5)
def test_settings_refuse_bad_values_with_a_reason(key: str, raw: str, message: str) -> None:
    with pytest.raises(SettingError, match=message) as refused:
        parse(key, raw)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400  # one line; a long value is cut
    with pytest.raises(SettingError):
        Settings().updated({"approval_delay_days": "7", key: raw})


@pytest.mark.parametrize(("currency", "raw", "accepted"), [("USD", "10.55", True), ("USD", "10.555", False), ("JPY", "1000", True),
                                                            ("JPY", "1000.5", False), ("KWD", "10.555", True)])
def test_minimum_payout_is_money_of_the_shop_currency(currency: str, raw: str, accepted: bool) -> None:
    if accepted:
        assert Settings().updated({"minimum_payout": raw}, currency).minimum_payout == Decimal(raw)
    else:
        with pytest.raises(SettingError, match=f"minimum_payout takes {currency} amounts with"):
            Settings().updated({"minimum_payout": raw}, currency)


def test_every_number_setting_is_bounded() -> None:
    from dataclasses import fields

    from policy.settings import _LIMITS

    numbers = {f.name for f in fields(Settings) if f.type in ("int", "Decimal")}
    assert numbers == set(_LIMITS)


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("approval_delay_days", " 14 ", 14),
        ("default_rate_percent", "12.5", Decimal("12.5")),
        ("default_rate_percent", "100", Decimal("100")),
        ("minimum_payout", "1000", Decimal("1000")),
        ("amount_only_refunds", " Review ", AmountOnlyRefunds.REVIEW),
        ("delay_starts", "FULFILLMENT", DelayStarts.FULFILLMENT),
        ("notify_affiliates", "off", False),
        ("notify_affiliates", "yes", True),
    ],
)
def test_settings_parse_what_people_type(key: str, raw: str, value: object) -> None:
    assert parse(key, raw) == value


def test_settings_round_trip_through_strings() -> None:
    custom = Settings().updated({"approval_delay_days": "14", "amount_only_refunds": "review", "notify_affiliates": "no"})
    stored = custom.as_strings()
    assert (stored["approval_delay_days"], stored["amount_only_refunds"], stored["notify_affiliates"]) == ("14", "review", "false")
    assert Settings.from_strings({**stored, "retired_key": "x"}) == custom
    assert Settings.from_strings({}) == Settings()
