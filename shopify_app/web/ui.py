"""What every admin page's template needs, registered once on the app: money in the shop's
currency format (Babel's CLDR data, not hand-made), links that keep the shop (dev mode's
``?shop=``; embedded, what the token-refresh bounce needs), the CSRF token of dev-mode forms,
and the embedded flag (App Bridge or not).

Why a CSRF token only in dev mode: embedded, every state-changing request is a ``fetch``
carrying the merchant's session token in ``Authorization``, which no other site can forge;
a plain form post, as dev mode uses on 127.0.0.1, carries cookies only, so it carries a
token tied to the shop and to a cookie of this browser.
"""

from __future__ import annotations

import hmac
import re
import secrets
from decimal import Decimal
from urllib.parse import urlencode

from babel.numbers import format_currency, format_decimal
from flask import Flask, Response, abort, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from ledger.money import Money
from shopify_app.clock import utcnow
from shopify_app.context import config, database
from shopify_app.services import attention

CSRF_COOKIE = "clawback_csrf"
CSRF_FIELD = "csrf_token"


def money(value: Money | None) -> str:
    """``$1,234.50``, ``¥1,235``, ``KWD 1.250``: the amount as the shop's merchants read it."""
    if value is None:
        return "—"
    return format_currency(value.amount, value.currency, locale="en_US")


def number(value: Decimal | int | float) -> str:
    return format_decimal(value, locale="en_US")


def percent(value: Decimal | str) -> str:
    """A commission rate as stored (up to 4 decimals): ``20 %``, ``12.5 %``, ``7.125 %``."""
    return f"{format_decimal(Decimal(value), format='#,##0.####', locale='en_US')} %"


def embedded() -> bool:
    """Inside the Shopify admin (App Bridge, session tokens), or the local dev mode."""
    return not config().dev_mode


# Shopify's ``host``: base64 of the admin's host and path (``admin.shopify.com/store/NAME``),
# well under this length; bounded so a link always fits the bounce's ``shopify-reload``.
_HOST = re.compile(r"[A-Za-z0-9+/_=-]{1,256}")


def link(path: str, **params: object) -> str:
    """A link to a page of this app that names its shop: dev mode's ``?shop=``; embedded, the
    ``shop``, ``host`` and ``embedded=1`` the admin's iframe was opened with. Embedded, the
    session token is what proves the shop, but a link followed as a full page load carries
    none: it bounces to the token-refresh page, which may be framed only by the shop its query
    names and which App Bridge needs ``host`` on to come back with a token. The shop is the
    verified visitor's, never the query's; ``host`` is the current request's, if it looks like
    one."""
    query = {k: v for k, v in params.items() if v is not None}
    visitor = getattr(g, "visitor", None)
    if visitor is not None and not embedded():
        query = {"shop": visitor.shop, **query}
    elif visitor is not None:
        host = request.args.get("host", "")
        query = {"embedded": "1", **({"host": host} if _HOST.fullmatch(host) else {}), "shop": visitor.shop, **query}
    return f"{path}?{urlencode(query)}" if query else path


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(config().api_secret, salt="clawback-csrf")


def csrf_token() -> str:
    """The dev-mode form token: this browser's cookie nonce and the shop, signed."""
    nonce = request.cookies.get(CSRF_COOKIE) or g.setdefault("csrf_nonce", secrets.token_urlsafe(16))
    return _serializer().dumps([nonce, g.visitor.shop])


def check_state_change() -> None:
    """Refuse a state-changing request that is not provably the merchant's: embedded, it must
    be a ``fetch`` with a verified session token (the ``embedded`` decorator, which calls this
    for every request once the token is checked, leaves the header's presence to check); in
    dev mode, a form with its token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if embedded():
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            abort(403, "changes are made with a session token (fetch), not a plain form post")
        return
    try:
        nonce, shop = _serializer().loads(request.form.get(CSRF_FIELD, ""))
    except (BadSignature, ValueError):
        abort(403, "missing or invalid form token: reload the page and try again")
    if shop != g.visitor.shop or not hmac.compare_digest(str(nonce), request.cookies.get(CSRF_COOKIE, "")):
        abort(403, "the form token is not this browser's for this shop: reload the page and try again")


def keep_csrf_cookie(response: Response) -> Response:
    """Set the dev-mode nonce cookie the first time a page handed out a form token."""
    nonce = g.get("csrf_nonce")
    if nonce and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="Strict")
    return response


def attention_count() -> int:
    """Deliveries needing this shop's merchant, for the navigation's badge."""
    visitor = g.get("visitor")
    if visitor is None:
        return 0
    with database().reading() as session:
        return attention.count(session, visitor.shop, utcnow(), config().parked_attention_hours)


def install(app: Flask) -> None:
    app.jinja_env.filters.update(money=money, number=number, percent=percent)
    app.jinja_env.globals.update(link=link, csrf_token=csrf_token, embedded=embedded, CSRF_FIELD=CSRF_FIELD, money_of=Money,
                                attention_count=attention_count)
    app.after_request(keep_csrf_cookie)
