"""Install, use, refresh, uninstall and reinstall, end to end against a local fake Shopify over
real HTTP (``tests/support/fake_shopify.py``): the app outside dev mode, its Shopify origin
pointed at the fake (``CLAWBACK_SHOPIFY_ORIGIN``), signed webhooks in, the worker reading what
webhooks lacked from the fake's Admin API."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from shopify_app import worker
from shopify_app.dev import samples
from shopify_app.services import install, ledger, shops as registry
from shopify_app.shopify.app_config import SCOPES
from shopify_app.shopify.http import ShopifyHTTP
from shopify_app.shopify.oauth import TokenEndpoint
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.tables import Shop, WebhookDelivery
from tests.e2e.conftest import TEST_SECRET, make_config
from tests.support.cli import TEST_ENCRYPTION_KEY
from tests.support.fake_shopify import FakeClock, FakeLine, FakeShopify
from tests.support.signing import post_webhook

SHOP = "demo.myshopify.com"
API_KEY = "dev-api-key"


@pytest.fixture
def fake():
    with FakeShopify(api_key=API_KEY, api_secret=TEST_SECRET, clock=FakeClock(datetime.now(timezone.utc)), scopes=",".join(SCOPES)) as shopify:
        yield shopify


@pytest.fixture
def config(database, fake):
    return make_config(database.url, dev_mode=False, shopify_origin=fake.origin, encryption_key=TEST_ENCRYPTION_KEY)


@pytest.fixture
def app(app_factory, fake):
    return app_factory(dev_mode=False, shopify_origin=fake.origin, encryption_key=TEST_ENCRYPTION_KEY)


def open_app(client, fake, shop: str = SHOP):
    return client.get(f"/?embedded=1&shop={shop}&host=YWRtaW4&id_token={fake.session_token(shop)}")


def shop_row(database, domain: str = SHOP) -> Shop:
    with database.transaction() as session:  # committed, not rolled back: the row stays readable
        return session.scalars(select(Shop).where(Shop.domain == domain)).one()


def statuses(database) -> list[tuple[str, str]]:
    with database.reading() as session:
        return [(d.topic, d.status) for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


def records(database, domain: str = SHOP) -> list[tuple[str, str, str]]:
    with database.reading() as session:
        return [(r.order_id, r.kind.value, str(r.amount)) for r in ledger.export_records(session, registry.require_shop(session, domain))]


def add_affiliate(database) -> None:
    with database.transaction() as session:
        registry.add_affiliate(session, registry.require_shop(session, SHOP), "ANNA", "anna@aff.example", datetime.now(timezone.utc), "20")


def expire_access_token(database) -> None:
    with database.transaction() as session:
        session.execute(update(Shop).where(Shop.domain == SHOP).values(access_token_expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))


def test_install_open_refresh_uninstall_reinstall(client, database, fake, config) -> None:
    # 1. Shopify installed the app (managed install); the merchant opens it: token exchange.
    response = open_app(client, fake)
    assert response.status_code == 200 and b"Affiliate commissions of demo.myshopify.com" in response.data
    assert response.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    assert fake.count("token_exchange") == 1
    row = shop_row(database)
    assert row.access_token_encrypted and not row.access_token_encrypted.startswith("shpat")  # encrypted at rest
    assert row.refresh_token_encrypted and row.needs_auth is None
    assert timedelta(minutes=55) < row.access_token_expires_at - datetime.now(timezone.utc) <= timedelta(hours=1)
    assert set(row.scopes.split(",")) == set(SCOPES)
    assert open_app(client, fake).status_code == 200 and fake.count("token_exchange") == 1  # a working token is kept

    # 2. A refund arrives before its order: the worker reads the order from Shopify at once.
    add_affiliate(database)
    fake.add_order(SHOP, 1001, [FakeLine(11, "100.00", title="Item 11")], discount_codes=["ANNA"], processed_at=datetime.now(timezone.utc))
    assert post_webhook(client, "refunds/create", samples.refund(71, 1001, [(11, 1, "40.00")], created_at=datetime.now(timezone.utc).isoformat())).status_code == 200
    report = worker.run(database, config, until_idle=True)
    assert report.statuses == {"done": 1}
    assert records(database) == [("1001", "commission", "20.00"), ("1001", "refund", "-8.00")]

    # 3. The access token expires: the next read refreshes it first (once), then reads.
    expire_access_token(database)
    fake.add_order(SHOP, 1002, [FakeLine(21, "50.00", title="Item 21")], discount_codes=["ANNA"], processed_at=datetime.now(timezone.utc))
    post_webhook(client, "refunds/create", samples.refund(72, 1002, [(21, 1, "50.00")], created_at=datetime.now(timezone.utc).isoformat()))
    assert worker.run(database, config, until_idle=True).statuses == {"done": 1}
    assert fake.count("refresh_token") == 1 and shop_row(database).needs_auth is None
    assert records(database)[-2:] == [("1002", "commission", "10.00"), ("1002", "refund", "-10.00")]

    # 4. Uninstalled: tokens gone, ledger kept, later deliveries held (not processed).
    post_webhook(client, "app/uninstalled", {"id": 1, "name": "Demo", "myshopify_domain": SHOP, "currency": "USD"})
    worker.run(database, config, until_idle=True)
    row = shop_row(database)
    assert row.uninstalled_at is not None and row.access_token_encrypted is None and row.refresh_token_encrypted is None
    post_webhook(client, "orders/paid", samples.order(1003, [(31, "30.00", 1)], code="ANNA", created_at=datetime.now(timezone.utc).isoformat()))
    assert worker.run(database, config, until_idle=True).statuses == {"held": 1}
    assert len(records(database)) == 4

    # 5. Reinstalled (opened again): a new token, and the held delivery is processed.
    assert open_app(client, fake).status_code == 200
    assert fake.count("token_exchange") == 2 and shop_row(database).uninstalled_at is None
    assert worker.run(database, config, until_idle=True).statuses == {"done": 1}
    assert records(database)[-1] == ("1003", "commission", "6.00")
    assert statuses(database) == [("refunds/create", "done"), ("refunds/create", "done"), ("app/uninstalled", "done"), ("orders/paid", "done")]


def test_a_refused_refresh_asks_the_merchant_visibly_and_opening_the_app_heals_it(client, database, fake, config) -> None:
    open_app(client, fake)
    add_affiliate(database)
    expire_access_token(database)
    fake.fail_next(1, status=400)  # Shopify refuses the refresh token
    fake.add_order(SHOP, 1001, [FakeLine(11, "100.00")], discount_codes=["ANNA"], processed_at=datetime.now(timezone.utc))
    post_webhook(client, "refunds/create", samples.refund(71, 1001, [(11, 1, "40.00")], created_at=datetime.now(timezone.utc).isoformat()))
    assert worker.run(database, config, until_idle=True).statuses == {"parked": 1}  # kept, not lost
    row = shop_row(database)
    assert row.needs_auth.startswith("Shopify refused the refresh token") and row.access_token_encrypted is None
    page = client.get(f"/?embedded=1&shop={SHOP}&id_token={fake.session_token(SHOP)}")
    assert page.status_code == 200 and shop_row(database).needs_auth is None  # the merchant opened it: a new token


def test_two_processes_refreshing_at_once_use_the_refresh_token_once(database, fake, config) -> None:
    """Shopify invalidates a refresh token once used: the shop row's lock makes the second
    refresher wait and find the new token instead of sending the spent one."""
    endpoint, cipher = TokenEndpoint(ShopifyHTTP(fake.origin), API_KEY, TEST_SECRET), TokenCipher.from_config(config)
    now = datetime.now(timezone.utc)
    with database.transaction() as session:
        install.open_app(session, SHOP, fake.session_token(SHOP), now, endpoint, cipher, SCOPES)
    expire_access_token(database)
    tokens, errors = [], []

    def refresh() -> None:
        try:
            with database.transaction() as session:
                shop = registry.require_shop(session, SHOP)
                tokens.append(install.access_token(session, shop, datetime.now(timezone.utc), endpoint, cipher))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(tokens) == 2 and tokens[0] == tokens[1] and tokens[0] is not None
    assert fake.count("refresh_token") == 1 and fake.count("refresh_token", status=400) == 0
    assert shop_row(database).needs_auth is None


def test_a_thin_return_is_read_from_shopify_and_the_exchange_and_its_refund_count_the_item_once(client, database, fake, config) -> None:
    open_app(client, fake)
    add_affiliate(database)
    now = datetime.now(timezone.utc)
    sold = samples.order(2001, [(41, "50.00", 1), (42, "30.00", 1)], code="ANNA", created_at=now.isoformat())
    post_webhook(client, "orders/paid", sold)
    worker.run(database, config, until_idle=True)
    # Shopify processes a size exchange for a dearer item: the return adds line 43 to the order,
    # and writes a refund for the returned line that names the return.
    fake.add_order(SHOP, 2001, [FakeLine(41, "50.00"), FakeLine(42, "30.00")], discount_codes=["ANNA"], processed_at=now)
    fake.add_return_with_exchange(SHOP, 2001, 9001, [(41, 1)], [FakeLine(43, "65.00", title="Item 43")])
    thin = {"id": 9001, "admin_graphql_api_id": "gid://shopify/Return/9001", "status": "open", "order": {"id": 2001},
            "total_return_line_items": 1, "total_exchange_line_items": 1, "exchange_line_items": [{"id": 1, "line_item": None}]}
    post_webhook(client, "returns/approve", thin)
    refund = samples.refund(7101, 2001, [(41, 1, "50.00")], created_at=now.isoformat(), discrepancy="50.00")
    refund["return"] = {"id": 9001, "admin_graphql_api_id": "gid://shopify/Return/9001"}
    post_webhook(client, "refunds/create", refund)
    assert worker.run(database, config, until_idle=True).statuses == {"done": 2}
    assert fake.count("ClawbackReturn") == 1 and fake.count("ClawbackOrder") >= 1  # the thin return and its order, read
    # line 41: 50.00 returned once, 65.00 credited: 20 % of 65.00 = 13.00, i.e. +3.00 on 10.00
    by_line = {}
    for order_id, kind, amount in records(database):
        by_line.setdefault(kind, []).append(amount)
    assert by_line == {"commission": ["10.00", "6.00"], "exchange": ["3.00"]}


def test_the_authorization_code_install_works_once_and_its_replay_is_refused(client, database, fake) -> None:
    from urllib.parse import parse_qs, urlencode, urlsplit

    from shopify_app.shopify.oauth_query import sign_oauth_query

    started = client.get(f"/auth?shop={SHOP}")
    authorize = urlsplit(started.headers["Location"])
    assert authorize.netloc == urlsplit(fake.origin.replace("{shop}", SHOP)).netloc  # the configured Shopify origin
    state = parse_qs(authorize.query)["state"][0]
    fake.add_code(SHOP, "code-1")
    params = {"code": "code-1", "shop": SHOP, "state": state, "host": "YWRtaW4", "timestamp": str(int(datetime.now(timezone.utc).timestamp()))}
    callback = f"/auth/callback?{urlencode({**params, 'hmac': sign_oauth_query(params, TEST_SECRET)})}"
    done = client.get(callback)
    assert done.status_code == 302 and done.headers["Location"] == f"https://{SHOP}/admin/apps/{API_KEY}"
    assert shop_row(database).access_token_encrypted is not None and fake.count("authorization_code") == 1
    before = shop_row(database).access_token_encrypted
    client.set_cookie("clawback_oauth_state", started.headers["Set-Cookie"].split("clawback_oauth_state=")[1].split(";")[0])
    replay = client.get(callback)  # the same URL and cookie again: the state is spent
    assert replay.status_code == 400 and b"state already used" in replay.data
    assert fake.count("authorization_code") == 1 and shop_row(database).access_token_encrypted == before


def test_a_token_for_one_shop_never_shows_another_shop(client, database, fake) -> None:
    open_app(client, fake, "other.myshopify.com")
    page = client.get(f"/?embedded=1&shop=other.myshopify.com&host=x&id_token={fake.session_token(SHOP)}")
    assert page.status_code == 200
    assert b"commissions of demo.myshopify.com" in page.data and b"other.myshopify.com" not in page.data  # the token's dest, not ?shop=
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"


def test_the_worker_reconciles_each_installed_shop_when_it_is_due(client, database, fake, config) -> None:
    open_app(client, fake)
    add_affiliate(database)
    now = datetime.now(timezone.utc)
    fake.add_order(SHOP, 4001, [FakeLine(51, "100.00")], discount_codes=["ANNA"], processed_at=now - timedelta(hours=2))  # its webhooks never came
    with database.transaction() as session:
        session.execute(update(Shop).where(Shop.domain == SHOP).values(installed_at=now - timedelta(hours=7)))
    from shopify_app.services.reading import admin_readers

    worker.periodic_jobs(database, now, config, admin_readers(config))
    assert records(database) == [("4001", "commission", "20.00")]
    assert shop_row(database).last_reconciled_at is not None
    fake.add_order(SHOP, 4002, [FakeLine(52, "100.00")], discount_codes=["ANNA"], processed_at=now)
    worker.periodic_jobs(database, now + timedelta(hours=1), config, admin_readers(config))  # not due again for six hours
    assert len(records(database)) == 1


def test_a_refused_read_from_shopify_is_said_on_the_parked_delivery(client, database, fake, config) -> None:
    """A refund of an unknown order, and Shopify refuses the read (a scope taken away): the
    delivery stays parked, and its note says Shopify refused, for "needs attention"."""
    open_app(client, fake)
    add_affiliate(database)
    fake.fail_next(5, 403)
    refund = samples.refund(73, 1003, [(31, 1, "10.00")], created_at=datetime.now(timezone.utc).isoformat())
    assert post_webhook(client, "refunds/create", refund).status_code == 200
    worker.run(database, config, until_idle=True)
    with database.reading() as session:
        [delivery] = session.scalars(select(WebhookDelivery).where(WebhookDelivery.topic == "refunds/create")).all()
        assert delivery.status == "parked" and "reading Shopify failed" in delivery.last_error and "403" in delivery.last_error
    assert records(database) == []
