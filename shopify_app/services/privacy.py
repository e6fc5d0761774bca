"""Shop-level deliveries: uninstall, scope changes and the privacy requests every Shopify app
must honour (customers/data_request, customers/redact, shop/redact).

What is personal here: stored webhook bodies (names, e-mails, addresses). What is not:
ledger amounts, an order's facts (line ids, prices, titles) and affiliate codes, which stay
so that balances and payouts remain explainable.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from shopify_app.services import install
from shopify_app.services.errors import TryLater
from shopify_app.shopify.snapshots import CustomerRedact, DataRequest, ScopesUpdate, ShopRedact, ShopSnapshot
from shopify_app.store import inbox
from shopify_app.store.tables import Shop


def uninstalled(session: Session, shop: Shop, snapshot: ShopSnapshot, now: datetime) -> str:
    """The app was uninstalled: drop the tokens; the ledger stays, and later deliveries are
    held, for a reinstall (``services.install``)."""
    install.uninstalled(session, shop, now)
    if shop.currency is None and snapshot.currency:
        shop.currency = snapshot.currency
    return "app uninstalled: tokens dropped, ledger kept; later deliveries are held until a reinstall"


def scopes_updated(session: Session, shop: Shop, update: ScopesUpdate) -> str:
    shop.scopes = ",".join(update.current)
    session.add(shop)
    return f"access scopes now {shop.scopes or 'none'}"


def data_request(request: DataRequest) -> str:
    """Clawback keeps no customer profile; what it stores of a customer is in webhook bodies,
    which the merchant can have redacted. Answered in the history, nothing to send."""
    orders = ", ".join(request.order_ids) or "none named"
    return f"data request (orders {orders}): no customer profile is kept; stored webhook bodies are redacted on customers/redact"


def redact_customer(session: Session, shop: Shop, request: CustomerRedact) -> str:
    """Redact the stored bodies of the named orders. Waits while one of them is still to be
    processed: its body is needed once more, and would otherwise escape the redaction."""
    if inbox.has_pending(session, shop.domain, request.order_ids):
        raise TryLater(f"customers/redact waits: a delivery of order(s) {', '.join(request.order_ids)} is not processed yet")
    count = inbox.redact(session, shop.domain, request.order_ids)
    return f"customers/redact: {count} stored bodies redacted"


def redact_shop(session: Session, shop: Shop, request: ShopRedact, now: datetime) -> str:
    """Forty-eight hours after uninstall: drop the tokens and redact every stored body."""
    install.uninstalled(session, shop, shop.uninstalled_at or now)
    count = inbox.redact(session, shop.domain)
    return f"shop/redact: {count} stored bodies redacted"
