"""What the admin and the risk job read through indexes instead of every record, on SQLite and
PostgreSQL, checked against the fold over every record: an affiliate's records in keyset pages
with the net after each, and affiliate risk from the window's records plus chargebacks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from policy.risk import affiliate_risk
from shopify_app import worker
from shopify_app.dev import samples
from shopify_app.services import affiliates, ledger, shops as registry
from shopify_app.store import shops
from shopify_app.store.ledger import LedgerStore
from tests.e2e.conftest import make_config
from tests.support.deliveries import enqueue

SHOP = "reads.myshopify.com"


def ago(days: float, now: datetime) -> str:
    return (now - timedelta(days=days)).isoformat()


def seeded(database, deliveries: list[tuple[str, dict]]) -> None:
    now = datetime.now(timezone.utc)
    with database.transaction() as session:
        shop = registry.add_shop(session, SHOP, now, currency="USD")
        for code in ("ANNA", "BEN", "CARA", "DANA"):  # CARA never refers anything
            registry.add_affiliate(session, shop, code, f"{code.lower()}@aff.example", now, "10")
        registry.update_settings(session, shop, {"chargeback_threshold": "2", "refund_rate_minimum_orders": "2"})
    enqueue(database, deliveries, domain=SHOP)
    worker.run(database, make_config(database.url), until_idle=True)


def test_an_affiliates_records_page_by_keyset_with_the_net_after_each(database) -> None:
    now = datetime.now(timezone.utc)
    deliveries = []
    for n in range(60):  # 60 orders of two lines, a third of them partly refunded: 140 records of ANNA
        order_id = 6000 + n
        deliveries.append(("orders/paid", samples.order(order_id, [(order_id * 10, f"{10 + n}.00", 1), (order_id * 10 + 1, "7.35", 1)],
                                                        code="ANNA", created_at=ago(30, now))))
        if n % 3 == 0:
            deliveries.append(("refunds/create", samples.refund(7000 + n, order_id, [(order_id * 10, 1, f"{10 + n}.00")],
                                                                created_at=ago(20, now))))
    deliveries.append(("orders/paid", samples.order(6999, [(69990, "50.00", 1)], code="BEN", created_at=ago(30, now))))
    seeded(database, deliveries)

    with database.reading() as session:
        shop = shops.find(session, SHOP)
        everything = sorted((r for r in LedgerStore(session, shop.id).records() if r.affiliate == "ANNA"), key=lambda r: -r.id)
        anna = affiliates.find(session, shop, "ANNA")
        pages, before = [], None
        while True:
            page = affiliates.history(session, shop, anna, before)
            pages.append(page)
            if page.older is None:
                break
            before = page.older
    assert len(everything) == 140 and [len(p.items) for p in pages] == [50, 50, 40]
    assert [p.total for p in pages] == [140] * 3 and [p.newest for p in pages] == [True, False, False]
    shown = [line for p in pages for line in p.items]
    assert [line.record.id for line in shown] == [r.id for r in everything]
    running = sum(r.amount.minor for r in everything)
    for line in shown:  # the net after each record is the fold over it and every older one
        assert line.net_after == running, line.record.id
        running -= line.record.amount.minor
    assert running == 0


def test_risk_from_the_window_and_the_chargebacks_equals_risk_from_every_record(database) -> None:
    now = datetime.now(timezone.utc)
    deliveries = []
    for n, (code, age, refunded) in enumerate([("ANNA", 200, True), ("ANNA", 150, True), ("ANNA", 40, True), ("ANNA", 20, False),
                                               ("BEN", 300, True), ("BEN", 10, False), ("BEN", 5, True),
                                               # DANA's first order is older than the window, its refund inside it
                                               ("DANA", 100, True), ("DANA", 30, True), ("DANA", 20, False)]):
        order_id = 8000 + n
        deliveries.append(("orders/paid", samples.order(order_id, [(order_id * 10, "100.00", 1)], code=code, created_at=ago(age, now))))
        if refunded:
            refund_age = 80 if age == 100 else age - 2
            deliveries.append(("refunds/create", samples.refund(9000 + n, order_id, [(order_id * 10, 1, "40.00")],
                                                                created_at=ago(refund_age, now))))
    # ANNA's chargebacks: one long before the window, one inside it; both count.
    deliveries += [("disputes/create", samples.dispute(501, 8000, "needs_response", amount="100.00", initiated_at=ago(190, now))),
                   ("disputes/create", samples.dispute(502, 8003, "needs_response", amount="100.00", initiated_at=ago(15, now)))]
    seeded(database, deliveries)

    with database.transaction() as session:
        shop = shops.find(session, SHOP)
        flagged = ledger.refresh_risk(session, shop, now)
        stored = {a.code: (a.flagged, a.refund_rate_percent, a.referred_orders, a.chargebacks) for a in shops.affiliates(session, shop.id)}
        every = affiliate_risk(LedgerStore(session, shop.id).records(), now, registry.shop_settings(shop))
    expected = {code: (r.flagged, str(r.refund_rate_percent), r.orders, r.chargebacks) for code, r in every.items()}
    assert {code: stored[code] for code in expected} == expected
    assert stored["ANNA"] == (True, "20.00", 2, 2)  # 40 of 200 refunded in the window; 2 chargebacks reach the threshold
    assert stored["BEN"] == (False, "20.00", 2, 0)
    assert stored["CARA"] == (False, "0", 0, 0)
    assert stored["DANA"] == (True, "40.00", 2, 0)  # 80 refunded in the window (one of an older order) of 200 referred in it
    assert flagged == ["ANNA", "DANA"]
