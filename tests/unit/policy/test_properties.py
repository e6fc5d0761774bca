"""Properties of the whole core, over random shops (tests/support/model.ShopModel).

1. A stateful machine feeds random orders, refunds, exchanges, edits, disputes,
   cancellations, approvals and payouts, with duplicate deliveries and events that arrive
   before their order, and checks the ledger's invariants after every step.
2. Any permutation of one order's events, with duplicates, ends in the same net per line.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from ledger.balances import fold_balances
from ledger.invariants import check_append_only, check_lines
from ledger.money import Money, round_half_up
from ledger.records import Kind, Status, check_transition, net_by_line
from policy.engine import Effect
from policy.errors import EventRefused
from policy.events import Event, OrderPaid
from policy.sale import line_base
from policy.settings import AmountOnlyRefunds, ExchangeUpgrades, Settings
from policy.values import line_values
from tests.support.builders import T0, cancel, dispute, edit, exchange, fulfil, line, order, refund
from tests.support.model import ShopModel

CURRENCIES = ["USD", "JPY", "KWD", "EUR"]
RATES = [None, "0", "5", "7.5", "10", "12.5", "15", "33.3", "100"]  # None: the shop's default, 10 %
STANDING = ["needs_response", "under_review", "accepted", "charge_refunded"]


def money(minor: int, currency: str) -> str:
    return str(Money(minor, currency))


# Module-level strategies only: amounts that depend on earlier draws are computed from
# percentages and indices, so Hypothesis never builds a strategy per draw (much faster).
CURRENCY = st.sampled_from(CURRENCIES)
# Prices are often round, as in real shops: that is where remainder ties (and their bugs) live.
PRICE = st.integers(0, 50_000) | st.integers(0, 500).map(lambda n: n * 100) | st.integers(0, 100).map(lambda n: n * 500)
COUNT = st.integers(1, 4)
SMALL = st.integers(1, 3)
PERCENT = st.sampled_from([0, 100, 50]) | st.integers(0, 100)
SOME_PERCENT = st.sampled_from([0, 0, 10, 20]) | st.integers(0, 100)
PICKS = st.lists(st.integers(0, 11), min_size=1, max_size=3, unique=True)
SUBTOTAL = st.none() | st.just(100) | st.integers(0, 120)  # percent of the units' value; None: pro-rate
SHAPE = st.sampled_from(["lines", "lines", "amount-only", "shipping"])
DISCREPANCY = st.sampled_from(["none", "none", "beyond", "short"])
BEYOND = st.integers(1, 20_000)
SHIPPING = st.just(0) | st.integers(1, 2_000)
EXCHANGED_FOR = st.sampled_from(["even", "even", "down", "up", "any"])
SPLIT = st.sampled_from([None, None, 50, 33]) | st.integers(0, 100)  # None: one new item


def picked(items: list, picks: list[int]) -> list:
    return list(dict.fromkeys(items[i % len(items)] for i in picks))


@st.composite
def sales(draw, order_id: str) -> OrderPaid:
    """An order of 1-4 lines in a random currency, maybe referred, maybe with taxes included."""
    currency = draw(CURRENCY)
    lines = []
    for n in range(draw(COUNT)):
        price, quantity = draw(PRICE), draw(SMALL)
        discount = price * quantity * draw(SOME_PERCENT) // 100
        tax = price * draw(SOME_PERCENT) // 400
        lines.append(line(f"L{n}", money(price, currency), quantity, money(discount, currency), money(tax, currency)))
    return order(
        order_id,
        *lines,
        currency=currency,
        rate=draw(st.sampled_from(RATES)),
        affiliate=draw(st.sampled_from(["ANNA", "ANNA", "BEN", None])),
        taxes_included=draw(st.booleans()),
        delay_days=draw(st.sampled_from([None, 0, 7])),
        flagged=draw(st.booleans()),
    )


def unit_value(sale: OrderPaid, line_id: str) -> int:
    sold = next(s for s in sale.lines if s.line_item_id == line_id)
    return line_base(sold, sale.currency, sale.taxes_included).minor // sold.quantity


@st.composite
def refunds(draw, refund_id: str, sale: OrderPaid, added: list[tuple[str, int, int]]) -> Event:
    """Partial, full, over, amount-only, with a discrepancy either way, or shipping only."""
    cur = sale.currency
    lines_ = [(s.line_item_id, s.quantity, unit_value(sale, s.line_item_id)) for s in sale.lines] + added
    shape = draw(SHAPE)
    items = []
    for line_id, quantity, unit in picked(lines_, draw(PICKS)) if shape == "lines" else []:
        q = min(draw(SMALL), quantity)
        percent = draw(SUBTOTAL)
        items.append((line_id, q, None if percent is None else money(unit * q * percent // 100, cur)))
    known = sum(Money.of(i[2], cur).minor for i in items if i[2] is not None)
    kind = "beyond" if shape == "amount-only" else draw(DISCREPANCY) if shape == "lines" else "none"
    if kind == "beyond":  # refunded beyond the lines: an amount-only refund
        shift = -draw(BEYOND)
    elif kind == "short":  # the lines were refunded for less than their subtotals
        shift = known * draw(PERCENT) // 100
    else:
        shift = 0
    shipping = draw(SHIPPING) + (1 if shape == "shipping" else 0)
    return refund(refund_id, sale.order_id, *items, discrepancy=money(shift, cur), shipping=money(shipping, cur))


@st.composite
def added_values(draw, returned: int) -> list[int]:
    """Values of 1-2 items taken in exchange for ``returned``: even, down, up or anything."""
    total = {
        "even": lambda: returned,
        "down": lambda: returned * draw(PERCENT) // 100,
        "up": lambda: returned + 1 + draw(PRICE),
        "any": lambda: draw(PRICE),
    }[draw(EXCHANGED_FOR)]()
    split = draw(SPLIT)
    if split is None:
        return [total]
    return [total * split // 100, total - total * split // 100]


class Shop(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.clock = T0
        self.sales: dict[str, OrderPaid] = {}
        self.added: dict[str, list[tuple[str, int, int]]] = defaultdict(list)  # order -> (line, quantity, unit value)
        self.upgraded: set[str] = set()
        self.disputes: dict[str, tuple[str, str, list[str]]] = {}  # id -> (order, kind, statuses still to send)
        self.sent: list[Event] = []
        self.snapshot = []
        self.touched: set[str] = set()
        self.ids = 0

    @initialize(amount_only=st.sampled_from(AmountOnlyRefunds), upgrades=st.sampled_from(ExchangeUpgrades))
    def open_shop(self, amount_only: AmountOnlyRefunds, upgrades: ExchangeUpgrades) -> None:
        self.model = ShopModel(Settings(amount_only_refunds=amount_only, exchange_upgrades=upgrades))

    # -- delivering -------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def deliver(self, event: Event) -> None:
        self.touched.add(event.order_id)
        before = len(self.model.book.records())
        outcome = self.model.deliver(event, now=self.clock)
        if any(event == sent for sent in self.sent):
            assert outcome.effect is Effect.DUPLICATE, outcome.effect
            assert len(self.model.book.records()) == before, "a duplicate wrote records"
        else:
            self.sent.append(event)
        if outcome.effect is Effect.PARKED:
            assert len(self.model.book.records()) == before
        if isinstance(event, OrderPaid):
            assert self.model.facts[event.order_id].parked == ()  # every early event replayed

    @rule(target=orders, data=st.data(), now=st.booleans())
    def new_order(self, data, now: bool) -> str:
        order_id = self.next_id("O")
        self.sales[order_id] = data.draw(sales(order_id), label="sale")
        if now:
            self.deliver(self.sales[order_id])
        return order_id

    @rule(order_id=orders)
    def deliver_sale(self, order_id: str) -> None:
        """Delivers a sale held back (its earlier events were parked), or a duplicate of it."""
        self.deliver(self.sales[order_id])

    @rule(order_id=orders, data=st.data())
    def refund(self, order_id: str, data) -> None:
        self.deliver(data.draw(refunds(self.next_id("R"), self.sales[order_id], self.added[order_id]), label="refund"))

    @rule(order_id=orders, data=st.data())
    def exchange(self, order_id: str, data) -> None:
        sale = self.sales[order_id]
        returned, weight = [], 0
        for sold in picked(list(sale.lines), data.draw(PICKS, label="returned")):
            q = min(data.draw(SMALL, label="quantity"), sold.quantity)
            percent = data.draw(SUBTOTAL, label="value")
            if percent is None:  # pro-rated by the engine, as here
                weight += round_half_up(Fraction(line_base(sold, sale.currency, sale.taxes_included).minor * q, sold.quantity))
                returned.append((sold.line_item_id, q))
            else:
                value = unit_value(sale, sold.line_item_id) * q * percent // 100
                weight += value
                returned.append((sold.line_item_id, q, money(value, sale.currency)))
        values = data.draw(added_values(weight), label="added")
        added = [(self.next_id("X"), data.draw(SMALL, label="quantity"), v) for v in values]
        if sum(values) > weight and self.model.settings.exchange_upgrades is ExchangeUpgrades.COMMISSION:
            self.upgraded.add(order_id)
        self.added[order_id] += [(i, q, v // q) for i, q, v in added]
        self.deliver(exchange(self.next_id("E"), order_id, returned, [(i, q, money(v, sale.currency)) for i, q, v in added], at=self.clock))

    @rule(order_id=orders, value=st.integers(1, 30_000), quantity=st.integers(1, 2))
    def edit(self, order_id: str, value: int, quantity: int) -> None:
        added = self.next_id("Y")
        self.added[order_id].append((added, quantity, value // quantity))
        if self.model.settings.exchange_upgrades is ExchangeUpgrades.COMMISSION:
            self.upgraded.add(order_id)
        self.deliver(edit(self.next_id("D"), order_id, [(added, quantity, money(value, self.sales[order_id].currency))], at=self.clock))

    @rule(order_id=orders, kind=st.sampled_from(["chargeback", "chargeback", "inquiry"]), data=st.data())
    def open_dispute(self, order_id: str, kind: str, data) -> None:
        """A dispute's story: some standing statuses, then maybe won or lost (never both)."""
        path = data.draw(st.lists(st.sampled_from(STANDING), min_size=1, max_size=3, unique=True), label="path")
        path += data.draw(st.sampled_from([[], ["won"], ["lost"]]), label="end")
        self.disputes[self.next_id("C")] = (order_id, kind, path)

    @rule(data=st.data())
    def dispute_update(self, data) -> None:
        """The next status of a dispute, or an older one again (late delivery)."""
        open_ = [d for d, (_, _, path) in self.disputes.items() if path]
        if not open_:
            return
        dispute_id = data.draw(st.sampled_from(open_), label="dispute")
        order_id, kind, path = self.disputes[dispute_id]
        status = path.pop(data.draw(st.integers(0, min(1, len(path) - 1)), label="which"))
        self.deliver(dispute(dispute_id, order_id, status, kind=kind, at=self.clock))

    @rule(order_id=orders)
    def cancel(self, order_id: str) -> None:
        self.deliver(cancel(order_id, at=self.clock))

    @rule(order_id=orders)
    def fulfil(self, order_id: str) -> None:
        self.deliver(fulfil(order_id, at=self.clock))

    @rule(data=st.data())
    def redeliver(self, data) -> None:
        if self.sent:
            self.deliver(data.draw(st.sampled_from(self.sent), label="again"))

    @rule(days_=st.integers(0, 45))
    def approve(self, days_: int) -> None:
        self.clock += timedelta(days=days_)
        for record_id in self.model.approve_due(self.clock):
            assert self.model.book.get(record_id).status is Status.APPROVED

    @rule()
    def payout(self) -> None:
        for plan in self.model.run_payouts():
            assert plan.total.minor > 0
            assert plan.total.minor == sum(self.model.book.get(i).amount.minor for i in plan.record_ids)
            assert all(self.model.book.get(i).status is Status.PAID for i in plan.record_ids)

    # -- invariants (one pass over the records per step) ------------------------------------
    @invariant()
    def ledger_holds(self) -> None:
        records = self.model.records()
        self.records_only_grow_and_statuses_only_move_forward(records)
        self.every_line_explains_itself(records)
        self.the_ledger_matches_what_is_known(records)
        self.balances_are_the_records_folded(records)
        self.snapshot, self.touched = records, set()

    def records_only_grow_and_statuses_only_move_forward(self, records) -> None:
        check_append_only(self.snapshot, records)
        for old, new in zip(self.snapshot, records):
            if old.status is not new.status:
                check_transition(old.status, new.status)

    def every_line_explains_itself(self, records) -> None:
        """Lines of the orders this step touched (the others are unchanged: append-only)."""
        touched = [r for r in records if r.order_id in self.touched]
        check_lines(touched)
        sold = {(r.order_id, r.line_item_id): r for r in touched if r.kind is Kind.COMMISSION}
        value: dict[tuple[str, str], int] = defaultdict(int)
        for r in touched:
            value[(r.order_id, r.line_item_id)] += r.base.minor
        assert all(r.status is not Status.PENDING for r in touched if r.clawback)
        for line, net in net_by_line(touched).items():
            assert net >= 0
            if line[0] not in self.upgraded:  # without an upgrade a line is never worth more than when sold
                assert value[line] <= sold[line].base.minor, f"{line}: value {value[line]} above {sold[line].base.minor}"
                assert net <= sold[line].amount.minor, f"{line}: net {net} above {sold[line].amount.minor}"

    def the_ledger_matches_what_is_known(self, records) -> None:
        """Every line's net is the target recomputed from its order's facts (touched orders)."""
        nets = net_by_line(records)
        for order_id in self.touched:
            facts = self.model.facts.get(order_id)
            if facts is None or facts.sale is None or facts.sale.affiliate is None:
                assert not any(r.order_id == order_id for r in records)
                continue
            targets = {line_id: v.target.minor for line_id, v in line_values(facts).items()}
            assert {line_id: nets[(order_id, line_id)] for line_id in targets} == targets

    def balances_are_the_records_folded(self, records) -> None:
        sums: dict[tuple, int] = defaultdict(int)
        for r in records:
            sums[(r.affiliate, r.currency, r.status)] += r.amount.minor
        paid_out: dict[tuple, int] = defaultdict(int)
        for affiliate, total, _ in self.model.payouts:
            paid_out[(affiliate, total.currency)] += total.minor
        for (affiliate, currency), b in fold_balances(records).items():
            approved = sums[(affiliate, currency, Status.APPROVED)]
            assert b.pending.minor == sums[(affiliate, currency, Status.PENDING)]
            assert b.paid.minor == sums[(affiliate, currency, Status.PAID)] == paid_out[(affiliate, currency)]
            assert (b.payable.minor, b.owed.minor) == (max(approved, 0), max(-approved, 0))


