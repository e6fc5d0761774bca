"""A local fake of Shopify over real HTTP, for tests of the OAuth and Admin API clients.

It runs a werkzeug server in a thread on 127.0.0.1 (a free port) and answers:

- ``POST /<shop>/admin/oauth/access_token``: the authorization code grant (codes the test
  registers, single use), token exchange (the session token's HS256 signature checked with
  the app secret; 400 ``invalid_subject_token`` when it is invalid or expired) and refresh
  (single-use refresh tokens with an expiry; 400 ``invalid_grant`` once used or expired).
- ``POST /<shop>/admin/api/<version>/graphql.json``: exactly the documents of
  ``shopify_app.shopify.admin_api`` (anything else is a GraphQL error), from an in-memory
  store the test fills, behind an access-token check (401) and a leaky cost bucket
  (``extensions.cost.throttleStatus``; ``THROTTLED`` when it runs dry).

Routing by shop: the shop is the first path segment, so one fake serves many shops. The
client's origin template is :attr:`FakeShopify.origin`, ``http://127.0.0.1:PORT/{shop}``
(plain HTTP is allowed only because the host is loopback: ``http.check_origin``).

Time is :class:`FakeClock`, shared with the client's ``sleep``/``monotonic`` in tests, so
token expiry and bucket refills are exact and nothing really waits. ``fail_next`` injects
failures (500, 429 with ``Retry-After``, or a dropped connection) and :attr:`requests`
records every request, so tests can count refreshes or retries.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jwt
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from shopify_app.shopify.admin_api import (
    ADJUSTMENT_PAGE,
    LINE_PAGE,
    ORDER_QUERY,
    ORDERS_UPDATED_QUERY,
    REFUND_LINE_PAGE,
    REFUND_QUERY,
    RETURN_LINE_PAGE,
    RETURN_QUERY,
)
from shopify_app.shopify.oauth import ID_TOKEN, OFFLINE_TOKEN, TOKEN_EXCHANGE

SHOP = "demo.myshopify.com"
API_KEY = "dev-api-key"
API_SECRET = "fake-shopify-app-secret-0123456789abcdef"  # 32+ bytes: PyJWT warns on shorter HS256 keys
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
SESSION_LEEWAY = 10  # seconds, as Shopify's own libraries allow


class FakeClock:
    """Seconds since the epoch that move only when told (``advance`` doubles as ``sleep``)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start.timestamp()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, timezone.utc)


# -- the store -------------------------------------------------------------------------------


@dataclass
class FakeLine:
    id: int
    price: str
    quantity: int = 1
    title: str = ""
    discounts: tuple[str, ...] = ()
    taxes: tuple[str, ...] = ()
    product_id: int | None = 555
    gift_card: bool = False


@dataclass
class FakeRefund:
    id: int
    order_id: int
    created_at: str
    updated_at: str
    lines: list[tuple[int, int, str, str]]  # (line id, quantity, subtotal, tax)
    adjustments: list[tuple[str, str]]  # (reason, amount): the reason is not served, as nothing asks for it
    shipping: list[str]
    return_id: int | None = None  # the return this refund settles


@dataclass
class FakeOrder:
    id: int
    name: str
    currency: str
    taxes_included: bool
    financial_status: str
    lines: list[FakeLine]
    discount_codes: list[str]
    attributes: dict[str, str]
    landing_page: str | None
    email: str | None
    customer_email: str | None
    processed_at: str
    created_at: str
    cancelled_at: str | None
    updated_at: str
    fulfillments: list[tuple[str, str]]  # (status, created at)
    refunds: list[FakeRefund] = field(default_factory=list)


@dataclass
class FakeExchange:
    quantity: int
    line_ids: list[int]  # the order lines made for it; none until processed
    unprocessed: int


@dataclass
class FakeReturn:
    id: int
    order_id: int
    status: str
    closed_at: str | None
    returned: list[tuple[int, int]]  # (order line id, quantity)
    exchanges: list[FakeExchange]


