"""One contract, three ledgers: the in-memory ``ledger.book.Book`` (the reference model of
the property tests) and the SQL store on SQLite and on PostgreSQL run the same cases and must
answer alike: ids, pairing, replays, conflicts, refused postings and status transitions.
Both post by ``ledger.staging.stage``; this battery proves nothing else differs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterator

import pytest

from ledger.book import Book
from ledger.errors import IdempotencyConflict, InvariantViolation
from ledger.money import Money
from ledger.records import Draft, Kind, Record, Status
from shopify_app.services import shops as registry
from shopify_app.store.ledger import LedgerStore
from tests.support.builders import days, draft
from tests.support.db import empty_database

ORDER = "1001"


@dataclass
class Ledger:
    """What the battery asks of a ledger; each call is one unit of work."""

    post: Callable[[list[Draft]], list[Record]]
    records: Callable[[], list[Record]]
    approve: Callable[[list[int]], None]
    pay: Callable[[list[int]], None]


def _book() -> Ledger:
    book = Book()
    return Ledger(book.post, book.records, lambda ids: book.move(ids, Status.APPROVED), lambda ids: book.move(ids, Status.PAID))


def _sql(database) -> Ledger:
    with database.transaction() as session:
        shop_id = registry.add_shop(session, "contract.myshopify.com", days(0)).id

    def unit(work):
        with database.transaction() as session:
            return work(LedgerStore(session, shop_id))

    def pay(ids: list[int]) -> None:
        def work(store: LedgerStore) -> None:
            total = sum(r.amount.minor for r in store.records() if r.id in ids)
            store.pay("ANNA", "USD", ids, Money(total, "USD"), days(40))
        unit(work)

    return Ledger(
        post=lambda drafts: unit(lambda store: store.post(ORDER, drafts)),
        records=lambda: unit(lambda store: store.records()),
        approve=lambda ids: unit(lambda store: store.approve(ids, days(31))),
        pay=pay,
    )


@pytest.fixture(params=["book", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def book(request, tmp_path) -> Iterator[Ledger]:
    if request.param == "book":
        yield _book()
        return
    for database in empty_database(request.param, request, tmp_path):
        yield _sql(database)


COMMISSION = draft("10.00", base="100.00")
REFUND = draft("-3.00", base="-30.00", kind=Kind.REFUND, event_key="refund:1")


def shape(records: list[Record]) -> list[tuple]:
    return [(r.id, r.line_item_id, r.kind.value, str(r.amount), r.pairs_with, r.status.value, r.occurred_at) for r in records]


def test_records_get_ascending_ids_and_adjustments_pair_with_their_commission(book) -> None:
    [commission] = book.post([COMMISSION])
    [refund] = book.post([REFUND])
    assert shape(book.records()) == [(1, "a", "commission", "10.00", None, "pending", days(0)), (2, "a", "refund", "-3.00", 1, "pending", days(0))]
    assert (commission.id, refund.id, refund.pairs_with) == (1, 2, 1)


def test_a_commission_and_its_adjustment_in_one_batch_pair(book) -> None:
    written = book.post([COMMISSION, REFUND, draft("5.00", base="50.00", line_id="b")])
    assert [(r.id, r.pairs_with) for r in written] == [(1, None), (2, 1), (3, None)]


def test_a_replay_writes_nothing(book) -> None:
    book.post([COMMISSION, REFUND])
    assert book.post([COMMISSION, REFUND]) == []
    assert book.post([replace(REFUND, created_at=days(9), status=Status.APPROVED)]) == []  # times and status are not content
    assert len(book.records()) == 2


@pytest.mark.parametrize("field, value", [("amount", Money.of("-4.00", "USD")), ("base", Money.of("-40.00", "USD")),
                                          ("kind", Kind.CHARGEBACK), ("affiliate", "BEN")])
def test_same_identity_other_content_is_a_conflict_and_the_whole_batch_is_refused(book, field, value) -> None:
    book.post([COMMISSION, REFUND])
    other_line = draft("5.00", base="50.00", line_id="b")
    with pytest.raises(IdempotencyConflict):
        book.post([other_line, replace(REFUND, **{field: value})])
    assert len(book.records()) == 2  # not even the valid draft of the batch


@pytest.mark.parametrize(
    "drafts, message",
    [
        ([COMMISSION, draft("10.00", base="100.00", event_key="order:again")], "second commission"),
        ([REFUND], "has no commission"),
        ([COMMISSION, draft("0.00", base="0.00", kind=Kind.REFUND, event_key="refund:0")], "zero adjustment"),
        ([COMMISSION, draft("-11.00", base="-110.00", kind=Kind.REFUND, event_key="refund:9")], "negative"),
        ([COMMISSION, draft("-3.00", base="-20.00", kind=Kind.REFUND, event_key="refund:9")], "is not 10% of the recorded value"),
        ([COMMISSION, draft("-3.00", base="-30.00", kind=Kind.REFUND, event_key="refund:9", currency="EUR")], "currency"),
    ],
    ids=["second commission", "orphan adjustment", "zero adjustment", "negative net", "rate mismatch", "other currency"],
)
def test_a_posting_that_breaks_a_line_is_refused_whole(book, drafts, message) -> None:
    with pytest.raises(InvariantViolation, match=message):
        book.post(drafts)
    assert book.records() == []


def test_statuses_move_forward_only(book) -> None:
    book.post([COMMISSION, REFUND])
    with pytest.raises(InvariantViolation):
        book.pay([1, 2])  # pending cannot be paid
    book.approve([1, 2])
    with pytest.raises(InvariantViolation):
        book.approve([1])  # already approved
    book.pay([1, 2])
    assert [r.status.value for r in book.records()] == ["paid", "paid"]
    with pytest.raises(InvariantViolation):
        book.approve([2])
    assert [r.status.value for r in book.records()] == ["paid", "paid"]


def test_an_adjustment_after_payout_pairs_and_keeps_its_own_status(book) -> None:
    book.post([COMMISSION])
    book.approve([1])
    book.pay([1])
    [clawback] = book.post([replace(REFUND, status=Status.APPROVED, clawback=True, occurred_at=days(45), approves_at=None)])
    assert (clawback.pairs_with, clawback.status, clawback.clawback, clawback.occurred_at) == (1, Status.APPROVED, True, days(45))
    assert shape(book.records())[1] == (2, "a", "refund", "-3.00", 1, "approved", days(45))
