"""The GraphQL Admin API client: orders, their refunds and returns, read into the same
snapshots the webhook path makes (mapping in ``graphql_snapshots``).

Why GraphQL: REST is legacy for public apps since 2025-04 (shopify-platform.md §6), and
webhook bodies are thin or late; a reconciler reads the truth here and applies it like a
delivery. Why these rules:

- The documents are the constants below, in one place; each asks for what a snapshot
  needs and nothing more, money always as ``shopMoney``.
- Every connection is read to its last page (``pageInfo { hasNextPage endCursor }``), one
  cursor variable per connection, so a snapshot is never silently cut short.
- Shopify meters queries by cost (a bucket of ``maximumAvailable`` points that refills at
  ``restoreRate`` per second). Each answer's ``extensions.cost`` is remembered; before a
  query whose last cost exceeds what the bucket holds now, the client waits for the
  difference, and a ``THROTTLED`` answer is retried after the wait its numbers give.
- GraphQL reports errors with HTTP 200; those become :class:`GraphQLError`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.fields import shopify_id
from shopify_app.shopify.graphql_snapshots import order_snapshot, return_snapshot
from shopify_app.shopify.http import ShopifyError, ShopifyHTTP, ShopifyUnavailable
from shopify_app.shopify.snapshots import OrderSnapshot, ReturnSnapshot

LINE_PAGE = 50
REFUND_LINE_PAGE = 50
ADJUSTMENT_PAGE = 20
RETURN_LINE_PAGE = 50
MAX_ORDERS_PAGE = 250
MAX_PAGES = 1_000  # of one resource: far beyond any real order, and never an endless loop
MAX_THROTTLED = 5  # THROTTLED answers to one query before giving up
MAX_WAIT = 60.0  # seconds: the longest single wait for the bucket to refill
MIN_THROTTLED_WAIT = 0.1  # seconds: a THROTTLED answer is never retried sooner (rounding must not spin)
BLIND_THROTTLED_WAIT = 1.0  # seconds after a THROTTLED answer without usable figures
_API_VERSION = re.compile(r"[0-9]{4}-(01|04|07|10)|unstable")
_MONEY = "shopMoney { amount currencyCode }"
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"

ORDER_QUERY = f"""
query ClawbackOrder($id: ID!, $linesAfter: String) {{
  order(id: $id) {{
    id
    name
    currencyCode
    taxesIncluded
    displayFinancialStatus
    discountCodes
    customAttributes {{ key value }}
    customerJourneySummary {{ firstVisit {{ landingPage }} lastVisit {{ landingPage }} }}
    email
    customer {{ defaultEmailAddress {{ emailAddress }} }}
    processedAt
    createdAt
    cancelledAt
    updatedAt
    fulfillments {{ status createdAt }}
    refunds {{ id }}
    lineItems(first: {LINE_PAGE}, after: $linesAfter) {{
      {_PAGE_INFO}
      nodes {{
        id
        title
        name
        quantity
        isGiftCard
        product {{ id }}
        originalUnitPriceSet {{ {_MONEY} }}
        discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} }}
        taxLines {{ priceSet {{ {_MONEY} }} }}
      }}
    }}
  }}
}}
"""

REFUND_QUERY = f"""
query ClawbackRefund($id: ID!, $linesAfter: String, $adjustmentsAfter: String, $shippingAfter: String) {{
  refund(id: $id) {{
    id
    createdAt
    updatedAt
    order {{ id }}
    return {{ id }}
    refundLineItems(first: {REFUND_LINE_PAGE}, after: $linesAfter) {{
      {_PAGE_INFO}
      nodes {{
        lineItem {{ id }}
        quantity
        subtotalSet {{ {_MONEY} }}
        totalTaxSet {{ {_MONEY} }}
      }}
    }}
    orderAdjustments(first: {ADJUSTMENT_PAGE}, after: $adjustmentsAfter) {{
      {_PAGE_INFO}
      nodes {{ amountSet {{ {_MONEY} }} }}
    }}
    refundShippingLines(first: {ADJUSTMENT_PAGE}, after: $shippingAfter) {{
      {_PAGE_INFO}
      nodes {{ subtotalAmountSet {{ {_MONEY} }} }}
    }}
  }}
}}
"""

RETURN_QUERY = f"""
query ClawbackReturn($id: ID!, $returnedAfter: String, $exchangedAfter: String) {{
  return(id: $id) {{
    id
    status
    closedAt
    order {{ id }}
    returnLineItems(first: {RETURN_LINE_PAGE}, after: $returnedAfter) {{
      {_PAGE_INFO}
      nodes {{
        quantity
        ... on ReturnLineItem {{ fulfillmentLineItem {{ lineItem {{ id }} }} }}
      }}
    }}
    exchangeLineItems(first: {RETURN_LINE_PAGE}, after: $exchangedAfter) {{
      {_PAGE_INFO}
      nodes {{ quantity unprocessedQuantity lineItems {{ id quantity }} }}
    }}
  }}
}}
"""

ORDERS_UPDATED_QUERY = f"""
query ClawbackOrdersUpdated($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {_PAGE_INFO}
    nodes {{ id }}
  }}
}}
"""


class GraphQLError(ShopifyError):
    """The API answered HTTP 200 with ``errors`` (a bad query, a missing scope, a cost
    beyond the maximum). ``codes`` are the ``extensions.code`` values Shopify gave."""

    def __init__(self, message: str, codes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.codes = codes


class ResourceChanged(ShopifyError):
    """The resource changed (or vanished) between two pages of one read: read it again."""


class ResourceNotFound(ShopifyError):
    """Shopify has no such resource (or the token's scopes do not reach it)."""


@dataclass(frozen=True)
class ThrottleStatus:
    """``extensions.cost.throttleStatus`` of one answer, and when it was seen."""

    maximum: float
    available: float
    restore_rate: float
    seen_at: float

    def available_at(self, now: float) -> float:
        return min(self.maximum, self.available + self.restore_rate * max(0.0, now - self.seen_at))

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` points are in the bucket (0 when they are now)."""
        missing = cost - self.available_at(now)
        if missing <= 0:
            return 0.0
        return min(MAX_WAIT, missing / self.restore_rate) if self.restore_rate > 0 else MAX_WAIT


class AdminAPI:
    """One shop's GraphQL Admin API, with one access token, in one pinned API version.

    ``sleep`` and ``monotonic`` are injectable: tests check the waits without waiting."""

    def __init__(
        self,
        http: ShopifyHTTP,
        shop: str,
        access_token: str,
        api_version: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not _API_VERSION.fullmatch(api_version):
            raise ValueError(f"not a Shopify API version: {api_version!r}")
        http.url(shop, "/")  # refuses a shop that is not NAME.myshopify.com, now rather than at the first query
        self._http = http
        self._shop = shop
        self._path = f"/admin/api/{api_version}/graphql.json"
        self._headers = {"X-Shopify-Access-Token": access_token}
        self._sleep = sleep
        self._monotonic = monotonic
        self._throttle: ThrottleStatus | None = None
        self._costs: dict[str, float] = {}  # the last requested cost of each document

    @property
    def throttle(self) -> ThrottleStatus | None:
        """The bucket as the last answer described it."""
        return self._throttle

    # -- resources ---------------------------------------------------------------------------

    def order(self, order_id: str) -> OrderSnapshot | None:
        """The order with all its lines and refunds; None when Shopify has no such order."""
        order = self._read(ORDER_QUERY, _gid("Order", order_id), "order", {"linesAfter": ("lineItems",)}, "updatedAt")
        if order is None:
            return None
        order["refunds"] = [self._refund(_field(ref, "id", "order.refunds[]")) for ref in _list(order, "refunds")]
        return order_snapshot(order)

    def orders_updated_since(self, since: datetime, page_size: int = 50) -> Iterator[OrderSnapshot]:
        """Every order updated at or after ``since``, oldest change first, each read in full
        (an order deleted meanwhile is skipped)."""
        if since.utcoffset() is None:
            raise ValueError("since must be timezone-aware")
        if not 1 <= page_size <= MAX_ORDERS_PAGE:
            raise ValueError(f"page_size must be 1..{MAX_ORDERS_PAGE}")
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        variables: dict[str, Any] = {"first": page_size, "after": None, "query": f"updated_at:>='{stamp}'"}
        for _ in range(MAX_PAGES):
            orders = _connection(self.query(ORDERS_UPDATED_QUERY, variables), ("orders",))
            for node in orders["nodes"]:
                snapshot = self.order(_field(node, "id", "orders.nodes[]"))
                if snapshot is not None:
                    yield snapshot
            if not orders["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = _cursor(orders, "orders")
        raise PayloadError(f"orders updated since {stamp}: more than {MAX_PAGES} pages")

    def return_(self, return_id: str) -> ReturnSnapshot:
        """The return with every returned and exchanged line."""
        cursors = {"returnedAfter": ("returnLineItems",), "exchangedAfter": ("exchangeLineItems",)}
        ret = self._read(RETURN_QUERY, _gid("Return", return_id), "return", cursors, None)
        if ret is None:
            raise ResourceNotFound(f"{self._shop}: no return {return_id}")
        return return_snapshot(ret)

    def _refund(self, refund_id: str) -> dict[str, Any]:
        cursors = {"linesAfter": ("refundLineItems",), "adjustmentsAfter": ("orderAdjustments",), "shippingAfter": ("refundShippingLines",)}
        refund = self._read(REFUND_QUERY, _gid("Refund", refund_id), "refund", cursors, "updatedAt")
        if refund is None:
            raise ResourceChanged(f"{self._shop}: refund {refund_id} vanished while its order was read")
        return refund

    # -- reading -----------------------------------------------------------------------------

    def _read(
        self, document: str, gid: str, root: str, cursors: Mapping[str, tuple[str, ...]], version_key: str | None
    ) -> dict[str, Any] | None:
        """``data[root]`` with the nodes of every connection in ``cursors`` (cursor variable
        -> path) gathered from all pages; None when there is no such resource. A connection
        read to its end is left alone on later pages; ``version_key`` (``updatedAt``) must
        not change between pages, or the pages would mix two versions of the resource."""
        variables: dict[str, Any] = {"id": gid, **dict.fromkeys(cursors)}
        open_cursors = dict(cursors)
        merged: dict[str, Any] | None = None
        for _ in range(MAX_PAGES):
            found = self.query(document, variables).get(root)
            if found is not None and not isinstance(found, dict):
                raise PayloadError(f"{root}: expected an object, got {type(found).__name__}")
            if merged is None:
                if found is None:
                    return None
                merged = found
            elif found is None or (version_key is not None and found.get(version_key) != merged.get(version_key)):
                raise ResourceChanged(f"{self._shop}: {root} {gid} changed while it was read; read it again")
            for variable, path in list(open_cursors.items()):
                page = _connection(found, path)
                if page is not _connection(merged, path):
                    _connection(merged, path)["nodes"].extend(page["nodes"])
                if page["pageInfo"]["hasNextPage"]:
                    variables[variable] = _cursor(page, ".".join(path))
                else:
                    del open_cursors[variable]
            if not open_cursors:
                return merged
        raise PayloadError(f"{root} {gid}: more than {MAX_PAGES} pages")

    def query(self, document: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """One GraphQL query's ``data``. Waits first when the document's last cost is more
        than the bucket holds now; a THROTTLED answer is retried after the wait its cost
        numbers give (at most ``MAX_THROTTLED`` times)."""
        wait = self._wait_for(self._costs.get(document))
        for _ in range(MAX_THROTTLED + 1):
            if wait > 0:
                self._sleep(wait)
            body = self._http.post(
                self._shop, self._path, json={"query": document, "variables": dict(variables)}, headers=self._headers
            )
            requested = self._remember_cost(document, body)
            errors = body.get("errors")
            if not errors:
                data = body.get("data")
                if not isinstance(data, dict):
                    raise PayloadError(f"GraphQL answer: data: expected an object, got {type(data).__name__}")
                return data
            codes = _codes(errors)
            if not codes or any(code != "THROTTLED" for code in codes):
                raise GraphQLError(f"{self._shop}: GraphQL: {_messages(errors)}", codes)
            known = self._throttle is not None and requested is not None
            wait = max(MIN_THROTTLED_WAIT, self._wait_for(requested)) if known else BLIND_THROTTLED_WAIT
        raise ShopifyUnavailable(f"{self._shop}: GraphQL still throttled after {MAX_THROTTLED + 1} attempts")

    def _wait_for(self, cost: float | None) -> float:
        """Seconds until ``cost`` points are in the bucket; 0 when either is unknown."""
        if self._throttle is None or cost is None:
            return 0.0
        return self._throttle.wait_for(cost, self._monotonic())

    def _remember_cost(self, document: str, body: dict[str, Any]) -> float | None:
        """Keep the answer's ``throttleStatus`` and return (and remember) the document's
        ``requestedQueryCost``; unreadable figures are ignored, never guessed."""
        extensions = body.get("extensions")
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        if not isinstance(cost, dict):
            return None
        status = cost.get("throttleStatus")
        if isinstance(status, dict):
            maximum, available, rate = (_number(status, key) for key in ("maximumAvailable", "currentlyAvailable", "restoreRate"))
            if maximum is not None and available is not None and rate is not None:
                self._throttle = ThrottleStatus(maximum, available, rate, self._monotonic())
        requested = _number(cost, "requestedQueryCost")
        if requested is not None:
            self._costs[document] = requested
        return requested


# -- helpers ---------------------------------------------------------------------------------


def _gid(kind: str, value: str) -> str:
    """``gid://shopify/KIND/N`` from a numeric id or a gid of that kind."""
    if isinstance(value, str) and value.startswith("gid://") and not value.startswith(f"gid://shopify/{kind}/"):
        raise ValueError(f"not a {kind} id: {value!r}")
    return f"gid://shopify/{kind}/{shopify_id(value)}"


def _connection(obj: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The connection at ``path``: ``nodes`` a list, ``pageInfo.hasNextPage`` a bool."""
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    where = ".".join(path)
    if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
        raise PayloadError(f"{where}: expected a connection with nodes")
    info = value.get("pageInfo")
    if not isinstance(info, dict) or type(info.get("hasNextPage")) is not bool:
        raise PayloadError(f"{where}.pageInfo.hasNextPage: expected true or false")
    return value


def _cursor(connection: dict[str, Any], where: str) -> str:
    cursor = connection["pageInfo"].get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise PayloadError(f"{where}.pageInfo.endCursor: missing while hasNextPage is true")
    return cursor


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise PayloadError(f"{key}: expected a list")
    return value


def _field(obj: Any, key: str, where: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string")
    return value


def _number(obj: dict[str, Any], key: str) -> float | None:
    """A cost figure (exact JSON reads ``50.0`` as a Decimal): points, not money, so a
    float is fine here. None when absent or not a finite number."""
    value = obj.get(key)
    if type(value) is int or (isinstance(value, Decimal) and value.is_finite()):
        return float(value)
    return None


def _codes(errors: Any) -> tuple[str, ...]:
    if not isinstance(errors, list):
        return ()
    codes = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(code if isinstance(code, str) else "")
    return tuple(codes)


def _messages(errors: Any) -> str:
    """The first error's message (and code), on one bounded line, and how many more."""
    items = errors if isinstance(errors, list) else [errors]
    first = items[0] if items else errors
    text = first.get("message") if isinstance(first, dict) else first
    codes = _codes(items)
    code = codes[0] if codes else ""
    line = " ".join(str(text).split())[:200] + (f" [{code}]" if code else "")
    return line + (f" (and {len(items) - 1} more)" if len(items) > 1 else "")
