"""Reconciliation and backfill against a local fake Shopify: drop a random fifth of a
scenario's webhooks, and reading Shopify restores exactly the ledger the complete run wrote;
backfilling while the same webhooks arrive adds nothing twice. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from shopify_app import worker
from shopify_app.config import Config
from shopify_app.dev import samples
from shopify_app.services import install, reconcile
from shopify_app.services.reading import admin_readers
from shopify_app.shopify.app_config import SCOPES
from shopify_app.shopify.http import ShopifyHTTP
from shopify_app.shopify.oauth import TokenEndpoint
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.engine import Database
from shopify_app.store.migrate import upgrade
from tests.support.cli import TEST_ENCRYPTION_KEY
from tests.support.deliveries import SHOP, enqueue, ledger_outcome, nets_by_line, setup_shop
from tests.support.fake_shopify import FakeClock, FakeLine, FakeShopify

API_KEY, SECRET = "dev-api-key", "dev-api-secret-for-local-use-only"


def scenario(fake: FakeShopify, seed: int, orders: int = 40) -> list[tuple[str, dict]]:
    """Orders and refunds, as webhooks and in the fake's store alike: the same truth twice."""
    rng = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(days=10)
    deliveries = []
    for n in range(orders):
        order_id, at = 300000 + n, start + timedelta(hours=n)
        lines = [(order_id * 10 + k, f"{rng.randint(500, 20000) / 100:.2f}", rng.randint(1, 3)) for k in range(rng.randint(1, 3))]
        code = rng.choice(["ANNA", "BEN", "NOBODY"])
        deliveries.append(("orders/paid", samples.order(order_id, lines, code=code, created_at=at.isoformat())))
        fake.add_order(SHOP, order_id, [FakeLine(i, p, q, title=f"Item {i}", product_id=9000 + k) for k, (i, p, q) in enumerate(lines)],
                       discount_codes=[code], processed_at=at, email="buyer@example.com", customer_email="buyer@example.com")
        for r in range(rng.randint(0, 2)):
            line_id, price, _ = rng.choice(lines)
            refund_id, when = order_id * 10 + r, at + timedelta(minutes=10 + r)
            deliveries.append(("refunds/create", samples.refund(refund_id, order_id, [(line_id, 1, price)], created_at=when.isoformat())))
            fake.add_refund(SHOP, order_id, refund_id, [(line_id, 1, price, "0.00")], created_at=when)
    return deliveries


def ledger_shape(database: Database) -> list[tuple]:
    """Every record but its amount: which events moved which lines by how much value, and
    their status. An adjustment's amount is the change of a rounded target, so when two
    refunds of one line arrive in the other order each may take the cent the other took;
    the net of the line (compared separately) may not differ."""
    return sorted((order, line, kind, source, base, status) for order, line, kind, source, _, base, status in ledger_outcome(database))


def connect(database: Database, fake: FakeShopify) -> Config:
    """The shop, installed through the fake (token exchange), and a config pointing at it."""
    config = Config(database_url=database.url, dev_mode=False, api_key=API_KEY, api_secret=SECRET, shopify_origin=fake.origin,
                    encryption_key=TEST_ENCRYPTION_KEY)
    setup_shop(database)
    with database.transaction() as session:
        install.open_app(session, SHOP, fake.session_token(SHOP), datetime.now(timezone.utc),
                         TokenEndpoint(ShopifyHTTP(fake.origin), API_KEY, SECRET), TokenCipher.from_config(config), SCOPES)
    return config


@pytest.fixture
def fake():
    # A bucket that never runs dry: throttling is the Admin API tests' subject, and this fake's clock does not move.
    with FakeShopify(api_key=API_KEY, api_secret=SECRET, clock=FakeClock(datetime.now(timezone.utc)), scopes=",".join(SCOPES),
                     bucket_size=1e9) as shopify:
        yield shopify