TestShop = Shop.TestCase


# -- order independence -----------------------------------------------------------------------


@st.composite
def histories(draw) -> tuple[OrderPaid, list[Event]]:
    """One order and a set of events about it, with no conflicting pair."""
    sale = draw(sales("1").filter(lambda s: s.referral is not None))
    cur = sale.currency
    added: list[tuple[str, int, int]] = []
    events: list[Event] = []
    for n in range(draw(st.integers(0, 2))):
        sold = draw(st.sampled_from(sale.lines))
        value = draw(st.integers(0, 60_000))
        added.append((f"X{n}", 1, value))
        events.append(exchange(f"E{n}", "1", [(sold.line_item_id, 1)], [(f"X{n}", 1, money(value, cur))]))
    if draw(st.booleans()):
        added.append(("Y", 1, 5_000))
        events.append(edit("D1", "1", [("Y", 1, money(5_000, cur))]))
    for n in range(draw(st.integers(0, 3))):
        events.append(draw(refunds(f"R{n}", sale, added)))
    for n in range(draw(st.integers(0, 2))):
        path = draw(st.lists(st.sampled_from(STANDING), min_size=1, max_size=2, unique=True))
        path += draw(st.sampled_from([[], ["won"], ["lost"]]))  # never both
        kind = draw(st.sampled_from(["chargeback", "inquiry"]))
        events += [dispute(f"C{n}", "1", status, kind=kind) for status in path]
    if draw(st.booleans()):
        events.append(cancel("1"))
    return sale, events


