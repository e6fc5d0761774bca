"""The merchant's flows in a real browser, one page each: change the approval delay (and be
told why a bad value was not saved), read an order's paired records, run a payout, decide a
refund held for review, use the insight's recommended delay; embedded, the same forms go out
as ``fetch`` with the session token, in-page links load their page through the token-refresh
bounce, and a payout's CSV is fetched with the token and saved. Each page is screenshotted and
checked with axe-core, and each outcome is read back from the database or the CLI's view of
it, not from the page alone.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from shopify_app import worker
from shopify_app.dev import samples
from shopify_app.services import ledger, shops as registry
from shopify_app.store import shops
from shopify_app.store.tables import Payout, ReviewDecision
from tests.browser.support import SHOP, LiveServer
from tests.support.cli import Cli
from tests.support.deliveries import enqueue

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture skips (fails under CI=true) and says why
    expect = None

OTHER = "browser-other.myshopify.com"


def ago(days: float, now: datetime) -> str:
    return (now - timedelta(days=days)).isoformat()


@pytest.fixture
def dev(live_server):
    """The dev-mode app with SHOP installed and ANNA (20 %) as its affiliate."""
    server = live_server()
    with server.database.transaction() as session:
        shop = registry.add_shop(session, SHOP, datetime.now(timezone.utc), currency="USD")
        registry.add_affiliate(session, shop, "ANNA", "anna@affiliates.example", datetime.now(timezone.utc), "20")
    return server


def deliver(server, *deliveries: tuple[str, dict], domain: str = SHOP) -> None:
    enqueue(server.database, list(deliveries), domain=domain)
    worker.run(server.database, server.config, until_idle=True)


def settings_of(server, domain: str = SHOP) -> dict[str, str]:
    with server.database.reading() as session:
        return registry.shop_settings(shops.find(session, domain)).as_strings()


def net(server, order_id: str) -> Decimal:
    with server.database.reading() as session:
        view = ledger.order_view(session, shops.find(session, SHOP), order_id)
        return view.net.amount


def look(page, screenshot, assert_accessible, label: str) -> None:
    screenshot(page, label)
    assert_accessible(page)


# -- settings ----------------------------------------------------------------------------------


def test_the_approval_delay_is_changed_and_a_bad_value_is_explained(dev, page, screenshot, assert_accessible, tmp_path,
                                                                    monkeypatch) -> None:
    page.goto(dev.open_url("/settings"))
    look(page, screenshot, assert_accessible, "settings")

    page.get_by_label("Approval delay (days)").fill("-4")  # the browser itself refuses it (min="0")
    page.get_by_role("button", name="Save").click()
    assert page.eval_on_selector("#field-approval_delay_days", "input => input.validity.rangeUnderflow") is True
    page.get_by_label("Approval delay (days)").fill("45")
    page.get_by_label("Default commission rate (%)").fill("12")
    page.get_by_label("Minimum payout (USD)").fill("12.345")  # the server refuses it: USD has cents, not mills
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-minimum_payout-error")).to_contain_text("12.345")
    expect(page.get_by_label("Minimum payout (USD)")).to_have_attribute("aria-invalid", "true")
    look(page, screenshot, assert_accessible, "settings-invalid")
    assert settings_of(dev)["approval_delay_days"] == "30" and settings_of(dev)["default_rate_percent"] == "10"  # nothing saved

    page.get_by_label("Minimum payout (USD)").fill("25")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    shown = Cli(dev.database.url, tmp_path / "instance", monkeypatch).json("settings", "show", "--shop", SHOP, "--format", "json")
    assert (shown["approval_delay_days"], shown["default_rate_percent"], shown["minimum_payout"]) == ("45", "12", "25")
    expect(page.get_by_label("Approval delay (days)")).to_have_value("45")


def test_embedded_the_settings_form_goes_out_with_the_session_token(live_server, fake_shopify, page, app_bridge, screenshot,
                                                                    assert_accessible) -> None:
    server = live_server(dev_mode=False)
    server.add_shop(SHOP, currency="USD")
    server.add_shop(OTHER, currency="USD")
    app_bridge.shop = SHOP
    page.goto(server.open_url("/settings", shop=OTHER))  # the query names another shop: the token decides
    page.wait_for_url(re.compile(r"[?&]id_token="))
    with page.expect_request(lambda r: r.method == "POST" and urlsplit(r.url).path == "/settings") as sent:
        page.get_by_label("Approval delay (days)").fill("21")
        page.get_by_role("button", name="Save").click()
    assert sent.value.headers.get("authorization", "").removeprefix("Bearer ") in app_bridge.issued
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    look(page, screenshot, assert_accessible, "settings-embedded")
    assert settings_of(server)["approval_delay_days"] == "21" and settings_of(server, OTHER)["approval_delay_days"] == "30"
    assert app_bridge.page_errors == [] and app_bridge.blocked == []


def test_embedded_every_page_opens_with_a_session_token_and_shows_only_its_shop(live_server, fake_shopify, page, app_bridge,
                                                                                screenshot, assert_accessible) -> None:
    server = live_server(dev_mode=False)
    now = datetime.now(timezone.utc)
    for domain, code in ((SHOP, "ANNA"), (OTHER, "OTTO")):
        with server.database.transaction() as session:
            shop = registry.add_shop(session, domain, now, currency="USD")
            registry.add_affiliate(session, shop, code, f"{code.lower()}@affiliates.example", now, "20")
    deliver(server, ("orders/paid", samples.order(3001, [(31, "100.00", 1)], code="ANNA", created_at=ago(3, now))),
            ("refunds/create", samples.refund(4001, 3001, [(31, 1, "40.00")], created_at=ago(1, now))))
    deliver(server, ("orders/paid", samples.order(3001, [(31, "999.00", 1)], code="OTTO", created_at=ago(3, now))), domain=OTHER)
    app_bridge.shop = SHOP
    for path in ("/", "/settings", "/affiliates", "/affiliates/ANNA", "/orders/3001", "/payouts", "/attention", "/insights"):
        page.goto(server.open_url(path, shop=OTHER))  # as if the query named the other shop: the token decides
        page.wait_for_url(re.compile(r"[?&]id_token="))
        main = page.locator("main")
        expect(main).to_be_visible()
        assert "OTTO" not in main.inner_text() and "$199.80" not in main.inner_text(), path  # 20 % of OTHER's 999.00
        assert_accessible(page)
    expect(page.locator("main")).to_contain_text("Refund timing")
    page.goto(server.open_url("/orders/3001", shop=SHOP))
    page.wait_for_url(re.compile(r"[?&]id_token="))
    expect(page.locator("#line-31 tfoot")).to_contain_text("$12.00")  # 20 % of the 60.00 kept
    screenshot(page, "order-embedded")
    assert app_bridge.page_errors == [] and app_bridge.blocked == [] and app_bridge.broken == []


@pytest.fixture
def embedded(live_server, fake_shopify) -> LiveServer:
    """The embedded app with SHOP installed, ANNA (20 %) its affiliate, and OTHER beside it."""
    server = live_server(dev_mode=False)
    now = datetime.now(timezone.utc)
    for domain in (SHOP, OTHER):
        with server.database.transaction() as session:
            shop = registry.add_shop(session, domain, now, currency="USD")
            if domain == SHOP:
                registry.add_affiliate(session, shop, "ANNA", "anna@affiliates.example", now, "20")
    return server


def test_embedded_an_in_page_link_bounces_for_a_token_and_lands_on_its_page(embedded, page, app_bridge, screenshot,
                                                                            assert_accessible) -> None:
    server = embedded
    now = datetime.now(timezone.utc)
    deliver(server, ("orders/paid", samples.order(3001, [(31, "100.00", 1)], code="ANNA", created_at=ago(3, now))))
    app_bridge.shop = SHOP
    page.goto(server.open_url("/affiliates", shop=OTHER))  # the query names another shop: the token decides
    page.wait_for_url(re.compile(r"[?&]id_token="))
    host = parse_qs(urlsplit(page.url).query)["host"]
    documents: list[tuple[int, str, str | None]] = []
    page.on("response", lambda r: documents.append((r.status, urlsplit(r.url).path, r.headers.get("content-security-policy")))
            if r.request.resource_type == "document" else None)

    anna = page.get_by_role("link", name="ANNA", exact=True).first
    assert parse_qs(urlsplit(anna.get_attribute("href")).query) == {"embedded": ["1"], "host": host, "shop": [SHOP]}
    anna.click()
    page.wait_for_url(re.compile(r"/affiliates/ANNA\?.*id_token="))
    page.get_by_role("link", name="3001").first.click()
    page.wait_for_url(re.compile(r"/orders/3001\?.*id_token="))

    expect(page.locator("h1")).to_have_text("Order #3001")
    expect(page.locator("#line-31 tfoot")).to_contain_text("$20.00")
    policy = f"frame-ancestors https://{SHOP} https://admin.shopify.com;"  # SHOP's admin may frame each, the bounce too
    assert documents == [(302, "/affiliates/ANNA", policy), (200, "/auth/session-token", policy), (200, "/affiliates/ANNA", policy),
                         (302, "/orders/3001", policy), (200, "/auth/session-token", policy), (200, "/orders/3001", policy)]
    assert parse_qs(urlsplit(page.url).query)["id_token"][0] in app_bridge.issued
    look(page, screenshot, assert_accessible, "order-by-link")
    assert app_bridge.page_errors == [] and app_bridge.blocked == [] and app_bridge.broken == []


def test_embedded_a_payouts_csv_is_fetched_with_the_session_token_and_saved(embedded, page, app_bridge, screenshot) -> None:
    server = embedded
    now = datetime.now(timezone.utc)
    deliver(server, ("orders/paid", samples.order(3101, [(311, "150.00", 1)], code="ANNA", created_at=ago(40, now))))
    with server.database.transaction() as session:
        ledger.approve_due(session, shops.find(session, SHOP), now)
    page.goto(server.open_url("/payouts"))
    page.wait_for_url(re.compile(r"[?&]id_token="))
    page.get_by_role("button", name="Pay 1 affiliate").click()
    expect(page.get_by_role("status")).to_contain_text("Payouts created")
    shown, loads = page.url, len(app_bridge.documents)

    with page.expect_request(lambda r: urlsplit(r.url).path.endswith(".csv")) as sent, page.expect_download() as download:
        page.get_by_role("link", name=re.compile("CSV")).first.click()
    assert sent.value.headers.get("authorization", "").removeprefix("Bearer ") in app_bridge.issued
    assert download.value.suggested_filename == "payout-1.csv"
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == "email,amount,currency,reference,note" and lines[1].startswith("anna@affiliates.example,30.00,USD,")
    assert page.url == shown and len(app_bridge.documents) == loads  # no page load: the merchant stays on the payouts
    screenshot(page, "payouts-after-download")
    assert app_bridge.page_errors == [] and app_bridge.blocked == [] and app_bridge.broken == []


# -- affiliates and an order -------------------------------------------------------------------


def test_an_order_with_a_partial_refund_shows_each_refund_paired_with_its_commission(dev, page, screenshot,
                                                                                     assert_accessible) -> None:
    now = datetime.now(timezone.utc)
    deliver(dev, ("orders/paid", samples.order(3001, [(31, "100.00", 1), (32, "50.00", 2)], code="ANNA", created_at=ago(3, now))),
            ("refunds/create", samples.refund(4001, 3001, [(32, 1, "50.00")], created_at=ago(1, now))))
    page.goto(dev.open_url("/affiliates"))
    look(page, screenshot, assert_accessible, "affiliates")
    page.get_by_role("link", name="ANNA").first.click()
    look(page, screenshot, assert_accessible, "affiliate")
    page.get_by_role("link", name=re.compile("3001")).first.click()
    expect(page.locator("h1")).to_contain_text("3001")
    line = page.locator("#line-32")
    expect(line).to_contain_text("pairs with #")
    expect(line.locator("tfoot")).to_contain_text("$10.00")  # 20 % of 100.00, less 20 % of the 50.00 refunded
    expect(page.locator("#line-31 tfoot")).to_contain_text("$20.00")
    look(page, screenshot, assert_accessible, "order")
    assert net(dev, "3001") == Decimal("30.00")


# -- payouts -----------------------------------------------------------------------------------


def test_a_payout_is_run_from_its_preview(dev, page, screenshot, assert_accessible) -> None:
    now = datetime.now(timezone.utc)
    deliver(dev, ("orders/paid", samples.order(3101, [(311, "150.00", 1)], code="ANNA", created_at=ago(40, now))))
    with dev.database.transaction() as session:
        ledger.approve_due(session, shops.find(session, SHOP), now)
    page.goto(dev.open_url("/payouts"))
    expect(page.locator("#plan")).to_contain_text("$30.00")
    look(page, screenshot, assert_accessible, "payouts-preview")
    page.get_by_role("button", name="Pay 1 affiliate").click()
    expect(page.get_by_role("status")).to_contain_text("Payouts created")
    expect(page.locator("#history")).to_contain_text("$30.00")
    look(page, screenshot, assert_accessible, "payouts-done")
    with dev.database.reading() as session:
        made = [(p.affiliate, p.total_minor, p.currency) for p in session.scalars(select(Payout))]
    assert made == [("ANNA", 3000, "USD")]
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("CSV")).first.click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.splitlines()[1].startswith("anna@affiliates.example,30.00,USD,")


# -- needs attention ---------------------------------------------------------------------------


def test_a_refund_held_for_review_is_accepted_from_needs_attention(dev, page, screenshot, assert_accessible) -> None:
    now = datetime.now(timezone.utc)
    with dev.database.transaction() as session:
        registry.update_settings(session, shops.find(session, SHOP), {"amount_only_refunds": "review"})
    deliver(dev, ("orders/paid", samples.order(3201, [(321, "100.00", 1)], code="ANNA", created_at=ago(2, now))),
            ("refunds/create", samples.refund(4201, 3201, [], discrepancy="-25.00", created_at=ago(1, now))))
    assert net(dev, "3201") == Decimal("20.00")
    page.goto(dev.open_url("/"))
    page.get_by_role("link", name=re.compile("Needs attention")).first.click()
    expect(page.locator("main")).to_contain_text("held for your decision")
    look(page, screenshot, assert_accessible, "attention")
    page.get_by_role("button", name=re.compile("^Accept")).click()
    expect(page.get_by_role("status")).to_contain_text("Accepted")
    expect(page.locator("main")).to_contain_text("Nothing needs your attention")
    assert net(dev, "3201") == Decimal("15.00")  # 20 % of (100.00 - 25.00)
    with dev.database.reading() as session:
        assert [(d.accepted, d.decided_by) for d in session.scalars(select(ReviewDecision))] == [(True, "dev")]


# -- insight -----------------------------------------------------------------------------------


def test_the_insight_recommends_a_delay_from_the_shops_refunds_and_it_is_used(dev, page, screenshot, assert_accessible) -> None:
    now = datetime.now(timezone.utc)
    lags = [1, 2, 4, 6, 9, 11, 13, 18, 24, 33]
    deliveries = []
    for n, lag in enumerate(lags):
        order_id = 3400 + n
        deliveries += [("orders/paid", samples.order(order_id, [(order_id * 10, "40.00", 1)], code="ANNA", created_at=ago(lag + 1, now))),
                       ("refunds/create", samples.refund(4400 + n, order_id, [(order_id * 10, 1, "40.00")], created_at=ago(1, now)))]
    deliver(dev, *deliveries)
    page.goto(dev.open_url("/insights"))
    recommended = page.locator("#recommended")
    expect(recommended).to_contain_text("Holds back 90 % of refunds")
    expect(recommended).to_contain_text("24 days")  # the 9th of 10 refunds came 24 days after its order
    expect(page.locator("svg.chart rect")).to_have_count(8)
    look(page, screenshot, assert_accessible, "insights")
    page.get_by_role("button", name="Use 24 days").click()
    expect(page.get_by_role("status")).to_contain_text("Approval delay changed")
    assert settings_of(dev)["approval_delay_days"] == "24"


def test_home_shows_this_months_commission_in_dev_mode(dev, page, screenshot, assert_accessible) -> None:
    """An order paid yesterday through ANNA (20 % of 80.00) is on the home's month."""
    now = datetime.now(timezone.utc)
    deliver(dev, ("orders/paid", samples.order(3501, [(351, "80.00", 1)], code="ANNA", created_at=ago(1, now))))
    page.goto(dev.open_url("/"))
    expect(page.locator("main")).to_contain_text("$16.00")
    look(page, screenshot, assert_accessible, "home")
