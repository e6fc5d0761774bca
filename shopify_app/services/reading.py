"""Reading Shopify when webhooks are not enough: the Admin API per shop, for the worker (an
order a refund arrived before, a thin return, an edit's new lines) and for reconciliation
and backfill. The Admin API returns the same snapshots the webhook models do, so what is
read goes through ``services.orders.apply_snapshot`` like any delivery.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Iterator, Protocol

from sqlmodel import Session

from shopify_app.config import Config
from shopify_app.services import install
from shopify_app.shopify.admin_api import AdminAPI
from shopify_app.shopify.app_config import API_VERSION
from shopify_app.shopify.http import ShopifyHTTP
from shopify_app.shopify.oauth import TokenEndpoint
from shopify_app.shopify.snapshots import OrderSnapshot, ReturnSnapshot
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.tables import Shop

log = logging.getLogger("clawback.reading")


class Reader(Protocol):
    """What the app reads of one shop (``shopify.admin_api.AdminAPI``)."""

    def order(self, order_id: str) -> OrderSnapshot | None: ...

    def return_(self, return_id: str) -> ReturnSnapshot: ...

    def orders_updated_since(self, since: datetime, page_size: int = 50) -> Iterator[OrderSnapshot]: ...


Readers = Callable[[Session, Shop, datetime], Reader | None]
"""A reader for a shop, in the caller's transaction; None when the shop has no working token
(not installed through Shopify, uninstalled, or waiting for its merchant)."""


def admin_readers(config: Config, http: ShopifyHTTP | None = None) -> Readers:
    """Readers over the Admin API, with the app's credentials and token store. Nothing is
    built until a shop that holds a token needs one (most shops of a demo never do)."""
    http = http or ShopifyHTTP(config.shopify_origin)

    def reader(session: Session, shop: Shop, now: datetime) -> Reader | None:
        if shop.access_token_encrypted is None:
            return None
        endpoint = TokenEndpoint(http, config.api_key, config.api_secret)
        token = install.access_token(session, shop, now, endpoint, TokenCipher.from_config(config))
        return None if token is None else AdminAPI(http, shop.domain, token, API_VERSION)

    return reader