@given(
    history=histories(),
    amount_only=st.sampled_from(AmountOnlyRefunds),
    upgrades=st.sampled_from(ExchangeUpgrades),
    data=st.data(),
)
def test_any_order_with_duplicates_ends_in_the_same_nets(history, amount_only, upgrades, data) -> None:
    sale, events = history
    settings = Settings(amount_only_refunds=amount_only, exchange_upgrades=upgrades)
    in_order = ShopModel(settings)
    for event in [sale, *events]:
        in_order.deliver(event)

    shuffled = list(data.draw(st.permutations([sale, *events]), label="order"))
    for again in data.draw(st.lists(st.sampled_from([sale, *events]), max_size=4), label="duplicates"):
        shuffled.insert(data.draw(st.integers(0, len(shuffled)), label="at"), again)
    any_order = ShopModel(settings)
    by_key = {event.key: event for event in events}
    retry = []  # as the worker does: an event refused for a line not known yet is tried again later
    for event in shuffled:
        try:
            outcome = any_order.deliver(event)
        except EventRefused as refused:
            assert not refused.final, refused
            retry.append(event)
            continue
        for replayed in outcome.replayed:
            assert replayed.effect is not Effect.REFUSED or not replayed.final, replayed
            if replayed.effect is Effect.REFUSED:
                retry.append(by_key[replayed.key])
    for event in retry:
        any_order.deliver(event)

    assert net_by_line(any_order.records()) == net_by_line(in_order.records())
    assert len(net_by_line(in_order.records())) == len(sale.lines)
    assert all(not f.parked for f in any_order.facts.values())


