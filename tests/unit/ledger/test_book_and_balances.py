"""The book (append-only, idempotent, checked), the balance fold and payout plans."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.balances import fold_balances
from ledger.book import Book
from ledger.errors import IdempotencyConflict, InvariantViolation
from ledger.invariants import check_append_only, check_line, check_lines
from ledger.money import Money
from ledger.payouts import plan_payouts
from ledger.records import Kind, Status, check_transition, net_by_line
from tests.support.builders import draft, record

COMMISSION = draft("10.00", base="100.00")
REFUND = draft("-3.00", base="-30.00", kind=Kind.REFUND, event_key="refund:1")


def posted(*drafts) -> Book:
    book = Book()
    book.post(drafts)
    return book


# -- idempotency ----------------------------------------------------------------------------


def test_posting_the_same_draft_twice_writes_one_record() -> None:
    book = Book()
    assert [r.id for r in book.post([COMMISSION])] == [1]
    assert book.post([COMMISSION]) == []
    assert book.post([replace(COMMISSION, reason="re-worded", status=Status.APPROVED)]) == []
    assert len(book.records()) == 1


def test_a_repeated_draft_inside_one_batch_is_written_once() -> None:
    book = Book()
    written = book.post([COMMISSION, REFUND, REFUND])
    assert [r.id for r in written] == [1, 2]
    assert len(book.records()) == 2


def test_same_identity_different_amount_is_a_conflict_and_nothing_of_the_batch_is_written() -> None:
    book = posted(COMMISSION, REFUND)
    other_line = draft("5.00", base="50.00", line_id="b")
    changed = replace(REFUND, amount=Money.of("-4.00", "USD"), base=Money.of("-40.00", "USD"))
    with pytest.raises(IdempotencyConflict, match="refund:1"):
        book.post([other_line, changed])
    assert [(r.line_item_id, str(r.amount)) for r in book.records()] == [("a", "10.00"), ("a", "-3.00")]


def test_a_conflict_inside_one_batch_writes_nothing() -> None:
    book = Book()
    with pytest.raises(IdempotencyConflict):
        book.post([COMMISSION, replace(COMMISSION, amount=Money.of("11.00", "USD"), base=Money.of("110.00", "USD"))])
    assert book.records() == []


# -- pairing --------------------------------------------------------------------------------


def test_adjustments_pair_with_the_commission_of_their_line() -> None:
    book = posted(
        draft("10.00", line_id="a"),
        draft("5.00", line_id="b"),
        draft("-5.00", line_id="b", kind=Kind.REFUND, event_key="refund:1"),
    )
    book.post([draft("-10.00", line_id="a", kind=Kind.CANCELLATION, event_key="cancel:1001")])
    assert [(r.id, r.line_item_id, r.pairs_with) for r in book.records()] == [(1, "a", None), (2, "b", None), (3, "b", 2), (4, "a", 1)]
    assert net_by_line(book.records()) == {("1001", "a"): 0, ("1001", "b"): 0}


def test_an_adjustment_without_a_commission_is_refused() -> None:
    book = Book()
    with pytest.raises(InvariantViolation, match="no commission"):
        book.post([REFUND])
    assert book.records() == []


# -- invariants -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("later", "message"),
    [
        (draft("-11.00", kind=Kind.REFUND, event_key="refund:1"), "negative"),
        (draft("10.00", base="100.00", event_key="order:again"), "second commission"),
        (draft("0.00", base="0.00", kind=Kind.REFUND, event_key="refund:1"), "zero adjustment"),
        (draft("-3.00", base="-20.00", kind=Kind.REFUND, event_key="refund:1"), "is not 10% of the recorded value"),
        (draft("-1.00", base="-10.00", kind=Kind.REFUND, event_key="refund:1", currency="EUR"), "currency"),
    ],
)
def test_the_book_refuses_what_breaks_a_line_and_writes_nothing(later, message: str) -> None:
    book = posted(COMMISSION)
    with pytest.raises(InvariantViolation, match=message):
        book.post([draft("1.00", line_id="other"), later])
    assert len(book.records()) == 1


def test_check_line_directly() -> None:
    commission = record(1, "10.00")
    check_line([commission, record(2, "-3.00", kind=Kind.REFUND, event_key="refund:1", pairs_with=1)])
    with pytest.raises(InvariantViolation, match="exactly one commission"):
        check_line([commission, record(2, "1.00", event_key="order:x")])
    with pytest.raises(InvariantViolation, match="does not pair"):
        check_line([commission, record(2, "-3.00", kind=Kind.REFUND, event_key="refund:1", pairs_with=7)])
    with pytest.raises(InvariantViolation, match="exactly one commission"):
        check_lines([record(2, "-3.00", kind=Kind.REFUND, event_key="refund:1", pairs_with=1)])


def test_a_manual_record_is_outside_the_rate_rule_but_not_the_sign_rule() -> None:
    manual = draft("-2.00", base="0.00", kind=Kind.MANUAL, event_key="manual:1")
    book = posted(COMMISSION, manual)
    assert net_by_line(book.records()) == {("1001", "a"): 800}
    with pytest.raises(InvariantViolation, match="negative"):
        book.post([draft("-9.00", base="0.00", kind=Kind.MANUAL, event_key="manual:2")])


def test_append_only_check_sees_removed_and_changed_records() -> None:
    before = posted(COMMISSION, REFUND).records()
    check_append_only(before, before + [record(3, "1.00", line_id="b")])
    check_append_only(before, [replace(r, status=Status.APPROVED) for r in before])  # statuses move separately
    with pytest.raises(InvariantViolation, match="removed"):
        check_append_only(before, before[:1])
    with pytest.raises(InvariantViolation, match="record 2 was changed"):
        check_append_only(before, [before[0], replace(before[1], amount=Money.of("-2.00", "USD"))])
    with pytest.raises(InvariantViolation, match="record 2 was changed"):
        check_append_only(before, [before[0], replace(before[1], pairs_with=None)])


# -- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new"),
    [(Status.PENDING, Status.APPROVED), (Status.PENDING, Status.REJECTED), (Status.APPROVED, Status.PAID)],
)
def test_statuses_move_forward(current: Status, new: Status) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (Status.APPROVED, Status.PENDING),
        (Status.PAID, Status.APPROVED),
        (Status.PAID, Status.PENDING),
        (Status.PENDING, Status.PAID),  # never paid without being approved
        (Status.REJECTED, Status.APPROVED),
        (Status.APPROVED, Status.APPROVED),
        (Status.APPROVED, Status.REJECTED),
    ],
)
def test_statuses_never_move_back_or_skip(current: Status, new: Status) -> None:
    with pytest.raises(InvariantViolation):
        check_transition(current, new)


def test_moves_are_all_or_nothing_and_records_keep_their_content() -> None:
    book = posted(COMMISSION, draft("5.00", line_id="b"))
    book.move([1], Status.APPROVED)
    with pytest.raises(InvariantViolation):
        book.move([2, 1], Status.APPROVED)  # 1 is already approved
    assert [r.status for r in book.records()] == [Status.APPROVED, Status.PENDING]
    book.move([1], Status.PAID)
    assert book.get(1).status is Status.PAID
    assert book.get(1).same_content(COMMISSION)


# -- balances -----------------------------------------------------------------------------


def test_the_balance_fold_by_status() -> None:
    records = [
        record(1, "10.00", status=Status.PENDING),
        record(2, "-4.00", status=Status.PENDING),
        record(3, "12.00", status=Status.APPROVED),
        record(4, "-2.00", status=Status.APPROVED),
        record(5, "40.00", status=Status.PAID),
        record(6, "99.00", status=Status.REJECTED),
        record(7, "7.00", status=Status.APPROVED, affiliate="BEN"),
        record(8, "-20.00", status=Status.APPROVED, affiliate="BEN", currency="EUR"),
    ]
    balances = fold_balances(records)
    assert list(balances) == [("ANNA", "USD"), ("BEN", "USD"), ("BEN", "EUR")]
    anna = balances[("ANNA", "USD")]
    assert (str(anna.pending), str(anna.payable), str(anna.owed), str(anna.paid)) == ("6.00", "10.00", "0.00", "40.00")
    ben_eur = balances[("BEN", "EUR")]
    assert (str(ben_eur.payable), str(ben_eur.owed), str(ben_eur.approved)) == ("0.00", "20.00", "-20.00")
    assert str(balances[("BEN", "USD")].payable) == "7.00"


# -- payouts ------------------------------------------------------------------------------


def test_a_payout_takes_every_approved_unpaid_record_negative_ones_included() -> None:
    records = [
        record(1, "30.00", status=Status.APPROVED),
        record(2, "-5.00", status=Status.APPROVED, kind=Kind.REFUND, event_key="refund:1", pairs_with=1),
        record(3, "8.00", status=Status.PENDING, line_id="b"),
        record(4, "50.00", status=Status.PAID, order_id="999"),
    ]
    [plan] = plan_payouts(records)
    assert (plan.affiliate, plan.currency, plan.record_ids, str(plan.total)) == ("ANNA", "USD", (1, 2), "25.00")


def test_the_minimum_payout_holds_small_sums_back() -> None:
    records = [record(1, "24.99", status=Status.APPROVED), record(2, "3000", status=Status.APPROVED, currency="JPY")]
    minimum = {"USD": Money.of("25.00", "USD")}
    assert [(p.currency, str(p.total)) for p in plan_payouts(records, minimum)] == [("JPY", "3000")]
    exactly = [record(1, "25.00", status=Status.APPROVED)]
    assert [str(p.total) for p in plan_payouts(exactly, minimum)] == ["25.00"]


def test_a_negative_or_zero_sum_pays_nothing_and_is_carried_forward_as_owed() -> None:
    book = posted(draft("10.00", status=Status.APPROVED))
    book.move([1], Status.PAID)
    book.post([draft("-10.00", kind=Kind.REFUND, status=Status.APPROVED, event_key="refund:1", clawback=True)])
    assert plan_payouts(book.records()) == []
    assert str(fold_balances(book.records())[("ANNA", "USD")].owed) == "10.00"

    book.post([draft("30.00", order_id="1002", status=Status.APPROVED)])
    [plan] = plan_payouts(book.records())
    assert (plan.record_ids, str(plan.total)) == ((2, 3), "20.00")
    book.move(plan.record_ids, Status.PAID)
    balance = fold_balances(book.records())[("ANNA", "USD")]
    assert (str(balance.payable), str(balance.owed), str(balance.paid)) == ("0.00", "0.00", "30.00")
    assert [r.status for r in book.records()] == [Status.PAID] * 3
    assert plan_payouts(book.records()) == []


def test_zero_sum_pays_nothing() -> None:
    records = [
        record(1, "5.00", status=Status.APPROVED),
        record(2, "-5.00", status=Status.APPROVED, kind=Kind.REFUND, event_key="refund:1", pairs_with=1),
    ]
    assert plan_payouts(records) == []
