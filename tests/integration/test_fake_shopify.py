"""The OAuth and Admin API clients against a local fake Shopify over real HTTP
(tests/support/fake_shopify.py): token exchange, single-use refresh, code exchange, order
and return fetches, pagination over 120 orders, throttling, and injected failures recovered.

Time is one FakeClock shared by the fake (token expiry, bucket refill) and the clients
(``sleep``, ``monotonic``), so waits are exact and nothing really sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from policy.events import RefundCreated, RefundLine
from shopify_app.shopify.admin_api import LINE_PAGE, AdminAPI, GraphQLError
from shopify_app.shopify.http import ShopifyAuthError, ShopifyHTTP, ShopifyUnavailable
from shopify_app.shopify.oauth import InvalidGrant, InvalidRefreshToken, InvalidSessionToken, TokenEndpoint
from tests.support.fake_shopify import SHOP, T0, FakeClock, FakeLine, FakeShopify

OTHER_SHOP = "other-shop.myshopify.com"
VERSION = "2026-07"
D = Decimal


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeShopify]:
    with FakeShopify(clock=clock) as server:
        yield server


@pytest.fixture
def http(fake: FakeShopify, clock: FakeClock) -> ShopifyHTTP:
    return ShopifyHTTP(fake.origin, sleep=clock.advance, jitter=lambda: 0.0, max_attempts=4, read_timeout=5.0)


@pytest.fixture
def tokens(http: ShopifyHTTP, fake: FakeShopify) -> TokenEndpoint:
    return TokenEndpoint(http, fake.api_key, fake.api_secret)


def admin(http: ShopifyHTTP, clock: FakeClock, token: str, shop: str = SHOP) -> AdminAPI:
    return AdminAPI(http, shop, token, VERSION, sleep=clock.advance, monotonic=clock)


# -- tokens ----------------------------------------------------------------------------------


def test_token_exchange_gives_an_expiring_offline_token_that_reads_the_api(
    fake: FakeShopify, tokens: TokenEndpoint, http: ShopifyHTTP, clock: FakeClock
) -> None:
    now = clock.datetime()
    got = tokens.exchange_session_token(SHOP, fake.session_token(SHOP), now=now)
    assert got.scopes == ("read_orders", "read_returns")
    assert (got.expires_at, got.refresh_expires_at) == (now + timedelta(hours=1), now + timedelta(days=90))
    assert got.refresh_token is not None
    assert admin(http, clock, got.access_token).order("404") is None


@pytest.mark.parametrize("make", [
    lambda fake: fake.session_token(SHOP, secret="another-app-secret-0123456789abcdef"),  # not signed by this app
    lambda fake: fake.session_token(SHOP, audience="another-app"),
    lambda fake: fake.session_token(OTHER_SHOP),  # for another shop than the one asked
    lambda fake: "not-a-jwt",
])
def test_token_exchange_refuses_a_bad_session_token(fake: FakeShopify, tokens: TokenEndpoint, clock: FakeClock, make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidSessionToken, match="session token refused"):
        tokens.exchange_session_token(SHOP, make(fake), now=clock.datetime())
    assert fake.count("token_exchange", 400) == 1  # answered once, never retried


def test_an_expired_session_token_is_refused(fake: FakeShopify, tokens: TokenEndpoint, clock: FakeClock) -> None:
    session_token = fake.session_token(SHOP)
    clock.advance(60 + 11)  # a minute's lifetime plus the leeway
    with pytest.raises(InvalidSessionToken):
        tokens.exchange_session_token(SHOP, session_token, now=clock.datetime())


def test_refresh_tokens_are_single_use(fake: FakeShopify, tokens: TokenEndpoint, http: ShopifyHTTP, clock: FakeClock) -> None:
    first = tokens.exchange_session_token(SHOP, fake.session_token(SHOP), now=clock.datetime())
    clock.advance(3_600)  # the access token has run out
    with pytest.raises(ShopifyAuthError):
        admin(http, clock, first.access_token).order("1")
    assert first.refresh_token is not None
    second = tokens.refresh(SHOP, first.refresh_token, now=clock.datetime())
    assert second.refresh_token not in (None, first.refresh_token)
    assert admin(http, clock, second.access_token).order("1") is None
    with pytest.raises(InvalidRefreshToken):
        tokens.refresh(SHOP, first.refresh_token, now=clock.datetime())  # used already
    assert (fake.count("refresh_token", 200), fake.count("refresh_token", 400)) == (1, 1)


def test_a_refresh_supersedes_the_previous_access_token(fake: FakeShopify, tokens: TokenEndpoint, http: ShopifyHTTP, clock: FakeClock) -> None:
    first = tokens.exchange_session_token(SHOP, fake.session_token(SHOP), now=clock.datetime())
    assert first.refresh_token is not None
    tokens.refresh(SHOP, first.refresh_token, now=clock.datetime())
    with pytest.raises(ShopifyAuthError):
        admin(http, clock, first.access_token).order("1")


def test_an_expired_refresh_token_is_refused(fake: FakeShopify, tokens: TokenEndpoint, clock: FakeClock) -> None:
    got = tokens.exchange_session_token(SHOP, fake.session_token(SHOP), now=clock.datetime())
    assert got.refresh_token is not None and got.refresh_expires_at is not None
    clock.advance(fake.refresh_ttl)
    with pytest.raises(InvalidRefreshToken):
        tokens.refresh(SHOP, got.refresh_token, now=clock.datetime())


def test_authorization_codes_are_single_use(fake: FakeShopify, tokens: TokenEndpoint, http: ShopifyHTTP, clock: FakeClock) -> None:
    fake.add_code(SHOP, "code-1")
    got = tokens.exchange_code(SHOP, "code-1", now=clock.datetime())
    assert got.expires_at is not None and got.refresh_token is not None
    assert admin(http, clock, got.access_token).order("1") is None
    with pytest.raises(InvalidGrant, match="authorization code refused: The authorization code was not found or was already used"):
        tokens.exchange_code(SHOP, "code-1", now=clock.datetime())


def test_wrong_app_credentials_are_an_auth_error(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    fake.add_code(SHOP, "code-2")
    with pytest.raises(ShopifyAuthError):
        TokenEndpoint(http, fake.api_key, "wrong-secret").exchange_code(SHOP, "code-2", now=clock.datetime())


def test_a_token_reads_only_its_own_shop(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    token = fake.issue_token(SHOP)
    fake.add_order(OTHER_SHOP, 1, [FakeLine(1, "10.00")])
    with pytest.raises(ShopifyAuthError):
        admin(http, clock, token, OTHER_SHOP).order("1")
    assert admin(http, clock, fake.issue_token(OTHER_SHOP), OTHER_SHOP).order("1") is not None
    assert admin(http, clock, token).order("1") is None  # one fake, two shops, two stores


# -- orders and returns ----------------------------------------------------------------------


def test_an_order_with_its_lines_refunds_and_clues(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    fake.add_order(
        SHOP, 1001, [FakeLine(1, "59.90", 2, discounts=("10.00",), taxes=("15.94",)), FakeLine(2, "25.00", gift_card=True)],
        currency="EUR", taxes_included=True, financial_status="PARTIALLY_REFUNDED", discount_codes=["ANNA10"],
        attributes={"ref": "anna"}, landing_page="https://shop.example/?ref=anna", email="buyer@example.com",
        fulfillments=[("SUCCESS", T0 + timedelta(days=1))],
    )
    fake.add_refund(SHOP, 1001, 7, [(1, 1, "40.00", "6.39")], adjustments=[("REFUND_DISCREPANCY", "-2.50")],
                    shipping=["4.95"], created_at=T0 + timedelta(days=2))
    snapshot = admin(http, clock, fake.issue_token(SHOP)).order("1001")
    assert snapshot is not None
    assert (snapshot.currency, snapshot.taxes_included, snapshot.paid) == ("EUR", True, True)
    assert [(line.line_item_id, line.unit_price, line.discount, line.tax, line.gift_card) for line in snapshot.lines] == [
        ("1", D("59.90"), D("10.00"), D("15.94"), False), ("2", D("25.00"), D(0), D(0), True)]
    assert snapshot.fulfilled_at == T0 + timedelta(days=1)
    assert snapshot.updated_at == T0 + timedelta(days=2)  # the refund moved it
    assert snapshot.clues.discount_codes == ("ANNA10",) and snapshot.clues.ref_attribute == "anna"
    assert snapshot.clues.landing_site == "https://shop.example/?ref=anna"
    assert snapshot.refunds == (RefundCreated("7", "1001", (RefundLine("1", 1, D("40.00"), D("6.39")),), T0 + timedelta(days=2),
                                              discrepancy=D("-2.50"), shipping=D("4.95"), currency="EUR"),)


def test_an_order_with_more_lines_than_a_page(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    count = 2 * LINE_PAGE + 7
    fake.add_order(SHOP, 5, [FakeLine(i, "1.00") for i in range(1, count + 1)])
    refund_lines = [(i, 1, "1.00", "0.00") for i in range(1, 61)]  # more than a refund page too
    fake.add_refund(SHOP, 5, 70, refund_lines, adjustments=[("RESTOCK", "0.10")] * 25, shipping=["1.00"] * 21)
    snapshot = admin(http, clock, fake.issue_token(SHOP)).order("5")
    assert snapshot is not None
    assert [line.line_item_id for line in snapshot.lines] == [str(i) for i in range(1, count + 1)]
    [refund] = snapshot.refunds
    assert len(refund.lines) == 60 and refund.discrepancy == D("2.50") and refund.shipping == D("21.00")
    assert fake.count("ClawbackOrder") == 3 and fake.count("ClawbackRefund") == 2


def test_orders_updated_since_pages_through_120_orders(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    for n in range(1, 121):
        fake.add_order(SHOP, n, [FakeLine(n, "10.00")], processed_at=T0, updated_at=T0 + timedelta(minutes=121 - n))
    fake.add_order(SHOP, 999, [FakeLine(999, "1.00")], processed_at=T0 - timedelta(days=3))  # not updated since
    api = admin(http, clock, fake.issue_token(SHOP))
    snapshots = list(api.orders_updated_since(T0 + timedelta(minutes=1), page_size=50))
    assert [s.order_id for s in snapshots] == [str(n) for n in range(120, 0, -1)]  # oldest change first
    assert fake.count("ClawbackOrdersUpdated") == 3 and fake.count("ClawbackOrder") == 120
    fake.touch(SHOP, 999, T0 + timedelta(days=1))
    assert [s.order_id for s in api.orders_updated_since(T0 + timedelta(hours=3))] == ["999"]


def test_a_return_with_an_exchange(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    fake.add_order(SHOP, 1001, [FakeLine(1, "30.00", 2)])
    fake.add_return_with_exchange(SHOP, 1001, 900, [(1, 1)], [FakeLine(3, "30.00", title="Size M")],
                                  status="CLOSED", closed_at=T0 + timedelta(days=5))
    api = admin(http, clock, fake.issue_token(SHOP))
    ret = api.return_("gid://shopify/Return/900")
    assert (ret.return_id, ret.order_id, ret.status, ret.returned, ret.exchanged, ret.complete, ret.occurred_at) == (
        "900", "1001", "closed", (("1", 1),), (("3", 1),), True, T0 + timedelta(days=5))
    order = api.order("1001")
    assert order is not None and [line.line_item_id for line in order.lines] == ["1", "3"]  # the exchange is on the same order
    fake.add_return_with_exchange(SHOP, 1001, 901, [(1, 1)], [FakeLine(4, "30.00")], processed=False)
    pending = api.return_("901")
    assert pending.exchanged == () and pending.complete is False


# -- throttling and failures -----------------------------------------------------------------


def test_the_client_waits_for_the_bucket_instead_of_being_throttled(clock: FakeClock) -> None:
    with FakeShopify(clock=clock, bucket_size=100.0, restore_rate=10.0, query_cost=40) as fake:
        http = ShopifyHTTP(fake.origin, sleep=clock.advance, jitter=lambda: 0.0)
        api = admin(http, clock, fake.issue_token(SHOP))
        for _ in range(4):
            assert api.order("1") is None
        assert fake.count("ClawbackOrder", "THROTTLED") == 0
        # 100 -> 60 -> 20; then 2 s to refill 20 more points; then 4 s for 40.
        assert clock.sleeps == [pytest.approx(2.0), pytest.approx(4.0)]


def test_a_throttled_query_waits_as_the_answer_says_and_succeeds(clock: FakeClock) -> None:
    with FakeShopify(clock=clock, bucket_size=100.0, restore_rate=10.0, query_cost=40) as fake:
        http = ShopifyHTTP(fake.origin, sleep=clock.advance, jitter=lambda: 0.0)
        token = fake.issue_token(SHOP)
        admin(http, clock, token).order("1")
        admin(http, clock, token).order("1")  # another client (another worker) drains the bucket to 20
        fresh = admin(http, clock, token)
        assert fresh.order("1") is None  # knows nothing yet: throttled once, waits (40-20)/10 s, retries
        assert fake.count("ClawbackOrder", "THROTTLED") == 1
        assert clock.sleeps == [pytest.approx(2.0)]


def test_injected_failures_are_recovered(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    fake.add_order(SHOP, 1, [FakeLine(1, "10.00")])
    api = admin(http, clock, fake.issue_token(SHOP))
    fake.fail_next(1, 500)
    fake.fail_next(1, "drop")
    fake.fail_next(1, 429, retry_after=3.0)
    snapshot = api.order("1")
    assert snapshot is not None and snapshot.order_id == "1"
    assert clock.sleeps == [0.25, 0.5, 3.0]
    assert [r.status for r in fake.requests] == [500, "drop", 429, 200]


def test_the_token_endpoint_retries_too(fake: FakeShopify, tokens: TokenEndpoint, clock: FakeClock) -> None:
    fake.fail_next(2, "drop")
    got = tokens.exchange_session_token(SHOP, fake.session_token(SHOP), now=clock.datetime())
    assert got.access_token.startswith("shpat_")
    assert fake.count("token_exchange", 200) == 1


def test_persistent_failures_give_up(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    fake.fail_next(4, 503)
    with pytest.raises(ShopifyUnavailable, match="HTTP 503 after 4 attempts"):
        admin(http, clock, fake.issue_token(SHOP)).order("1")


def test_an_unknown_document_is_a_graphql_error(fake: FakeShopify, http: ShopifyHTTP, clock: FakeClock) -> None:
    with pytest.raises(GraphQLError) as caught:
        admin(http, clock, fake.issue_token(SHOP)).query("query Other { shop { name } }", {})
    assert caught.value.codes == ("undefinedField",)