@dataclass
class _ShopData:
    orders: dict[int, FakeOrder] = field(default_factory=dict)
    refunds: dict[int, FakeRefund] = field(default_factory=dict)
    returns: dict[int, FakeReturn] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it: ``kind`` is the grant (``authorization_code``,
    ``token_exchange``, ``refresh_token``), the GraphQL operation, or ``unknown``;
    ``status`` is the answer's, or ``"drop"``."""

    shop: str
    kind: str
    status: int | str
    variables: dict[str, Any] = field(default_factory=dict)


def _iso(value: datetime | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def _money(amount: str, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency},
            "presentmentMoney": {"amount": amount, "currencyCode": currency}}


def _page(items: list[Any], first: int, after: str | None) -> tuple[list[tuple[int, Any]], dict[str, Any]]:
    """A page of ``items`` after the cursor ``after`` (``c<index>``)."""
    start = 0 if after is None else int(after.removeprefix("c")) + 1
    chosen = list(enumerate(items))[start:start + first]
    info = {"hasNextPage": start + first < len(items), "endCursor": f"c{chosen[-1][0]}" if chosen else None}
    return chosen, info


def _connection(items: list[Any], first: int, after: str | None, render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    chosen, info = _page(items, first, after)
    return {"pageInfo": info, "nodes": [render(item) for _, item in chosen]}


# -- the server ------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Tests read :attr:`FakeShopify.requests`, not a request log on stderr."""


class FakeShopify:
    """``with FakeShopify() as fake:`` starts the server; :attr:`origin` is the client's
    origin template. Everything is thread-safe behind one lock."""

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        api_secret: str = API_SECRET,
        clock: FakeClock | None = None,
        scopes: str = "read_orders,read_returns",
        access_ttl: int = 3_600,
        refresh_ttl: int = 7_776_000,
        bucket_size: float = 1_000.0,
        restore_rate: float = 50.0,
        query_cost: int = 10,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock = clock or FakeClock()
        self.scopes = scopes
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.bucket_size = bucket_size
        self.restore_rate = restore_rate
        self.query_cost = query_cost
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._shops: dict[str, _ShopData] = {}
        self._codes: dict[tuple[str, str], bool] = {}
        self._access: dict[str, tuple[str, float | None]] = {}  # token -> (shop, expires at)
        self._refresh: dict[str, tuple[str, float]] = {}  # unused refresh token -> (shop, expires at)
        self._buckets: dict[str, tuple[float, float]] = {}  # shop -> (available, at)
        self._failures: list[tuple[int | str, float | None]] = []
        self._routes = Map([
            Rule("/<shop>/admin/oauth/access_token", endpoint="token", methods=["POST"]),
            Rule("/<shop>/admin/api/<version>/graphql.json", endpoint="graphql", methods=["POST"]),
        ])
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-shopify", daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{{shop}}"

    def __enter__(self) -> FakeShopify:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

    # -- test controls -----------------------------------------------------------------------

    def fail_next(self, n: int, status: int | str = 500, retry_after: float | None = None) -> None:
        """The next ``n`` requests fail: HTTP ``status`` (a 429 carries ``Retry-After``) or,
        with ``"drop"``, a connection closed without an answer."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * n)

    def count(self, kind: str, status: int | str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.kind == kind and (status is None or r.status == status))

    def add_code(self, shop: str, code: str) -> None:
        """An authorization code Shopify would put on the OAuth callback (usable once)."""
        with self._lock:
            self._codes[(shop, code)] = True

    def session_token(self, shop: str, *, lifetime: int = 60, secret: str | None = None, audience: str | None = None) -> str:
        """An App Bridge session token for ``shop``, signed with the app secret (or ``secret``)."""
        now = int(self.clock())
        claims = {
            "iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": audience or self.api_key,
            "sub": "42", "exp": now + lifetime, "nbf": now, "iat": now, "jti": secrets.token_hex(8), "sid": "s",
        }
        return jwt.encode(claims, secret or self.api_secret, algorithm="HS256")

    def issue_token(self, shop: str, expires_in: int | None = None) -> str:
        """An access token for ``shop`` without any grant (``expires_in`` None: never expires)."""
        with self._lock:
            return self._issue(shop, expires_in)

    # -- the store ---------------------------------------------------------------------------

    def add_order(
        self,
        shop: str,
        order_id: int,
        lines: Iterable[FakeLine],
        *,
        name: str | None = None,
        currency: str = "USD",
        taxes_included: bool = False,
        financial_status: str = "PAID",
        discount_codes: Iterable[str] = (),
        attributes: dict[str, str] | None = None,
        landing_page: str | None = None,
        email: str | None = None,
        customer_email: str | None = None,
        processed_at: datetime | str = T0,
        cancelled_at: datetime | str | None = None,
        updated_at: datetime | str | None = None,
        fulfillments: Iterable[tuple[str, datetime | str]] = (),
    ) -> FakeOrder:
        order = FakeOrder(
            id=order_id, name=name or f"#{order_id}", currency=currency, taxes_included=taxes_included,
            financial_status=financial_status, lines=list(lines), discount_codes=list(discount_codes),
            attributes=dict(attributes or {}), landing_page=landing_page, email=email, customer_email=customer_email,
            processed_at=_iso(processed_at), created_at=_iso(processed_at),
            cancelled_at=None if cancelled_at is None else _iso(cancelled_at),
            updated_at=_iso(updated_at or processed_at),
            fulfillments=[(status, _iso(at)) for status, at in fulfillments],
        )
        with self._lock:
            self._shop(shop).orders[order_id] = order
        return order

    def add_refund(
        self,
        shop: str,
        order_id: int,
        refund_id: int,
        lines: Iterable[tuple[int, int, str, str]],
        *,
        adjustments: Iterable[tuple[str, str]] = (),
        shipping: Iterable[str] = (),
        created_at: datetime | str = T0,
        return_id: int | None = None,
    ) -> FakeRefund:
        """A refund of ``(line id, quantity, subtotal, tax)``; the order's ``updatedAt``
        moves to the refund's time, as Shopify's does."""
        refund = FakeRefund(refund_id, order_id, _iso(created_at), _iso(created_at), list(lines), list(adjustments), list(shipping),
                            return_id)
        with self._lock:
            data = self._shop(shop)
            data.orders[order_id].refunds.append(refund)
            data.orders[order_id].updated_at = refund.created_at
            data.refunds[refund_id] = refund
        return refund

    def add_return_with_exchange(
        self,
        shop: str,
        order_id: int,
        return_id: int,
        returned: Iterable[tuple[int, int]],
        new_lines: Iterable[FakeLine],
        *,
        status: str = "OPEN",
        processed: bool = True,
        closed_at: datetime | str | None = None,
    ) -> FakeReturn:
        """A return of ``(order line id, quantity)`` exchanged for ``new_lines``. Processed,
        the new lines are added to the same order (native exchanges make no new order);
        not processed, the exchange items have no order line yet."""
        lines = list(new_lines)
        exchanges = [FakeExchange(line.quantity, [line.id] if processed else [], 0 if processed else line.quantity) for line in lines]
        ret = FakeReturn(return_id, order_id, status, None if closed_at is None else _iso(closed_at), list(returned), exchanges)
        with self._lock:
            data = self._shop(shop)
            if processed:
                data.orders[order_id].lines.extend(lines)
            data.returns[return_id] = ret
        return ret

    def touch(self, shop: str, order_id: int, updated_at: datetime | str) -> None:
        """Mark the order updated at ``updated_at``."""
        with self._lock:
            self._shop(shop).orders[order_id].updated_at = _iso(updated_at)

    def _shop(self, shop: str) -> _ShopData:
        return self._shops.setdefault(shop, _ShopData())

    # -- HTTP --------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        adapter = self._routes.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException:
            response = Response(json.dumps({"errors": "Not Found"}), status=404, mimetype="application/json")
            return response(environ, start_response)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            response = self._fail(request, args["shop"], *failure)
        elif endpoint == "token":
            response = self._token(request, args["shop"])
        else:
            response = self._graphql(request, args["shop"])
        return response(environ, start_response)

    def _fail(self, request: Request, shop: str, status: int | str, retry_after: float | None) -> Response:
        self._record(shop, "failure", status)
        if status == "drop":
            request.get_data()  # read the body, or the server would parse its rest as a next request
            sock = request.environ["werkzeug.socket"]
            sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("dropped by FakeShopify.fail_next")
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return _json({"errors": "injected failure"}, int(status), headers)

    def _record(self, shop: str, kind: str, status: int | str, variables: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.requests.append(Recorded(shop, kind, status, dict(variables or {})))

    # -- the token endpoint ------------------------------------------------------------------

    def _token(self, request: Request, shop: str) -> Response:
        form = request.form
        grant = form.get("grant_type")
        kind = {TOKEN_EXCHANGE: "token_exchange", "refresh_token": "refresh_token", None: "authorization_code"}.get(grant, "unknown")
        if form.get("client_id") != self.api_key or form.get("client_secret") != self.api_secret:
            status, body = 401, {"errors": "invalid client credentials"}
        elif kind == "authorization_code":
            status, body = self._code_grant(shop, form.get("code", ""), form.get("expiring") == "1")
        elif kind == "token_exchange":
            status, body = self._token_exchange(shop, form)
        elif kind == "refresh_token":
            status, body = self._refresh_grant(shop, form.get("refresh_token", ""))
        else:
            status, body = 400, {"error": "unsupported_grant_type"}
        self._record(shop, kind, status)
        return _json(body, status)

    def _code_grant(self, shop: str, code: str, expiring: bool) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if not self._codes.pop((shop, code), False):
                return 400, {"error": "invalid_request", "error_description": "The authorization code was not found or was already used"}
            return 200, self._grant_answer(shop, expiring)

    def _token_exchange(self, shop: str, form: Any) -> tuple[int, dict[str, Any]]:
        if form.get("subject_token_type") != ID_TOKEN or form.get("requested_token_type") != OFFLINE_TOKEN:
            return 400, {"error": "invalid_request", "error_description": "unsupported token types"}
        try:
            claims = jwt.decode(
                form.get("subject_token", ""), self.api_secret, algorithms=["HS256"], audience=self.api_key,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": ["exp", "nbf", "dest", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return 400, {"error": "invalid_subject_token", "error_description": f"Subject token is invalid: {exc}"}
        now = self.clock()
        if claims["exp"] + SESSION_LEEWAY < now or claims["nbf"] - SESSION_LEEWAY > now or claims["dest"] != f"https://{shop}":
            return 400, {"error": "invalid_subject_token", "error_description": "Subject token is expired or for another shop"}
        with self._lock:
            return 200, self._grant_answer(shop, form.get("expiring") == "1")

    def _refresh_grant(self, shop: str, refresh_token: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            found = self._refresh.pop(refresh_token, None)
            if found is None or found[0] != shop or found[1] <= self.clock():
                return 400, {"error": "invalid_grant", "error_description": "refresh token is invalid, used or expired"}
            # One refreshable expiring token per app and store: the previous one stops working.
            self._access = {token: owner for token, owner in self._access.items() if owner[0] != shop}
            return 200, self._grant_answer(shop, expiring=True)

    def _grant_answer(self, shop: str, expiring: bool) -> dict[str, Any]:
        """Issue tokens (the lock is held) and answer as Shopify does."""
        if not expiring:
            return {"access_token": self._issue(shop, None), "scope": self.scopes}
        refresh = "shprt_" + secrets.token_hex(16)
        self._refresh[refresh] = (shop, self.clock() + self.refresh_ttl)
        return {
            "access_token": self._issue(shop, self.access_ttl), "scope": self.scopes, "expires_in": self.access_ttl,
            "refresh_token": refresh, "refresh_token_expires_in": self.refresh_ttl,
        }

    def _issue(self, shop: str, expires_in: int | None) -> str:
        token = "shpat_" + secrets.token_hex(16)
        self._access[token] = (shop, None if expires_in is None else self.clock() + expires_in)
        return token

    # -- GraphQL -----------------------------------------------------------------------------

    def _graphql(self, request: Request, shop: str) -> Response:
        with self._lock:
            owner = self._access.get(request.headers.get("X-Shopify-Access-Token", ""))
        if owner is None or owner[0] != shop or (owner[1] is not None and owner[1] <= self.clock()):
            self._record(shop, "graphql", 401)
            return _json({"errors": INVALID_TOKEN}, 401)
        payload = json.loads(request.get_data())
        document, variables = payload.get("query"), payload.get("variables") or {}
        handler = {ORDER_QUERY: self._order_data, REFUND_QUERY: self._refund_data, RETURN_QUERY: self._return_data,
                   ORDERS_UPDATED_QUERY: self._orders_data}.get(document)
        name = "unknown" if handler is None else re.search(r"query (\w+)", document).group(1)  # type: ignore[union-attr]
        if handler is None:
            self._record(shop, name, 200, variables)
            return _json({"errors": [{"message": "Field doesn't exist", "extensions": {"code": "undefinedField"}}]}, 200)
        taken, available = self._take(shop)
        cost = {"requestedQueryCost": self.query_cost, "actualQueryCost": None,
                "throttleStatus": {"maximumAvailable": self.bucket_size, "currentlyAvailable": available, "restoreRate": self.restore_rate}}
        if not taken:
            self._record(shop, name, "THROTTLED", variables)
            return _json({"data": None, "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                          "extensions": {"cost": cost}}, 200)
        cost["actualQueryCost"] = self.query_cost
        with self._lock:
            data = handler(self._shop(shop), variables)
        self._record(shop, name, 200, variables)
        return _json({"data": data, "extensions": {"cost": cost}}, 200)

    def _take(self, shop: str) -> tuple[bool, float]:
        """Take one query's cost from the shop's leaky bucket, refilled at ``restore_rate``
        per second since it was last touched: (taken, points left)."""
        with self._lock:
            now = self.clock()
            available, at = self._buckets.get(shop, (self.bucket_size, now))
            level = min(self.bucket_size, available + (now - at) * self.restore_rate)
            taken = level + 1e-3 >= self.query_cost  # epoch seconds in a float: forgive their rounding
            left = level - self.query_cost if taken else level
            self._buckets[shop] = (left, now)
            return taken, left

    def _order_data(self, data: _ShopData, variables: dict[str, Any]) -> dict[str, Any]:
        order = data.orders.get(_number(variables["id"]))
        return {"order": None if order is None else _render_order(order, variables.get("linesAfter"))}

    def _refund_data(self, data: _ShopData, variables: dict[str, Any]) -> dict[str, Any]:
        refund = data.refunds.get(_number(variables["id"]))
        if refund is None:
            return {"refund": None}
        currency = data.orders[refund.order_id].currency
        return {"refund": {
            "id": _gid("Refund", refund.id), "createdAt": refund.created_at, "updatedAt": refund.updated_at,
            "order": {"id": _gid("Order", refund.order_id)},
            "return": None if refund.return_id is None else {"id": _gid("Return", refund.return_id)},
            "refundLineItems": _connection(refund.lines, REFUND_LINE_PAGE, variables.get("linesAfter"), lambda line: {
                "lineItem": {"id": _gid("LineItem", line[0])}, "quantity": line[1],
                "subtotalSet": _money(line[2], currency), "totalTaxSet": _money(line[3], currency)}),
            "orderAdjustments": _connection(refund.adjustments, ADJUSTMENT_PAGE, variables.get("adjustmentsAfter"), lambda a: {
                "amountSet": _money(a[1], currency)}),
            "refundShippingLines": _connection(refund.shipping, ADJUSTMENT_PAGE, variables.get("shippingAfter"), lambda s: {
                "subtotalAmountSet": _money(s, currency)}),
        }}

    def _return_data(self, data: _ShopData, variables: dict[str, Any]) -> dict[str, Any]:
        ret = data.returns.get(_number(variables["id"]))
        if ret is None:
            return {"return": None}
        lines = {line.id: line for line in data.orders[ret.order_id].lines}
        return {"return": {
            "id": _gid("Return", ret.id), "status": ret.status, "closedAt": ret.closed_at,
            "order": {"id": _gid("Order", ret.order_id)},
            "returnLineItems": _connection(ret.returned, RETURN_LINE_PAGE, variables.get("returnedAfter"), lambda r: {
                "quantity": r[1], "fulfillmentLineItem": {"lineItem": {"id": _gid("LineItem", r[0])}}}),
            "exchangeLineItems": _connection(ret.exchanges, RETURN_LINE_PAGE, variables.get("exchangedAfter"), lambda e: {
                "quantity": e.quantity, "unprocessedQuantity": e.unprocessed,
                "lineItems": [{"id": _gid("LineItem", i), "quantity": lines[i].quantity} for i in e.line_ids] or None}),
        }}

    def _orders_data(self, data: _ShopData, variables: dict[str, Any]) -> dict[str, Any]:
        since = datetime.fromisoformat(re.fullmatch(r"updated_at:>='([^']+)'", variables["query"]).group(1))  # type: ignore[union-attr]
        chosen = sorted((o for o in data.orders.values() if datetime.fromisoformat(o.updated_at) >= since),
                        key=lambda o: (datetime.fromisoformat(o.updated_at), o.id))
        return {"orders": _connection(chosen, variables["first"], variables.get("after"), lambda o: {"id": _gid("Order", o.id)})}


def _number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _render_order(order: FakeOrder, lines_after: str | None) -> dict[str, Any]:
    currency = order.currency

    def line(item: FakeLine) -> dict[str, Any]:
        return {
            "id": _gid("LineItem", item.id), "title": item.title or f"Item {item.id}", "name": item.title or f"Item {item.id}",
            "quantity": item.quantity, "isGiftCard": item.gift_card,
            "product": None if item.product_id is None else {"id": _gid("Product", item.product_id)},
            "originalUnitPriceSet": _money(item.price, currency),
            "discountAllocations": [{"allocatedAmountSet": _money(d, currency)} for d in item.discounts],
            "taxLines": [{"priceSet": _money(t, currency)} for t in item.taxes],
        }

    def visit(url: str | None) -> dict[str, Any] | None:
        return None if url is None else {"landingPage": url}

    return {
        "id": _gid("Order", order.id), "name": order.name, "currencyCode": currency, "taxesIncluded": order.taxes_included,
        "displayFinancialStatus": order.financial_status, "discountCodes": order.discount_codes,
        "customAttributes": [{"key": k, "value": v} for k, v in order.attributes.items()],
        "customerJourneySummary": {"firstVisit": visit(order.landing_page), "lastVisit": visit(order.landing_page)},
        "email": order.email,
        "customer": None if order.customer_email is None else {"defaultEmailAddress": {"emailAddress": order.customer_email}},
        "processedAt": order.processed_at, "createdAt": order.created_at, "cancelledAt": order.cancelled_at,
        "updatedAt": order.updated_at,
        "fulfillments": [{"status": status, "createdAt": at} for status, at in order.fulfillments],
        "refunds": [{"id": _gid("Refund", r.id)} for r in order.refunds],
        "lineItems": _connection(order.lines, LINE_PAGE, lines_after, line),
    }
