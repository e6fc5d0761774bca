"""The HTTP layer and the GraphQL Admin API client against mocked HTTP (``responses``):
retries and backoff (429 with Retry-After, 5xx, dropped connections), giving up, auth and
request errors, GraphQL errors, waits computed from ``throttleStatus``, pagination,
exact money, and which origins the app accepts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses

from shopify_app.config import ConfigError
from shopify_app.shopify.admin_api import (
    LINE_PAGE,
    MAX_THROTTLED,
    ORDER_QUERY,
    AdminAPI,
    GraphQLError,
    ResourceChanged,
    ResourceNotFound,
    ThrottleStatus,
)
from shopify_app.shopify.domains import InvalidShopDomain
from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.http import (
    ShopifyAuthError,
    ShopifyHTTP,
    ShopifyRequestError,
    ShopifyUnavailable,
)

SHOP = "demo.myshopify.com"
VERSION = "2026-07"
GRAPHQL = f"https://{SHOP}/admin/api/{VERSION}/graphql.json"


class Clock:
    """``monotonic`` that moves only by the injected ``sleep``."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http(clock: Clock) -> ShopifyHTTP:
    return ShopifyHTTP(sleep=clock.sleep, jitter=lambda: 0.0, max_attempts=4, backoff=0.5)


@pytest.fixture
def api(http: ShopifyHTTP, clock: Clock) -> AdminAPI:
    return AdminAPI(http, SHOP, "shpat_test", VERSION, sleep=clock.sleep, monotonic=clock)


def cost(requested: int = 10, available: float = 990.0, maximum: float = 1000.0, rate: float = 50.0) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested,
                     "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": rate}}}


def money(amount: str, currency: str = "USD") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def line_node(line_id: int, price: str = "10.00") -> dict[str, Any]:
    return {"id": f"gid://shopify/LineItem/{line_id}", "title": f"Item {line_id}", "name": f"Item {line_id}", "quantity": 1,
            "isGiftCard": False, "product": {"id": "gid://shopify/Product/555"}, "originalUnitPriceSet": money(price),
            "discountAllocations": [], "taxLines": []}


def order_data(lines: list[dict[str, Any]], *, has_next: bool = False, cursor: str | None = None,
               updated_at: str = "2026-11-03T10:00:00Z", refunds: list[str] = ()) -> dict[str, Any]:
    return {"order": {
        "id": "gid://shopify/Order/1001", "name": "#1001", "currencyCode": "USD", "taxesIncluded": False,
        "displayFinancialStatus": "PAID", "discountCodes": [], "customAttributes": [], "customerJourneySummary": None,
        "email": None, "customer": None, "processedAt": "2026-11-02T10:00:00Z", "createdAt": "2026-11-02T10:00:00Z",
        "cancelledAt": None, "updatedAt": updated_at, "fulfillments": [],
        "refunds": [{"id": f"gid://shopify/Refund/{r}"} for r in refunds],
        "lineItems": {"pageInfo": {"hasNextPage": has_next, "endCursor": cursor}, "nodes": lines},
    }}


def answer(data: Any, extensions: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"data": data, "extensions": extensions or cost(), **extra}


