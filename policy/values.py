"""The value and target commission of every line, recomputed from all known facts.

    value(line)  = base - refunded(line) - returned in exchanges(line)
                   + credit of the lines taken in exchange for it (less their refunds)
                   - its share of amount-only refunds
    target(line) = round_half_up(rate x max(0, value))        (0 while zeroed)

A return with an exchange and the refund Shopify writes for that return (the refund names
it: ``RefundCreated.return_id``) take the same items back: for each line, the pair removes
the larger of the two values, never their sum, whichever of the two arrives first.

All arithmetic is in integer minor units; every split is largest-remainder (ties to the
line listed first), so parts always sum exactly and nothing drifts across partial refunds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from ledger.money import Money, allocate, percent_of, round_half_up
from policy.facts import OrderFacts
from policy.events import AddedLine, RefundCreated
from policy.sale import Sale
from policy.settings import AmountOnlyRefunds, ExchangeUpgrades


@dataclass(frozen=True)
class LineValue:
    value: int  # effective commissionable value, minor units (0 while the order is zeroed)
    target: Money


@dataclass(frozen=True)
class _Credit:
    """A line added by an exchange or edit: its value and how much of it each line earns."""

    value: int
    quantity: int
    shares: dict[str, int]


def _minor(amount, currency: str) -> int:
    return Money.rounded(amount, currency).minor


def _prorated(whole: int, part_quantity: int, quantity: int) -> int:
    return round_half_up(Fraction(whole * part_quantity, quantity)) if quantity else 0


def _split(total: int, weights: list[int]) -> list[int]:
    """Largest remainder; equal weights when every weight is zero."""
    return allocate(total, weights if any(weights) else [1] * len(weights))


def _credits(facts: OrderFacts, sale: Sale) -> tuple[dict[str, int], dict[str, _Credit], dict[str, dict[str, int]]]:
    """Value returned per line in exchanges, the credit of every added line, and what each
    exchange's return took back per line (``return_id -> line -> value``)."""
    returned: dict[str, int] = defaultdict(int)
    credits: dict[str, _Credit] = {}
    taken_back: dict[str, dict[str, int]] = {}

    def credit(added: tuple[AddedLine, ...], total: int, weights: dict[str, int]) -> None:
        values = [_minor(a.value, sale.currency) for a in added]
        groups = list(weights)
        # Split the credit once per returned line and once per added line, then lay both end
        # to end: a cell is where they overlap, so every row and column sums exactly and no
        # returned line earns more than its share (an even exchange moves nothing).
        rows = _split(total, [weights[g] for g in groups])
        cols = _split(total, values) if added else []
        row_start = [sum(rows[:i]) for i in range(len(rows))]
        col_start = 0
        for line, value, credited in zip(added, values, cols):
            shares = {
                g: max(0, min(start + row, col_start + credited) - max(start, col_start))
                for g, start, row in zip(groups, row_start, rows)
            }
            credits[line.line_item_id] = _Credit(value, line.quantity, shares)
            col_start += credited

    for exchange, mode in facts.exchanges:
        weights: dict[str, int] = {}
        for item in exchange.returned:
            line = sale.line(item.line_item_id)
            if line is None:
                continue
            value = _minor(item.value, sale.currency) if item.value is not None else _prorated(line.base.minor, item.quantity, line.quantity)
            weights[line.line_item_id] = weights.get(line.line_item_id, 0) + value
            returned[line.line_item_id] += value
        if not weights:
            continue
        taken_back[exchange.return_id] = dict(weights)
        new_total = sum(_minor(a.value, sale.currency) for a in exchange.added)
        total = new_total if mode is ExchangeUpgrades.COMMISSION else min(new_total, sum(weights.values()))
        credit(exchange.added, total, weights)
    if sale.lines:
        anchor = {sale.lines[0].line_item_id: 1}
        for edit, mode in facts.edits:
            added_total = sum(_minor(a.value, sale.currency) for a in edit.added)
            credit(edit.added, added_total if mode is ExchangeUpgrades.COMMISSION else 0, anchor)
    return returned, credits, taken_back


def _whole(line_id: str, sale: Sale, credits: dict[str, _Credit]) -> tuple[int, int] | None:
    """Value and quantity of a sold or added line, for pro-rating by quantity."""
    if (line := sale.line(line_id)) is not None:
        return line.base.minor, line.quantity
    if (added := credits.get(line_id)) is not None:
        return added.value, added.quantity
    return None