@pytest.mark.parametrize("seed", [3, 17])
def test_reconciliation_restores_exactly_what_dropped_webhooks_would_have_written(database, fake, tmp_path, seed) -> None:
    deliveries = scenario(fake, seed)
    complete = Database(f"sqlite:///{tmp_path / 'complete.sqlite3'}")
    upgrade(complete)
    config_complete = connect(complete, fake)
    enqueue(complete, deliveries)
    worker.run(complete, config_complete, until_idle=True)
    expected = ledger_shape(complete)
    assert len(expected) > 40

    config = connect(database, fake)
    rng = random.Random(seed * 7)
    kept = [d for d in deliveries if rng.random() >= 0.2]
    assert len(kept) < len(deliveries)
    enqueue(database, kept)
    worker.run(database, config, until_idle=True)
    assert ledger_shape(database) != expected  # something is missing...
    now = datetime.now(timezone.utc)
    report = reconcile.catch_up(database, SHOP, now - timedelta(days=30), now, admin_readers(config))
    assert report.problems == [] and report.orders == 40
    assert ledger_shape(database) == expected  # ...and is back: the same records, the same values moved
    assert nets_by_line(database) == nets_by_line(complete)  # the same commission per line, to the cent
    again = reconcile.catch_up(database, SHOP, now - timedelta(days=30), now, admin_readers(config))
    assert again.records == 0 and ledger_shape(database) == expected  # a second run adds nothing
    complete.dispose()


def test_backfill_while_the_same_webhooks_arrive_adds_nothing_twice(database, fake, tmp_path) -> None:
    deliveries = scenario(fake, seed=5, orders=15)
    webhooks_only = Database(f"sqlite:///{tmp_path / 'webhooks-only.sqlite3'}")
    upgrade(webhooks_only)
    only_config = connect(webhooks_only, fake)
    enqueue(webhooks_only, deliveries)
    worker.run(webhooks_only, only_config, until_idle=True)
    config = connect(database, fake)
    enqueue(database, deliveries[: len(deliveries) // 2])
    worker.run(database, config, until_idle=True)
    now = datetime.now(timezone.utc)
    reconcile.catch_up(database, SHOP, now - timedelta(days=60), now, admin_readers(config))  # the backfill
    enqueue(database, deliveries)  # the live webhooks, all of them, some seen twice
    worker.run(database, config, until_idle=True)
    assert ledger_shape(database) == ledger_shape(webhooks_only)  # no record twice, none missing
    assert nets_by_line(database) == nets_by_line(webhooks_only)
    webhooks_only.dispose()


def test_reconciling_a_shop_without_access_says_the_merchant_must_open_the_app(database, fake) -> None:
    config = connect(database, fake)
    with database.transaction() as session:
        from shopify_app.services.shops import require_shop

        install.mark_needs_auth(session, require_shop(session, SHOP), "the refresh token expired")
    now = datetime.now(timezone.utc)
    with pytest.raises(reconcile.NoAccess, match="the refresh token expired"):
        reconcile.catch_up(database, SHOP, now - timedelta(days=1), now, admin_readers(config))


def test_the_cli_backfills_and_reconciles_with_a_progress_line(database, fake, tmp_path, monkeypatch) -> None:
    from tests.support.cli import Cli

    deliveries = scenario(fake, seed=9, orders=6)
    connect(database, fake)
    cli = Cli(database.url, tmp_path / "instance", monkeypatch)
    env = {"CLAWBACK_SHOPIFY_ORIGIN": fake.origin, "CLAWBACK_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY}
    result = cli("backfill", "--shop", SHOP, "--days", "30", **env)
    assert result.stdout == "" and f"backfilled {SHOP} since " in result.stderr and ": 6 orders read" in result.stderr
    attributed = [p for topic, p in deliveries if topic == "orders/paid" and p["discount_codes"][0]["code"] != "NOBODY"]
    commissions = [r for r in cli.export(SHOP) if r["kind"] == "commission"]
    assert len(commissions) == sum(len(p["line_items"]) for p in attributed) > 0
    result = cli("reconcile", "--shop", SHOP, **env)
    assert "reconciled" in result.stderr and "0 records written" in result.stderr  # the backfill left nothing to do
    refused = cli.fails("backfill", "--shop", SHOP, "--days", "61", **env)
    assert "61 is not in the range 1<=x<=60" in refused.stderr
    missing = cli.fails("reconcile", "--shop", "other.myshopify.com", **env)
    assert "unknown shop 'other.myshopify.com'" in missing.stderr
