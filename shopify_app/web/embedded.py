"""Who is asking: every embedded page and data request is authenticated here, the way
Shopify's own libraries do it (``shopify.app_home``), and every HTML answer carries the
``frame-ancestors`` that lets exactly that shop's admin frame it.

- A page load carries the session token as ``id_token``; none or a stale one answers 302 to
  the token-refresh page (``/auth/session-token``), which loads App Bridge and comes back.
- A ``fetch`` carries ``Authorization: Bearer <token>``; a bad one answers 401 with
  ``X-Shopify-Retry-Invalid-Session-Request: 1`` so App Bridge retries once with a fresh one.
- The shop is the verified token's ``dest``, never a parameter. Only in dev mode (which
  refuses to start with a public URL) does ``?shop=`` name a registered shop instead.
- Any method but GET, HEAD and OPTIONS changes something: it must also prove it is the
  merchant's (``ui.check_state_change``), here, so no route can forget to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from typing import Callable

from urllib.parse import quote

from flask import Response, abort, g, redirect, request

from shopify_app.context import config
from shopify_app.shopify.app_home import BOUNCE_PATH, frame_ancestors as policy_for, verify_app_home_request
from shopify_app.shopify.domains import InvalidShopDomain, valid_shop_domain
from shopify_app.shopify.session_tokens import SessionToken
from shopify_app.web.ui import check_state_change


@dataclass(frozen=True)
class Visitor:
    """An authenticated request: the shop it may see, and the token that proved it (None in dev mode)."""

    shop: str
    token: SessionToken | None


def _raw_path() -> str:
    """The path as sent (still percent-encoded), as Shopify's libraries read it: it goes back
    into ``shopify-reload`` and must not change on the way."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return raw.split("?", 1)[0] if raw else quote(request.path, safe="/;=,:@!$&'()*+~-._")


def _authenticate() -> Visitor | Response:
    settings = config()
    if settings.dev_mode and "Authorization" not in request.headers and "id_token" not in request.args:
        try:
            return Visitor(valid_shop_domain(request.args.get("shop", "")), None)
        except InvalidShopDomain:
            abort(400, "dev mode: name the shop with ?shop=NAME.myshopify.com")
    verdict = verify_app_home_request(
        method=request.method, path=_raw_path(), query_string=request.query_string.decode("latin-1"),
        headers=request.headers, api_key=settings.api_key, secrets=settings.webhook_secrets, bounce_path=BOUNCE_PATH,
    )
    if verdict.token is not None:
        return Visitor(verdict.token.shop, verdict.token)
    if verdict.status == 302 and verdict.location:
        response = redirect(verdict.location, code=302)
    else:
        response = Response(verdict.reason, status=verdict.status, mimetype="text/plain")
    for name, value in verdict.headers:
        response.headers[name] = value
    return response


def embedded(view: Callable) -> Callable:
    """Run ``view`` only for an authenticated shop, known as ``g.visitor`` (and in the CSP),
    and, for a state change, only when it is provably the merchant's."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        found = _authenticate()
        if isinstance(found, Response):
            return found
        g.visitor = found
        check_state_change()
        return view(*args, **kwargs)

    return wrapper


def frame_ancestors(response: Response) -> Response:
    """``after_request``: every HTML answer may be framed by its shop's admin and nobody else;
    before a shop is known (the token-refresh page), by the shop the query names, if valid."""
    if response.mimetype != "text/html":
        return response
    visitor = getattr(g, "visitor", None)
    shop = visitor.shop if visitor is not None else None
    if shop is None:
        try:
            shop = valid_shop_domain(request.args.get("shop", ""))
        except InvalidShopDomain:
            shop = None
    response.headers["Content-Security-Policy"] = policy_for(shop) if shop else "frame-ancestors 'none';"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response