def _by_quantity_correction(facts: OrderFacts, sale: Sale, credits: dict[str, _Credit], exchanged: set[str]) -> dict[str, int]:
    """Quantities refunded without a subtotal are pro-rated once over all refunds together,
    so refunding every unit, one refund at a time, refunds exactly the line's value. A
    refund settling an exchange's return (``exchanged``) is counted by that exchange."""
    quantities: dict[str, list[int]] = defaultdict(list)
    for refund, _ in facts.refunds:
        if refund.return_id in exchanged:
            continue
        for item in refund.lines:
            if item.subtotal is None:
                quantities[item.line_item_id].append(item.quantity)
    correction = {}
    for line_id, each in quantities.items():
        if (whole := _whole(line_id, sale, credits)) is not None:
            together = _prorated(whole[0], sum(each), whole[1])
            correction[line_id] = together - sum(_prorated(whole[0], q, whole[1]) for q in each)
    return correction


def _refunded(refund: RefundCreated, sale: Sale, credits: dict[str, _Credit]) -> list[tuple[str, int]]:
    """Refunded value per line of one refund, after a positive discrepancy."""
    parts = []
    for item in refund.lines:
        if item.subtotal is not None:
            tax = item.total_tax if sale.taxes_included else 0
            value = _minor(item.subtotal - tax, sale.currency)
        elif (whole := _whole(item.line_item_id, sale, credits)) is not None:
            value = _prorated(whole[0], item.quantity, whole[1])
        else:
            value = 0
        parts.append((item.line_item_id, max(value, 0)))
    shortfall = _minor(refund.discrepancy, sale.currency)
    if shortfall > 0 and parts:
        total = sum(v for _, v in parts)
        cuts = _split(min(shortfall, total), [v for _, v in parts])
        parts = [(line_id, value - cut) for (line_id, value), cut in zip(parts, cuts)]
    return parts


def line_values(facts: OrderFacts) -> dict[str, LineValue]:
    """Value and target of every commission line of the order, in listing order."""
    sale = facts.sale
    if sale is None:
        return {}
    returned, credits, taken_back = _credits(facts, sale)
    refunded: dict[str, int] = defaultdict(int)
    amount_only = 0
    cover = {return_id: dict(lines) for return_id, lines in taken_back.items()}  # what each exchange already took back
    for refund, mode in facts.refunds:
        covered = cover.get(refund.return_id or "", {})
        for line_id, value in _refunded(refund, sale, credits):
            shared = min(value, covered.get(line_id, 0))
            if shared:
                covered[line_id] -= shared
            refunded[line_id] += value - shared
        beyond_lines = -_minor(refund.discrepancy, sale.currency)
        if beyond_lines > 0 and mode is AmountOnlyRefunds.PRORATE:
            amount_only += beyond_lines
    for line_id, correction in _by_quantity_correction(facts, sale, credits, set(taken_back)).items():
        refunded[line_id] += correction

    # What each added line still earns (its credit less its refunds), split over the lines it
    # was credited to by largest remainder, so the parts sum to the kept credit exactly.
    earned: dict[str, int] = defaultdict(int)
    for added_id, added in credits.items():
        if not added.value:
            continue
        kept = max(0, added.value - refunded[added_id])
        ids = list(added.shares)
        whole = round_half_up(Fraction(sum(added.shares.values()) * kept, added.value))
        for line_id, part in zip(ids, allocate(whole, [added.shares[i] for i in ids])):
            earned[line_id] += part

    values: dict[str, int] = {}
    for line in sale.lines:
        value = line.base.minor - refunded[line.line_item_id] - returned[line.line_item_id] + earned[line.line_item_id]
        values[line.line_item_id] = max(0, value)

    spread = min(amount_only, sum(values.values()))
    if spread:
        ids = list(values)
        for line_id, cut in zip(ids, allocate(spread, [values[i] for i in ids])):
            values[line_id] -= cut

    result = {}
    for line in sale.lines:
        value = 0 if facts.zeroed else values[line.line_item_id]
        result[line.line_item_id] = LineValue(value, percent_of(line.rate, value, sale.currency))
    return result