@given(
    bases=st.lists(st.integers(1, 30), min_size=1, max_size=4),
    split=st.lists(st.integers(0, 30), min_size=1, max_size=3),
    upgrades=st.sampled_from(ExchangeUpgrades),
    refunded=st.integers(0, 30),
)
def test_an_even_exchange_moves_no_value_between_lines(bases, split, upgrades, refunded) -> None:
    """Every line returned for items worth exactly as much: no record, whatever the split
    (at 100 % a cent moved between lines would show); refunding some of the new items then
    lowers the order by exactly what was refunded, and never raises a line."""
    total = sum(bases)
    cuts = sorted(min(c, total) for c in split)
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
    model = ShopModel(Settings(exchange_upgrades=upgrades))
    model.deliver(order("1", *(line(f"L{n}", money(b, "JPY")) for n, b in enumerate(bases)), currency="JPY", rate="100"))
    returned = [(f"L{n}", 1) for n in range(len(bases))]
    model.deliver(exchange("E1", "1", returned, [(f"X{n}", 1, money(p, "JPY")) for n, p in enumerate(parts)]))
    assert len(model.records()) == len(bases)

    refund_lines, left = [], min(refunded, total)
    for n, p in enumerate(parts):
        take = min(p, left)
        left -= take
        if take:
            refund_lines.append((f"X{n}", 1, money(take, "JPY")))
    model.deliver(refund("R1", "1", *refund_lines))
    nets = net_by_line(model.records())
    assert sum(nets.values()) == total - min(refunded, total)
    assert all(nets[("1", f"L{n}")] <= b for n, b in enumerate(bases))
