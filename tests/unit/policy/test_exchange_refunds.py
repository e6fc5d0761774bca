"""A return with an exchange and the refund Shopify writes for that return take the same item
back. Whatever arrives first (sale, exchange, refund, duplicates, refunds parked before the
sale), the pair removes the item's value once: even exchanges, upgrades and downgrades, with
the price difference refunded or not (charged or kept, the refund moves none of it), and with or without Shopify's discrepancy
adjustment on the refund. At a 100 % rate the net of a line shows its value to the cent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.money import Money
from ledger.records import net_by_line
from policy.engine import Effect
from policy.errors import EventRefused
from policy.settings import ExchangeUpgrades, Settings
from tests.support.builders import exchange, line, order, refund
from tests.support.model import ShopModel


def cents(value: int) -> str:
    return str(Money(value, "USD"))


def play(events: list, upgrades: ExchangeUpgrades) -> dict:
    """Deliver in this order, retrying refused events at the end as the worker does."""
    model = ShopModel(Settings(exchange_upgrades=upgrades))
    by_key = {e.key: e for e in events}
    retry = []
    for event in events:
        try:
            outcome = model.deliver(event)
        except EventRefused as refused:
            assert not refused.final
            retry.append(event)
            continue
        retry += [by_key[r.key] for r in outcome.replayed if r.effect is Effect.REFUSED]
    for event in retry:
        model.deliver(event)
    return net_by_line(model.records())


@given(
    unit=st.integers(100, 20_000),
    quantity=st.integers(1, 3),
    new=st.integers(0, 30_000),
    difference=st.sampled_from(["refunded", "not refunded"]),
    discrepancy=st.booleans(),
    upgrades=st.sampled_from(ExchangeUpgrades),
    data=st.data(),
)
def test_a_return_with_exchange_and_its_refund_remove_the_item_once_in_any_order(
    unit, quantity, new, difference, discrepancy, upgrades, data
) -> None:
    sale = order("1", line("A", cents(unit), quantity=quantity), line("C", "10.00"), rate="100")
    swap = exchange("X1", "1", [("A", 1)], [("B", 1, cents(new))])
    # The refund Shopify writes for the return: the returned unit at its value; the money it
    # moved is the difference when it is refunded (a downgrade), nothing otherwise.
    moved = max(0, unit - new) if difference == "refunded" else 0
    shortfall = cents(unit - moved) if discrepancy else "0"
    settle = refund("R1", "1", ("A", 1, cents(unit)), discrepancy=shortfall, return_id="X1")

    events = data.draw(st.permutations([sale, swap, settle]), label="arrival")
    events += data.draw(st.lists(st.sampled_from([sale, swap, settle]), max_size=2), label="duplicates")
    nets = play(events, upgrades)

    credit = new if upgrades is ExchangeUpgrades.COMMISSION else min(new, unit)
    assert nets[("1", "A")] == unit * quantity - unit + credit  # the returned unit removed once, the new item credited
    assert nets[("1", "C")] == 1000  # nothing spills onto the other line


def test_the_same_refund_without_a_return_link_is_an_ordinary_refund() -> None:
    """Only a refund that names the exchange's return is counted with it: another refund of
    the same line (the customer also returned the other unit) removes its value as well."""
    sale = order("1", line("A", "50.00", quantity=2), rate="100")
    swap = exchange("X1", "1", [("A", 1)], [("B", 1, "50.00")])
    settle = refund("R1", "1", ("A", 1, "50.00"), return_id="X1")
    other = refund("R2", "1", ("A", 1, "50.00"))
    assert play([sale, swap, settle, other], ExchangeUpgrades.COMMISSION)[("1", "A")] == 5000  # 100 - 50 + 50 - 50


def test_a_refund_of_the_return_beyond_what_the_exchange_took_back_removes_the_excess() -> None:
    sale = order("1", line("A", "50.00", quantity=2), rate="100")
    swap = exchange("X1", "1", [("A", 1)], [("B", 1, "50.00")])
    both_units = refund("R1", "1", ("A", 2, "100.00"), return_id="X1")
    assert play([sale, both_units, swap], ExchangeUpgrades.COMMISSION)[("1", "A")] == 5000  # 100 - max(50, 100) + 50