def sent(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


def test_the_client_refuses_an_unsafe_origin() -> None:
    assert ShopifyHTTP().origin == "https://{shop}"
    with pytest.raises(ConfigError):
        ShopifyHTTP("http://shopify.example/{shop}")


def test_the_shop_is_validated_before_it_is_put_in_a_url(http: ShopifyHTTP) -> None:
    assert http.url(SHOP, "/admin/x") == f"https://{SHOP}/admin/x"
    for bad in ("evil.com", "demo.myshopify.com.evil.com", "demo.myshopify.com/../x", "https://demo.myshopify.com"):
        with pytest.raises(InvalidShopDomain):
            http.url(bad, "/admin/x")


# -- retries ---------------------------------------------------------------------------------


@responses.activate
def test_5xx_is_retried_with_exponential_backoff(http: ShopifyHTTP, clock: Clock) -> None:
    url = f"https://{SHOP}/x"
    responses.post(url, status=500)
    responses.post(url, status=502)
    responses.post(url, status=503)
    responses.post(url, json={"ok": True})
    assert http.post(SHOP, "/x", json={}) == {"ok": True}
    assert clock.sleeps == [0.25, 0.5, 1.0]  # 0.5 * 2**n, jitter 0 keeps the lower half


@responses.activate
def test_jitter_spreads_the_delay_within_its_upper_half(clock: Clock) -> None:
    http = ShopifyHTTP(sleep=clock.sleep, jitter=lambda: 0.5, backoff=1.0, max_delay=3.0)
    url = f"https://{SHOP}/x"
    for _ in range(3):
        responses.post(url, status=500)
    responses.post(url, json={})
    http.post(SHOP, "/x", json={})
    assert clock.sleeps == [0.75, 1.5, 2.25]  # 1, 2, then capped at 3; each x0.75


@responses.activate
def test_429_waits_as_long_as_retry_after_says(http: ShopifyHTTP, clock: Clock) -> None:
    url = f"https://{SHOP}/x"
    responses.post(url, status=429, headers={"Retry-After": "2.0"})
    responses.post(url, status=429)  # no Retry-After: backoff
    responses.post(url, json={"ok": 1})
    assert http.post(SHOP, "/x", json={}) == {"ok": 1}
    assert clock.sleeps == [2.0, 0.5]


@responses.activate
def test_connection_errors_are_retried(http: ShopifyHTTP, clock: Clock) -> None:
    url = f"https://{SHOP}/x"
    responses.post(url, body=requests.ConnectionError("connection reset"))
    responses.post(url, body=requests.ReadTimeout("read timed out"))
    responses.post(url, json={"ok": 1})
    assert http.post(SHOP, "/x", json={}) == {"ok": 1}
    assert len(clock.sleeps) == 2


@responses.activate
def test_gives_up_after_the_last_attempt(http: ShopifyHTTP, clock: Clock) -> None:
    url = f"https://{SHOP}/x"
    responses.post(url, status=503)
    with pytest.raises(ShopifyUnavailable) as caught:
        http.post(SHOP, "/x", json={})
    assert len(responses.calls) == 4 and len(clock.sleeps) == 3
    assert str(caught.value) == f"/x on {SHOP}: HTTP 503 after 4 attempts"


@responses.activate
def test_401_and_403_are_auth_errors_never_retried(http: ShopifyHTTP) -> None:
    url = f"https://{SHOP}/x"
    responses.post(url, status=401, json={"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
    with pytest.raises(ShopifyAuthError, match="Invalid API key or access token"):
        http.post(SHOP, "/x", json={})
    responses.replace(responses.POST, url, status=403, body="Forbidden")
    with pytest.raises(ShopifyAuthError, match="HTTP 403: Forbidden"):
        http.post(SHOP, "/x", json={})
    assert len(responses.calls) == 2


@responses.activate
def test_other_4xx_carry_shopifys_message_on_one_line(http: ShopifyHTTP) -> None:
    url = f"https://{SHOP}/x"
    responses.post(url, status=422, json={"errors": {"query": ["is\ninvalid"]}})
    with pytest.raises(ShopifyRequestError) as caught:
        http.post(SHOP, "/x", json={})
    assert caught.value.status == 422 and "is invalid" in str(caught.value) and "\n" not in str(caught.value)
    responses.replace(responses.POST, url, status=400, json={"error": "invalid_request", "error_description": "code was already used"})
    with pytest.raises(ShopifyRequestError, match="code was already used"):
        http.post(SHOP, "/x", form={"code": "c"})
    assert len(responses.calls) == 2


@responses.activate
def test_redirects_are_refused_not_followed(http: ShopifyHTTP) -> None:
    responses.post(f"https://{SHOP}/x", status=302, headers={"Location": "https://elsewhere.example/steal"})
    with pytest.raises(ShopifyRequestError) as caught:
        http.post(SHOP, "/x", json={}, headers={"X-Shopify-Access-Token": "shpat_secret"})
    assert caught.value.status == 302
    assert [call.request.url for call in responses.calls] == [f"https://{SHOP}/x"]


@responses.activate
def test_timeouts_are_sent(clock: Clock) -> None:
    seen: list[Any] = []

    class Session(requests.Session):
        def post(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            seen.append(kwargs["timeout"])
            return super().post(*args, **kwargs)

    responses.post(f"https://{SHOP}/x", json={})
    ShopifyHTTP(session=Session(), connect_timeout=2.0, read_timeout=9.0).post(SHOP, "/x", json={})
    assert seen == [(2.0, 9.0)]


# -- GraphQL ---------------------------------------------------------------------------------


@responses.activate
def test_a_query_sends_the_document_variables_and_token(api: AdminAPI) -> None:
    responses.post(GRAPHQL, json=answer({"order": None}))
    assert api.order("1001") is None
    call = responses.calls[0]
    assert call.request.headers["X-Shopify-Access-Token"] == "shpat_test"
    assert sent(call) == {"query": ORDER_QUERY, "variables": {"id": "gid://shopify/Order/1001", "linesAfter": None}}


@responses.activate
def test_graphql_errors_with_http_200_are_typed(api: AdminAPI) -> None:
    responses.post(GRAPHQL, json={"data": None, "errors": [
        {"message": "Access denied for customerJourneySummary field.\nRequired access: read_customers", "extensions": {"code": "ACCESS_DENIED"}},
        {"message": "second", "extensions": {"code": "ACCESS_DENIED"}},
    ]})
    with pytest.raises(GraphQLError) as caught:
        api.order("1001")
    assert caught.value.codes == ("ACCESS_DENIED", "ACCESS_DENIED")
    message = str(caught.value)
    assert "\n" not in message and "[ACCESS_DENIED]" in message and message.endswith("(and 1 more)")


@responses.activate
def test_throttled_answers_wait_as_their_cost_says_then_retry(api: AdminAPI, clock: Clock) -> None:
    throttled = {"data": None, "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                 "extensions": cost(requested=110, available=10.0, rate=50.0)}
    responses.post(GRAPHQL, json=throttled)
    responses.post(GRAPHQL, json=answer({"order": None}, cost(requested=110, available=0.0)))
    assert api.order("1001") is None
    assert clock.sleeps == [2.0]  # (110 - 10) / 50
    assert api.throttle == ThrottleStatus(1000.0, 0.0, 50.0, clock.now)


@responses.activate
def test_before_a_query_the_client_waits_for_its_last_cost(api: AdminAPI, clock: Clock) -> None:
    responses.post(GRAPHQL, json=answer({"order": None}, cost(requested=100, available=30.0, rate=50.0)))
    api.order("1001")
    clock.now += 0.4  # 20 points restored meanwhile: 50 in the bucket, 100 needed
    api.order("1001")
    assert clock.sleeps == [pytest.approx(1.0)]
    assert len(responses.calls) == 2


@responses.activate
def test_throttled_without_figures_waits_a_second_and_gives_up_in_the_end(api: AdminAPI, clock: Clock) -> None:
    responses.post(GRAPHQL, json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
    with pytest.raises(ShopifyUnavailable, match="still throttled"):
        api.order("1001")
    assert clock.sleeps == [1.0] * MAX_THROTTLED
    assert len(responses.calls) == MAX_THROTTLED + 1


def test_throttle_status_arithmetic() -> None:
    status = ThrottleStatus(maximum=1000.0, available=100.0, restore_rate=50.0, seen_at=10.0)
    assert status.available_at(12.0) == 200.0
    assert status.available_at(100.0) == 1000.0  # never more than the bucket holds
    assert status.wait_for(150.0, 10.0) == 1.0
    assert status.wait_for(150.0, 11.0) == 0.0
    assert ThrottleStatus(1000.0, 0.0, 0.0, 0.0).wait_for(10.0, 0.0) == 60.0  # no refill: the longest wait


@responses.activate
def test_line_items_are_read_to_the_last_page(api: AdminAPI) -> None:
    first = [line_node(i) for i in range(1, LINE_PAGE + 1)]
    responses.post(GRAPHQL, json=answer(order_data(first, has_next=True, cursor="cur-1")))
    responses.post(GRAPHQL, json=answer(order_data([line_node(LINE_PAGE + 1)], cursor="cur-2")))
    snapshot = api.order("gid://shopify/Order/1001")
    assert snapshot is not None
    assert [line.line_item_id for line in snapshot.lines] == [str(i) for i in range(1, LINE_PAGE + 2)]
    assert [sent(call)["variables"]["linesAfter"] for call in responses.calls] == [None, "cur-1"]


@responses.activate
def test_an_order_that_changes_between_pages_is_not_mixed(api: AdminAPI) -> None:
    responses.post(GRAPHQL, json=answer(order_data([line_node(1)], has_next=True, cursor="c")))
    responses.post(GRAPHQL, json=answer(order_data([line_node(2)], updated_at="2026-11-03T11:00:00Z")))
    with pytest.raises(ResourceChanged, match="changed while it was read"):
        api.order("1001")


@responses.activate
def test_a_page_claiming_more_without_a_cursor_is_refused(api: AdminAPI) -> None:
    responses.post(GRAPHQL, json=answer(order_data([line_node(1)], has_next=True, cursor=None)))
    with pytest.raises(PayloadError, match="lineItems.pageInfo.endCursor"):
        api.order("1001")


@responses.activate
def test_a_missing_return_is_not_found(api: AdminAPI) -> None:
    responses.post(GRAPHQL, json=answer({"return": None}))
    with pytest.raises(ResourceNotFound):
        api.return_("9")


def test_ids_of_another_kind_are_refused(api: AdminAPI) -> None:
    with pytest.raises(ValueError, match="not a Order id"):
        api.order("gid://shopify/Refund/5")


# -- exact money -----------------------------------------------------------------------------


def refund_answer(subtotal: str) -> str:
    """A refund whose subtotal is written as a bare JSON number, digit for digit."""
    empty = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}
    refund = {"id": "gid://shopify/Refund/7", "createdAt": "2026-11-04T10:00:00Z", "updatedAt": "2026-11-04T10:00:00Z",
              "order": {"id": "gid://shopify/Order/1001"},
              "refundLineItems": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": [{
                  "lineItem": {"id": "gid://shopify/LineItem/1"}, "quantity": 1,
                  "subtotalSet": {"shopMoney": {"amount": "@SUBTOTAL@", "currencyCode": "USD"}}, "totalTaxSet": money("0.00")}]},
              "orderAdjustments": empty, "refundShippingLines": empty}
    return json.dumps(answer({"refund": refund})).replace('"@SUBTOTAL@"', subtotal)


@responses.activate
def test_amounts_are_read_exactly_never_through_float(api: AdminAPI) -> None:
    responses.post(GRAPHQL, json=answer(order_data([line_node(1, price="0.10")], refunds=["7"])))
    responses.post(GRAPHQL, body=refund_answer("123456789012345.67"))  # a JSON number float cannot hold
    snapshot = api.order("1001")
    assert snapshot is not None
    subtotal = snapshot.refunds[0].lines[0].subtotal
    assert type(subtotal) is Decimal and subtotal == Decimal("123456789012345.67")


@responses.activate
@pytest.mark.parametrize("amount", ['"12345678901234567890.12"', "12345678901234567890.12", '"1e5"', "1E+999999999"])
def test_amounts_beyond_the_bounds_are_refused_with_their_path(api: AdminAPI, amount: str) -> None:
    responses.post(GRAPHQL, json=answer(order_data([line_node(1)], refunds=["7"])))
    responses.post(GRAPHQL, body=refund_answer(amount))
    with pytest.raises(PayloadError) as caught:
        api.order("1001")
    assert "order 1001: refunds[0].refundLineItems.nodes[0].subtotalSet.shopMoney.amount" in str(caught.value)


# -- the pinned version ----------------------------------------------------------------------


def test_the_client_refuses_an_api_version_that_is_not_one() -> None:
    with pytest.raises(ValueError):
        AdminAPI(ShopifyHTTP(), SHOP, "t", "latest")
