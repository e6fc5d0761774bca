"""Payouts as the admin runs them: first what a run would pay and what it carries as owed,
then the run itself, refused if the ledger changed in between (the merchant confirms what
they saw, not something else); the history; and a payout as a CSV for PayPal or Wise."""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from ledger.money import Money
from ledger.payouts import PayoutPlan
from shopify_app.services.errors import NotFound
from shopify_app.services.ledger import due_payouts, pay
from shopify_app.store import payouts as payout_rows, shops
from shopify_app.store.tables import Payout, Shop

PER_PAGE = 50


@dataclass(frozen=True)
class Plan:
    pays: tuple[tuple[str, Money, int, Money], ...]  # (affiliate, total, records, refunds and clawbacks netted in it)
    owed: tuple[tuple[str, Money], ...]  # negative sums carried to the next run
    below_minimum: tuple[tuple[str, Money], ...]  # positive but under the shop's minimum
    fingerprint: str  # what the merchant saw: the records the run would pay
    plans: tuple[PayoutPlan, ...]  # the payouts themselves, paid as they are when confirmed

    @property
    def empty(self) -> bool:
        return not self.pays


def plan(session: Session, shop: Shop) -> Plan:
    approved, plans = due_payouts(session, shop)
    sums: dict[tuple[str, str], int] = {}
    taken: dict[tuple[str, str], int] = {}
    for record in approved:
        key = (record.affiliate, record.currency)
        sums[key] = sums.get(key, 0) + record.amount.minor
        taken[key] = taken.get(key, 0) + min(0, record.amount.minor)
    paid = {(p.affiliate, p.currency) for p in plans}
    owed = tuple((a, Money(-total, c)) for (a, c), total in sorted(sums.items()) if total < 0)
    below = tuple((a, Money(total, c)) for (a, c), total in sorted(sums.items()) if total > 0 and (a, c) not in paid)
    ids = sorted(i for p in plans for i in p.record_ids)
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    pays = tuple((p.affiliate, p.total, len(p.record_ids), Money(taken[(p.affiliate, p.currency)], p.currency)) for p in plans)
    return Plan(pays, owed, below, digest, tuple(plans))


class PlanChanged(RuntimeError):
    """The ledger moved between the preview and the confirmation: show the new preview."""


def run(session: Session, shop: Shop, confirmed: str, now: datetime) -> list[Payout]:
    """Run the payouts the merchant saw (``confirmed`` is the preview's fingerprint)."""
    current = plan(session, shop)
    if current.fingerprint != confirmed:
        raise PlanChanged("the approved records changed since the preview: look again before paying")
    return pay(session, shop, list(current.plans), now)


def history(session: Session, shop: Shop, page: int) -> tuple[list[Payout], int, int]:
    total = payout_rows.count(session, shop.id)
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, page), pages)
    return payout_rows.page(session, shop.id, (page - 1) * PER_PAGE, PER_PAGE), page, pages


CSV_FIELDS = ["email", "amount", "currency", "reference", "note"]
"""PayPal Payouts' and Wise's batch files both take recipient, amount, currency, a reference
and a note; one file fits either upload."""


def as_csv(session: Session, shop: Shop, payout_id: int) -> tuple[str, str]:
    """``(file name, CSV text)`` of one payout of this shop."""
    payout = payout_rows.find(session, shop.id, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id} in {shop.domain}")
    affiliate = shops.find_affiliate(session, shop.id, payout.affiliate)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerow({"email": affiliate.email if affiliate else "", "amount": str(Money(payout.total_minor, payout.currency)),
                     "currency": payout.currency, "reference": f"clawback-{shop.domain.split('.')[0]}-{payout.id}",
                     "note": f"Affiliate commissions ({payout.record_count} records), {payout.created_at:%Y-%m-%d}"})
    return f"payout-{payout.id}.csv", out.getvalue()
