"""A whole shop in memory: the pure core wired the way the app wires it with a database.

It is the reference model for the property tests and the harness for the policy tests:
deliver events, run approvals and payouts, read nets and balances.
"""

from __future__ import annotations

from datetime import datetime

from ledger.balances import fold_balances
from ledger.book import Book
from ledger.money import Money
from ledger.payouts import plan_payouts
from ledger.records import Record, Status
from policy.approval import due_for_approval
from policy.engine import Outcome, apply
from policy.facts import OrderFacts
from policy.events import Event
from policy.settings import Settings
from tests.support.builders import T0


class ShopModel:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.book = Book()
        self.facts: dict[str, OrderFacts] = {}
        self.payouts: list[tuple[str, Money, tuple[int, ...]]] = []

    def deliver(self, event: Event, now: datetime = T0) -> Outcome:
        facts = self.facts.get(event.order_id) or OrderFacts(event.order_id)
        outcome = apply(facts, event, self.book.records(event.order_id), self.settings, now)
        self.book.post(outcome.drafts)
        self.facts[event.order_id] = outcome.facts
        return outcome

    def approve_due(self, as_of: datetime) -> list[int]:
        by_order = {oid: f.sale.approves_at(f.fulfilled_at) for oid, f in self.facts.items() if f.sale}
        ids = due_for_approval(self.book.records(), as_of, by_order)
        self.book.move(ids, Status.APPROVED)
        return ids

    def run_payouts(self, minimum: dict[str, Money] | None = None) -> list:
        """One payout run; ``minimum`` maps currency -> minimum payout (none by default)."""
        plans = plan_payouts(self.book.records(), minimum or {})
        for plan in plans:
            self.book.move(plan.record_ids, Status.PAID)
            self.payouts.append((plan.affiliate, plan.total, plan.record_ids))
        return plans

    # -- reading ---------------------------------------------------------------------------
    def records(self, order_id: str | None = None) -> list[Record]:
        return self.book.records(order_id)

    def net(self, order_id: str, line_id: str | None = None) -> str:
        records = [r for r in self.records(order_id) if line_id is None or r.line_item_id == line_id]
        currency = records[0].currency
        return str(Money(sum(r.amount.minor for r in records), currency))

    def balance(self, affiliate: str = "ANNA", currency: str = "USD"):
        return fold_balances(self.records())[(affiliate, currency)]
