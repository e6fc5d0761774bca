"""Affiliates as the admin lists and edits them: balances from the ledger's running totals,
risk from the periodic job's last reading, one affiliate's records with their running net."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import Session

from ledger.balances import Balance
from ledger.records import Record
from shopify_app.services.errors import InvalidInput, NotFound
from shopify_app.services.shops import affiliate_term
from shopify_app.store import shops
from shopify_app.store.ledger import LedgerStore
from shopify_app.store.tables import Affiliate, Shop

PER_PAGE = 50


@dataclass(frozen=True)
class Listed:
    affiliate: Affiliate
    balances: tuple[Balance, ...]  # one per currency


@dataclass(frozen=True)
class Page:
    items: tuple
    page: int
    pages: int


def _page_of(page: int, total: int) -> tuple[int, int, int]:
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, page), pages)
    return page, pages, (page - 1) * PER_PAGE


def listing(session: Session, shop: Shop, page: int) -> Page:
    page, pages, offset = _page_of(page, shops.affiliate_count(session, shop.id))
    rows = shops.affiliate_page(session, shop.id, offset, PER_PAGE)
    balances: dict[str, list[Balance]] = {}
    for balance in LedgerStore(session, shop.id).balances([row.code for row in rows]):
        balances.setdefault(balance.affiliate, []).append(balance)
    return Page(tuple(Listed(row, tuple(balances.get(row.code, ()))) for row in rows), page, pages)


def find(session: Session, shop: Shop, code: str) -> Affiliate:
    affiliate = shops.find_affiliate(session, shop.id, code)
    if affiliate is None:
        raise NotFound(f"no affiliate {code[:64]!r} in {shop.domain}")
    return affiliate


@dataclass(frozen=True)
class Line:
    record: Record
    net_after: int  # the affiliate's net in the record's currency, in minor units, after this record


@dataclass(frozen=True)
class History:
    items: tuple[Line, ...]
    total: int  # records of the affiliate
    older: int | None  # the cursor (``before``) of the next older page; None on the oldest
    newest: bool  # this page starts at the affiliate's newest record


def history(session: Session, shop: Shop, affiliate: Affiliate, before: int | None) -> History:
    """A page of the affiliate's records older than record ``before`` (None: the newest),
    newest first, each with the affiliate's net after it. Keyset pages and the running totals
    keep the newest page one index range whatever the affiliate's size; an older page also
    sums the shorter side of the records around it (``affiliate_net_upto``)."""
    store = LedgerStore(session, shop.id)
    total, nets = store.affiliate_totals(affiliate.code)
    records = store.affiliate_records(affiliate.code, before, PER_PAGE + 1)
    more, records = len(records) > PER_PAGE, records[:PER_PAGE]
    if before is not None and records:
        nets = store.affiliate_net_upto(affiliate.code, records[0].id)
    lines = []
    for record in records:
        lines.append(Line(record, nets.get(record.currency, 0)))
        nets[record.currency] = nets.get(record.currency, 0) - record.amount.minor
    return History(tuple(lines), total, records[-1].id if more else None, before is None)


def edit(session: Session, shop: Shop, affiliate: Affiliate, rate: str, delay: str) -> dict[str, str]:
    """Change an affiliate's rate and delay overrides (blank: the shop's); returns errors by
    field, changing nothing unless there are none. Past commissions keep their frozen terms."""
    errors, values = {}, {}
    for field, raw in (("rate_percent", rate), ("approval_delay_days", delay)):
        try:
            parsed = None if raw.strip() == "" else affiliate_term(field, raw)
        except InvalidInput as exc:
            errors.update(invalid_to_fields(exc))
        else:
            values[field] = str(parsed) if field == "rate_percent" and parsed is not None else parsed
    if not errors:
        for field, value in values.items():
            setattr(affiliate, field, value)
        session.add(affiliate)
    return errors


def invalid_to_fields(error: InvalidInput) -> dict[str, str]:
    """A registration error beside the form field it is about."""
    text = str(error)
    return {error.field or "code": text[0].upper() + text[1:]}
